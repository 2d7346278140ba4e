"""How a step of thinkact's GRPO engine grows with prompt length (tool schemas of 200 to 2,000 tokens) and with
group size (4 to 16).

Prompt length: the same turns are given more tools — copies of the domain's own tools under new names — until the
tool schemas the chat template renders reach each target (measured as the prompt's tokens with the tools minus
without). Group size: the same turns at the second-smallest schema size, sampled 4, 8 and 16 times. Each setting
has its own freshly loaded tiny model; rounds run one step of every setting in turn (the first round warms up),
and the table reports the median step time, its generation share, and the time relative to the first setting of
each sweep. Usage:

    .venv/bin/python benchmarks/scaling.py [--prompts 2] [--new-tokens 32] [--steps 2]
        [--schema-tokens 200 500 1000 2000] [--groups 4 8 16] [--toy]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from workspace import build_workspace, machine, median, parse_toy_args, print_table, write_results

from thinkact.data.conversations import read_conversations, write_conversations
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_policy
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer

SCHEMA_TOKENS = (200, 500, 1000, 2000)
GROUP_SIZES = (4, 8, 16)


def schema_tokens(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    return len(encode_prompt(tokenizer, messages, tools)) - len(encode_prompt(tokenizer, messages, []))


def padded_tools(
    tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]], target: int
) -> list:
    """`tools` plus renamed copies of them until their schemas render to at least `target` tokens."""
    padded = list(tools)
    copy = 0
    while schema_tokens(tokenizer, messages, padded) < target:
        source = json.loads(json.dumps(tools[copy % len(tools)]))
        source["function"]["name"] = f"{source['function']['name']}_v{copy + 2}"
        padded.append(source)
        copy += 1
    return padded


def write_variant(data: Path, out: Path, tokenizer: Any, target: int, conversations: int) -> int:
    """Writes `conversations` weather conversations with their tools padded to `target`; their schema tokens."""
    # weather has the smallest schemas of the bundled domains (2 tools, about 200 tokens)
    chosen = [c for c in read_conversations(data) if c.meta.get("domain") == "weather"][:conversations]
    sizes = []
    for conversation in chosen:
        conversation.tools = padded_tools(tokenizer, conversation.messages[:2], conversation.tools, target)
        sizes.append(schema_tokens(tokenizer, conversation.messages[:2], conversation.tools))
    write_conversations(out, chosen)
    return round(sum(sizes) / len(sizes))


class Setting:
    """One configuration of the sweep: its trainer, fixed prompts and the step times measured so far."""

    def __init__(self, config: GRPORunConfig) -> None:
        model, tokenizer = load_policy(config.model)
        self.trainer = GRPOTrainer(config, model, tokenizer)
        self.trainer.load_data(config.data)
        self.indices = list(range(config.prompts_per_step))
        self.seconds: list[float] = []
        self.generate: list[float] = []

    def step(self, step: int) -> None:
        started = time.perf_counter()
        rollouts = self.trainer.rollout(step, self.indices)
        generated = time.perf_counter()
        self.trainer.learn(rollouts)
        self.seconds.append(time.perf_counter() - started)
        self.generate.append(generated - started)

    def summary(self) -> dict[str, float]:
        seconds, generate = self.seconds[1:], self.generate[1:]  # the first step warms up
        prompt_tokens = sum(len(self.trainer.prompt_ids[i]) for i in self.indices) / len(self.indices)
        return {
            "prompt_tokens": round(prompt_tokens),
            "median_step_s": median(seconds),
            "generate_share": median(generate) / median(seconds),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2, help="measured steps per setting (after one warm-up)")
    parser.add_argument(
        "--schema-tokens",
        type=int,
        nargs="+",
        default=list(SCHEMA_TOKENS),
        help="the prompt sweep's schema sizes (the group sweep runs at the second)",
    )
    parser.add_argument(
        "--groups", type=int, nargs="+", default=list(GROUP_SIZES), help="the group sweep's group sizes"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    args = parse_toy_args(
        parser,
        {"prompts": 1, "new_tokens": 4, "steps": 1, "schema_tokens": [200, 400], "groups": [2, 3]},
    )
    if len(args.schema_tokens) < 2:
        parser.error("--schema-tokens: give at least two sizes (the group sweep runs at the second)")
    torch.set_num_threads(args.threads)
    before = machine()
    with tempfile.TemporaryDirectory() as root:
        workspace = build_workspace(Path(root), toy=args.toy)
        _, tokenizer = load_policy(workspace.model_dir)
        base: dict[str, Any] = {
            "model": str(workspace.model_dir),
            "prompts_per_step": args.prompts,
            "max_new_tokens": args.new_tokens,
            "drop_equal_groups": False,
            "mask_truncated": False,  # the random tiny model rarely stops: keep every completion in the loss
            "max_prompt_tokens": 100_000,
        }
        variants = {}
        for target in args.schema_tokens:
            path = Path(root) / f"schemas-{target}.jsonl"
            variants[target] = (path, write_variant(workspace.data, path, tokenizer, target, args.prompts))
        settings: list[tuple[dict[str, Any], Setting]] = []
        first_group = args.groups[0]
        for target in args.schema_tokens:
            path, schema = variants[target]
            config = GRPORunConfig(
                data=str(path), group_size=first_group, micro_batch=first_group * args.prompts, **base
            )
            label = {"sweep": "prompt", "schema_tokens": schema, "group_size": first_group}
            settings.append((label, Setting(config)))
        path, schema = variants[args.schema_tokens[1]]
        for group in args.groups[1:]:
            config = GRPORunConfig(data=str(path), group_size=group, micro_batch=group * args.prompts, **base)
            settings.append(
                ({"sweep": "group", "schema_tokens": schema, "group_size": group}, Setting(config))
            )
        # Rounds visit every setting in turn, so a change of machine load spreads over all of them.
        for step in range(args.steps + 1):
            for _, setting in settings:
                setting.step(step)
        rows = [{**label, **setting.summary()} for label, setting in settings]
        # the group sweep starts from the first group size at the second schema size, measured in the prompt sweep
        sweep = len(args.schema_tokens)
        rows.insert(sweep, {**rows[1], "sweep": "group"})
    first = {"prompt": rows[0]["median_step_s"], "group": rows[sweep]["median_step_s"]}
    for row in rows:
        row["vs_first"] = row["median_step_s"] / first[row["sweep"]]
    title = (
        f"thinkact GRPO step vs tool-schema tokens and group size: {args.prompts} prompts, <= {args.new_tokens} "
        f"new tokens, median of {args.steps} steps"
    )
    print_table(title, rows)
    record = {"machine": before, "load_after": machine()["load_average"], "args": vars(args), "rows": rows}
    print(f"\nwritten to {write_results('scaling', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

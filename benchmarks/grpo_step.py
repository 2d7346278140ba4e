"""One GRPO step of thinkact's engine against one step of TRL's GRPOTrainer: same config, model and prompts.

Both trainers start from the same tiny model with the same `GRPORunConfig` (TRL's through `--engine trl`'s field
mapping, `integrations.trl_settings`), and every step of both takes the same `prompts` turns (TRL's dataset holds
exactly those rows, so each of its steps is one pass over them) with thinkact's reward. Blocks of steps alternate
(TRL, thinkact, TRL, ...) in one process; the first step of each block is left out (set-up, warm-up), and the
table reports the median step time, its generation share where known, and thinkact's time over TRL's. With
`--schema-tokens N` the turns are weather turns whose tools are padded to about N schema tokens (`scaling.py`).
Usage:

    .venv/bin/python benchmarks/grpo_step.py [--prompts 4] [--group 4] [--new-tokens 64] [--blocks 2] [--steps 3]
        [--schema-tokens 0] [--toy]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from scaling import write_variant
from transformers import PrinterCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from trl import GRPOTrainer as TRLTrainer
from workspace import build_workspace, machine, median, parse_toy_args, print_table, write_results

from thinkact.integrations.trl import make_grpo_config
from thinkact.integrations.trl_data import dataset_rows
from thinkact.integrations.trl_rewards import make_reward_function
from thinkact.models.load import load_policy
from thinkact.rollout.generation import stop_token_ids
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer


class StepTimer(TrainerCallback):
    """Seconds of each TRL optimiser step (generation, scoring, loss, backward, optimiser) and its tokens."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seconds: list[float] = []
        self.tokens: list[float] = []

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.started = time.perf_counter()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.seconds.append(time.perf_counter() - self.started)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs and "completions/mean_length" in logs:
            self.tokens.append(float(logs["completions/mean_length"]))


def trl_trainer(config: GRPORunConfig, turn_ids: list[str], timer: StepTimer) -> TRLTrainer:
    model, tokenizer = load_policy(config.model)
    rows, _ = dataset_rows(tokenizer, config.data, max_prompt_tokens=config.max_prompt_tokens)
    chosen = [row for row in rows if row["turn_id"] in set(turn_ids)]
    reward = make_reward_function(tokenizer, lambda step: config.rewards, stop_token_ids(model, tokenizer))
    trainer = TRLTrainer(
        model=model,
        reward_funcs=[reward],
        args=make_grpo_config(config, {}),
        train_dataset=Dataset.from_list(chosen),
        processing_class=tokenizer,
        callbacks=[timer],
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument(
        "--kl", type=float, default=0.0, help="kl_coef (TRL's beta); > 0 adds a reference model"
    )
    parser.add_argument(
        "--schema-tokens",
        type=int,
        default=0,
        help="pad the tools to about this many tokens (0: as they are)",
    )
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per engine")
    parser.add_argument("--steps", type=int, default=3, help="steps per block (the first is not counted)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    args = parse_toy_args(parser, {"prompts": 2, "group": 2, "new_tokens": 4, "blocks": 1, "steps": 2})
    torch.set_num_threads(args.threads)
    before = machine()
    with tempfile.TemporaryDirectory() as root:
        workspace = build_workspace(Path(root), toy=args.toy)
        data = workspace.data
        schema = 0
        if args.schema_tokens:
            data = Path(root) / "schemas.jsonl"
            _, tokenizer = load_policy(workspace.model_dir)
            schema = write_variant(workspace.data, data, tokenizer, args.schema_tokens, args.prompts)
        config = GRPORunConfig(
            model=str(workspace.model_dir),
            data=str(data),
            max_prompt_tokens=100_000,
            out=str(Path(root) / "run"),
            steps=args.steps,
            prompts_per_step=args.prompts,
            group_size=args.group,
            max_new_tokens=args.new_tokens,
            learning_rate=1e-6,
            kl_coef=args.kl,
            drop_equal_groups=False,  # TRL has no dynamic sampling
            mask_truncated=False,  # the random tiny model never stops: keep its completions in the loss
            micro_batch=args.prompts * args.group,
        )
        model, tokenizer = load_policy(workspace.model_dir)
        ours = GRPOTrainer(config, model, tokenizer)
        ours.load_data(data)
        indices = list(range(args.prompts))
        timer = StepTimer()
        theirs = trl_trainer(config, [ours.prompts[i].id for i in indices], timer)
        thinkact_seconds: list[float] = []
        thinkact_generate: list[float] = []
        thinkact_tokens: list[float] = []
        trl_seconds: list[float] = []
        for block in range(args.blocks):
            timer.seconds.clear()
            theirs.train()
            trl_seconds += timer.seconds[1:]
            for step in range(args.steps):
                started = time.perf_counter()
                rollouts = ours.rollout(block * args.steps + step, indices)
                generated = time.perf_counter()
                ours.learn(rollouts)
                if step:
                    thinkact_seconds.append(time.perf_counter() - started)
                    thinkact_generate.append(generated - started)
                    thinkact_tokens.append(sum(len(r.completion_ids) for r in rollouts) / len(rollouts))
    completions = args.prompts * args.group
    rows = [
        {
            "engine": "thinkact",
            "steps": len(thinkact_seconds),
            "median_step_s": median(thinkact_seconds),
            "generate_share": median(thinkact_generate) / median(thinkact_seconds),
            "tokens_per_step": median(thinkact_tokens) * completions,
            "vs_trl": median(thinkact_seconds) / median(trl_seconds),
        },
        {
            "engine": "trl",
            "steps": len(trl_seconds),
            "median_step_s": median(trl_seconds),
            "generate_share": float("nan"),
            "tokens_per_step": median(timer.tokens) * completions,
            "vs_trl": 1.0,
        },
    ]
    title = (
        f"one GRPO step: {args.prompts} prompts x {args.group} samples x <= {args.new_tokens} new tokens, "
        f"kl_coef {args.kl}, schema tokens {schema or 'as bundled'}; medians over {args.blocks} alternating blocks"
    )
    print_table(title, rows)
    record = {
        "machine": before,
        "load_after": machine()["load_average"],
        "args": vars(args),
        "schema_tokens": schema,
        "rows": rows,
    }
    print(f"\nwritten to {write_results('grpo_step', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

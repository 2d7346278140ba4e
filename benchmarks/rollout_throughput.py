"""Rollout tokens/s of thinkact against bare `model.generate` on an identical batch (the limit).

Three measurements on the same prompts, sampling settings and seed, so each generates the very same tokens:
1. `generate`: one bare `model.generate` call on the left-padded batch with `num_return_sequences` — the limit;
2. `sample`: thinkact's batched generation (`rollout.generation.sample`: seeding, padding, cutting at the stop);
3. `rollout`: the engine's full rollout (`GRPOTrainer.rollout`: sample, decode, parse, score every reward).
Tokens are completion tokens up to and including the first stop token. Rounds alternate the three, and the table
reports medians and the ratio of each to `generate`. With `--schema-tokens N` the prompts are weather turns whose
tools are padded with renamed copies until their schemas render to about N tokens (as `scaling.py` does), the
workload of agents with long tool lists. Usage:

    .venv/bin/python benchmarks/rollout_throughput.py [--prompts 8] [--group 4] [--new-tokens 64] [--rounds 3]
        [--schema-tokens 0] [--toy]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from scaling import write_variant
from workspace import build_workspace, machine, median, parse_toy_args, print_table, write_results

from thinkact.models.load import load_policy
from thinkact.rollout.generation import derive_seed, sample, stop_token_ids
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer


def bare_generate(trainer: GRPOTrainer, prompts: list[list[int]], config: GRPORunConfig) -> int:
    """One `model.generate` call as a user would write it; returns the completion tokens it produced."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    tokenizer = trainer.tokenizer
    stops = stop_token_ids(model, tokenizer)
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(derive_seed(config.seed * 7919, 0, 0))  # the seed `sample` uses for this batch
    with torch.no_grad():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            num_return_sequences=config.group_size,
            do_sample=True,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=0,
            max_new_tokens=config.max_new_tokens,
            eos_token_id=stops,
            pad_token_id=pad,
        )
    tokens = 0
    for row in output[:, width:].tolist():
        ends = [i for i, token in enumerate(row) if token in stops]
        tokens += ends[0] + 1 if ends else len(row)
    return tokens


def timed(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = run()
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--schema-tokens",
        type=int,
        default=0,
        help="pad the tools to about this many tokens (0: as they are)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    args = parse_toy_args(parser, {"prompts": 1, "group": 2, "new_tokens": 4, "rounds": 1})
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
            prompts_per_step=args.prompts,
            group_size=args.group,
            max_new_tokens=args.new_tokens,
            micro_batch=args.prompts * args.group,  # one generation batch for all three
        )
        model, tokenizer = load_policy(workspace.model_dir)
        trainer = GRPOTrainer(config, model, tokenizer)
        trainer.load_data(data)
        indices = list(range(args.prompts))
        prompts = [trainer.prompt_ids[i] for i in indices]
        prompt_tokens = round(sum(len(p) for p in prompts) / len(prompts))
        runs: dict[str, Callable[[], int]] = {
            "generate": lambda: bare_generate(trainer, prompts, config),
            "sample": lambda: sum(
                len(c.completion_ids)
                for group in sample(
                    trainer.accelerator.unwrap_model(trainer.model),
                    tokenizer,
                    prompts,
                    num_samples=config.group_size,
                    max_new_tokens=config.max_new_tokens,
                    temperature=config.temperature,
                    top_p=config.top_p,
                    batch_size=config.micro_batch * 2,
                    seed=config.seed * 7919,
                    step=0,
                )
                for c in group
            ),
            "rollout": lambda: sum(len(r.completion_ids) for r in trainer.rollout(0, indices)),
        }
        for run in runs.values():  # warm-up
            run()
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        tokens: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, run in runs.items():
                elapsed, count = timed(run)
                seconds[name].append(elapsed)
                tokens[name] = count
    limit = tokens["generate"] / median(seconds["generate"])
    rows = [
        {
            "path": name,
            "tokens": tokens[name],
            "median_s": median(seconds[name]),
            "tokens_per_s": tokens[name] / median(seconds[name]),
            "vs_generate": tokens[name] / median(seconds[name]) / limit,
        }
        for name in runs
    ]
    title = (
        f"rollout throughput: {args.prompts} prompts x {args.group} samples x <= {args.new_tokens} new tokens, "
        f"schema tokens {schema or 'as bundled'}, prompt tokens {prompt_tokens}, "
        f"median of {args.rounds} alternating rounds"
    )
    print_table(title, rows)
    record = {
        "machine": before,
        "load_after": machine()["load_average"],
        "args": vars(args),
        "schema_tokens": schema,
        "prompt_tokens": prompt_tokens,
        "rows": rows,
    }
    print(f"\nwritten to {write_results('rollout_throughput', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

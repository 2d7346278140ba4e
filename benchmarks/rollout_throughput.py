"""Rollout tokens/s of thinkact against bare `model.generate` on an identical batch (the limit).

Four measurements on the same prompts, sampling settings and seed, so each generates the very same tokens:
1. `generate`: one bare `model.generate` call on the left-padded batch with `num_return_sequences` — the limit;
2. `sample`: thinkact's batched generation (`rollout.generation.sample`: seeding, padding, cutting at the stop);
3. `sample_plain_cache`: the same through transformers' concatenating `DynamicCache` and a prefill that computes
   every position's logits, as thinkact sampled before its in-place cache (`rollout/kv_cache.py`);
4. `rollout`: the engine's full rollout (`GRPOTrainer.rollout`: sample, decode, parse, score every reward).
Tokens are completion tokens up to and including the first stop token. Rounds alternate the four, and the table
reports medians, tokens/s and the ratio of each to `generate`, with where the time went: the model's prefill and
decode forwards and the rest (`throughput.py` times them), and a second table of the bytes each decode step read
per token against the memory bandwidth measured in the same process. With `--schema-tokens N` the prompts are
weather turns whose tools are padded with renamed copies until their schemas render to about N tokens (as
`scaling.py` does), the workload of agents with long tool lists. `--model DIR` runs any causal-LM directory
thinkact loads instead of the tiny model. Usage:

    .venv/bin/python benchmarks/rollout_throughput.py [--prompts 8] [--group 4] [--new-tokens 64] [--rounds 3]
        [--schema-tokens 0] [--model DIR] [--threads 1] [--bandwidth-mib 256] [--toy]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import throughput
import torch
from transformers import DynamicCache
from workspace import median, parse_toy_args

import thinkact.rollout.generation as generation
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


def sampled_tokens(trainer: GRPOTrainer, prompts: list[list[int]], config: GRPORunConfig) -> int:
    """thinkact's batched generation of the same batch; the completion tokens it kept."""
    groups = sample(
        trainer.accelerator.unwrap_model(trainer.model),
        trainer.tokenizer,
        prompts,
        num_samples=config.group_size,
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        batch_size=config.micro_batch * 2,
        seed=config.seed * 7919,
        step=0,
    )
    return sum(len(c.completion_ids) for group in groups for c in group)


@contextmanager
def plain_cache() -> Iterator[None]:
    """Generation as before the in-place cache: transformers' concatenating `DynamicCache`, and a prefill that
    computes the logits of every prompt position (`rollout/kv_cache.py`)."""
    saved = generation.growing_cache, generation.last_logits_only
    generation.growing_cache = lambda model: DynamicCache(config=model.config)
    generation.last_logits_only = lambda model: {}
    try:
        yield
    finally:
        generation.growing_cache, generation.last_logits_only = saved


def plain_sampled_tokens(trainer: GRPOTrainer, prompts: list[list[int]], config: GRPORunConfig) -> int:
    """`sampled_tokens` through the plain cache: the same tokens, the time the in-place cache saves."""
    with plain_cache():
        return sampled_tokens(trainer, prompts, config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    throughput.add_run_arguments(parser, prompts=8)
    parser.add_argument("--rounds", type=int, default=3)
    toy = {"prompts": 1, "group": 2, "new_tokens": 4, "rounds": 1, "bandwidth_mib": 8}
    return parse_toy_args(parser, toy)


@dataclass
class Timing:
    """One timed call: its seconds, the completion tokens it kept and its generation forwards."""

    seconds: float
    tokens: int
    forwards: throughput.ForwardTimes


def measure(
    runs: dict[str, Callable[[], int]], rounds: int, log: throughput.ForwardLog
) -> dict[str, list[Timing]]:
    """Each run once to warm up, then `rounds` rounds that alternate them; every timed call of each run."""
    for run in runs.values():
        run()
    log.take()
    timings: dict[str, list[Timing]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            tokens = run()
            timings[name].append(Timing(time.perf_counter() - started, tokens, log.take()))
    return timings


def phase_rows(timings: dict[str, list[Timing]]) -> list[dict[str, Any]]:
    """Per path: median seconds, tokens/s, ratio to `generate`, and the medians of its prefill and decode
    forwards and of the rest (sampling, cutting, decoding text, parsing, rewards)."""
    rows: list[dict[str, Any]] = []
    for name, calls in timings.items():
        seconds = median([c.seconds for c in calls])
        tokens = calls[-1].tokens
        rows.append(
            {
                "path": name,
                "tokens": tokens,
                "median_s": seconds,
                "tokens_per_s": tokens / seconds,
                "prefill_s": median([c.forwards.prefill_s for c in calls]),
                "decode_s": median([c.forwards.decode_s for c in calls]),
                "other_s": median([c.seconds - c.forwards.prefill_s - c.forwards.decode_s for c in calls]),
            }
        )
    for row in rows:
        row["vs_generate"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    return rows


def main() -> None:
    args = parse_args()
    record = throughput.start_record(args)
    with tempfile.TemporaryDirectory() as root:
        config, record["schema_tokens"] = throughput.grpo_setup(Path(root), args)
        model, tokenizer = load_policy(config.model)
        trainer = GRPOTrainer(config, model, tokenizer)
        trainer.load_data(config.data)
        indices = list(range(args.prompts))
        prompts = [trainer.prompt_ids[i] for i in indices]
        runs: dict[str, Callable[[], int]] = {
            "generate": lambda: bare_generate(trainer, prompts, config),
            "sample": lambda: sampled_tokens(trainer, prompts, config),
            "sample_plain_cache": lambda: plain_sampled_tokens(trainer, prompts, config),
            "rollout": lambda: sum(len(r.completion_ids) for r in trainer.rollout(0, indices)),
        }
        policy = trainer.accelerator.unwrap_model(trainer.model)
        record["bandwidth"] = throughput.memory_bandwidth(args.bandwidth_mib, policy.device)
        with throughput.timed_forwards(policy) as log:
            timings = measure(runs, args.rounds, log)
    record["prompt_tokens"] = round(sum(len(p) for p in prompts) / len(prompts))
    record["rows"] = phase_rows(timings)
    spans = {name: [call.forwards for call in calls] for name, calls in timings.items()}
    detail = f"prompt tokens {record['prompt_tokens']}, median of {args.rounds} alternating rounds"
    title = throughput.batch_title("rollout throughput", args, record, detail)
    throughput.finish("rollout_throughput", title, record, spans, policy)


if __name__ == "__main__":
    main()

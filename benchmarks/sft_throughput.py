"""SFT tokens/s: padded batches against padding-free ones (TRL's collator), and TRL's fused LM head against
thinkact's head over the labelled positions alone (`train/label_head.py`), on the same batches.

The default tiny model and the think-SFT sequences of the bundled benchmark (`train/sft.build_dataset`;
`--no-think` for the no-thinking baseline's), batches of `--batch` in dataset order. Each step is a forward,
backward and AdamW step as TRL's SFTTrainer takes it (`model(..., fused_lm_head=True)`, loss from the per-token
log-probabilities); each round times every batch once per combination of collator and head, alternating. Tokens
are the real (unpadded) tokens of the batch, so every path counts the same work. Usage:

    .venv/bin/python benchmarks/sft_throughput.py [--batch 8] [--batches 6] [--rounds 3] [--no-think] [--toy]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
from trl.trainer.utils import add_fused_lm_head
from workspace import build_workspace, machine, median, parse_toy_args, print_table, write_results

from thinkact.models.load import load_policy
from thinkact.train.label_head import label_head
from thinkact.train.sft import build_dataset

KEYS = ("input_ids", "attention_mask", "position_ids", "labels")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-think", action="store_true", help="the no-thinking baseline's sequences")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    return parse_toy_args(parser, {"batch": 2, "batches": 1, "rounds": 1})


def labelled_examples(dataset: Any, count: int) -> list[dict[str, list[int]]]:
    """The first `count` sequences with their labels: the token where the completion mask is set, else -100."""
    return [
        {
            "input_ids": row["input_ids"],
            "labels": [
                t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"], strict=True)
            ],
        }
        for row in dataset.select(range(min(len(dataset), count)))
    ]


def lm_heads(model: PreTrainedModel) -> dict[str, Callable[..., Any]]:
    """The model's forward with TRL's fused LM head (as SFTTrainer adds it) and with thinkact's labelled head."""
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # as SFTTrainer does
    heads = {"trl": model.forward}
    label_head(model)
    heads["labelled"] = model.forward
    return heads


def train_pass(
    model: PreTrainedModel, optimizer: torch.optim.Optimizer, batches: list[Any], collate: Any
) -> float:
    """Seconds of one forward, backward and AdamW step on each batch, collated by `collate`."""
    started = time.perf_counter()
    for chunk in batches:
        batch = collate(chunk)
        inputs = {k: v for k, v in batch.items() if k in KEYS}
        out = model(**inputs, use_cache=False, fused_lm_head=True)
        loss = -out.log_probs.sum() / out.label_mask.sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - started


def measure(
    model: PreTrainedModel, batches: list[Any], pad: int, rounds: int
) -> dict[tuple[str, str], list[float]]:
    """Seconds of every (collator, head) pass over `batches`: one warm-up each, then `rounds` alternating."""
    heads = lm_heads(model)
    collators = {
        "padded": DataCollatorForLanguageModeling(pad_token_id=pad),
        "padding_free": DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True),
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    paths = [(c, h) for c in collators for h in heads]
    seconds: dict[tuple[str, str], list[float]] = {path: [] for path in paths}
    model.train()
    for repeat in range(rounds + 1):  # the first is the warm-up
        for path in paths:
            model.forward = heads[path[1]]
            elapsed = train_pass(model, optimizer, batches, collators[path[0]])
            if repeat:
                seconds[path].append(elapsed)
    return seconds


def throughput_rows(seconds: dict[tuple[str, str], list[float]], tokens: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "batches": path[0],
            "lm_head": path[1],
            "tokens": tokens,
            "median_s": median(times),
            "tokens_per_s": tokens / median(times),
        }
        for path, times in seconds.items()
    ]
    for row in rows:
        row["vs_padded_trl"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    return rows


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    before = machine()
    with tempfile.TemporaryDirectory() as root:
        workspace = build_workspace(Path(root), toy=args.toy)
        model, tokenizer = load_policy(workspace.model_dir)
        dataset, _ = build_dataset(tokenizer, workspace.data, think=not args.no_think, max_length=4096)
        examples = labelled_examples(dataset, args.batch * args.batches)
        batches = [examples[i : i + args.batch] for i in range(0, len(examples), args.batch)]
        seconds = measure(model, batches, tokenizer.pad_token_id, args.rounds)
    tokens = sum(len(e["input_ids"]) for e in examples)
    labelled = sum(sum(label != -100 for label in e["labels"]) for e in examples)
    padded_tokens = sum(args.batch * max(len(e["input_ids"]) for e in b) for b in batches)
    rows = throughput_rows(seconds, tokens)
    title = (
        f"SFT throughput: {len(batches)} batches of {args.batch} ({tokens} tokens, {padded_tokens} padded, "
        f"{labelled} labelled), median of {args.rounds} alternating rounds, {args.threads} thread(s)"
    )
    print_table(title, rows)
    record = {"machine": before, "load_after": machine()["load_average"], "args": vars(args), "rows": rows}
    print(f"\nwritten to {write_results('sft_throughput', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

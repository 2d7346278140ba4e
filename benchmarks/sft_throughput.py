"""SFT tokens/s with padded batches against padding-free ones (TRL's collator), on the same batches.

The default tiny model and the think-SFT sequences of the bundled benchmark (`train/sft.build_dataset`), batches
of `--batch` in dataset order; each round times a forward, backward and AdamW step over every batch with padding,
then without (one row, attention kept within each sequence), alternating. Tokens are the real (unpadded) tokens
of the batch, so both paths count the same work. Usage:

    .venv/bin/python benchmarks/sft_throughput.py [--batch 8] [--batches 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
from workspace import build_workspace, machine, median, print_table, write_results

from thinkact.models.load import load_policy
from thinkact.train.sft import build_dataset

KEYS = ("input_ids", "attention_mask", "position_ids", "labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    before = machine()
    with tempfile.TemporaryDirectory() as root:
        workspace = build_workspace(Path(root))
        model, tokenizer = load_policy(workspace.model_dir)
        dataset, _ = build_dataset(tokenizer, workspace.data, think=True, max_length=4096)
        examples = [
            {
                "input_ids": row["input_ids"],
                "labels": [
                    t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"], strict=True)
                ],
            }
            for row in dataset.select(range(min(len(dataset), args.batch * args.batches)))
        ]
        batches = [examples[i : i + args.batch] for i in range(0, len(examples), args.batch)]
        collators = {
            "padded": DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id),
            "padding_free": DataCollatorForLanguageModeling(
                pad_token_id=tokenizer.pad_token_id, padding_free=True
            ),
        }
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
        tokens = sum(len(e["input_ids"]) for e in examples)
        padded_tokens = sum(args.batch * max(len(e["input_ids"]) for e in b) for b in batches)
        seconds: dict[str, list[float]] = {name: [] for name in collators}

        def train(collate: Any) -> float:
            started = time.perf_counter()
            for chunk in batches:
                batch = collate(chunk)
                loss = model(**{k: v for k, v in batch.items() if k in KEYS}, use_cache=False).loss
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            return time.perf_counter() - started

        model.train()
        for collate in collators.values():  # warm-up
            train(collate)
        for _ in range(args.rounds):
            for name, collate in collators.items():
                seconds[name].append(train(collate))
    rows = [
        {
            "batches": name,
            "tokens": tokens,
            "median_s": median(seconds[name]),
            "tokens_per_s": tokens / median(seconds[name]),
        }
        for name in collators
    ]
    for row in rows:
        row["vs_padded"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    title = (
        f"SFT throughput: {len(batches)} batches of {args.batch} ({tokens} tokens, {padded_tokens} padded), "
        f"median of {args.rounds} alternating rounds"
    )
    print_table(title, rows)
    record = {"machine": before, "load_after": machine()["load_average"], "args": vars(args), "rows": rows}
    print(f"\nwritten to {write_results('sft_throughput', record)}")


if __name__ == "__main__":
    main()

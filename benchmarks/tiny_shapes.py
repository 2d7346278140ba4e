"""Which tiny-model shape learns the bundled data fastest per SFT step (not a test).

Builds the bundled benchmark and the tokenizer, then trains three Qwen3 shapes side by side on the same batches
(think-SFT sequences with shared histories, batch 8, AdamW with a 10-step warm-up) and prints each shape's loss
per completion token on `test_id` and its accumulated step time every 50 steps. The steps alternate between the
shapes, so machine load affects them alike.

    .venv/bin/python benchmarks/tiny_shapes.py [STEPS]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from datasets import Dataset
from transformers import Qwen3Config, Qwen3ForCausalLM

from thinkact.bench.synthetic import generate_benchmark
from thinkact.models.load import load_tokenizer
from thinkact.models.tiny import TinyModelConfig, build_tiny_model
from thinkact.train.sft import build_dataset

SHAPES = {  # name: (hidden, intermediate, layers, heads, kv heads, head dim, learning rate)
    "h256": (256, 768, 4, 4, 2, 64, 3e-3),
    "h192": (192, 576, 4, 4, 2, 48, 4e-3),
    "h128": (128, 384, 4, 4, 2, 32, 6e-3),
}

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batches(dataset: Dataset, size: int, seed: int) -> Iterator[Batch]:
    rng = random.Random(seed)
    order = list(range(len(dataset)))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - size + 1, size):
            rows = [dataset[i] for i in order[start : start + size]]
            width = max(len(r["input_ids"]) for r in rows)
            ids = torch.tensor([r["input_ids"] + [0] * (width - len(r["input_ids"])) for r in rows])
            attention = torch.tensor(
                [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
            )
            labels = torch.tensor(
                [
                    [t if m else -100 for t, m in zip(r["input_ids"], r["completion_mask"], strict=True)]
                    + [-100] * (width - len(r["input_ids"]))
                    for r in rows
                ]
            )
            yield ids, attention, labels


@torch.no_grad()
def held_out_loss(model: Qwen3ForCausalLM, test: Dataset) -> float:
    model.eval()
    total = count = 0.0
    for seed in range(3):
        ids, attention, labels = next(batches(test, 8, seed))
        tokens = float((labels != -100).sum())
        total += float(model(input_ids=ids, attention_mask=attention, labels=labels).loss) * tokens
        count += tokens
    model.train()
    return total / count


def main(steps: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="thinkact-shapes-"))
    generate_benchmark(work / "data", seed=0, train=300, valid=0, test_id=40, test_ood=0)
    tokenizer = load_tokenizer(build_tiny_model(work / "tokenizer", config=TinyModelConfig()))
    train, _ = build_dataset(tokenizer, work / "data" / "train.jsonl", think=True, max_length=1536)
    test, _ = build_dataset(tokenizer, work / "data" / "test_id.jsonl", think=True, max_length=1536)
    runs = {}
    for name, (hidden, inner, layers, heads, kv, head_dim, lr) in SHAPES.items():
        torch.manual_seed(0)
        config = Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=hidden,
            intermediate_size=inner,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            head_dim=head_dim,
            tie_word_embeddings=True,
        )
        model = Qwen3ForCausalLM(config)
        runs[name] = {
            "model": model,
            "optimizer": torch.optim.AdamW(model.parameters(), lr=lr),
            "lr": lr,
            "batches": batches(train, 8, 0),
            "seconds": 0.0,
        }
    for step in range(1, steps + 1):
        for run in runs.values():
            ids, attention, labels = next(run["batches"])
            started = time.perf_counter()
            for group in run["optimizer"].param_groups:
                group["lr"] = run["lr"] * min(1.0, step / 10)
            run["model"](input_ids=ids, attention_mask=attention, labels=labels).loss.backward()
            torch.nn.utils.clip_grad_norm_(run["model"].parameters(), 1.0)
            run["optimizer"].step()
            run["optimizer"].zero_grad()
            run["seconds"] += time.perf_counter() - started
        if step % 50 == 0:
            cells = "  ".join(
                f"{name}: loss {held_out_loss(run['model'], test):.3f} ({run['seconds']:.0f} s)"
                for name, run in runs.items()
            )
            print(f"step {step}  {cells}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)

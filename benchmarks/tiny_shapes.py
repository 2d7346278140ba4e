"""Which tiny-model shape learns the bundled data fastest per SFT step (not a test).

Builds the bundled benchmark and the tokenizer, then trains three Qwen3 shapes side by side on the same batches
(think-SFT sequences with shared histories, batch 8, AdamW with a 10-step warm-up) and prints each shape's loss
per completion token on `test_id` and its accumulated step time every 50 steps. The steps alternate between the
shapes, so machine load affects them alike.

    .venv/bin/python benchmarks/tiny_shapes.py [STEPS] [--every 50] [--batch 8] [--train 300] [--test 40] [--toy]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from datasets import Dataset
from transformers import Qwen3Config, Qwen3ForCausalLM
from workspace import TOY_MODEL, parse_toy_args

from thinkact.bench.synthetic import generate_benchmark
from thinkact.bench.synthetic.rendered import tokenizer_text
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
    if len(dataset) < size:  # no batch would ever be drawn: the loop below would never yield
        raise SystemExit(f"{len(dataset)} sequences cannot fill a batch of {size}; give more conversations")
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
def held_out_loss(model: Qwen3ForCausalLM, test: Dataset, size: int) -> float:
    model.eval()
    total = count = 0.0
    for seed in range(3):
        ids, attention, labels = next(batches(test, size, seed))
        tokens = float((labels != -100).sum())
        total += float(model(input_ids=ids, attention_mask=attention, labels=labels).loss) * tokens
        count += tokens
    model.train()
    return total / count


class Run:
    """One shape in training: its model, optimiser, peak learning rate, batches and seconds spent stepping."""

    def __init__(self, model: Qwen3ForCausalLM, lr: float, batches: Iterator[Batch]) -> None:
        self.model = model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        self.lr = lr
        self.batches = batches
        self.seconds = 0.0

    def step(self, step: int) -> None:
        ids, attention, labels = next(self.batches)
        started = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * min(1.0, step / 10)
        self.model(input_ids=ids, attention_mask=attention, labels=labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.seconds += time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", type=int, nargs="?", help="training steps (default: 100; with --toy, 2)")
    parser.add_argument("--every", type=int, default=50, help="steps between held-out losses")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train", type=int, default=300, help="training conversations")
    parser.add_argument("--test", type=int, default=40, help="test_id conversations")
    args = parse_toy_args(parser, {"every": 2, "batch": 2, "train": 2, "test": 1})
    steps = args.steps or (2 if args.toy else 100)  # a positional's default cannot come from --toy
    # the toy run trains the tokenizer of the tests' smaller model: the same code, in about a second
    tokenizer_config = TOY_MODEL if args.toy else TinyModelConfig()
    work = Path(tempfile.mkdtemp(prefix="thinkact-shapes-"))
    generate_benchmark(work / "data", seed=0, train=args.train, valid=0, test_id=args.test, test_ood=0)
    tokenizer = load_tokenizer(
        build_tiny_model(
            work / "tokenizer", texts=tokenizer_text(tokenizer_config, 0), config=tokenizer_config
        )
    )
    train, _ = build_dataset(tokenizer, work / "data" / "train.jsonl", think=True, max_length=1536)
    test, _ = build_dataset(tokenizer, work / "data" / "test_id.jsonl", think=True, max_length=1536)
    runs: dict[str, Run] = {}
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
        runs[name] = Run(Qwen3ForCausalLM(config), lr, batches(train, args.batch, 0))
    for step in range(1, steps + 1):
        for run in runs.values():
            run.step(step)
        if step % args.every == 0:
            cells = "  ".join(
                f"{name}: loss {held_out_loss(run.model, test, args.batch):.3f} ({run.seconds:.0f} s)"
                for name, run in runs.items()
            )
            print(f"step {step}  {cells}", flush=True)


if __name__ == "__main__":
    main()

"""How long `thinkact eval` takes in the turn view: the shipped pretrained base, greedy, on generated test turns.

Runs the evaluation runner as the command does (`run_eval`, turn view, no bootstrap) on the first `--turns` scored
turns of a freshly generated test_id split and prints the wall time and turns per second. A measurement, not a
test: the machine these numbers come from may be shared, so each run records its load (`workspace.machine`).

    .venv/bin/python benchmarks/eval_speed.py [--model DIR] [--turns 96] [--max-new-tokens 160] [--toy]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from workspace import machine, median, parse_toy_args, print_table, write_results

from thinkact.bench.synthetic import generate_benchmark
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.models.tiny import pretrained_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the shipped pretrained base)")
    parser.add_argument("--turns", type=int, default=96)
    parser.add_argument("--conversations", type=int, default=40, help="test_id conversations generated")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parse_toy_args(parser, {"turns": 4, "conversations": 2, "max_new_tokens": 8, "repeats": 1})
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="thinkact-eval-speed-"))
    data = generate_benchmark(root / "data", seed=0, train=1, valid=0, test_id=args.conversations, test_ood=1)
    config = EvalConfig(
        model=args.model or str(pretrained_base()),
        data=[str(data["test_id"])],
        view="turn",
        limit=args.turns,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        resamples=0,
    )
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        results = run_eval(config)
        seconds.append(time.perf_counter() - start)
    turns = len(results["splits"]["test_id"]["turns"])
    tokens = sum(turn["metrics"]["completion_tokens"] for turn in results["splits"]["test_id"]["turns"])
    row = {
        "turns": turns,
        "completion_tokens": int(tokens),
        "seconds": median(seconds),
        "turns_per_second": turns / median(seconds),
    }
    print_table("thinkact eval, turn view", [row])
    record = {"machine": machine(), "settings": vars(args), "seconds": seconds, **row}
    print(f"results: {write_results('eval_speed', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

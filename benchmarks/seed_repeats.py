"""How much of a demo's difference is training noise: the demo repeated over training seeds, on the same data.

The paired bootstrap of `thinkact compare` covers the test turns, not the training run: the same demo on another
CPU, or with another `train_seed`, makes other models (docs/benchmarks.md, "Another CPU"). This runs
`thinkact demo --set train_seed=S` for each seed into OUT/seed-S (a directory that already holds results.json
is read, not rerun), then prints, per model and split, each metric's mean, standard deviation and range over the
seeds, and per claim how many seeds it holds in and the range of its difference. A measurement, not a test.

    .venv/bin/python benchmarks/seed_repeats.py OUT --seeds 0 1 2 3 [--set FIELD=VALUE ...]

With `--toy` (OUT a temporary directory unless given), two seeds of a demo shrunk to seconds (`TOY_DEMO`:
a random tests-sized model, a dozen conversations, two steps of each stage).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workspace import TOY_MODEL, parse_toy_args, toy_directory

from thinkact.demo import DIFFERENCES
from thinkact.eval.bootstrap import bootstrap_seeds_and_turns_difference

METRICS = ("exact_call", "tool_name", "arg_f1", "format", "reward")

# tests/test_demo.py's toy demo as `--set` overrides: every stage runs, on a random model, in seconds
TOY_DEMO = [
    "train_conversations=12",
    "test_conversations=3",
    "valid_conversations=2",
    "sft.max_steps=2",
    "think_sft_steps=2",
    "sft.batch_size=2",
    "eval.max_new_tokens=8",
    "base=random",
    *(f"model.{name}={value}" for name, value in asdict(TOY_MODEL).items()),
    "grpo.steps=2",
    "grpo.prompts_per_step=2",
    "grpo.group_size=2",
    "grpo.max_new_tokens=8",
    "grpo.micro_batch=4",
    "grpo.eval_steps=1",
    "grpo.eval_limit=2",
]


def run_seeds(out: Path, seeds: list[int], overrides: list[str]) -> list[dict[str, Any]]:
    results = []
    for seed in seeds:
        run = out / f"seed-{seed}"
        if not (run / "results.json").is_file():
            command = [
                sys.executable,
                "-m",
                "thinkact",
                "demo",
                "--out",
                str(run),
                "--set",
                f"train_seed={seed}",
            ]
            for override in overrides:
                command += ["--set", override]
            subprocess.run(command, check=True)
        results.append(json.loads((run / "results.json").read_text(encoding="utf-8")))
    return results


def turn_values(run: Path, model: str, split: str, metric: str) -> dict[str, float]:
    """One model's per-turn `metric` on `split` in a demo run (the turns that have it), by turn id."""
    record = json.loads((run / "eval" / f"{model}.json").read_text(encoding="utf-8"))
    return {t["id"]: t["metrics"][metric] for t in record["splits"][split]["turns"] if metric in t["metrics"]}


def pooled_difference(
    runs: list[Path], a: str, b: str, split: str, metric: str
) -> tuple[float, float, float]:
    """b − a over every seed and turn, with its seeds-and-turns bootstrap interval."""
    firsts = [turn_values(run, a, split, metric) for run in runs]
    seconds = [turn_values(run, b, split, metric) for run in runs]
    ids = sorted(firsts[0])
    if any(sorted(values) != ids for values in firsts + seconds):
        raise SystemExit(f"{split}: the runs scored different turns; pool only runs over the same data")
    diff, interval = bootstrap_seeds_and_turns_difference(
        [[values[i] for i in ids] for values in firsts], [[values[i] for i in ids] for values in seconds]
    )
    return diff, interval.low, interval.high


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="directory of the runs, one seed-S directory each")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    args = parse_toy_args(parser, {"seeds": [0, 1], "overrides": list(TOY_DEMO)})  # --set adds to TOY_DEMO
    if args.toy and not args.out:
        args.out = str(toy_directory())
    if not args.out:
        parser.error("give OUT, the directory of the runs")
    results = run_seeds(Path(args.out), args.seeds, args.overrides)
    print(f"{len(results)} seeds {args.seeds}: mean ± sd [min, max]")
    for model in results[0]["models"]:
        for split in results[0]["models"][model]:
            cells = []
            for metric in METRICS:
                values = [r["models"][model][split][metric]["value"] for r in results]
                if all(v is not None for v in values):
                    cells.append(f"{metric} {spread(values)}")
            print(f"{model:12s} {split:8s} " + "; ".join(cells))
    print("claims (difference where the claim compares two models):")
    for index, claim in enumerate(results[0]["claims"]):
        rows = [r["claims"][index] for r in results]
        held = sum(row["holds"] for row in rows)
        key = "diff" if "diff" in claim else "value"
        print(
            f"  holds in {held} of {len(rows)}: {claim['claim']}; {key} {spread([row[key] for row in rows])}"
        )
    runs = [Path(args.out) / f"seed-{seed}" for seed in args.seeds]
    print("pooled over the seeds and turns (mean difference, 95% interval resampling both):")
    for claim, a, b, split, metric in DIFFERENCES:
        diff, low, high = pooled_difference(runs, a, b, split, metric)
        verdict = "beyond noise" if low > 0 or high < 0 else "inside the noise"
        print(f"  {claim}: {diff:+.3f} [{low:+.3f}, {high:+.3f}], {verdict}")


if __name__ == "__main__":
    main()

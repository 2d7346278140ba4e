"""GRPO against its own start over training seeds: does the update beat where it began, beyond both kinds of noise?

The demo repeats every stage per seed (`seed_repeats.py`), so GRPO's own effect is mixed with the SFT stages'
noise. This holds the start fixed: it runs `thinkact grpo` from one model for each seed (OUT/seed-S, reused when
its model exists), evaluates the start and every run greedily on the given splits (OUT/eval/NAME.json, reused
when present), and pools each run's per-turn difference from the start over seeds and turns with the crossed
bootstrap (`eval.bootstrap.bootstrap_seeds_and_turns_difference`). A measurement, not a test.

    .venv/bin/python benchmarks/grpo_seeds.py OUT --model runs/probe/sft-think/model \\
        --data runs/probe/data/train.jsonl --eval runs/probe/data/test_id.jsonl runs/probe/data/test_ood.jsonl \\
        --seeds 0 1 2 3 --set learning_rate=2e-4 --set warmup_steps=6 --set lr_schedule=cosine
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workspace import parse_toy_args, toy_data, toy_directory

from thinkact.config import load_config
from thinkact.eval.bootstrap import bootstrap_seeds_and_turns_difference
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.models.tiny import pretrained_base
from thinkact.train.grpo import GRPORunConfig, run_grpo

METRICS = ("exact_call", "reward", "tool_name", "action_type")
"""Per-turn metrics pooled (arg_f1 is micro-averaged over arguments, not a per-turn value)."""
TOY_GRPO = ["steps=1", "prompts_per_step=2", "group_size=2", "max_new_tokens=8", "micro_batch=4"]


def train(out: Path, args: argparse.Namespace, seed: int) -> Path:
    run = out / f"seed-{seed}"
    if (run / "model" / "config.json").is_file():
        return run / "model"
    fields = [
        *args.set,
        f"model={args.model}",
        f"data={args.data}",
        f"out={run}",
        f"seed={seed}",
        "eval_steps=0",
    ]
    return run_grpo(load_config(GRPORunConfig, args.config, fields), overwrite=run.exists())


def evaluate(out: Path, name: str, model: Path | str, args: argparse.Namespace) -> dict[str, Any]:
    path = out / "eval" / f"{name}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        config = EvalConfig(
            model=str(model),
            data=args.eval,
            out=str(path),
            name=name,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            resamples=0,
        )
        run_eval(config)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def per_turn(results: dict[str, Any], split: str, metric: str) -> dict[str, float]:
    turns = results["splits"][split]["turns"]
    return {t["id"]: t["metrics"][metric] for t in turns if metric in t["metrics"]}


def pooled(start: dict[str, Any], runs: list[dict[str, Any]], split: str, metric: str) -> str:
    before = per_turn(start, split, metric)
    ids = sorted(before)
    if not ids:
        return f"{split} {metric}: no turn has it"
    afters = [per_turn(run, split, metric) for run in runs]
    first = [[before[i] for i in ids] for _ in runs]
    second = [[after[i] for i in ids] for after in afters]
    diff, interval = bootstrap_seeds_and_turns_difference(first, second)
    values = " ".join(f"{sum(row) / len(row):.3f}" for row in second)
    mark = " beyond noise" if interval.excludes_zero() else ""
    return (
        f"{split} {metric}: start {sum(first[0]) / len(ids):.3f}, seeds {values}; "
        f"GRPO − start {diff:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]{mark} (n={len(ids)} turns)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="directory of the runs and evaluations")
    parser.add_argument("--model", help="the start model, every seed's GRPO begins from it")
    parser.add_argument("--data", help="training conversations")
    parser.add_argument("--eval", nargs="+", help="splits to evaluate on, e.g. test_id.jsonl test_ood.jsonl")
    parser.add_argument("--config", default=None, help="a GRPO config file the --set overrides apply to")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parse_toy_args(
        parser, {"seeds": [0, 1], "set": list(TOY_GRPO), "max_new_tokens": 8, "batch_size": 8}
    )
    if args.toy and not args.out:
        root = toy_directory()
        data = toy_data(root)
        args.out, args.model, args.data = str(root / "seeds"), str(pretrained_base()), str(data["train"])
        args.eval = [str(data["test_id"])]
    if not (args.out and args.model and args.data and args.eval):
        parser.error("give OUT, --model, --data and --eval")
    out = Path(args.out)
    start = evaluate(out, "start", args.model, args)
    runs = [evaluate(out, f"seed-{seed}", train(out, args, seed), args) for seed in args.seeds]
    print(f"GRPO from {args.model}, seeds {args.seeds}, settings {args.set}")
    for split in start["splits"]:
        for metric in METRICS:
            print(pooled(start, runs, split, metric))


if __name__ == "__main__":
    main()

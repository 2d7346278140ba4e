"""What every benchmark script shares: the tiny model and data built into a temporary directory, a record of the
machine and its load, a printed table and a JSON file of results.

The model is the embedded default (`build_tiny_model` with the default `TinyModelConfig`: a 3.7M-parameter Qwen3),
built fresh so the numbers do not depend on a checkpoint lying around. Timings are medians of several repeats,
and each script measures thinkact and its reference alternately in one process, so that the ratios it reports
are taken under the same machine load. The scripts default to one torch thread: on a shared 2-core machine two
OpenMP threads that must wait for each other made `generate` up to 20x slower than one thread (measured).
Left out: GPUs (none on the machine these were written on).

Toy size: `--toy` or THINKACT_BENCH_TOY=1 (read by `parse_toy_args`) runs a script's whole code path at the
smallest size, with its inputs built into a temporary directory when none are given and its results written
there, never into benchmarks/results; tests/test_benchmarks.py runs every script so. A toy run whose data must
come from ../shared (`shared_path`) exits with `SKIPPED` when that directory is absent, and the test skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
import trl

from thinkact.bench.synthetic import generate_benchmark
from thinkact.bench.synthetic.rendered import tokenizer_text
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.models.tiny import TEST_SHAPE, build_tiny_model, pretrained_base

RESULTS = Path(__file__).parent / "results"
TOY_VARIABLE = "THINKACT_BENCH_TOY"
"""Set to 1, every script runs at toy size, as with `--toy`."""
SHARED = Path(__file__).resolve().parents[2] / "shared"
SKIPPED = 77
"""Exit status of a toy run whose inputs are absent from this machine (tests/test_benchmarks.py skips it)."""

TOY_MODEL = TEST_SHAPE  # the default's architecture at test size (`models/tiny.py`)


@dataclass
class Workspace:
    model_dir: Path
    data: Path


def build_workspace(
    root: Path, *, conversations: int = 40, toy: bool = False, model: str | None = None
) -> Workspace:
    """The default tiny model (or the `model` directory given) and a small bundled-benchmark training split under
    `root` (with `toy`, the tests' smaller model and 4 conversations)."""
    if model is not None:
        model_dir = Path(model)
    else:
        config = TOY_MODEL if toy else None
        model_dir = build_tiny_model(root / "model", texts=tokenizer_text(config, 0), seed=0, config=config)
    train = 4 if toy else conversations
    generate_benchmark(root / "data", seed=0, train=train, valid=0, test_id=1, test_ood=1)
    return Workspace(model_dir=model_dir, data=root / "data" / "train.jsonl")


def parse_toy_args(parser: argparse.ArgumentParser, toy: dict[str, Any]) -> argparse.Namespace:
    """The command line, with a `--toy` flag: given (or THINKACT_BENCH_TOY=1), the values in `toy` replace the
    defaults (values on the command line still win), so the run is the smallest that goes through the script."""
    parser.add_argument(
        "--toy",
        action="store_true",
        help=f"toy size (also {TOY_VARIABLE}=1): every code path at the smallest size, inputs built and results "
        "written in a temporary directory (tests/test_benchmarks.py)",
    )
    args = parser.parse_args()
    if not (args.toy or os.environ.get(TOY_VARIABLE) == "1"):
        return args
    # argparse fills only the attributes the namespace lacks, so `toy` stands in for the defaults
    return parser.parse_args(namespace=argparse.Namespace(**toy, toy=True))


def toy_directory() -> Path:
    """A fresh temporary directory for a toy run's inputs and results (kept: the run prints where)."""
    return Path(tempfile.mkdtemp(prefix="thinkact-toy-"))


def toy_data(root: Path) -> dict[str, Path]:
    """A few bundled-benchmark conversations per split under `root/data` (as `thinkact data generate` writes)."""
    return generate_benchmark(root / "data", seed=0, train=4, valid=1, test_id=2, test_ood=2)


def toy_probe_inputs(args: argparse.Namespace) -> None:
    """A toy probe run given no models: the shipped pretrained base on a few generated test_id turns."""
    if args.toy and not args.models:
        args.models = [str(pretrained_base())]
        args.data = str(toy_data(toy_directory())["test_id"])


def parse_probe_args(parser: argparse.ArgumentParser, conversations: int) -> argparse.Namespace:
    """The options the probes of pretrained models share (model directories, held-out corpus, data), parsed, with
    the toy inputs filled in and `torch`'s threads set; `conversations` is the default count of `--data`'s."""
    parser.add_argument("models", nargs="*", help="model directories")
    parser.add_argument("--data", default="runs/demo/data/test_id.jsonl")
    parser.add_argument("--corpus", type=int, default=48, help="held-out corpus conversations")
    parser.add_argument("--conversations", type=int, default=conversations, help="conversations of --data")
    parser.add_argument("--threads", type=int, default=2)
    args = parse_toy_args(parser, {"corpus": 2, "conversations": 2})
    toy_probe_inputs(args)
    if not args.models:
        parser.error("give at least one model directory")
    torch.set_num_threads(args.threads)
    return args


def toy_results(root: Path, name: str, *, oracle: bool = False) -> Path:
    """A `thinkact eval` results file of the shipped pretrained base (or, with `oracle`, of the reference actions)
    on the toy data's test splits: 6 turns per split, at most 96 new tokens, no bootstrap."""
    data = toy_data(root)
    out = root / "eval" / f"{name}.json"
    config = EvalConfig(
        model="" if oracle else str(pretrained_base()),
        oracle=oracle,
        data=[str(data["test_id"]), str(data["test_ood"])],
        out=str(out),
        limit=6,
        max_new_tokens=96,
        resamples=0,
        name=name,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    run_eval(config)
    return out


def shared_path(relative: str) -> Path:
    """`../shared/<relative>`, data kept beside the repository; a run without it exits with `SKIPPED`."""
    path = SHARED / relative
    if not path.exists():
        print(f"skipped: {path} is absent (data kept beside the repository, in ../shared)")
        raise SystemExit(SKIPPED)
    return path


def machine() -> dict[str, Any]:
    """Where and when: CPU count, torch threads, library versions, load averages, date and command."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """A plain-text table of `rows` (same keys in each), numbers to 3 significant decimals."""
    columns = list(rows[0])
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True)))
    for line in cells:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def write_results(name: str, record: dict[str, Any], *, toy: bool = False) -> Path:
    """Append one run's record to benchmarks/results/<name>.json (a list of runs); a toy run's record goes to
    a fresh temporary directory instead, so toy figures never mix with measured ones."""
    directory = toy_directory() if toy else RESULTS
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    runs.append(record)
    path.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return path

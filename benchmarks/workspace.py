"""What every benchmark script shares: the tiny model and data built into a temporary directory, a record of the
machine and its load, a printed table and a JSON file of results.

The model is the embedded default (`build_tiny_model` with the default `TinyModelConfig`: a 3.7M-parameter Qwen3),
built fresh so the numbers do not depend on a checkpoint lying around. Timings are medians of several repeats,
and each script measures thinkact and its reference alternately in one process, so that the ratios it reports
are taken under the same machine load. The scripts default to one torch thread: on a shared 2-core machine two
OpenMP threads that must wait for each other made `generate` up to 20x slower than one thread (measured).
Left out: GPUs (none on the machine these were written on).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
import trl

from thinkact.bench.synthetic import generate_benchmark
from thinkact.models.tiny import build_tiny_model

RESULTS = Path(__file__).parent / "results"


@dataclass
class Workspace:
    model_dir: Path
    data: Path


def build_workspace(root: Path, *, conversations: int = 40) -> Workspace:
    """The default tiny model and a small bundled-benchmark training split under `root`."""
    model_dir = build_tiny_model(root / "model", seed=0)
    generate_benchmark(root / "data", seed=0, train=conversations, valid=0, test_id=1, test_ood=1)
    return Workspace(model_dir=model_dir, data=root / "data" / "train.jsonl")


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


def write_results(name: str, record: dict[str, Any]) -> Path:
    """Append one run's record to benchmarks/results/<name>.json (a list of runs)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    runs.append(record)
    path.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return path

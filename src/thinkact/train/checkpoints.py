"""Checkpoints of a training run, written atomically and read back without unpickling arbitrary objects.

A checkpoint is `checkpoints/step-N/` holding the model (`save_pretrained`: safetensors), the optimizer state
(`optimizer.pt`, read with `weights_only=True`, so only tensors and plain containers load) and `state.json` (step
and anything else the trainer needs). It is written to a temporary directory first and renamed into place, and
`checkpoints/latest` names the newest one and is replaced atomically last: a crash at any moment leaves the
previous checkpoint complete and pointed to.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from thinkact.errors import UserError


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    model: Any,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write checkpoint `step` atomically and point `latest` at it; keeps the newest `keep` checkpoints."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    temporary = root / f".step-{step}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    torch.save(optimizer.state_dict(), temporary / "optimizer.pt")
    (temporary / "state.json").write_text(json.dumps({"step": step, **state}), encoding="utf-8")
    _fsync_tree(temporary)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    pointer = root / ".latest.tmp"
    pointer.write_text(final.name, encoding="utf-8")
    os.replace(pointer, root / "latest")
    for old in sorted(root.glob("step-*"), key=_step_of)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    if not (path / "state.json").is_file():
        raise UserError(f"{pointer}: names {path.name}, which is incomplete; delete {pointer} to start over")
    return path


def load_state(checkpoint: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    return state


def load_optimizer(checkpoint: Path, optimizer: torch.optim.Optimizer) -> None:
    optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))


def _step_of(path: Path) -> int:
    return int(path.name.split("-")[1])


def _fsync_tree(directory: Path) -> None:
    for file in directory.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())

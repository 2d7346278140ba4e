"""Checkpoints of a training run, written durably and read back without unpickling arbitrary objects.

A checkpoint is `checkpoints/step-N/` holding the model (`save_pretrained`: safetensors) and its tokenizer, so it
loads and evaluates like any model directory, the optimizer state (`optimizer.pt`, read with
`weights_only=True`, so only tensors and plain containers load) and `state.json` (step, the run's config
fingerprint and anything else the trainer needs). It is written to a temporary directory, fsynced and renamed
into place, and `checkpoints/latest` names the newest one and is replaced atomically last: a crash at any moment
leaves the previous checkpoint complete and pointed to. Pruning keeps the newest `keep` checkpoints below the
one just written, never one a later step of another run left behind.

`check_resume` decides, before any work, whether a run directory can be continued with a config: it refuses a
directory without a checkpoint, a checkpoint beyond `steps` and a directory written with another config, each
with the reason. A finished run (its model/ written) resumes only to be extended: to more steps than it finished
with, from the checkpoint of its last step; the trainer then puts the new model/ in place of the old one in one
step. Schedules are recomputed for the new total, as transformers' Trainer does on a resume with a larger
`max_steps`: each added step gets the learning rate (and GRPO the scheduled weights) that a run of the new length
has at that step, so a learning rate that had decayed rises again. `write_finished` records the step model/
holds (GRPO; SFT reads the Trainer's trainer_state.json). `StopOnInterrupt` turns the first Ctrl-C into "finish
this step, save, stop".
Left out: checkpoints of the TRL engine (it saves only the final model).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import yaml

from thinkact.config import to_dict
from thinkact.errors import RunInterrupted as RunInterrupted  # re-exported: sft and grpo raise it
from thinkact.errors import UserError
from thinkact.files import atomic_write_text, fsync_dir, fsync_tree, install_dir
from thinkact.jsonsafe import read_jsonl_lines

RESUMABLE_FIELDS = frozenset({"steps", "max_steps", "save_steps", "sample_steps", "logging_steps", "out"})
"""Config fields a resumed run may change: how long it runs and how often it writes, never what it learns."""
FINISHED_FILE = "finished.json"
"""Beside model/: the step model/ holds (`write_finished`)."""


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    model: Any,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int = 2,
    tokenizer: Any = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write checkpoint `step` durably and point `latest` at it; keeps the newest `keep` checkpoints.

    `extra(directory)` writes further files of the trainer into the checkpoint before it is made durable."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    temporary = root / f".step-{step}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    if tokenizer is not None:
        tokenizer.save_pretrained(temporary)
    torch.save(optimizer.state_dict(), temporary / "optimizer.pt")
    (temporary / "state.json").write_text(json.dumps({"step": step, **state}), encoding="utf-8")
    if extra is not None:
        extra(temporary)
    fsync_tree(temporary)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    fsync_dir(root)
    atomic_write_text(root / "latest", final.name)
    older = sorted((p for p in root.glob("step-*") if _step_of(p) < step), key=_step_of)
    for old in older[: max(len(older) - (keep - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_model(model: Any, tokenizer: Any, directory: str | Path) -> Path:
    """Write a final model and its tokenizer to `directory` durably: a temporary directory, fsynced, then put in
    place of any earlier model in one step (`install_dir`), so an extended run's model/ is never missing."""
    directory = Path(directory)
    temporary = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    tokenizer.save_pretrained(temporary)
    fsync_tree(temporary)
    install_dir(temporary, directory)
    return directory


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


def fingerprint(config: Any) -> dict[str, Any]:
    """The config fields that decide what a run learns (all but `RESUMABLE_FIELDS`)."""
    return {key: value for key, value in to_dict(config).items() if key not in RESUMABLE_FIELDS}


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`field: saved -> current` for each field that differs between two fingerprints.

    >>> config_differences({"seed": 0, "lr": 1.0}, {"seed": 1, "lr": 1.0})
    ['seed: 0 -> 1']
    """
    keys = sorted(set(saved) | set(current))
    return [
        f"{key}: {saved.get(key)!r} -> {current.get(key)!r}"
        for key in keys
        if saved.get(key) != current.get(key)
    ]


def saved_differences(run_dir: Path, config: Any) -> list[str]:
    """`config_differences` between the fingerprint `run_dir/config.yaml` was written with and `config`'s."""
    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    return config_differences(
        {k: v for k, v in saved.items() if k not in RESUMABLE_FIELDS}, fingerprint(config)
    )


def write_finished(run_dir: Path, step: int) -> None:
    """Record that model/ holds step `step` (written after model/, so a crash between the two leaves the old
    record beside a newer checkpoint, and a resume writes both again)."""
    atomic_write_text(run_dir / FINISHED_FILE, json.dumps({"step": step}) + "\n")


def finished_step(run_dir: Path) -> int | None:
    """The step `write_finished` recorded for `run_dir`'s model/, or None."""
    path = run_dir / FINISHED_FILE
    return int(json.loads(path.read_text(encoding="utf-8"))["step"]) if path.is_file() else None


def check_resume(
    run_dir: Path,
    config: Any,
    steps: int | None,
    done: int | None,
    command: str,
    *,
    finished: int | None = None,
    steps_field: str = "steps",
) -> None:
    """Refuse to resume `run_dir` with `config` unless it holds an unfinished run of the same config, or a
    finished one that `steps` extends.

    `done` is the step of its latest checkpoint (None: there is none); `steps` the run's length (None: set by
    epochs); `finished` the step its model/ holds (None: not recorded); `steps_field` the setting that raises it.
    """
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        raise UserError(f"--resume: {run_dir} holds no run; run without --resume to start one")
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        raise UserError(f"--resume: {run_dir} holds no config.yaml, so it is not a {command} run directory")
    differences = saved_differences(run_dir, config)
    if differences:
        raise UserError(
            f"--resume: {run_dir} was written by another {command} config ({'; '.join(differences[:3])}); "
            "resume with the same settings, or use --overwrite to start again"
        )
    if (run_dir / "model").is_dir():
        _check_extension(run_dir, steps, done, finished, steps_field)
    if done is None:
        raise UserError(
            f"--resume: {run_dir} has no checkpoint yet (one is written every save_steps steps); "
            "use --overwrite to start it again"
        )
    if steps is not None and done > steps:
        raise UserError(
            f"--resume: the checkpoint of {run_dir} is at step {done}, beyond this config's {steps} steps; "
            f"raise the number of steps to at least {done}"
        )


def _check_extension(
    run_dir: Path, steps: int | None, done: int | None, finished: int | None, field: str
) -> None:
    """A finished run resumes only to add steps, from the checkpoint of its last step (or one after it: an
    extension that was itself interrupted)."""
    if finished is None:
        raise UserError(
            f"--resume: {run_dir} is a finished run (its model/ is written); nothing to resume. "
            "Use --overwrite to train it again, or another --out"
        )
    if done is not None and done > finished:
        return
    if steps is None or steps <= finished:
        raise UserError(
            f"--resume: {run_dir} is a finished run of {finished} steps; nothing to resume. To train it further, "
            f"raise {field} above {finished} (--set {field}=N with N > {finished}); or use --overwrite to train "
            "it again, or another --out"
        )
    if done != finished:
        raise UserError(
            f"--resume: {run_dir} finished at step {finished} but kept no checkpoint of that step (none is "
            "written with save_steps: 0, nor when max_generated_tokens ended the run), so it cannot continue from "
            f"there; train further from its model (--set model={run_dir / 'model'} with another --out), or use "
            "--overwrite"
        )


def read_jsonl_steps(path: Path, steps: int) -> list[str]:
    """The lines of a per-step log with `step <= steps`; a torn (unparsable) last line is dropped."""
    if not path.is_file():
        return []
    lines = read_jsonl_lines(path)
    kept = []
    for number, line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == lines[-1][0]:
                break  # the write of the last line was cut off by the kill: that step is redone
            raise UserError(f"{path}:{number}: not valid JSON; repair or delete the line to resume") from None
        if int(record.get("step", 0)) <= steps:
            kept.append(line)
    return kept


def truncate_steps(path: Path, steps: int) -> None:
    """Rewrite a per-step log (metrics.jsonl, samples.jsonl) to hold only steps up to `steps`, atomically."""
    if path.is_file():
        atomic_write_text(path, "".join(line + "\n" for line in read_jsonl_steps(path, steps)))


class StopOnInterrupt:
    """The first Ctrl-C asks the training loop to stop after the current step (and save); a second one kills.

    Used as a context manager around a loop that checks `requested` after each step. Only installs itself in the
    main thread (signal handlers can only live there).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopOnInterrupt]:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, self._previous)


def _step_of(path: Path) -> int:
    return int(path.name.split("-")[1])

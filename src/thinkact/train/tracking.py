"""Experiment tracking (`report_to`): TensorBoard, trackio, Weights & Biases, or none, for SFT and GRPO alike.

`report_to` is a comma-separated list ("tensorboard", "tensorboard,wandb", "none"). `check_report_to` validates
it when a config loads, and stops with the install command when a chosen tracker is missing (trackio and wandb
are the optional extras of those names; TensorBoard comes with thinkact). SFT hands the list to TRL's trainer,
whose integrations log; thinkact's GRPO engine and the TRL GRPO adapter log through `Tracker`, one object over
the chosen backends. Offline by default: wandb writes its run under the run directory for `wandb sync` later, and
trackio keeps its local database (it uploads only to a Space you name in TRACKIO_SPACE_ID).

Left out: MLflow, Comet and the other trackers transformers knows (SFT would accept them; GRPO would not).
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any

from thinkact.errors import UserError

TRACKERS = ("tensorboard", "trackio", "wandb")
_MODULES = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


def check_report_to(report_to: str, where: str) -> list[str]:
    """The trackers named in `report_to`, checked: known names, installed packages.

    >>> check_report_to("none", "sft.report_to"), check_report_to(" tensorboard ", "sft.report_to")
    ([], ['tensorboard'])
    >>> check_report_to("tensorbored", "grpo.report_to")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinkact.errors.UserError: grpo.report_to: unknown tracker 'tensorbored'; choose from tensorboard, ...
    """
    names = [name.strip() for name in report_to.split(",") if name.strip()]
    if names in ([], ["none"]):
        return []
    for name in names:
        if name not in TRACKERS:
            raise UserError(f"{where}: unknown tracker {name!r}; choose from {', '.join(TRACKERS)}, or none")
        if importlib.util.find_spec(_MODULES[name]) is None:
            raise UserError(
                f"{where}: {name} is not installed; install it with pip install 'thinkact[{name}]' "
                f"(or report to another tracker, or none)"
            )
    return names


def prepare_trainer_reporting(names: list[str], out: Path, offline: bool) -> list[str] | str:
    """The `report_to` value for a transformers/TRL trainer, with wandb's offline mode and directory set."""
    # transformers' integrations read their settings from the environment; a user's own values win.
    if "wandb" in names:
        os.environ.setdefault("WANDB_PROJECT", "thinkact")
        os.environ.setdefault("WANDB_DIR", str(out))
        if offline:
            os.environ.setdefault("WANDB_MODE", "offline")
    if "trackio" in names:
        os.environ.setdefault("TRACKIO_PROJECT", "thinkact")
    return names or "none"


class Tracker:
    """Scalars to every chosen tracker; non-finite values are skipped (TensorBoard cannot draw them)."""

    def __init__(
        self,
        names: list[str],
        out: Path,
        *,
        run_name: str,
        config: dict[str, Any],
        offline: bool,
        done: int = 0,
    ) -> None:
        """`done`: the steps a resumed run already logged; TensorBoard drops its events after them."""
        self.backends: list[tuple[str, Any]] = []
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tensorboard"), purge_step=done + 1 if done else None)
            self.backends.append(("tensorboard", writer))
        if "trackio" in names:
            import trackio

            project = os.environ.get("TRACKIO_PROJECT", "thinkact")
            self.backends.append(("trackio", trackio.init(project=project, name=run_name, config=config)))
        if "wandb" in names:
            import wandb

            run = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "thinkact"),
                name=run_name,
                dir=str(out),
                config=config,
                mode="offline" if offline else None,
            )
            self.backends.append(("wandb", run))

    def log(self, metrics: dict[str, float], step: int) -> None:
        finite = {name: value for name, value in metrics.items() if math.isfinite(value)}
        for kind, backend in self.backends:
            if kind == "tensorboard":
                for name, value in finite.items():
                    backend.add_scalar(name, value, step)
            else:
                backend.log(finite, step=step)

    def close(self) -> None:
        for kind, backend in self.backends:
            backend.close() if kind == "tensorboard" else backend.finish()
        self.backends = []

"""What the commands share: their common options (--config, --set, --overwrite, --tools, --mcp, --resume), the
parsing of flags into config overrides, claiming an output directory, and the training progress bar.

Imports no command module, so every command module may import it. Left out: the commands themselves.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from thinkact.files import check_output_dir, replace_dir

ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML config file (see configs/).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a config field, FIELD=VALUE (repeatable; the fields are listed below)."
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace the existing output instead of refusing to touch it.")
]
ToolsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tools",
        metavar="FILE.py|MODULE",
        help="Your tools: a Python file or module of typed functions with docstrings (repeatable; see "
        "docs/tools.md). Used by every conversation whose meta names no environment.",
    ),
]
McpOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="COMMAND|URL",
        help='An MCP server as the environment: "COMMAND ARGS" (stdio) or its streamable-HTTP URL '
        "(repeatable); started with the run and stopped at its end.",
    ),
]
ResumeOption = Annotated[
    bool,
    typer.Option(
        help="Continue the run in --out from its last checkpoint (same config; same data order, seeds)."
    ),
]


def overrides(flags: Mapping[str, object], sets: list[str] | None) -> list[str]:
    """Flags given on the command line as `field=value` overrides, before any --set."""
    given = [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]
    return given + list(sets or [])


def quiet_libraries() -> None:
    """Keep the terminal for thinkact's own progress: no library progress bars, deprecation notes or info logs."""
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers|trl|accelerate|peft")


def claim_output(out: Path | str, overwrite: bool) -> None:
    """Refuse an existing output unless --overwrite, which clears it."""
    check_output_dir(out, overwrite=overwrite)
    if overwrite:
        replace_dir(out)


def resumed_config(config: Path | None, out: str | None, resume: bool) -> Path | None:
    """With --resume and no --config, the run directory's own config.yaml (so `--out DIR --resume` is enough)."""
    if resume and config is None and out is not None and (Path(out) / "config.yaml").is_file():
        return Path(out) / "config.yaml"
    return config


def say_resuming(console: Console) -> Callable[[int, int], None]:
    def say(done: int, steps: int) -> None:
        console.print(f"resuming from step {done} of {steps if steps > 0 else '?'}")

    return say


class StepReport:
    """The per-step callback of `training_progress`: `report(step, metrics)`, and `set_total` once it is known."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task

    def set_total(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def __call__(self, step: int, metrics: dict[str, float]) -> None:
        shown = {
            "loss": "loss {:.3f}",
            "reward": "reward {:.3f}",
            "kl": "kl {:.4f}",
            "tokens_per_second": "{:.0f} tok/s",
            "heldout_reward": "held-out reward {:.3f}",
            "heldout_exact_call": "exact calls {:.3f}",
        }
        status = "  ".join(form.format(metrics[key]) for key, form in shown.items() if key in metrics)
        self.progress.update(self.task, completed=step, status=status)


@contextlib.contextmanager
def training_progress(console: Console, title: str, steps: int | None) -> Iterator[StepReport]:
    """A progress bar with step, ETA and the latest loss, reward, KL and tokens/s; yields the per-step callback."""
    columns = (
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console) as progress:
        yield StepReport(progress, progress.add_task(title, total=steps, status=""))

"""The recipes command: several training recipes from one checkpoint under equal compute, one report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from thinkact.cli.apps import app
from thinkact.cli.help import help_with_config
from thinkact.cli.options import (
    ConfigOption,
    OverwriteOption,
    SetOption,
    overrides,
    quiet_libraries,
    resumed_config,
)
from thinkact.config import load_config


@app.command("recipes", cls=help_with_config("recipes", "thinkact.recipes:RecipesConfig"))
def recipes(
    config: ConfigOption = None,
    model: Annotated[str | None, typer.Option(help="The starting checkpoint of every recipe.")] = None,
    out: Annotated[
        str | None, typer.Option(help="Directory for the report, the runs and the evaluations.")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the comparison in --out: finished stages are reused, unfinished ones resumed."
        ),
    ] = False,
    overwrite: OverwriteOption = False,
    set_: SetOption = None,
) -> None:
    """Train a list of recipes (GRPO and/or SFT config overrides) from one checkpoint under an equal budget of
    generated tokens, evaluate each with intervals and write one table and report (see docs/recipes.md)."""
    from thinkact.recipes import RecipesConfig, run_recipes

    quiet_libraries()
    config = resumed_config(config, out, resume)  # --out DIR --resume alone reads DIR/config.yaml
    run_config = load_config(RecipesConfig, config, overrides({"model": model, "out": out}, set_))
    console = Console()
    summary = run_recipes(
        run_config,
        source=str(config) if config else "command line",
        resume=resume,
        overwrite=overwrite,
        say=lambda title: console.rule(f"[bold]{title}"),
        on_step=_report_step(console, run_config.max_generated_tokens),
    )
    for row in summary["recipes"]:
        console.print(
            f"{row['name']}: {' + '.join(row['stages'])}, {row.get('generated_tokens', '—')} generated tokens, "
            f"stopped by {row.get('stopped_by', '—')}"
        )
    console.print(f"wrote {Path(run_config.out) / 'report.md'} and {Path(run_config.out) / 'recipes.json'}")


def _report_step(console: Console, budget: int) -> Callable[[str, int, dict[str, float]], None]:
    """Every fifth GRPO step (and the last): reward and tokens sampled against the budget."""

    def report(recipe: str, step: int, metrics: dict[str, float]) -> None:
        tokens = metrics.get("generated_tokens")
        if tokens is not None and (step % 5 == 0 or tokens >= budget):
            console.print(
                f"{recipe}: step {step}, reward {metrics['reward']:.3f}, {tokens:.0f} of {budget} tokens"
            )

    return report

"""`thinkact bfcl score` and `thinkact bfcl eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinkact.bench.bfcl.checker import supported_categories
from thinkact.bench.bfcl.evaluate import run_bfcl_eval
from thinkact.bench.bfcl.score import format_report, read_results, score_results, write_verdicts
from thinkact.cli.apps import bfcl_app
from thinkact.cli.options import OverwriteOption
from thinkact.files import check_output_dir, check_output_file

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="BFCL's data/ folder (BFCL_v*_<category>.json and possible_answer/)."),
]


@bfcl_app.command("score")
def score(
    data_dir: DataDirOption,
    results: Annotated[
        Path,
        typer.Option(
            help='JSONL: {"id", "tool_calls": [{"name", "arguments"}]} or {"id", "completion"} per line.'
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write one verdict per result here (JSONL).")
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Decide each result's validity exactly as BFCL's AST checker does; print accuracy per category."""
    if out is not None:
        check_output_file(out, overwrite=overwrite)
    model_results = read_results(results)
    report = score_results(data_dir, model_results, source=str(results))
    if out is not None:
        write_verdicts(out, report.verdicts)
    typer.echo(format_report(report))


@bfcl_app.command("eval")
def evaluate(
    model: Annotated[str, typer.Option(help="Model directory (or a hub id already in the local cache).")],
    data_dir: DataDirOption,
    categories: Annotated[
        list[str],
        typer.Option("--categories", help=f"Repeatable; among {', '.join(supported_categories())}."),
    ],
    out: Annotated[Path, typer.Option(help="Run directory for results, verdicts and summary.")] = Path(
        "runs/bfcl"
    ),
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many questions per category.")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Generation budget per answer.")] = 512,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts generated together.")] = 8,
    overwrite: OverwriteOption = False,
) -> None:
    """Answer BFCL questions with a model (greedy), then score the answers as BFCL does."""
    check_output_dir(out, overwrite=overwrite)
    names = [name.strip() for value in categories for name in value.split(",") if name.strip()]
    report = run_bfcl_eval(
        model, data_dir, names, out, limit=limit, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    typer.echo(format_report(report))
    typer.echo(f"results, verdicts and summary are in {out}")

"""`thinkact data convert` and `thinkact data validate`: other formats in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinkact.cli.apps import data_app
from thinkact.cli.help import help_with_config
from thinkact.cli.options import OverwriteOption
from thinkact.data.readers import READERS
from thinkact.data.readers.convert import rejects_path, run_convert
from thinkact.data.validate import validate_file
from thinkact.data.writers import WRITERS
from thinkact.errors import UserError
from thinkact.files import check_output_file


@data_app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="Input file (for apibank: a folder of dialogues, or one).")],
    from_: Annotated[str, typer.Option("--from", help=f"Input format: {', '.join(READERS)}.")],
    out: Annotated[Path, typer.Option("--out", help="Output JSONL file.")],
    to: Annotated[str, typer.Option("--to", help=f"Output format: {', '.join(WRITERS)}.")] = "chat",
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Set invalid records aside in the rejects file (with reasons) and go on."
        ),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file (default: OUT with .rejects.jsonl).")
    ] = None,
    apis: Annotated[
        Path | None,
        typer.Option(help="API-Bank's data/all_apis.csv, when it is not in a folder above the dialogues."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Convert a dataset into the chat format (or ShareGPT); every record is checked, none dropped silently."""
    rejects = rejects or rejects_path(out)
    for path, option in ((out, "--out"), (rejects, "--rejects")):
        if path.resolve() == source.resolve() or source.resolve() in path.resolve().parents:
            raise UserError(f"{option} {path}: is the input {source}; write the conversion to another file")
        check_output_file(path, overwrite=overwrite, option=option)
    summary = run_convert(
        source,
        source_format=from_,
        out=out,
        target_format=to,
        skip_invalid=skip_invalid,
        rejects=rejects,
        apis=apis,
    )
    typer.echo(f"read {summary.read} records from {source}: wrote {summary.written} to {summary.out}")
    if summary.rejected:
        typer.echo(f"rejected {summary.rejected} invalid records; their reasons are in {summary.rejects}")
    if summary.not_alternating:
        typer.echo(
            f"note: {summary.not_alternating} conversations have two user or assistant turns in a row; "
            "LLaMA-Factory skips those (it wants the turns to alternate)"
        )


@data_app.command("validate", cls=help_with_config("data validate", None))
def validate(
    file: Annotated[Path, typer.Argument(help="A chat-format JSONL file.")],
) -> None:
    """Check every conversation: roles in order, calls to declared tools, object arguments, results after calls."""
    count, problems = validate_file(file)
    if count == 0 and not problems:
        typer.echo(
            f"{file}: holds no records; a chat-format file has one JSON conversation per line", err=True
        )
        raise typer.Exit(code=1)
    for problem in problems:
        typer.echo(str(problem))
    bad = len({problem.where for problem in problems})
    typer.echo(f"{file}: {count} records, {count - bad} valid, {bad} with problems")
    if problems:
        raise typer.Exit(code=1)

"""The `thinkact` command line: thin commands, each parsing its options and calling one `run`.

A `UserError` (bad file, flag, config field) prints its message and exits with status 2; anything else is a bug
and keeps its traceback.
"""

import sys

from rich.console import Console

from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app as typer_app
from thinkact.errors import RunInterrupted, UserError


def app() -> None:
    """Entry point of the `thinkact` script."""
    try:
        typer_app()
    except RunInterrupted as stopped:  # Ctrl-C: the run saved a checkpoint and says how to resume
        Console(stderr=True).print(f"[bold yellow]stopped:[/] {stopped}", highlight=False, soft_wrap=True)
        sys.exit(130)
    except UserError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)

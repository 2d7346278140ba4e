"""The Typer applications that command modules register on (kept apart so modules can import them freely)."""

import typer

from thinkact import __version__

app = typer.Typer(
    name="thinkact",
    help="Teach conversational agents to think before they act: SFT, GRPO, evaluation and comparison.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Generate, convert, validate and describe tool-use conversation data.", no_args_is_help=True
)
bfcl_app = typer.Typer(
    help="Score results on the Berkeley Function Calling Leaderboard the way BFCL does.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(bfcl_app, name="bfcl")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"thinkact {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Teach conversational agents to think before they act: SFT, GRPO, evaluation and comparison."""

"""The Typer applications that command modules register on (kept apart so modules can import them freely)."""

import typer

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

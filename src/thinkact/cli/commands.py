"""Imports every command module so that its commands register on the Typer apps."""

from thinkact.cli import (  # noqa: F401
    bfcl,
    data_bench,
    data_formats,
    eval_commands,
    main_commands,
    recipe_commands,
    serve_commands,
)

"""Imports every command module so that its commands register on the Typer apps."""

from thinkact.cli import bfcl, data_bench, data_formats, eval_commands, main_commands, serve_commands  # noqa: F401

"""Imports every command module so that its commands register on the Typer apps."""

from thinkact.cli import main_commands  # noqa: F401

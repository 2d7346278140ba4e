"""`python -m thinkact`: the same as the `thinkact` command."""

from thinkact.cli import app

app()

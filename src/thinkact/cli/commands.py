"""Imports every command module so that its commands register on the Typer apps; `write_config_fields` rewrites
the stored config fields the help reads (it needs every command registered, so it lives here, not in `help`)."""

import json
from pathlib import Path

# isort: off
# Commands register in import order, which is the order the top-level --help lists them in.
from thinkact.cli import main_commands  # noqa: F401
from thinkact.cli import (  # noqa: F401
    bfcl,
    data_bench,
    data_formats,
    eval_commands,
    recipe_commands,
    serve_commands,
)

# isort: on
from thinkact.cli.help import FIELDS_FILE, live_config_fields
from thinkact.files import atomic_write_text


def write_config_fields() -> Path:
    """Rewrite `config_fields.json` from the config classes (after a config field changes)."""
    atomic_write_text(FIELDS_FILE, json.dumps(live_config_fields(), indent=1, ensure_ascii=False) + "\n")
    return FIELDS_FILE

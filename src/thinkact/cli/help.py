"""What `--help` shows beyond the options: each command's config fields with their defaults, and examples.

The fields are read from the config dataclass (nested ones flattened as `lora.enabled`), with the first sentence
of the docstring written under each field. Several config classes live beside the code that trains (and imports
torch), so `--help` reads them from `config_fields.json`, written from the classes by
`make config-fields`: the help then imports no training stack and returns at once, and
`tests/test_help.py` fails when the file and the classes differ, so it cannot drift from the code. `EXAMPLES` are
the command lines shown under each command; `tests/test_help.py` runs every one of them.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import itertools
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from rich.markup import escape
from typer.core import TyperCommand

EXAMPLES: dict[str, list[str]] = {
    "data generate": ["thinkact data generate --out runs/data"],
    "data validate": ["thinkact data validate runs/data/train.jsonl"],
    "data stats": ["thinkact data stats runs/data/test_id.jsonl"],
    "init-model": ["thinkact init-model --out runs/tiny-model"],
    "sft": [
        "thinkact sft --model runs/tiny-model --data runs/data/train.jsonl --out runs/sft-think --steps 200",
    ],
    "grpo": [
        "thinkact grpo --model runs/sft-think/model --data runs/data/train.jsonl --out runs/grpo "
        "--set kl_coef=0.001",
    ],
    "eval": [
        "thinkact eval --oracle --data runs/data/test_id.jsonl",
        "thinkact eval --model runs/grpo/model --data runs/data/test_id.jsonl --out runs/eval/grpo.json",
    ],
    "compare": [
        "thinkact compare runs/sft-think runs/grpo --data runs/data/test_id.jsonl --out runs/compare",
    ],
}
"""Examples per command, in an order that works from an empty directory (each uses what earlier ones wrote)."""


FIELDS_FILE = Path(__file__).with_name("config_fields.json")
"""Each command's config class and its fields as `--help` shows them: (name, repr of the default, doc)."""
CONFIG_CLASSES: dict[str, str] = {}
"""Command → "module:Class" of its config, filled as the commands register."""


def config_epilog(cls: type[Any], command: str) -> str:
    """The epilog of `command`: its examples, then its config fields (`--set FIELD=VALUE`) with defaults."""
    rows = [(name, repr(default), doc) for name, default, doc in list_fields(cls)]
    return _epilog(command, rows)


def _epilog(command: str, rows: list[tuple[str, str, str]]) -> str:
    lines = []
    if command in EXAMPLES:
        lines += ["[bold]Examples[/]", *(f"  {escape(example)}" for example in EXAMPLES[command]), ""]
    lines.append("[bold]Config fields[/] (in a --config YAML file, or --set FIELD=VALUE; default first):")
    for name, default, doc in rows:
        lines.append(escape(f"  {name} = {default}" + (f"  {doc}" if doc else "")))
    return "\n".join(lines)


def live_config_fields() -> dict[str, dict[str, Any]]:
    """What `config_fields.json` must hold: every registered command's class and fields, read from the classes."""
    fields: dict[str, dict[str, Any]] = {}
    for command, config_class in sorted(CONFIG_CLASSES.items()):
        module, name = config_class.split(":")
        cls = getattr(importlib.import_module(module), name)
        rows = [[field, repr(default), doc] for field, default, doc in list_fields(cls)]
        fields[command] = {"class": config_class, "fields": rows}
    return fields


def stored_config_fields() -> dict[str, dict[str, Any]]:
    """The contents of `config_fields.json` (empty when it is missing)."""
    if not FIELDS_FILE.is_file():
        return {}
    stored: dict[str, dict[str, Any]] = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))
    return stored


def list_fields(cls: type[Any], prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted name, default, first sentence of its docstring) for every field, nested configs flattened."""
    docs = _field_docs(cls)
    rows: list[tuple[str, Any, str]] = []
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            rows += list_fields(type(default), f"{prefix}{field.name}.")
            continue
        rows.append((f"{prefix}{field.name}", default, docs.get(field.name, "")))
    return rows


def _field_docs(cls: type[Any]) -> dict[str, str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for current, following in itertools.pairwise(body):
        if (
            isinstance(current, ast.AnnAssign)
            and isinstance(current.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            text = " ".join(following.value.value.split())
            docs[current.target.id] = re.split(r"(?<!e\.g)(?<!Dr)\.\s+(?=[A-Z])", text)[0].rstrip(".")
    return docs


def help_with_config(command: str, config_class: str | None) -> type[TyperCommand]:
    """A Typer command class whose --help ends with `command`'s examples and the fields of `config_class`.

    The fields come from `config_fields.json` when it holds this class, so the help imports nothing heavy; a
    class the file does not know yet is imported when the help is shown.
    """
    if config_class is not None:
        CONFIG_CLASSES[command] = config_class

    class Command(TyperCommand):
        def format_help(self, ctx: Any, formatter: Any) -> None:  # click's Context, HelpFormatter
            stored = stored_config_fields().get(command, {})
            if config_class is None:
                self.epilog = "\n".join(
                    ["[bold]Examples[/]", *(f"  {escape(e)}" for e in EXAMPLES.get(command, []))]
                )
            elif stored.get("class") == config_class:
                self.epilog = _epilog(command, [tuple(row) for row in stored["fields"]])
            else:
                module, name = config_class.split(":")
                self.epilog = config_epilog(getattr(importlib.import_module(module), name), command)
            super().format_help(ctx, formatter)

    return Command

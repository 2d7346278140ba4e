"""--help is true: it lists each command's config fields as --set takes them, and every example it shows runs."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.cli.help import EXAMPLES

SHRINK = {
    "data generate": ["--train", "24", "--valid", "4", "--test-id", "4", "--test-ood", "4"],
    "init-model": [
        "--set",
        "hidden_size=32",
        "--set",
        "intermediate_size=64",
        "--set",
        "num_layers=1",
        "--set",
        "corpus_conversations=20",
        "--set",
        "vocab_size=600",
    ],
    "sft": ["--steps", "1", "--set", "batch_size=2"],
    "grpo": [
        "--steps",
        "1",
        "--set",
        "prompts_per_step=1",
        "--set",
        "group_size=2",
        "--set",
        "max_new_tokens=4",
    ],
    "eval": ["--limit", "2", "--set", "max_new_tokens=4"],
    "compare": ["--limit", "2", "--set", "max_new_tokens=4", "--no-html", "--set", "resamples=0"],
}
"""Options appended to each example so that it runs in seconds on the test machine (sizes only)."""


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", ["grpo", "sft", "eval", "compare", "demo", "recipes"])
def test_help_lists_every_config_field_as_set_takes_it(command: str) -> None:
    """Each field's line in --help is `name = default` with the default the class has (the demo's own defaults
    for its nested stage configs), named as `--set` takes it: dotted into nested configs, without a prefix."""
    from thinkact.cli import commands  # noqa: F401  (registers every command)
    from thinkact.cli.help import CONFIG_CLASSES, list_fields

    module, name = CONFIG_CLASSES[command].split(":")
    cls = getattr(importlib.import_module(module), name)
    shown = " ".join(_help(command).split())
    for field, default, _ in list_fields(cls):
        assert " ".join(f"{field} = {default!r}".split()) in shown, f"{command} --help misses {field}"


@pytest.mark.slow
def test_every_help_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command, examples in EXAMPLES.items():
        shown = _help(*command.split())
        for example in examples:
            assert " ".join(example.split()) in " ".join(shown.split()), f"{command} --help misses {example}"
            args = shlex.split(example)[1:] + SHRINK.get(command, [])
            result = runner.invoke(app, args)
            assert result.exit_code == 0, f"{example}: {result.output}\n{result.exception!r}"


HEAVY = ("torch", "transformers", "trl", "accelerate", "peft", "datasets", "mcp")
PROBE = """
import contextlib, io, sys
import click, typer
from thinkact.cli import commands
from thinkact.cli.apps import app
group = typer.main.get_command(app)

def names(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from names(sub, (*prefix, name))

for path in names(group):
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        try:
            group.main([*path, "--help"], prog_name="thinkact", standalone_mode=False)
        except SystemExit:
            pass
    assert "Usage" in shown.getvalue(), path
    heavy = [name for name in HEAVY if name in sys.modules]
    print(" ".join(path) or "thinkact", "HEAVY=" + ",".join(heavy))
"""


def test_help_imports_no_training_stack() -> None:
    """`thinkact --help` and every command's --help answer without importing torch, transformers, trl or mcp.

    One fresh interpreter shows each help in turn and lists the heavy modules loaded after it.
    """
    import subprocess
    import sys

    probe = f"HEAVY = {HEAVY!r}\n{PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert {"thinkact", "grpo", "sft", "eval", "chat", "data generate", "bfcl score"} <= {
        line.rsplit(" HEAVY=", 1)[0] for line in lines
    }
    assert all(line.endswith("HEAVY=") for line in lines), "\n".join(lines)


def test_stored_config_fields_match_the_config_classes() -> None:
    """--help reads the fields from config_fields.json; it must say what the classes say (`make config-fields`)."""
    from thinkact.cli import commands  # noqa: F401  (registers every command)
    from thinkact.cli.help import live_config_fields, stored_config_fields

    assert stored_config_fields() == live_config_fields(), (
        "src/thinkact/cli/config_fields.json is out of date: run `make config-fields`"
    )

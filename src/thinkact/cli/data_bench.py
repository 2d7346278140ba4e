"""`thinkact data generate` and `thinkact data stats`: the bundled benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from thinkact.bench.synthetic import DEFAULT_SIZES, generate_benchmark
from thinkact.bench.synthetic.stats import compute_stats, render_stats
from thinkact.cli.apps import data_app
from thinkact.cli.help import help_with_config
from thinkact.cli.options import OverwriteOption
from thinkact.data.conversations import read_conversations
from thinkact.files import check_output_dir, replace_dir


@data_app.command("generate", cls=help_with_config("data generate", None))
def generate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for train.jsonl, valid.jsonl, test_id.jsonl and test_ood.jsonl."
        ),
    ],
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives byte-identical files.")] = 0,
    train: Annotated[int, typer.Option(min=0, help="Conversations in train.")] = DEFAULT_SIZES["train"],
    valid: Annotated[
        int, typer.Option(min=0, help="Conversations in valid (drawn as test_id is: what training watches).")
    ] = DEFAULT_SIZES["valid"],
    test_id: Annotated[
        int, typer.Option(min=0, help="Conversations in test_id (unseen entities).")
    ] = DEFAULT_SIZES["test_id"],
    test_ood: Annotated[
        int, typer.Option(min=0, help="Conversations in test_ood (held-out phrasings and domain).")
    ] = DEFAULT_SIZES["test_ood"],
    overwrite: OverwriteOption = False,
) -> None:
    """Write the bundled benchmark's four splits as chat-format JSONL."""
    check_output_dir(out, overwrite=overwrite)
    if overwrite:
        replace_dir(out)
    paths = generate_benchmark(out, seed=seed, train=train, valid=valid, test_id=test_id, test_ood=test_ood)
    sizes = {"train": train, "valid": valid, "test_id": test_id, "test_ood": test_ood}
    for split, path in paths.items():
        typer.echo(f"{path}: {sizes[split]} conversations")


@data_app.command("stats", cls=help_with_config("data stats", None))
def stats(
    file: Annotated[Path, typer.Argument(help="A chat-format JSONL file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the counts as JSON instead of a table.")
    ] = False,
) -> None:
    """Count conversations, assistant turns and tool calls, by domain, phenomenon, action type and tool."""
    counts = compute_stats(read_conversations(file))
    if as_json:
        typer.echo(json.dumps(counts, indent=2))
    else:
        Console().print(render_stats(counts, title=str(file)))

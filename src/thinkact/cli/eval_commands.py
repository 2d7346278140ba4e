"""Evaluation commands: eval (one model, turn and episode views), compare (several models, report), chat.

Each command reads an optional YAML config (`--config`), applies its flags and any `--set field=value`
overrides, and calls one `run_…` function; the tables it prints are also written as files when asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from thinkact.cli.apps import app
from thinkact.cli.help import help_with_config
from thinkact.cli.options import (
    ConfigOption,
    McpOption,
    OverwriteOption,
    SetOption,
    ToolsOption,
    overrides,
    quiet_libraries,
)
from thinkact.config import load_config
from thinkact.errors import UserError
from thinkact.files import check_output_dir, check_output_file

ViewOption = Annotated[
    str | None,
    typer.Option(help="turn (reference history, next action), episode (tools executed, multi-turn) or both."),
]
LimitOption = Annotated[
    int | None, typer.Option(help="At most this many turns (and conversations, episode view) per split.")
]

EndpointOption = Annotated[
    str | None,
    typer.Option(help="OpenAI-compatible API to evaluate instead of --model, e.g. http://127.0.0.1:8000/v1."),
]
ServedModelOption = Annotated[str | None, typer.Option(help="With --endpoint: the served model's name.")]
ApiKeyEnvOption = Annotated[
    str | None,
    typer.Option(help="With --endpoint: environment variable holding the API key (OPENAI_API_KEY)."),
]


@app.command("eval", cls=help_with_config("eval", "thinkact.eval.runner:EvalConfig"))
def evaluate(
    data: Annotated[list[str], typer.Option(help="Data file(s); each is a split named by its file stem.")],
    model: Annotated[str | None, typer.Option(help="Model directory.")] = None,
    out: Annotated[str | None, typer.Option(help="Write the results JSON here.")] = None,
    oracle: Annotated[
        bool,
        typer.Option(
            help="Replay the reference actions (a harness self-check: 1.0 on the bundled benchmark)."
        ),
    ] = False,
    view: ViewOption = None,
    limit: LimitOption = None,
    max_actions: Annotated[int | None, typer.Option(help="Episode view: policy steps per user turn.")] = None,
    max_steps: Annotated[int | None, typer.Option(hidden=True, help="Old name of --max-actions.")] = None,
    name: Annotated[str | None, typer.Option(help="Label of the model in reports.")] = None,
    tools: ToolsOption = None,
    mcp: McpOption = None,
    overwrite: OverwriteOption = False,
    endpoint: EndpointOption = None,
    served_model: ServedModelOption = None,
    api_key_env: ApiKeyEnvOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Evaluate a model (local, behind an API, or the oracle): each metric with its 95% interval and count.

    With --tools or --mcp the episode view (--view episode) executes the calls with your tools or an MCP server.
    """
    from thinkact.envs.registry import use_environments
    from thinkact.eval.runner import EvalConfig, run_eval

    quiet_libraries()
    if max_steps is not None:  # the old spelling, read for one more release
        if max_actions is not None:
            raise typer.BadParameter("give --max-actions alone (--max-steps is its old name)")
        typer.echo("eval: --max-steps is renamed --max-actions; write --max-actions", err=True)
        max_actions = max_steps
    flags: dict[str, object] = {
        "model": model,
        "data": data,
        "out": out,
        "oracle": oracle or None,
        "view": view,
        "limit": limit,
        "max_actions": max_actions,
        "name": name,
        "endpoint.url": endpoint,
        "endpoint.model": served_model,
        "endpoint.api_key_env": api_key_env,
    }
    eval_config = load_config(EvalConfig, config, overrides(flags, set_))
    if eval_config.out:
        check_output_file(eval_config.out, overwrite=overwrite)
    console = Console()
    with use_environments(tools or [], mcp or []), split_progress(console) as report:
        results = run_eval(eval_config, progress=lambda split, done, total: report(split, done, total))
    console.print(build_metrics_table(results, "turn"))
    if any("episodes" in block for block in results["splits"].values()):
        console.print(build_metrics_table(results, "episode"))
    if any(block.get("thinking") for block in results["splits"].values()):
        console.print(build_thinking_table(results))
    if eval_config.out:
        console.print(f"results written to {eval_config.out}")


def build_metrics_table(results: dict[str, Any], view: str) -> Table:
    """One row per metric, one column per split: `value [low, high] (n=…)`."""
    from thinkact.eval.tables import VIEW_METRICS, format_metric

    blocks = {
        split: block["metrics"] if view == "turn" else (block.get("episodes") or {}).get("metrics", {})
        for split, block in results["splits"].items()
    }
    present = {name for metrics in blocks.values() for name in metrics}
    table = Table(title=f"{view} view: {results['model']}")
    table.add_column("metric")
    for split in blocks:
        table.add_column(split, justify="right")
    for name in [name for name in VIEW_METRICS[view] if name in present]:
        table.add_row(name, *[format_metric(metrics.get(name)) for metrics in blocks.values()])
    return table


def build_thinking_table(results: dict[str, Any]) -> Table:
    """Per split: share of turns with thinking, mean words, `correct` with and without thinking."""
    from thinkact.eval.tables import format_thinking

    table = Table(title=f"thinking: {results['model']}")
    for column in ("split", "thinking share", "mean words", "correct with", "correct without", "Δ"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, block in results["splits"].items():
        if block.get("thinking"):
            table.add_row(split, *format_thinking(block["thinking"]))
    return table


@contextlib.contextmanager
def split_progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per split (or model and split), moved as its turns or episodes finish."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def report(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done, total=total)

        yield report


@app.command("compare", cls=help_with_config("compare", "thinkact.eval.compare:CompareConfig"))
def compare(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="Results JSON files, run directories or model directories.")
    ] = None,
    data: Annotated[list[str] | None, typer.Option(help="Data file(s) to evaluate models on.")] = None,
    out: Annotated[str | None, typer.Option(help="Directory for the report and results.")] = None,
    name: Annotated[list[str] | None, typer.Option(help="Label of each input, in order.")] = None,
    baseline: Annotated[str | None, typer.Option(help="Model the others are compared with.")] = None,
    no_think: Annotated[
        list[str] | None,
        typer.Option(
            "--no-think",
            help="A model (by name) trained to answer without thinking: its format asks for no think block.",
        ),
    ] = None,
    view: ViewOption = None,
    limit: LimitOption = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write report.html and plots.")] = True,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the report in an existing --out (stored evaluations there are reused when they match).",
        ),
    ] = False,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(help="OpenAI-compatible API to compare as one more model (repeatable)."),
    ] = None,
    served_model: Annotated[
        list[str] | None, typer.Option(help="The served model's name at each --endpoint, in order.")
    ] = None,
    api_key_env: ApiKeyEnvOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Compare models on the same splits: a table with differences beyond noise, and an HTML report."""
    from thinkact.eval.compare import CompareConfig, run_compare
    from thinkact.eval.tables import build_summary_table

    quiet_libraries()
    flags: dict[str, object] = {
        "inputs": inputs,
        "data": data,
        "out": out,
        "names": name,
        "baseline": baseline,
        "no_think": no_think,
        "view": view,
        "limit": limit,
        "html": None if html else False,
        "endpoints": endpoint,
        "served_models": served_model,
        "endpoint.api_key_env": api_key_env,
    }
    compare_config = load_config(CompareConfig, config, overrides(flags, set_))
    if (Path(compare_config.out) / "comparison.json").exists() and not overwrite:
        raise UserError(
            f"--out {compare_config.out}: already holds a comparison; pass --overwrite to replace its report "
            "(matching stored evaluations are reused), or choose another directory"
        )
    check_output_dir(compare_config.out, overwrite=True)  # a file where the directory should be
    console = Console()
    with split_progress(console) as report:
        comparison = run_compare(
            compare_config,
            progress=lambda model, split, done, total: report(f"{model} on {split}", done, total),
        )
    console.print(build_summary_table(comparison))
    written = ["comparison.json", "report.md", *(["report.html"] if compare_config.html else [])]
    console.print(f"wrote {', '.join(f'{compare_config.out}/{file}' for file in written)}")


@app.command("chat", cls=help_with_config("chat", "thinkact.chat:ChatConfig"))
def chat(
    model: Annotated[str | None, typer.Option(help="Model directory.")] = None,
    domain: Annotated[str | None, typer.Option(help="Bundled domain whose tools the agent uses.")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 for greedy decoding.")] = None,
    today: Annotated[str | None, typer.Option(help="Date in the system prompt (YYYY-MM-DD).")] = None,
    tools: ToolsOption = None,
    mcp: McpOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Talk to an agent in the terminal; its thinking, calls and tool results show as they happen.

    --tools FILE.py or --mcp COMMAND gives the agent your tools instead of a bundled domain.
    """
    from thinkact.chat import ChatConfig, load_chat_policy, run_chat
    from thinkact.envs.registry import use_environments

    quiet_libraries()
    if domain and (tools or mcp):
        raise UserError("chat: --domain and --tools/--mcp each name the agent's tools; give one of them")
    flags: dict[str, object] = {"model": model, "domain": domain, "temperature": temperature, "today": today}
    chat_config = load_config(ChatConfig, config, overrides(flags, set_))
    if not chat_config.model:
        raise UserError("chat: give --model DIR (a model saved with save_pretrained, e.g. runs/grpo/model)")
    with use_environments(tools or [], mcp or []):
        run_chat(chat_config, load_chat_policy(chat_config))

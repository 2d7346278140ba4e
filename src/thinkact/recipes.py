"""Compare training recipes from one starting checkpoint under equal compute: train each, evaluate all, one report.

A recipe is a name and config overrides: `grpo: {...}` (a GRPO stage) and/or `sft: {...}` (an SFT stage, run
first; GRPO then starts from its model), laid over the file's shared `grpo` and `sft` sections and checked
against `GRPORunConfig` and `SFTRunConfig` before anything runs, so an option any command gains (a new GRPO or
SFT field) is a recipe without a change here. Every GRPO stage gets the same `max_generated_tokens`: equal compute
means equal tokens sampled by the policy in GRPO, and the report says for each recipe how many it sampled and
whether the budget or `grpo.steps` ended it. The starting model and the recipes' models are then compared on
`eval_data` by `thinkact compare`'s own code with the settings in `eval` (`eval/compare.py`: metrics with
bootstrap intervals, paired differences), and `report.md` (the compute table, then the comparison) and
`recipes.json` are written in `out`.

Stages live in `<out>/runs/<recipe>/{sft,grpo}`. With `resume`, a finished stage of the same config is reused, an
unfinished GRPO stage continues from its checkpoint, an unfinished SFT stage runs again, and stored evaluations
are reused when they match. Left out: equal wall time (machines differ; the report gives each stage's seconds),
and counting tokens that SFT stages sample (self-distillation) against the budget: the report lists them apart.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import yaml

from thinkact.config import build, to_dict
from thinkact.errors import UserError
from thinkact.eval.compare import CompareConfig, run_compare
from thinkact.eval.tables import format_metric, render_markdown
from thinkact.files import atomic_write_text, check_output_dir, replace_dir
from thinkact.jsonsafe import dump_json, read_jsonl_lines
from thinkact.train.checkpoints import config_differences, latest_checkpoint, saved_differences
from thinkact.train.grpo import run_grpo
from thinkact.train.grpo_config import GRPORunConfig
from thinkact.train.sft import SFTRunConfig, run_sft

SET_BY_COMMAND = {
    "grpo": ("model", "data", "out", "max_generated_tokens"),
    "sft": ("model", "data", "out"),
    "eval": ("inputs", "names", "data", "out"),
}
"""Fields the command fills in for every stage (the one start, the one data file, the one budget)."""

START = "start"
"""The name of the starting checkpoint's column."""

SHOWN = ("exact_call", "tool_name", "arg_f1", "answer", "correct")
"""Metrics of the compute table (turn view); report.md holds all of them below it."""


@dataclass
class Recipe:
    name: str = ""
    """Names the recipe's column and its directory under runs/ (letters, digits, '.', '_', '-')."""
    grpo: dict[str, Any] | None = None
    """GRPO overrides over the file's `grpo` section ({} for its settings as they are; absent: no GRPO stage)."""
    sft: dict[str, Any] | None = None
    """SFT overrides over the file's `sft` section (absent: no SFT stage); SFT runs first."""


@dataclass
class RecipesConfig:
    RENAMED: ClassVar[dict[str, str]] = {
        "view": "eval.view",
        "limit": "eval.limit",
        "max_new_tokens": "eval.max_new_tokens",
        "batch_size": "eval.batch_size",
        "html": "eval.html",
    }
    """The flat evaluation names of earlier releases, read for one more release (with a message)."""

    model: str = "runs/sft-think/model"
    """The one starting checkpoint every recipe trains from."""
    data: str = "runs/data/train.jsonl"
    """Training conversations of every stage."""
    eval_data: list[str] = field(
        default_factory=lambda: ["runs/data/test_id.jsonl", "runs/data/test_ood.jsonl"]
    )
    """Data files each model is evaluated on (each a split, named by its file stem)."""
    out: str = "runs/recipes"
    """Directory for report.md, recipes.json, comparison.json, eval/ and the stages' runs/."""
    max_generated_tokens: int = 20000
    """The equal compute: tokens the policy may sample in each recipe's GRPO stage (set `grpo.steps` above
    what it takes, so the budget ends every run)."""
    grpo: GRPORunConfig = field(default_factory=lambda: GRPORunConfig(steps=1000))
    """GRPO settings shared by every recipe (its model, data, out and budget are set by the command)."""
    sft: SFTRunConfig = field(default_factory=SFTRunConfig)
    """SFT settings shared by every recipe with an `sft` stage."""
    recipes: list[Recipe] = field(default_factory=list)
    """The recipes, in table order: each {name, grpo: {...}, sft: {...}}."""
    include_start: bool = True
    """Evaluate the starting checkpoint too, as the baseline column `start`."""
    eval: CompareConfig = field(default_factory=lambda: CompareConfig(html=False))
    """The evaluation (`thinkact compare`'s settings: view, limit, max_new_tokens, batch_size, html, ...); its
    inputs, names, data and out are set by the command."""

    def __post_init__(self) -> None:
        if self.max_generated_tokens < 1:
            raise UserError(
                "recipes.max_generated_tokens: give the equal budget of sampled tokens (> 0) every GRPO stage gets"
            )
        if not self.eval_data:
            raise UserError(
                "recipes.eval_data: give the data files to evaluate on (e.g. test_id and test_ood)"
            )


@dataclass
class Plan:
    """One recipe's checked stage configs (model, data and out still to be filled in)."""

    name: str
    sft: SFTRunConfig | None
    grpo: GRPORunConfig | None


def plan_recipes(config: RecipesConfig, source: str = "recipes") -> list[Plan]:
    """Each recipe's stages as checked configs; a `UserError` naming the recipe and the field otherwise."""
    if not config.recipes:
        raise UserError(
            f"{source}: recipes: give at least one recipe ({{name, grpo: {{...}}, sft: {{...}}}})"
        )
    for stage, names in SET_BY_COMMAND.items():
        shared = getattr(config, stage)
        for name in names:
            if getattr(shared, name) != getattr(type(shared)(), name):
                raise UserError(
                    f"{source}: {stage}.{name}: set by the recipes command for every stage from the top-level "
                    "model, data, eval_data, out and max_generated_tokens; set it there"
                )
    plans, seen = [], {START} if config.include_start else set()
    for number, recipe in enumerate(config.recipes):
        where = f"{source}: recipes[{number}]"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", recipe.name or ""):
            raise UserError(
                f"{where}: name {recipe.name!r}; give each recipe a name of letters, digits, . _ -"
            )
        where = f"{source}: recipe {recipe.name!r}"
        if recipe.name in seen:
            raise UserError(f"{where}: the name is taken (by another recipe, or `start`); give each its own")
        seen.add(recipe.name)
        if recipe.grpo is None and recipe.sft is None:
            raise UserError(f"{where}: give a grpo and/or an sft stage (grpo: {{}} runs the shared settings)")
        plans.append(
            Plan(
                recipe.name,
                _stage(SFTRunConfig, config.sft, recipe.sft, where, "sft"),
                _stage(GRPORunConfig, config.grpo, recipe.grpo, where, "grpo"),
            )
        )
    return plans


def _stage(cls: type[Any], shared: Any, overrides: dict[str, Any] | None, where: str, stage: str) -> Any:
    if overrides is None:
        return None
    taken = sorted(set(overrides) & set(SET_BY_COMMAND[stage]))
    if taken:
        raise UserError(
            f"{where}: {stage}.{taken[0]}: set by the recipes command for every recipe; leave it out"
        )
    try:
        return build(cls, _overlay(shared, overrides), source=where, prefix=f"{stage}.")
    except UserError as error:
        text = str(error)
        raise UserError(text if text.startswith(where) else f"{where}: {text}") from None


def _overlay(base: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` laid over the config `base` as a mapping: nested config groups (dataclasses) merge field by
    field, every other value (lists, reward weight maps) is replaced, as `--set` and config files do.

    >>> from thinkact.train.sft import LoraOptions
    >>> merged = _overlay(LoraOptions(rank=8), {"enabled": True})
    >>> merged["enabled"], merged["rank"]
    (True, 8)
    """
    merged = {item.name: getattr(base, item.name) for item in dataclasses.fields(base)}
    merged = {
        key: to_dict(value) if dataclasses.is_dataclass(value) else value for key, value in merged.items()
    }
    for key, value in overrides.items():
        current = getattr(base, key, None)
        nested = dataclasses.is_dataclass(current) and isinstance(value, dict)
        merged[key] = _overlay(current, value) if nested else value
    return merged


Say = Callable[[str], None]
OnStep = Callable[[str, int, dict[str, float]], None]
"""(recipe, step, metrics) after each GRPO step."""


def run_recipes(
    config: RecipesConfig,
    *,
    source: str = "recipes",
    resume: bool = False,
    overwrite: bool = False,
    say: Say | None = None,
    on_step: OnStep | None = None,
) -> dict[str, Any]:
    """Train every recipe, compare them, write report.md and recipes.json in `out`; returns the summary."""
    say = say or (lambda text: None)
    plans = plan_recipes(config, source)
    out = Path(config.out)
    check_output_dir(out, overwrite=overwrite, resume=resume)
    for path in [config.model, config.data, *config.eval_data]:
        if not Path(path).exists():
            raise UserError(f"{source}: {path}: no such file or directory")
    if resume:
        _check_same_config(out, config)
    if overwrite:
        replace_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))
    rows = [_run_plan(plan, config, out, say, on_step) for plan in plans]
    say("evaluation")
    inputs = ([config.model] if config.include_start else []) + [row["model"] for row in rows]
    names = ([START] if config.include_start else []) + [row["name"] for row in rows]
    compare_config = replace(
        config.eval, inputs=inputs, names=names, data=list(config.eval_data), out=str(out)
    )
    comparison = run_compare(compare_config)
    summary = {
        "budget": {"max_generated_tokens": config.max_generated_tokens, "counts": "tokens sampled in GRPO"},
        "start": config.model,
        "recipes": rows,
        "metrics": comparison["metrics"],
        "differences": [row for row in comparison["differences"] if row["a"] == comparison["baseline"]],
    }
    atomic_write_text(out / "recipes.json", dump_json(summary, indent=1))
    atomic_write_text(out / "report.md", render_recipes(summary, comparison) + render_markdown(comparison))
    return summary


def _check_same_config(out: Path, config: RecipesConfig) -> None:
    saved_path = out / "config.yaml"
    if not saved_path.is_file():
        raise UserError(f"--resume: {out} holds no config.yaml of a recipes comparison; use --overwrite")
    saved = yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {}
    if isinstance(
        saved, dict
    ):  # read as a config, so a file of an earlier release compares under today's names
        saved = to_dict(build(RecipesConfig, saved, source=str(saved_path)))
    differences = config_differences(saved, to_dict(config))
    if differences:
        raise UserError(
            f"--resume: {out} was written by another recipes config ({'; '.join(differences[:3])}); "
            "resume with the same file, or use --overwrite"
        )


def _run_plan(
    plan: Plan, config: RecipesConfig, out: Path, say: Say, on_step: OnStep | None
) -> dict[str, Any]:
    home = out / "runs" / plan.name
    model = config.model
    row: dict[str, Any] = {"name": plan.name, "stages": [], "seconds": {}}
    if plan.sft is not None:
        sft = dataclasses.replace(plan.sft, model=model, data=config.data, out=str(home / "sft"))
        say(f"{plan.name}: SFT")
        model, row["seconds"]["sft"] = _run_stage(
            sft, home / "sft", lambda **kw: run_sft(sft, **kw), grpo=False
        )
        row["stages"].append("sft")
        row["sft_steps"] = sft.max_steps
    if plan.grpo is not None:
        grpo = dataclasses.replace(
            plan.grpo,
            model=model,
            data=config.data,
            out=str(home / "grpo"),
            max_generated_tokens=config.max_generated_tokens,
        )
        say(f"{plan.name}: GRPO")
        model, row["seconds"]["grpo"] = _run_stage(
            grpo,
            home / "grpo",
            lambda **kw: run_grpo(grpo, _step_reporter(plan.name, on_step), **kw),
            grpo=True,
        )
        row["stages"].append("grpo")
        row.update(_grpo_compute(home / "grpo", config.max_generated_tokens, grpo.steps))
    row["model"] = str(model)
    return row


def _step_reporter(name: str, on_step: OnStep | None) -> Callable[[int, dict[str, float]], None] | None:
    if on_step is None:
        return None
    return lambda step, metrics: on_step(name, step, metrics)


def _run_stage(stage: Any, directory: Path, run: Callable[..., Path], *, grpo: bool) -> tuple[str, float]:
    """Run one stage (or reuse it when finished with this config); returns its model and the seconds it took."""
    started = time.perf_counter()
    if (directory / "model" / "config.json").is_file():
        differences = saved_differences(directory, stage)
        if differences:
            raise UserError(
                f"--resume: {directory} was trained with other settings ({'; '.join(differences[:3])}); "
                "use --overwrite to train every recipe again"
            )
        return str(directory / "model"), 0.0
    resumable = grpo and latest_checkpoint(directory) is not None
    path = run(resume=True) if resumable else run(overwrite=directory.exists())
    return str(path), round(time.perf_counter() - started, 1)


def _grpo_compute(run: Path, budget: int, steps: int) -> dict[str, Any]:
    """Steps taken and tokens sampled, from the run's metrics.jsonl, and what ended the run."""
    rows = [json.loads(line) for _, line in read_jsonl_lines(run / "metrics.jsonl")]
    trained = [row for row in rows if "generated_tokens" in row]
    last = trained[-1] if trained else {"step": 0, "generated_tokens": 0}
    tokens = int(last["generated_tokens"])
    return {
        "grpo_steps": int(last["step"]),
        "generated_tokens": tokens,
        "stopped_by": "budget" if tokens >= budget else f"grpo.steps ({steps})",
    }


def render_recipes(summary: dict[str, Any], comparison: dict[str, Any]) -> str:
    """The compute table and the headline metrics of each recipe, before the comparison's own report."""
    budget = summary["budget"]["max_generated_tokens"]
    splits = comparison["splits"]
    lines = [
        "# Recipes under equal compute",
        "",
        f"Every recipe starts from `{summary['start']}`. Equal compute: each GRPO stage stops after the step where "
        f"the tokens the policy sampled reach {budget}, so each samples {budget} tokens plus at most one step's "
        "worth. SFT stages sample nothing (self-distillation excepted) and are listed by their steps.",
        "",
        _row(["recipe", "stages", "GRPO steps", "generated tokens", "stopped by", "seconds"]),
        _row(["---"] * 6),
    ]
    short = [row for row in summary["recipes"] if row.get("stopped_by", "budget") != "budget"]
    for row in summary["recipes"]:
        seconds = ", ".join(f"{stage} {value:.0f}" for stage, value in row["seconds"].items())
        lines.append(
            _row(
                [
                    row["name"],
                    " + ".join(row["stages"]),
                    str(row.get("grpo_steps", "—")),
                    str(row.get("generated_tokens", "—")),
                    row.get("stopped_by", "—"),
                    seconds or "reused",
                ]
            )
        )
    if short:
        names = ", ".join(row["name"] for row in short)
        lines += [
            "",
            f"**Not equal compute**: {names} ended at grpo.steps before the budget; raise grpo.steps.",
        ]
    lines += ["", "Turn view, `value [95% interval] (n)`:", ""]
    columns = [f"{metric} ({split})" for split in splits for metric in SHOWN]
    lines += [_row(["model", *columns]), _row(["---"] * (1 + len(columns)))]
    for model in comparison["models"]:
        blocks = comparison["metrics"][model]
        cells = [
            format_metric(blocks[split].get("turn", {}).get(metric)) for split in splits for metric in SHOWN
        ]
        lines.append(_row([model, *cells]))
    return "\n".join(lines) + "\n\n"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"

"""The recipes comparison: the recipes file is checked before any work, and two tiny recipes end in one table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app
from thinkact.config import load_config
from thinkact.errors import UserError
from thinkact.eval.compare import CompareConfig
from thinkact.recipes import RecipesConfig, plan_recipes, run_recipes


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "recipes.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _plan(tmp_path: Path, recipes: list[dict[str, Any]], **top: Any) -> Any:
    path = _write(tmp_path, {"recipes": recipes, **top})
    return plan_recipes(load_config(RecipesConfig, path), str(path))


def test_recipes_lay_their_overrides_over_the_shared_settings(tmp_path: Path) -> None:
    plans = _plan(
        tmp_path,
        [
            {"name": "plain", "grpo": {}},
            {"name": "deficiency", "grpo": {"sampling": {"kind": "deficiency"}}},
            {"name": "distil-then-rl", "sft": {"max_steps": 3}, "grpo": {"kl_coef": 0.01}},
        ],
        grpo={"learning_rate": 1e-4, "lora": {"rank": 4}},
    )
    assert [p.name for p in plans] == ["plain", "deficiency", "distil-then-rl"]
    assert plans[0].sft is None and plans[0].grpo.learning_rate == 1e-4
    assert plans[1].grpo.sampling.kind == "deficiency" and plans[1].grpo.sampling.floor == 0.1
    assert plans[1].grpo.lora.rank == 4 and plans[1].grpo.learning_rate == 1e-4
    assert plans[2].sft.max_steps == 3 and plans[2].grpo.kl_coef == 0.01


@pytest.mark.parametrize(
    ("recipes", "message"),
    [
        ([{"name": "a", "grpo": {"sampling": {"knd": "x"}}}], "recipe 'a': unknown field grpo.sampling.knd"),
        ([{"name": "a", "grpo": {"kl_coef": "lots"}}], "recipe 'a': grpo.kl_coef: expected a number"),
        (
            [{"name": "a", "grpo": {"reference_reset_steps": 4}}],
            "recipe 'a': grpo.reference_reset_steps: with kl_coef 0",
        ),
        ([{"name": "a", "sft": {"batch_size": 0}}], "recipe 'a': sft: batch_size"),
        (
            [{"name": "a", "grpo": {"model": "elsewhere"}}],
            "recipe 'a': grpo.model: set by the recipes command",
        ),
        ([{"name": "a", "grpo": {}}, {"name": "a", "grpo": {}}], "recipe 'a': the name is taken"),
        ([{"name": "start", "grpo": {}}], "recipe 'start': the name is taken"),
        ([{"name": "a"}], "recipe 'a': give a grpo and/or an sft stage"),
        ([{"name": "no/slash", "grpo": {}}], r"recipes\[0\]: name 'no/slash'"),
        ([{"grpo": {}}], r"recipes\[0\]: name ''"),
        ([], "give at least one recipe"),
    ],
)
def test_bad_recipes_are_refused_naming_file_recipe_and_field(
    tmp_path: Path, recipes: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(UserError, match=message) as error:
        _plan(tmp_path, recipes)
    assert str(tmp_path / "recipes.yaml") in str(error.value)


def test_unknown_recipe_keys_and_shared_fields_set_by_the_command_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"unknown field recipes\[0\].gpro"):
        _plan(tmp_path, [{"name": "a", "gpro": {}}])
    with pytest.raises(UserError, match=r"grpo\.out: set by the recipes command"):
        _plan(tmp_path, [{"name": "a", "grpo": {}}], grpo={"out": "x"})
    with pytest.raises(UserError, match="max_generated_tokens"):
        _plan(tmp_path, [{"name": "a", "grpo": {}}], max_generated_tokens=0)


def test_the_command_exits_2_on_a_bad_recipe(tmp_path: Path) -> None:
    path = _write(tmp_path, {"recipes": [{"name": "a", "grpo": {"loss": "best"}}]})
    result = CliRunner().invoke(app, ["recipes", "--config", str(path), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, UserError) and "recipe 'a'" in str(result.exception)
    assert not (tmp_path / "out").exists()  # nothing written before the recipes are checked


def test_two_recipes_train_under_one_budget_and_share_one_table(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    grpo = {"prompts_per_step": 2, "group_size": 2, "max_new_tokens": 6, "steps": 40, "save_steps": 1}
    grpo.update(sample_steps=0, report_to="none", learning_rate=1e-3, mask_truncated=False)
    config = RecipesConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        eval_data=[str(data_dir / "test_id.jsonl"), str(data_dir / "test_ood.jsonl")],
        out=str(tmp_path / "recipes"),
        max_generated_tokens=30,
        recipes=[],
        eval=CompareConfig(limit=4, max_new_tokens=8, html=False),
    )
    path = _write(tmp_path, {"recipes": [{"name": "plain", "grpo": {}}, {"name": "deficiency",
                  "grpo": {"sampling": {"kind": "deficiency"}}}], "grpo": grpo})  # fmt: skip
    config.recipes = load_config(RecipesConfig, path).recipes
    config.grpo = load_config(RecipesConfig, path).grpo
    heard: list[tuple[str, int]] = []
    summary = run_recipes(config, source=str(path), on_step=lambda name, step, _: heard.append((name, step)))
    out = tmp_path / "recipes"
    rows = {row["name"]: row for row in summary["recipes"]}
    for name, row in rows.items():
        metrics = [
            json.loads(line)
            for line in (out / "runs" / name / "grpo" / "metrics.jsonl").read_text().splitlines()
        ]
        assert (
            row["generated_tokens"] == metrics[-1]["generated_tokens"] >= 30 > metrics[-2]["generated_tokens"]
        )
        assert row["stopped_by"] == "budget" and row["grpo_steps"] == len(metrics)
    assert heard == [(name, step) for name in rows for step in range(1, rows[name]["grpo_steps"] + 1)]
    assert "sampling_entropy" in json.loads(
        (out / "runs/deficiency/grpo/metrics.jsonl").read_text().splitlines()[0]
    )
    report = (out / "report.md").read_text()
    assert "# Recipes under equal compute" in report and "# Comparison: start, plain, deficiency" in report
    table = [line for line in report.splitlines() if line.startswith("| plain |")]
    assert table and "grpo" in table[0] and "budget" in table[0]
    document = json.loads((out / "recipes.json").read_text())
    assert set(document["metrics"]) == {"start", "plain", "deficiency"}
    assert set(document["metrics"]["plain"]) == {"test_id", "test_ood"}
    assert document["metrics"]["plain"]["test_id"]["turn"]["exact_call"]["n"] > 0
    with pytest.raises(UserError, match="--resume"):
        run_recipes(config, source=str(path))
    again = run_recipes(config, source=str(path), resume=True)  # everything finished: reused, nothing trained
    assert [row["seconds"] for row in again["recipes"]] == [{"grpo": 0.0}, {"grpo": 0.0}]
    assert again["metrics"] == summary["metrics"]
    # an unfinished GRPO stage continues from its last checkpoint and ends where the uninterrupted one did
    shutil.rmtree(out / "runs" / "plain" / "grpo" / "model")
    resumed = run_recipes(config, source=str(path), resume=True)
    assert resumed["recipes"][0]["seconds"]["grpo"] > 0
    assert resumed["recipes"][0]["generated_tokens"] == rows["plain"]["generated_tokens"]
    assert resumed["metrics"] == summary["metrics"]


def test_the_shipped_recipes_file_is_valid() -> None:
    path = Path(__file__).parent.parent / "configs" / "recipes-demo.yaml"
    plans = plan_recipes(load_config(RecipesConfig, path), str(path))
    assert [p.name for p in plans] == ["grpo", "grpo-deficiency", "grpo-resets"]
    assert plans[2].grpo.reference_reset_steps == 3 and plans[2].grpo.kl_coef == 0.01


def test_the_shipped_methods_file_sets_each_method_in_its_recipe() -> None:
    path = Path(__file__).parent.parent / "configs" / "recipes-methods.yaml"
    plans = {p.name: p.grpo for p in plan_recipes(load_config(RecipesConfig, path), str(path))}
    assert list(plans) == ["grpo", "grpo-prefix", "grpo-hybrid", "grpo-deficiency", "grpo-resets"]
    assert plans["grpo-prefix"].prefix.members == 1 and not plans["grpo"].prefix.enabled
    assert plans["grpo-hybrid"].hybrid.enabled and not plans["grpo-prefix"].hybrid.enabled
    assert plans["grpo-deficiency"].sampling.kind == "deficiency"
    assert plans["grpo-resets"].reference_reset_steps == 5
    assert {grpo.learning_rate for grpo in plans.values()} == {1e-4}


def test_the_flat_evaluation_names_are_read_as_eval_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = load_config(RecipesConfig, None, ["limit=3", "html=true", "eval.batch_size=4"])
    assert (config.eval.limit, config.eval.html, config.eval.batch_size) == (3, True, 4)
    assert "limit is renamed eval.limit; write eval.limit" in capsys.readouterr().err
    with pytest.raises(UserError, match=r"both view and eval\.view are given"):
        load_config(RecipesConfig, None, ["view=both", "eval.view=turn"])


def test_the_evaluation_inputs_are_the_commands(tmp_path: Path) -> None:
    path = _write(tmp_path, {"recipes": [{"name": "a", "grpo": {}}], "eval": {"inputs": ["x", "y"]}})
    with pytest.raises(UserError, match=r"eval\.inputs: set by the recipes command"):
        plan_recipes(load_config(RecipesConfig, path), str(path))

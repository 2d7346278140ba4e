"""End to end at toy size: every stage of the demo runs and its report holds measured numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.conftest import TEST_MODEL
from thinkact.demo import DemoConfig, describe_base, render_preamble, run_demo
from thinkact.errors import UserError
from thinkact.models.tiny import copy_pretrained_base
from thinkact.train.grpo import GRPORunConfig


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path: Path) -> None:
    config = DemoConfig(
        out=str(tmp_path / "demo"),
        train_seed=5,
        train_conversations=12,
        test_conversations=3,
        valid_conversations=2,
        sft_steps=2,
        think_sft_steps=2,
        grpo_from="both",
        sft_batch_size=2,
        sft_rename_tools=0.5,
        sft_fresh_entities=0.5,
        sft_rename_arguments=0.5,
        eval_max_new_tokens=8,
        eval_view="both",
        base="random",
        model=TEST_MODEL,
        grpo=GRPORunConfig(
            steps=2,
            prompts_per_step=2,
            group_size=2,
            max_new_tokens=8,
            micro_batch=4,
            eval_steps=1,
            eval_limit=2,
        ),
    )
    summary = run_demo(config, console=Console(quiet=True))
    out = tmp_path / "demo"
    assert set(summary["models"]) == {"base", "sft-nothink", "sft-think", "grpo", "grpo-outcome"}
    for splits in summary["models"].values():
        assert set(splits) == {"test_id", "test_ood"}
        assert splits["test_id"]["action_type"]["n"] > 0
    assert json.loads((out / "results.json").read_text())["models"] == summary["models"]
    assert set(summary["episodes"]) == set(summary["models"])
    assert summary["episodes"]["grpo"]["test_id"]["success"]["n"] == 3
    report = (out / "report.md").read_text()
    assert "| grpo | test_ood |" in report
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["models"] == ["base", "sft-nothink", "sft-think", "grpo", "grpo-outcome"]
    assert comparison["differences"]
    assert [row["step"] for row in comparison["training"]["grpo"]] == [0, 1, 2]  # 0: held-out at the start
    # the no-thinking baseline is scored as what it is: its format asks for no think block
    assert {name: block["require_think"] for name, block in comparison["scoring"].items()} == {
        "base": True,
        "sft-nothink": False,
        "sft-think": True,
        "grpo": True,
        "grpo-outcome": True,  # GRPO from SFT without thinking is asked to think: that is the claim
    }
    assert [row["step"] for row in summary["heldout_during_grpo"]] == [0, 1, 2]
    # GRPO is watched on valid, never on a test split
    grpo_settings = yaml.safe_load((out / "grpo" / "config.yaml").read_text())
    assert Path(grpo_settings["eval_data"]) == out / "data" / "valid.jsonl"
    assert len(summary["claims"]) == 9 and all(
        isinstance(claim["holds"], bool) for claim in summary["claims"]
    )
    assert report.startswith("# The demo") and "GRPO beats SFT without thinking" in report
    page = (out / "report.html").read_text()
    assert "<table class='metrics'" in page and 'class="sample"' in page
    assert (out / "plots" / "training.png").is_file()
    for stage in ("base", "sft-nothink/model", "sft-think/model", "grpo/model"):
        assert (out / stage / "config.json").is_file()
    assert len((out / "grpo" / "metrics.jsonl").read_text().splitlines()) == 3
    # think-SFT continues from the no-thinking model (the paper's order), GRPO from think-SFT
    think_sft = yaml.safe_load((out / "sft-think" / "config.yaml").read_text())
    assert think_sft["model"] == str(out / "sft-nothink" / "model") and think_sft["think"] is True
    nothink_sft = yaml.safe_load((out / "sft-nothink" / "config.yaml").read_text())
    for stage_config in (nothink_sft, think_sft):  # both SFT stages train on renamed tools, entities, keys
        assert stage_config["rename_tools"] == 0.5 and stage_config["fresh_entities"] == 0.5
        assert stage_config["rename_arguments"] == 0.5
    grpo_config = yaml.safe_load((out / "grpo" / "config.yaml").read_text())
    assert grpo_config["model"] == str(out / "sft-think" / "model")
    outcome_config = yaml.safe_load((out / "grpo-outcome" / "config.yaml").read_text())
    assert outcome_config["model"] == str(out / "sft-nothink" / "model")
    assert outcome_config["rewards"]["require_think"] is True
    assert any("no annotated reasoning" in claim["claim"] for claim in summary["claims"])
    # train_seed seeds every training stage; the data keep `seed`
    assert nothink_sft["seed"] == think_sft["seed"] == grpo_config["seed"] == 5
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("think_sft_from", "grpo", "demo.think_sft_from: 'grpo'; choose one of sft-nothink, base"),
        ("think_sft_steps", 0, ">= 1"),
        ("grpo_from", "base", "demo.grpo_from: 'base'; choose one of sft-think, sft-nothink, both"),
        ("sft_rename_tools", 1.5, r"demo\.sft_rename_tools: must be a share"),
        ("sft_fresh_entities", -0.1, r"demo\.sft_fresh_entities: must be a share"),
        ("sft_rename_arguments", 1.1, r"demo\.sft_rename_arguments: must be a share"),
        ("valid_conversations", 0, r"demo\.valid_conversations: GRPO is watched on valid"),
    ],
)
def test_bad_demo_settings_are_user_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(UserError, match=message):
        DemoConfig(**{field: value})


def test_the_report_names_the_shipped_base_and_how_to_rebuild_it(tmp_path: Path) -> None:
    base = describe_base(copy_pretrained_base(tmp_path / "base"))
    recipe = json.loads((tmp_path / "base" / "recipe.json").read_text())
    assert base["weights_sha256"] == recipe["weights_sha256"] and base["note"] == recipe["note"]
    preamble = render_preamble({"base": base, "seconds": 1.0, "claims": [], "heldout_during_grpo": []})
    assert recipe["command"] in preamble and "thinkact pretrain --out runs/base-stage1" in preamble

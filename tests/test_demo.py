"""End to end at toy size: every stage of the demo runs and its report holds measured numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.conftest import TEST_MODEL
from thinkact.config import load_config
from thinkact.demo import DemoConfig, DemoPlan, describe_base, plan_demo, render_preamble, run_demo
from thinkact.errors import UserError
from thinkact.eval.compare import CompareConfig
from thinkact.models.tiny import copy_pretrained_base
from thinkact.train.grpo import GRPORunConfig
from thinkact.train.sft import SFTRunConfig


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path: Path) -> None:
    config = DemoConfig(
        out=str(tmp_path / "demo"),
        train_seed=5,
        train_conversations=12,
        test_conversations=3,
        valid_conversations=2,
        think_sft_steps=2,
        grpo_from="both",
        sft=SFTRunConfig(
            max_steps=2, batch_size=2, rename_tools=0.5, fresh_entities=0.5, rename_arguments=0.5
        ),
        eval=CompareConfig(max_new_tokens=8, view="both"),
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
    ("override", "message"),
    [
        ("think_sft_from=grpo", "demo.think_sft_from: 'grpo'; choose one of sft-nothink, base"),
        ("think_sft_steps=0", ">= 1"),
        ("sft.max_steps=-1 sft.lr_scheduler=cosine", ">= 1"),
        ("grpo_from=base", "demo.grpo_from: 'base'; choose one of sft-think, sft-nothink, both"),
        ("sft.rename_tools=1.5", r"sft\.rename_tools: 1\.5 is not a share"),
        ("sft_fresh_entities=-0.1", r"sft\.fresh_entities: -0\.1 is not a share"),
        ("valid_conversations=0", r"demo\.valid_conversations: GRPO is watched on valid"),
        ("grpo.seed=3", r"demo\.grpo\.seed: set by the demo"),
        ("sft.think=false", r"demo\.sft\.think: set by the demo"),
        ("eval.inputs=[a,b]", r"demo\.eval\.inputs: set by the demo"),
        ("sft_steps=3 sft.max_steps=2", "both sft_steps and sft.max_steps are given"),
    ],
)
def test_bad_demo_settings_are_user_errors(override: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_config(DemoConfig, None, override.split())


PATHS = {name: Path("d") / f"{name}.jsonl" for name in ("train", "valid", "test_id", "test_ood")}


def plan(*overrides: str, path: str | None = None) -> DemoPlan:
    return plan_demo(load_config(DemoConfig, path, ["out=o", *overrides]), PATHS, Path("b"))


def test_overrides_reach_the_stages_that_use_them() -> None:
    stages = plan(
        "sft.learning_rate=0.002",
        "think_sft_steps=3",
        "train_seed=5",
        "grpo.kl_coef=0.01",
        "eval.batch_size=4",
    )
    (_, nothink), (think_title, think) = stages.sft
    assert nothink.learning_rate == think.learning_rate == 0.002  # one `sft` for both SFT stages
    assert (nothink.think, think.think) == (False, True)
    assert think.max_steps == 3 and nothink.max_steps == DemoConfig().sft.max_steps
    # think-SFT continues from the no-thinking model; GRPO from think-SFT, watched on valid
    assert (nothink.model, think.model) == ("b", str(Path("o/sft-nothink/model")))
    assert think_title == "SFT with thinking, from sft-nothink"
    ((title, grpo),) = stages.grpo
    assert (
        grpo.kl_coef == 0.01
        and grpo.model == str(Path("o/sft-think/model"))
        and title == "GRPO from sft-think"
    )
    assert grpo.eval_data == str(PATHS["valid"]) and grpo.data == nothink.data == str(PATHS["train"])
    assert nothink.seed == think.seed == grpo.seed == 5  # train_seed seeds every training stage
    assert stages.compare.batch_size == 4 and stages.compare.names == [
        "base",
        "sft-nothink",
        "sft-think",
        "grpo",
    ]
    assert stages.compare.no_think == ["sft-nothink"]


def test_grpo_from_names_the_runs_and_their_starts() -> None:
    both = plan("grpo_from=both", "think_sft_from=base")
    assert [config.model for _, config in both.sft] == ["b", "b"]
    assert [(Path(c.out).name, Path(c.model).parent.name) for _, c in both.grpo] == [
        ("grpo", "sft-think"),
        ("grpo-outcome", "sft-nothink"),
    ]
    outcome_only = plan("grpo_from=sft-nothink", "grpo.eval_steps=0")
    assert [Path(c.out).name for _, c in outcome_only.sft] == ["sft-nothink"]  # no think-SFT
    assert outcome_only.grpo[0][1].eval_data == ""  # not watched
    assert outcome_only.compare.names == ["base", "sft-nothink", "grpo"]


def test_the_old_flat_names_are_read_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    old = plan(
        "sft_steps=7", "sft_batch_size=2", "sft_lr_scheduler=cosine", "eval_view=both", "report_samples=5"
    )
    said = capsys.readouterr().err
    assert "sft_steps is renamed sft.max_steps; write sft.max_steps" in said
    assert "report_samples is renamed eval.samples" in said
    new = plan(
        "sft.max_steps=7", "sft.batch_size=2", "sft.lr_scheduler=cosine", "eval.view=both", "eval.samples=5"
    )
    assert old == new and capsys.readouterr().err == ""


def test_the_shipped_config_runs_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    assert plan(path=str(shipped)) == plan()
    assert capsys.readouterr().err == ""  # written in the current spelling


def test_the_report_names_the_shipped_base_and_how_to_rebuild_it(tmp_path: Path) -> None:
    base = describe_base(copy_pretrained_base(tmp_path / "base"))
    recipe = json.loads((tmp_path / "base" / "recipe.json").read_text())
    assert base["weights_sha256"] == recipe["weights_sha256"] and base["note"] == recipe["note"]
    preamble = render_preamble({"base": base, "seconds": 1.0, "claims": [], "heldout_during_grpo": []})
    assert recipe["command"] in preamble and "thinkact pretrain --out runs/base-stage1" in preamble


def test_the_smollm2_base_names_the_command_that_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no runs/smollm2 here
    config = load_config(
        DemoConfig, None, [f"out={tmp_path / 'demo'}", "base=smollm2", "train_conversations=4"]
    )
    with pytest.raises(UserError, match=r"demo\.base: smollm2 reads .*runs/smollm2.*make smollm2"):
        run_demo(config, console=Console(quiet=True))


def test_the_shipped_smollm2_config_plans_the_papers_route_with_lora_on_the_top_layers() -> None:
    config = load_config(DemoConfig, Path(__file__).parents[1] / "configs" / "demo-smollm2.yaml")
    plan = plan_demo(config, PATHS, Path("runs/smollm2"))
    assert [title for title, _ in plan.sft] == ["SFT without thinking, from base"]  # no think-SFT stage
    (_, sft), (_, grpo) = plan.sft[0], plan.grpo[0]
    assert sft.model == "runs/smollm2" and not sft.think
    assert len(plan.grpo) == 1 and grpo.model.endswith("sft-nothink/model") and grpo.rewards.require_think
    assert sft.lora.enabled and grpo.lora.enabled and sft.lora.top_layers == 0 and grpo.lora.top_layers == 6
    assert sft.bf16 and grpo.sample_dtype == grpo.update_dtype == plan.compare.dtype == "bfloat16"
    assert plan.compare.limit >= 150  # enough turns per split for intervals

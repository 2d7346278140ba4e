"""Config loading: YAML plus overrides, with errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkact.config import load_config, save_config
from thinkact.errors import UserError
from thinkact.train.grpo import GRPORunConfig
from thinkact.train.sft import SFTRunConfig


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "grpo.yaml"
    path.write_text("steps: 7\nrewards:\n  weights: {format: 0.2, tool_exact: 1.0, answer: 1.0}\n")
    config = load_config(
        GRPORunConfig, path, ["learning_rate=3e-3", "rewards.answer_metric=rougeL", "loss=dapo"]
    )
    assert config.steps == 7
    assert config.learning_rate == pytest.approx(3e-3)
    assert config.rewards.weights == {"format": 0.2, "tool_exact": 1.0, "answer": 1.0}
    assert config.rewards.answer_metric == "rougeL"
    assert config.loss == "dapo"


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 3\nrewards:\n  wieghts: {}\n")
    with pytest.raises(
        UserError, match=r"bad\.yaml: unknown field rewards\.wieghts; valid fields of rewards"
    ):
        load_config(GRPORunConfig, path)


def test_wrong_type_is_refused() -> None:
    with pytest.raises(UserError, match="steps: expected int"):
        load_config(GRPORunConfig, None, ["steps=many"])
    with pytest.raises(UserError, match="think: expected bool"):
        load_config(SFTRunConfig, None, ["think=7"])


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(UserError, match="group_size"):
        load_config(GRPORunConfig, None, ["group_size=1"])
    with pytest.raises(UserError, match=r"grpo\.loss"):
        load_config(GRPORunConfig, None, ["loss=ppo"])


def test_missing_file_and_bad_override() -> None:
    with pytest.raises(UserError, match="no such config file"):
        load_config(GRPORunConfig, "nope.yaml")
    with pytest.raises(UserError, match=r"field\.sub=value"):
        load_config(GRPORunConfig, None, ["steps"])


def test_saved_config_loads_back(tmp_path: Path) -> None:
    config = load_config(GRPORunConfig, None, ["steps=5", "clip_high=0.28"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(GRPORunConfig, tmp_path / "config.yaml") == config


def test_nested_override_keeps_the_parents_defaults() -> None:
    from thinkact.demo import DemoConfig

    default = DemoConfig()
    assert (
        default.grpo.eval_steps != GRPORunConfig().eval_steps and default.model.hidden_size == 128
    )  # the demo's own values
    demo = load_config(DemoConfig, None, ["grpo.learning_rate=1e-4", "model.num_layers=2"])
    assert demo.grpo.learning_rate == 1e-4 and demo.model.num_layers == 2
    # the other fields keep the demo's defaults, not GRPORunConfig's or TinyModelConfig's class defaults
    assert demo.grpo.eval_steps == default.grpo.eval_steps
    assert demo.model.hidden_size == 128
    # a mapping inside is replaced as given
    weights = load_config(
        GRPORunConfig, None, ["rewards.weights={answer: 1.0, tool_exact: 1.0}"]
    ).rewards.weights
    assert weights == {"answer": 1.0, "tool_exact": 1.0}

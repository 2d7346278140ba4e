"""Config loading: YAML plus overrides, with errors that name the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

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
    assert default.grpo.eval_steps != GRPORunConfig().eval_steps  # the demo's own value
    demo = load_config(DemoConfig, None, ["grpo.learning_rate=1e-4", "model.num_layers=2"])
    assert demo.grpo.learning_rate == 1e-4 and demo.model.num_layers == 2
    # the other fields keep the demo's defaults, not GRPORunConfig's or TinyModelConfig's class defaults
    assert demo.grpo.eval_steps == default.grpo.eval_steps
    assert demo.model.hidden_size == default.model.hidden_size
    # a mapping inside is replaced as given
    weights = load_config(
        GRPORunConfig, None, ["rewards.weights={answer: 1.0, tool_exact: 1.0}"]
    ).rewards.weights
    assert weights == {"answer": 1.0, "tool_exact": 1.0}


@dataclass
class Inner:
    RENAMED: ClassVar[dict[str, str]] = {"turns": "max_turns"}
    max_turns: int = 4
    kept: int = 1


@dataclass
class Outer:
    RENAMED: ClassVar[dict[str, str]] = {"inner_turns": "inner.max_turns", "size": "width"}
    width: int = 1
    inner: Inner = field(default_factory=lambda: Inner(kept=2))


def test_a_renamed_field_is_read_under_its_old_name_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("size: 3\ninner_turns: 5\n")
    assert load_config(Outer, path) == Outer(width=3, inner=Inner(max_turns=5, kept=2))
    said = capsys.readouterr().err
    assert "old.yaml: size is renamed width; write width" in said
    assert "inner_turns is renamed inner.max_turns; write inner.max_turns" in said
    # inside a nested config (laid over the parent's default, which keeps its other values), and from --set
    assert load_config(Outer, None, ["inner.turns=6"]).inner == Inner(max_turns=6, kept=2)
    assert "inner.turns is renamed inner.max_turns" in capsys.readouterr().err
    # the new names say nothing
    assert load_config(Outer, None, ["width=2", "inner.max_turns=1"]) == Outer(2, Inner(1, 2))
    assert capsys.readouterr().err == ""


def test_an_old_and_a_new_name_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "both.yaml"
    path.write_text("size: 3\nwidth: 4\n")
    with pytest.raises(UserError, match=r"both\.yaml: both size and width are given; .* keep width alone"):
        load_config(Outer, path)
    with pytest.raises(UserError, match=r"both inner_turns and inner\.max_turns are given"):
        load_config(Outer, None, ["inner_turns=1", "inner.max_turns=2"])
    with pytest.raises(UserError, match=r"both inner\.turns and inner\.max_turns are given"):
        load_config(Outer, None, ["inner.turns=1", "inner.max_turns=2"])


def test_steps_per_user_turn_have_one_name_and_the_old_ones_still_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from thinkact.chat import ChatConfig
    from thinkact.demo import DemoConfig

    path = tmp_path / "grpo.yaml"
    path.write_text("max_turns: 3\nuser:\n  max_turns: 2\n")
    config = load_config(GRPORunConfig, path)
    assert (config.max_actions, config.user.max_turns) == (3, 2)  # user.max_turns counts user turns: kept
    assert "max_turns is renamed max_actions" in capsys.readouterr().err
    assert load_config(ChatConfig, None, ["max_steps=5"]).max_actions == 5
    assert "max_steps is renamed max_actions" in capsys.readouterr().err
    assert load_config(DemoConfig, None, ["eval.max_steps=2"]).eval.max_actions == 2
    with pytest.raises(UserError, match="both max_turns and max_actions are given"):
        load_config(GRPORunConfig, None, ["max_turns=2", "max_actions=2"])

"""`report_to`: one option for SFT, thinkact's GRPO engine and the TRL adapter; a missing tracker is named."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import TrainerControl, TrainerState, TrainingArguments

from thinkact.config import load_config
from thinkact.errors import UserError
from thinkact.integrations.trl import MetricsCallback
from thinkact.train import tracking
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.sft import SFTRunConfig, run_sft


def event_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("events.out.tfevents.*"))


def scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return {
        tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }


@pytest.mark.parametrize("report_to", ["tensorboard", "none"])
def test_grpo_engine_reports_to_tensorboard_or_nothing(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, report_to: str
) -> None:
    out = tmp_path / "grpo"
    config = GRPORunConfig(
        model=str(tiny_model_dir), data=str(data_dir / "train.jsonl"), out=str(out), steps=2,
        prompts_per_step=1, group_size=2, max_new_tokens=4, report_to=report_to,
    )  # fmt: skip
    run_grpo(config)
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    if report_to == "none":
        assert event_files(out) == [] and not (out / "tensorboard").exists()
    else:
        read = scalars(out / "tensorboard")
        assert read["reward"] == [(row["step"], pytest.approx(row["reward"])) for row in logged]
    assert len(logged) == 2  # metrics.jsonl is written whatever the trackers


def test_sft_reports_to_nothing_when_asked(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "model": str(tiny_model_dir),
        "data": str(data_dir / "train.jsonl"),
        "max_steps": 1,
    }
    run_sft(
        SFTRunConfig(out=str(tmp_path / "quiet"), report_to="none", batch_size=2, logging_steps=1, **common)
    )
    run_sft(SFTRunConfig(out=str(tmp_path / "logged"), batch_size=2, logging_steps=1, **common))
    assert event_files(tmp_path / "quiet") == []
    assert event_files(tmp_path / "logged")  # TensorBoard stays the default


@pytest.mark.parametrize("report_to", ["tensorboard", "none"])
def test_trl_adapter_reports_to_the_same_option(tmp_path: Path, report_to: str) -> None:
    config = GRPORunConfig(out=str(tmp_path), report_to=report_to)
    callback = MetricsCallback(tmp_path, 2, 1, None, config)
    args, state, control = TrainingArguments(output_dir=str(tmp_path / "x")), TrainerState(), TrainerControl()
    state.global_step = 1
    callback.on_train_begin(args, state, control)
    callback.on_log(args, state, control, logs={"loss": 0.5, "reward": 0.25})
    callback.on_train_end(args, state, control)
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["reward"] == 0.25
    if report_to == "none":
        assert event_files(tmp_path) == []
    else:
        assert scalars(tmp_path / "tensorboard")["reward"] == [(1, 0.25)]


@pytest.mark.parametrize(
    ("cls", "field"), [(SFTRunConfig, "sft.report_to"), (GRPORunConfig, "grpo.report_to")]
)
def test_a_missing_tracker_stops_with_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, cls: type, field: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        tracking.importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with pytest.raises(UserError) as caught:
        load_config(cls, None, ["report_to=tensorboard,wandb"])
    assert str(caught.value).startswith(f"{field}: wandb is not installed")
    assert "pip install 'thinkact[wandb]'" in str(caught.value)
    with pytest.raises(UserError, match="unknown tracker 'mlflow'"):
        load_config(cls, None, ["report_to=mlflow"])

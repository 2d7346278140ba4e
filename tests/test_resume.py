"""A GRPO run killed with SIGKILL and resumed ends with the same metrics and weights as an uninterrupted run; a
finished GRPO or SFT run resumed with more steps is extended from its last step."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.errors import UserError
from thinkact.files import install_dir
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.sft import SFTRunConfig, run_sft

SCRIPT = """
import os, signal, sys
from thinkact.train.grpo import GRPORunConfig, run_grpo
model, data, out, kill_at, resume = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
config = GRPORunConfig(model=model, data=data, out=out, steps=4, prompts_per_step=2, group_size=3,
                       max_new_tokens=24, learning_rate=5e-3, save_steps=1, drop_equal_groups=False,
                       mask_truncated=False, kl_coef=0.05, passes=2, temperature=1.3)
def on_step(step, metrics):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
run_grpo(config, on_step=on_step, resume=resume)
"""

TIMING = {"step_seconds", "generate_seconds", "tokens_per_second"}


def _run(tiny_model_dir: Path, data_dir: Path, out: Path, kill_at: int, resume: bool) -> int:
    args = [
        str(tiny_model_dir),
        str(data_dir / "train.jsonl"),
        str(out),
        str(kill_at),
        "1" if resume else "0",
    ]
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], timeout=600, check=False).returncode


def _metrics(out: Path) -> list[dict[str, float]]:
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert _run(tiny_model_dir, data_dir, whole, kill_at=0, resume=False) == 0
    assert (
        _run(tiny_model_dir, data_dir, broken, kill_at=3, resume=False) == -9
    )  # SIGKILL after step 3's metrics
    assert (broken / "checkpoints" / "latest").read_text() == "step-2"
    assert len(_metrics(broken)) == 3
    assert _run(tiny_model_dir, data_dir, broken, kill_at=0, resume=True) == 0
    assert _metrics(broken) == _metrics(whole)
    assert any(line["loss"] != 0 for line in _metrics(whole))  # the run really trained
    first, second = (
        load_file(str(whole / "model" / "model.safetensors")),
        load_file(str(broken / "model" / "model.safetensors")),
    )
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_checkpoint_write_is_atomic(tmp_path: Path, tiny_model_dir: Path) -> None:
    from thinkact.models.load import load_policy
    from thinkact.train.checkpoints import latest_checkpoint, save_checkpoint

    model, _ = load_policy(tiny_model_dir)
    optimizer = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path, 1, model, optimizer, {})
    # a crash mid-write leaves a temporary directory behind, never a half-written step or pointer
    (tmp_path / "checkpoints" / ".step-2.tmp").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-1"
    for step in (2, 3, 4):
        save_checkpoint(tmp_path, step, model, optimizer, {}, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-3", "step-4"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-4"


def _grpo(tiny_model_dir: Path, data_dir: Path, out: Path, **changes: Any) -> GRPORunConfig:
    """A tiny run that trains (KL and a hot temperature keep the loss off 0); save_steps is left at 10."""
    settings: dict[str, Any] = {
        "model": str(tiny_model_dir),
        "data": str(data_dir / "train.jsonl"),
        "out": str(out),
        "steps": 2,
        "prompts_per_step": 2,
        "group_size": 3,
        "max_new_tokens": 24,
        "learning_rate": 5e-3,
        "drop_equal_groups": False,
        "mask_truncated": False,
        "kl_coef": 0.05,
        "temperature": 1.3,
        "threads": 1,
    }
    return GRPORunConfig(**{**settings, **changes})


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "model.safetensors"))


def test_finished_grpo_run_extends_to_more_steps(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "g"
    run_grpo(_grpo(tiny_model_dir, data_dir, out))
    finished = _weights(out)
    for steps in (2, 1):  # no more steps than it has: nothing to do, and it says which setting to raise
        with pytest.raises(
            UserError, match=r"finished run of 2 steps; nothing to resume\. .*--set steps=N with N > 2"
        ):
            run_grpo(_grpo(tiny_model_dir, data_dir, out, steps=steps), resume=True)
    result = CliRunner().invoke(app, ["grpo", "--out", str(out), "--resume", "--set", "steps=3"])
    assert result.exit_code == 0, result.output
    assert "resuming from step 2 of 3" in result.output
    assert [row["step"] for row in _metrics(out)] == [1, 2, 3]
    extended = _weights(out)
    assert any(not torch.equal(finished[name], extended[name]) for name in finished)
    assert not [
        path.name for path in out.iterdir() if path.name.startswith(".")
    ]  # no temporary or old model/
    # the steps and seeds derive from (seed, step), and the learning rate here is constant: a 3-step run
    run_grpo(_grpo(tiny_model_dir, data_dir, tmp_path / "whole", steps=3))
    assert _metrics(out) == _metrics(tmp_path / "whole") and _metrics(out)[2]["loss"] != 0
    assert all(torch.equal(extended[name], _weights(tmp_path / "whole")[name]) for name in extended)
    result = CliRunner().invoke(app, ["grpo", "--out", str(out), "--resume"])
    assert isinstance(result.exception, UserError) and "finished run of 3 steps" in str(result.exception)


def test_finished_grpo_run_that_cannot_continue_says_why(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "no-checkpoints"
    run_grpo(_grpo(tiny_model_dir, data_dir, out, save_steps=0))
    with pytest.raises(UserError, match="finished at step 2 but kept no checkpoint of that step"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out, save_steps=0, steps=3), resume=True)
    out = tmp_path / "budget"
    run_grpo(_grpo(tiny_model_dir, data_dir, out, max_generated_tokens=1))  # spent by the first step
    assert [row["step"] for row in _metrics(out)] == [1]
    with pytest.raises(UserError, match=r"finished at step 1 but kept no checkpoint .* max_generated_tokens"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out, max_generated_tokens=1, steps=3), resume=True)


def test_finished_sft_run_extends_to_more_steps(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    config = SFTRunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "s"),
        max_steps=2,
        batch_size=2,
        logging_steps=1,
        threads=1,
        report_to="none",
    )
    run_sft(config)
    finished = _weights(tmp_path / "s")
    with pytest.raises(UserError, match=r"finished run of 2 steps; .*--set max_steps=N with N > 2"):
        run_sft(config, resume=True)
    heard: list[tuple[int, int]] = []
    run_sft(dataclasses.replace(config, max_steps=3), resume=True, on_resume=lambda *at: heard.append(at))
    assert heard == [(2, 3)]
    state = json.loads((tmp_path / "s" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    (last,) = [row for row in state["log_history"] if row.get("step") == 3 and "loss" in row]
    # the cosine schedule recomputed for 3 steps: step 3 (index 2) takes (1 + cos(2 pi / 3)) / 2 = 1/4 of the rate
    assert last["learning_rate"] == pytest.approx(2e-3 / 4)
    extended = _weights(tmp_path / "s")
    assert any(not torch.equal(finished[name], extended[name]) for name in finished)
    with pytest.raises(UserError, match="finished run of 3 steps"):
        run_sft(dataclasses.replace(config, max_steps=3), resume=True)


@pytest.mark.parametrize("swap", [True, False], ids=["exchange", "move-aside"])
def test_install_dir_replaces_a_model_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: bool
) -> None:
    if not swap:  # a system or file system without renameat2's exchange
        monkeypatch.setattr(sys, "platform", "darwin")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "old.safetensors").write_text("old")
    (tmp_path / ".model.tmp").mkdir()
    (tmp_path / ".model.tmp" / "new.safetensors").write_text("new")
    install_dir(tmp_path / ".model.tmp", tmp_path / "model")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "model",
        "model/new.safetensors",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_install_dir_swaps_two_directories_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def moved_aside(*args: object) -> None:
        raise AssertionError("the old directory was moved aside, not swapped")

    monkeypatch.setattr(os, "replace", moved_aside)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / name).write_text(name)
    install_dir(tmp_path / "a", tmp_path / "b")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["b", "b/a"]

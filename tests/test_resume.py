"""A GRPO run killed with SIGKILL and resumed ends with the same metrics and weights as an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

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

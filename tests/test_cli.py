"""The command line as a user meets it: bad input stops with exit status 2 and a message naming the fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def thinkact(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thinkact", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_missing_data_file(tmp_path: Path) -> None:
    result = thinkact("eval", "--oracle", "--data", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert "missing.jsonl: no such data file" in result.stderr
    assert "thinkact data generate" in result.stderr


def test_malformed_data_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {
        "id": "a",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    }
    path.write_text(json.dumps(good) + "\n" + json.dumps({"id": "b", "messages": [{"role": "robot"}]}) + "\n")
    result = thinkact("eval", "--oracle", "--data", str(path))
    assert result.returncode == 2
    assert "bad.jsonl:2: messages[0].role: 'robot' is not one of" in " ".join(result.stderr.split())


def test_unknown_config_field(tmp_path: Path) -> None:
    config = tmp_path / "grpo.yaml"
    config.write_text("steps: 2\ngroup_sise: 4\n")
    result = thinkact("grpo", "--config", str(config))
    assert result.returncode == 2
    assert "grpo.yaml: unknown field group_sise" in " ".join(result.stderr.split())


def test_missing_model_directory(tmp_path: Path, data_dir: Path) -> None:
    result = thinkact(
        "eval", "--model", str(tmp_path / "no-model"), "--data", str(data_dir / "test_id.jsonl")
    )
    assert result.returncode == 2
    assert "no such model directory" in result.stderr
    assert "thinkact init-model" in " ".join(result.stderr.split())


def test_oracle_eval_prints_table_and_writes_results(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "oracle.json"
    result = thinkact("eval", "--oracle", "--data", str(data_dir / "test_ood.jsonl"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "exact_call" in result.stdout
    metrics = json.loads(out.read_text())["splits"]["test_ood"]["metrics"]
    assert metrics["exact_call"]["value"] == 1.0


def test_eval_reads_the_old_max_steps_flag_as_max_actions(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "oracle.json"
    data = str(data_dir / "test_ood.jsonl")
    result = thinkact(
        "eval", "--oracle", "--data", data, "--view", "episode", "--max-steps", "2", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "--max-steps is renamed --max-actions" in result.stderr
    assert json.loads(out.read_text())["config"]["max_actions"] == 2
    both = thinkact("eval", "--oracle", "--data", data, "--max-steps", "2", "--max-actions", "3")
    assert both.returncode == 2 and "--max-actions alone" in both.stderr

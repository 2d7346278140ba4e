"""Runs and results a user can trust: outputs never overwritten by surprise, atomic writes, explicit resume."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.errors import UserError
from thinkact.files import atomic_write, check_output_dir, check_output_file
from thinkact.models.load import load_policy
from thinkact.train.checkpoints import RunInterrupted, latest_checkpoint
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.runlog import RunLog, warn_often_truncated
from thinkact.train.sft import SFTRunConfig, build_dataset, run_sft
from thinkact.train.tracking import Tracker


def test_exception_mid_write_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write("half of the new res")
        raise RuntimeError("killed mid-write")
    assert path.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temporary left behind


def test_eval_results_survive_a_failure_while_writing(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thinkact.eval import runner
    from thinkact.eval.runner import EvalConfig, run_eval

    out = tmp_path / "oracle.json"
    config = EvalConfig(oracle=True, data=[str(data_dir / "test_id.jsonl")], out=str(out), resamples=0)
    run_eval(config)
    before = out.read_text(encoding="utf-8")

    def exploding(*args: Any, **kwargs: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "dump_json", exploding)
    with pytest.raises(KeyboardInterrupt):
        run_eval(config)
    assert out.read_text(encoding="utf-8") == before


def test_output_paths_of_the_wrong_kind_or_existing_are_refused(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("x")
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(UserError, match="is a directory; give a file path"):
        check_output_file(tmp_path / "run", overwrite=True)
    with pytest.raises(UserError, match="exists; pass --overwrite"):
        check_output_file(tmp_path / "file.json", overwrite=False)
    with pytest.raises(UserError, match="is a file; give a directory"):
        check_output_dir(tmp_path / "file.json", overwrite=True)
    with pytest.raises(UserError, match="pass --resume to continue it, --overwrite"):
        check_output_dir(tmp_path / "run", overwrite=False, resume=False)
    with pytest.raises(UserError, match="already holds files; pass --overwrite"):
        check_output_dir(tmp_path / "run", overwrite=False)
    assert check_output_dir(tmp_path / "new", overwrite=False) == tmp_path / "new"


def test_cli_refuses_existing_and_wrong_kind_outputs(tmp_path: Path, data_dir: Path) -> None:
    runner = CliRunner()
    data = str(data_dir / "test_id.jsonl")
    out = tmp_path / "oracle.json"
    out.write_text("keep me")
    result = runner.invoke(app, ["eval", "--oracle", "--data", data, "--out", str(out)])
    assert isinstance(result.exception, UserError) and "--overwrite" in str(result.exception)
    assert out.read_text() == "keep me"
    result = runner.invoke(app, ["eval", "--oracle", "--data", data, "--out", str(tmp_path)])
    assert isinstance(result.exception, UserError) and "is a directory" in str(result.exception)
    result = runner.invoke(app, ["eval", "--oracle", "--data", data, "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["model"] == "oracle"
    generated = tmp_path / "data"
    generated.mkdir()
    (generated / "train.jsonl").write_text("mine")
    result = runner.invoke(app, ["data", "generate", "--out", str(generated)])
    assert isinstance(result.exception, UserError) and "--overwrite" in str(result.exception)
    assert (generated / "train.jsonl").read_text() == "mine"


def test_convert_never_writes_over_its_input(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes((data_dir / "test_id.jsonl").read_bytes())
    result = CliRunner().invoke(app, ["data", "convert", str(source), "--from", "chat", "--out", str(source)])
    assert isinstance(result.exception, UserError) and "is the input" in str(result.exception)
    assert source.read_bytes() == (data_dir / "test_id.jsonl").read_bytes()
    result = CliRunner().invoke(
        app, ["data", "convert", str(source), "--from", "chat", "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, UserError) and "is a directory" in str(result.exception)


def test_validate_empty_file_fails_with_a_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(app, ["data", "validate", str(empty)])
    assert result.exit_code == 1
    assert "holds no records" in result.output


def test_version() -> None:
    from thinkact import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"thinkact {__version__}"


def _grpo(tiny_model_dir: Path, data_dir: Path, out: Path, **changes: Any) -> GRPORunConfig:
    settings: dict[str, Any] = {
        "model": str(tiny_model_dir),
        "data": str(data_dir / "train.jsonl"),
        "out": str(out),
        "steps": 2,
        "prompts_per_step": 2,
        "group_size": 2,
        "max_new_tokens": 6,
        "save_steps": 1,
        "sample_steps": 1,
        "mask_truncated": False,
    }
    return GRPORunConfig(**{**settings, **changes})


def _steps(path: Path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_grpo_refuses_finished_foreign_and_empty_runs(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grpo"
    run_grpo(_grpo(tiny_model_dir, data_dir, out))
    metrics = (out / "metrics.jsonl").read_text()
    with pytest.raises(UserError, match="pass --resume to continue it, --overwrite"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out))
    with pytest.raises(UserError, match="finished run"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out), resume=True)
    with pytest.raises(UserError, match=r"another grpo config \(learning_rate"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out, learning_rate=1.0), resume=True)
    assert (out / "metrics.jsonl").read_text() == metrics  # nothing of the finished run was touched
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no run"):
        run_grpo(_grpo(tiny_model_dir, data_dir, tmp_path / "empty"), resume=True)
    foreign = tmp_path / "sft"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("model: m\nthink: true\nmax_steps: 3\n")
    with pytest.raises(UserError, match="another grpo config"):
        run_grpo(_grpo(tiny_model_dir, data_dir, foreign), resume=True)
    # --overwrite replaces the old run entirely: no stale checkpoint (step-2) is left to resume from later
    run_grpo(_grpo(tiny_model_dir, data_dir, out, steps=1), overwrite=True)
    assert _steps(out / "metrics.jsonl") == [1]
    assert sorted(path.name for path in (out / "checkpoints").iterdir()) == ["latest", "step-1"]


def test_grpo_resume_says_where_it_starts_and_logs_each_step_once(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grpo"
    config = _grpo(tiny_model_dir, data_dir, out, steps=3)
    interrupted_at = 2

    def interrupt(step: int, metrics: dict[str, float]) -> None:
        if step == interrupted_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the step finishes, is saved, and the run stops

    with pytest.raises(RunInterrupted, match="interrupted after step 2 of 3"):
        run_grpo(config, on_step=interrupt)
    assert latest_checkpoint(out) == out / "checkpoints" / "step-2"
    assert not (out / "model").exists()
    # the checkpoint holds its tokenizer, so it loads like a model
    _, tokenizer = load_policy(out / "checkpoints" / "step-2")
    assert tokenizer.chat_template
    # a kill mid-line leaves a torn last line, and a log line of a step after the checkpoint
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "reward": 0.1}\n{"step": 4, "rew')
    with pytest.raises(UserError, match="beyond this config's 1 steps"):
        run_grpo(_grpo(tiny_model_dir, data_dir, out, steps=1), resume=True)
    heard: list[tuple[int, int]] = []
    run_grpo(config, resume=True, on_resume=lambda done, steps: heard.append((done, steps)))
    assert heard == [(2, 3)]
    assert _steps(out / "metrics.jsonl") == [1, 2, 3]
    assert sorted(set(_steps(out / "samples.jsonl"))) == [1, 2, 3]
    assert len(_steps(out / "samples.jsonl")) == 3 * config.group_size
    assert (out / "model" / "model.safetensors").is_file()


def test_sft_resumes_after_an_interrupt(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    out = tmp_path / "sft"
    config = SFTRunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(out),
        max_steps=3,
        batch_size=2,
        logging_steps=1,
        save_steps=0,
    )

    class CtrlC(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(RunInterrupted, match="interrupted after step 1 of 3"):
        run_sft(config, callbacks=[CtrlC()])
    assert (out / "checkpoints" / "checkpoint-1" / "tokenizer_config.json").is_file()
    with pytest.raises(UserError, match="pass --resume"):
        run_sft(config)
    heard: list[tuple[int, int]] = []
    final = run_sft(config, resume=True, on_resume=lambda done, steps: heard.append((done, steps)))
    assert heard == [(1, 3)]
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 3
    assert (final / "model.safetensors").is_file()
    with pytest.raises(UserError, match="finished run"):
        run_sft(config, resume=True)


def test_sft_file_without_assistant_turns_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "unscored.jsonl"
    record = {
        "id": "a",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "score": False},
        ],
    }
    path.write_text(json.dumps(record) + "\n")
    _, tokenizer = load_policy(tiny_model_dir)
    with pytest.raises(UserError, match="no assistant turn to train on"):
        build_dataset(tokenizer, path, think=True, max_length=512)


def test_compare_refuses_results_of_different_limits(tmp_path: Path, data_dir: Path) -> None:
    from thinkact.eval.compare import CompareConfig, run_compare
    from thinkact.eval.runner import EvalConfig, run_eval

    paths = []
    for limit in (2, 3):
        path = tmp_path / f"limit{limit}.json"
        run_eval(
            EvalConfig(
                oracle=True, data=[str(data_dir / "test_id.jsonl")], out=str(path), limit=limit, resamples=0
            )
        )
        paths.append(str(path))
    with pytest.raises(UserError, match="different --limit"):
        run_compare(CompareConfig(inputs=paths, names=["a", "b"], out=str(tmp_path / "cmp"), html=False))


def test_format_metric_is_the_reward_component_and_truncation_scores_zero() -> None:
    from thinkact.eval.metrics import score_turn_and_reward
    from thinkact.parse import Action, ToolCall, parse_action
    from thinkact.rewards.combine import RewardConfig

    reference = Action(think="need weather", tool_calls=[ToolCall("weather", {"city": "Oslo"})])
    noise = parse_action("ent Pari s to morrow the the of")  # a random model's tokens: no think, no call
    good = parse_action(
        '<think>look up</think><tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    cases = [(noise, False, 0.0), (good, False, 1.0), (good, True, 0.0)]
    for action, truncated, expected in cases:
        values, reward = score_turn_and_reward(
            action, reference, [], completion_tokens=160, rewards=RewardConfig(), truncated=truncated
        )
        assert values["format"] == reward.components["format"] == expected
    values, _ = score_turn_and_reward(
        noise, reference, [], completion_tokens=5, rewards=RewardConfig(require_think=False)
    )
    assert values["format"] == 1.0  # without required thinking, well-formed plain text is well formed


def test_eval_marks_completions_cut_at_the_token_limit(tmp_path: Path, data_dir: Path) -> None:
    from thinkact.eval.runner import EvalConfig, run_eval
    from thinkact.parse import action_from_message, render_action

    def predict(turns: list[Any], split: str, progress: Any) -> list[tuple[str, int]]:
        # the reference action, but the first turn used the whole budget
        return [
            (render_action(action_from_message(t.reference)), 8 if i == 0 else 3) for i, t in enumerate(turns)
        ]

    config = EvalConfig(model="scripted", data=[str(data_dir / "test_id.jsonl")], max_new_tokens=8, limit=4)
    turns = run_eval(config, predictor=predict)["splits"]["test_id"]["turns"]
    assert [turn["metrics"]["format"] for turn in turns] == [0.0, 1.0, 1.0, 1.0]
    assert "cut at max_new_tokens" in turns[0]["problems"]


def test_missing_hub_model_says_how_to_download_it() -> None:
    with pytest.raises(UserError, match=r"hf download Qwen/Qwen3-1\.7B"):
        load_policy("Qwen/Qwen3-1.7B")


def test_failed_conversion_leaves_no_partial_file(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thinkact.data.readers import convert

    out = tmp_path / "out.jsonl"
    out.write_text("previous conversion")

    def failing(path: Path, conversations: Any) -> int:
        Path(path).write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setitem(convert.WRITERS, "chat", failing)
    with pytest.raises(KeyboardInterrupt):
        convert.run_convert(
            data_dir / "test_id.jsonl",
            source_format="chat",
            out=out,
            target_format="chat",
            skip_invalid=False,
            rejects=tmp_path / "rejects.jsonl",
            apis=None,
        )
    assert out.read_text() == "previous conversion"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_run_whose_completions_are_often_cut_says_how_many(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 2 new tokens cannot hold a think block and an action: every completion is cut, in both steps
    config = _grpo(tiny_model_dir, data_dir, tmp_path / "grpo", max_new_tokens=2, mask_truncated=True)
    with caplog.at_level(logging.WARNING, logger="thinkact.train"):
        run_grpo(config)
    assert [json.loads(line)["truncated"] for line in (tmp_path / "grpo/metrics.jsonl").open()] == [1.0, 1.0]
    assert "100% of this run's completions reached max_new_tokens=2 and carried no loss" in caplog.text


def test_the_run_level_truncation_warning_takes_the_mean_share_from_a_tenth(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="thinkact.train"):
        warn_often_truncated([0.05, 0.1, 0.0], masked=True, max_new_tokens=96)  # mean .05: quiet
        assert caplog.text == ""
        warn_often_truncated([0.0, 0.3, 0.25], masked=True, max_new_tokens=96)  # mean .1833
        assert "18% of this run's completions reached max_new_tokens=96 and carried no loss" in caplog.text
        warn_often_truncated([0.1], masked=False, max_new_tokens=64)  # exactly the threshold
        assert (
            "10% of this run's completions reached max_new_tokens=64 and were scored as cut off"
            in caplog.text
        )
        warn_often_truncated([], masked=True, max_new_tokens=64)  # no steps taken (a resumed, finished run)
    assert len(caplog.records) == 2


def test_the_run_level_truncation_share_counts_the_steps_before_a_resume(tmp_path: Path) -> None:
    """The shares come back from metrics.jsonl: a run resumed after step 1 reports step 1's share and the
    rewritten step 2's, not the step 2 the resume cut off."""

    def opened(done: int) -> RunLog:
        return RunLog(tmp_path, done, 0, Tracker([], tmp_path, run_name="t", config={}, offline=True))

    first = opened(0)
    first.write(1, {"reward": 0.5, "truncated": 0.25}, [])
    first.write(2, {"reward": 0.5, "truncated": 1.0}, [])
    first.close()
    resumed = opened(1)
    resumed.write(2, {"reward": 0.5, "truncated": 0.0}, [])
    assert resumed.truncated_shares() == [0.25, 0.0]
    resumed.close()

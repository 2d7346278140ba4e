"""Comparison: stored result files compared turn by turn, differences beyond noise (and ties that are not), refusals
of incomparable results, reuse of stored evaluations, run directories and the command line."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app
from thinkact.data.conversations import TurnExample
from thinkact.errors import UserError
from thinkact.eval import compare as compare_module
from thinkact.eval.compare import CompareConfig, read_training, resolve_input, run_compare
from thinkact.eval.episodes import Episode, oracle_policy
from thinkact.eval.report.html import render_page
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.parse import action_from_message, render_action


def write_scripted_results(data: list[str], out: Path, name: str, *, wrong_every: int = 0) -> str:
    """Results of a scripted model: the reference actions, except an empty completion on every `wrong_every`th
    turn (and a wrong final answer in every episode when `wrong_every` is set)."""

    def predictor(turns: list[TurnExample], split: str, progress: object) -> list[tuple[str, int]]:
        texts = [render_action(action_from_message(turn.reference)) for turn in turns]
        return [("" if wrong_every and i % wrong_every == 0 else text, 5) for i, text in enumerate(texts)]

    def policy(active: list[Episode]) -> list[tuple[str, int]]:
        outputs = oracle_policy(active)
        return [(text if "tool_call" in text or not wrong_every else "No idea.", n) for text, n in outputs]

    config = EvalConfig(model=name, name=name, data=data, out=str(out), view="both")
    run_eval(config, predictor=predictor, policy=policy)
    return str(out)


@pytest.fixture(scope="module")
def stored(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("results")
    data = [str(data_dir / "test_id.jsonl"), str(data_dir / "test_ood.jsonl")]
    return {
        "weak": write_scripted_results(data, out / "weak.json", "weak", wrong_every=2),
        "strong": write_scripted_results(data, out / "strong.json", "strong"),
        "twin": write_scripted_results(data, out / "twin.json", "twin"),
    }


def _row(
    comparison: dict[str, object], split: str, view: str, metric: str, a: str, b: str
) -> dict[str, object]:
    rows = comparison["differences"]
    assert isinstance(rows, list)
    [row] = [
        r for r in rows if (r["split"], r["view"], r["metric"], r["a"], r["b"]) == (split, view, metric, a, b)
    ]
    return row


def test_compare_two_stored_result_files(stored: dict[str, str], tmp_path: Path) -> None:
    config = CompareConfig(inputs=[stored["weak"], stored["strong"]], out=str(tmp_path), html=False)
    comparison = run_compare(config)
    assert comparison["models"] == ["weak", "strong"] and comparison["baseline"] == "weak"
    assert comparison["splits"] == ["test_id", "test_ood"]
    assert json.loads((tmp_path / "comparison.json").read_text()) == comparison
    weak = json.loads(Path(stored["weak"]).read_text())["splits"]["test_id"]
    row = _row(comparison, "test_id", "turn", "correct", "weak", "strong")
    wrong = sum(1 for turn in weak["turns"] if turn["metrics"]["correct"] == 0.0)
    assert row["n"] == len(weak["turns"]) and row["diff"] == pytest.approx(wrong / len(weak["turns"]))
    assert row["beyond_noise"] is True and row["ci_low"] > 0
    episode = _row(comparison, "test_id", "episode", "success", "weak", "strong")
    assert episode["diff"] == 1.0 and episode["beyond_noise"] is True
    assert comparison["metrics"]["strong"]["test_id"]["episode"]["success"]["value"] == 1.0
    assert comparison["thinking"]["weak"]["test_id"]["without"]["n"] == wrong
    report = (tmp_path / "report.md").read_text()
    assert "| weak | test_id |" in report and "| strong | test_ood |" in report and "✱" in report
    assert not (tmp_path / "report.html").exists()


def test_tied_models_differ_by_nothing(stored: dict[str, str], tmp_path: Path) -> None:
    comparison = run_compare(
        CompareConfig(
            inputs=[stored["strong"], stored["twin"], stored["weak"]], out=str(tmp_path), html=False
        )
    )
    ties = [row for row in comparison["differences"] if {row["a"], row["b"]} == {"strong", "twin"}]
    assert ties and all(row["diff"] == 0.0 and row["beyond_noise"] is False for row in ties)
    assert all((row["ci_low"], row["ci_high"]) == (0.0, 0.0) for row in ties)
    # every pair is compared once, the baseline first
    pairs = {(row["a"], row["b"]) for row in comparison["differences"]}
    assert pairs == {("strong", "twin"), ("strong", "weak"), ("twin", "weak")}
    assert "## Other pairs: differences beyond noise" in (tmp_path / "report.md").read_text()


def test_compare_refuses_results_on_other_splits(
    stored: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    only_id = write_scripted_results([str(data_dir / "test_id.jsonl")], tmp_path / "only_id.json", "only_id")
    with pytest.raises(UserError, match=r"only_id\.json has splits \['test_id'\] but .*strong\.json has"):
        run_compare(CompareConfig(inputs=[stored["strong"], only_id], out=str(tmp_path / "c"), html=False))


def test_compare_refuses_results_from_other_data(
    stored: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for split in ("test_id", "test_ood"):
        lines = (data_dir / f"{split}.jsonl").read_text().splitlines(keepends=True)
        (other / f"{split}.jsonl").write_text("".join(lines[:-1]))
    data = [str(other / "test_id.jsonl"), str(other / "test_ood.jsonl")]
    shorter = write_scripted_results(data, tmp_path / "shorter.json", "shorter")
    with pytest.raises(UserError, match=r"another test_id file .* sha256 differs"):
        run_compare(CompareConfig(inputs=[stored["strong"], shorter], out=str(tmp_path / "c"), html=False))
    with pytest.raises(UserError, match="give at least two"):
        run_compare(CompareConfig(inputs=[stored["strong"]], out=str(tmp_path / "c")))
    with pytest.raises(UserError, match="several inputs are named 'strong'"):
        run_compare(CompareConfig(inputs=[stored["strong"], stored["strong"]], out=str(tmp_path / "c")))


def test_compare_evaluates_models_and_reuses_stored_results(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = CompareConfig(
        inputs=[str(tiny_model_dir), str(tiny_model_dir)],
        names=["first", "again"],
        data=[str(data_dir / "test_id.jsonl")],
        out=str(tmp_path),
        max_new_tokens=4,
        limit=3,
        html=False,
    )
    comparison = run_compare(config)
    assert (tmp_path / "eval" / "first.json").is_file() and (tmp_path / "eval" / "again.json").is_file()
    # the same model twice under greedy decoding: identical turns, so every difference is an exact tie
    assert comparison["differences"] and all(row["diff"] == 0.0 for row in comparison["differences"])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("stored results should have been reused")

    monkeypatch.setattr(compare_module, "run_eval", refuse)
    assert run_compare(config)["metrics"] == comparison["metrics"]
    config.max_new_tokens = 5  # another setting: the stored results no longer fit
    with pytest.raises(AssertionError, match="reused"):
        run_compare(config)


def test_run_directories_bring_their_training_curves(tiny_model_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "grpo"
    shutil.copytree(tiny_model_dir, run / "model")
    rows = [{"step": 1, "reward": 0.2, "kl": 0.0}, {"step": 2, "reward": 0.4, "kl": 0.01, "note": "x"}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for text in (str(run), str(run / "model")):
        source = resolve_input(text)
        assert (source.name, source.run, source.model) == ("grpo", str(run), str(run / "model"))
    assert read_training(str(run)) == [rows[0], {"step": 2, "reward": 0.4, "kl": 0.01}]
    unlogged = tmp_path / "sft-nothink" / "model"
    shutil.copytree(tiny_model_dir, unlogged)
    assert (resolve_input(str(unlogged)).name, resolve_input(str(unlogged)).run) == ("sft-nothink", "")
    with pytest.raises(UserError, match="neither a model directory"):
        resolve_input(str(tmp_path))
    with pytest.raises(UserError, match="no such results file"):
        resolve_input(str(tmp_path / "missing.json"))


def test_compare_command(stored: dict[str, str], tiny_model_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["compare", stored["weak"], stored["strong"], "--out", str(tmp_path), "--no-html"]
    )
    assert result.exit_code == 0, result.output
    assert "strong" in result.output and "✱" in result.output
    assert (tmp_path / "report.md").is_file() and (tmp_path / "comparison.json").is_file()
    again = CliRunner().invoke(app, ["compare", stored["weak"], stored["strong"], "--out", str(tmp_path)])
    assert isinstance(again.exception, UserError) and "--overwrite" in str(again.exception)
    result = CliRunner().invoke(
        app, ["compare", stored["weak"], str(tiny_model_dir), "--out", str(tmp_path), "--overwrite"]
    )
    assert isinstance(result.exception, UserError)
    assert "is a model; give --data FILE" in str(result.exception)


def test_models_trained_without_thinking_are_scored_without_a_think_block(
    tiny_model_dir: Path,
    data_dir: Path,
    stored: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same completions (reference actions, no think block) score format 0 where thinking is required and 1
    for a model named in `no_think`; the comparison and its report say which model was scored how."""
    real_run_eval = compare_module.run_eval

    def without_thinking(config: EvalConfig, progress: object = None) -> dict[str, object]:
        def predictor(turns: list[TurnExample], split: str, progress: object) -> list[tuple[str, int]]:
            actions = [action_from_message(turn.reference) for turn in turns]
            return [(render_action(replace(action, think=None)), 5) for action in actions]

        return real_run_eval(config, predictor=predictor)

    monkeypatch.setattr(compare_module, "run_eval", without_thinking)
    config = CompareConfig(
        inputs=[str(tiny_model_dir), str(tiny_model_dir)],
        names=["thinking", "plain"],
        no_think=["plain"],
        data=[str(data_dir / "test_id.jsonl")],
        out=str(tmp_path),
        html=False,
    )
    comparison = run_compare(config)
    metrics = comparison["metrics"]
    assert metrics["thinking"]["test_id"]["turn"]["format"]["value"] == 0.0
    assert metrics["plain"]["test_id"]["turn"]["format"]["value"] == 1.0
    assert (
        metrics["plain"]["test_id"]["turn"]["exact_call"]
        == metrics["thinking"]["test_id"]["turn"]["exact_call"]
    )
    assert comparison["scoring"] == {"thinking": {"require_think": True}, "plain": {"require_think": False}}
    assert "plain: scored without requiring a think block" in (tmp_path / "report.md").read_text()
    assert "plain: scored without requiring a think block" in render_page(comparison, {}, [])
    stored_plain = json.loads((tmp_path / "eval" / "plain.json").read_text())
    assert stored_plain["config"]["rewards"]["require_think"] is False

    with pytest.raises(UserError, match=r"--no-think 'other' is none of the models \(thinking, plain\)"):
        run_compare(replace(config, no_think=["other"]))
    # a stored results file scored with thinking required cannot stand in for a no-think model
    with pytest.raises(
        UserError, match=r"strong\.json was scored with rewards.require_think on.*require_think=false"
    ):
        run_compare(
            CompareConfig(
                inputs=[stored["weak"], stored["strong"]], no_think=["strong"], out=str(tmp_path / "c")
            )
        )
    flagged = CliRunner().invoke(
        app,
        ["compare", stored["weak"], stored["strong"], "--no-think", "strong", "--out", str(tmp_path / "d")],
    )
    assert isinstance(flagged.exception, UserError) and "--no-think names 'strong'" in str(flagged.exception)


def test_each_model_is_evaluated_with_compares_settings(tmp_path: Path) -> None:
    """Compare's settings of the same name reach each model's evaluation; model, endpoint, output, name and rewards
    are the model's own."""
    config = CompareConfig(
        inputs=["m"],
        data=["a.jsonl"],
        out=str(tmp_path),
        view="both",
        max_new_tokens=7,
        batch_size=3,
        limit=5,
        max_actions=2,
        resamples=11,
        seed=9,
        no_think=["m"],
        endpoints=["http://127.0.0.1:1/v1"],
        served_models=["served"],
    )
    local = compare_module.eval_config_for(compare_module.Source(name="m/x", input="m", model="dir"), config)
    assert (local.view, local.max_new_tokens, local.batch_size, local.limit) == ("both", 7, 3, 5)
    assert (local.max_actions, local.resamples, local.seed) == (2, 11, 9)
    assert (local.model, local.name, local.data, local.endpoint.url) == ("dir", "m/x", ["a.jsonl"], "")
    assert local.data is not config.data
    assert local.out == str(tmp_path / "eval" / "m__x.json")
    assert local.rewards.require_think is True and not local.oracle and local.user.kind == "scripted"
    served = compare_module.eval_config_for(
        compare_module.Source(
            name="m", input="http://127.0.0.1:1/v1", model="served", endpoint="http://127.0.0.1:1/v1"
        ),
        config,
    )
    assert (served.model, served.endpoint.url, served.endpoint.model) == (
        "",
        "http://127.0.0.1:1/v1",
        "served",
    )
    assert served.rewards.require_think is False

"""The evaluation runner: the oracle scores 1.0 everywhere, a model is scored with counts, metrics by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkact.eval.metrics import aggregate_turns, score_turn
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.parse import Action, ToolCall, parse_action
from thinkact.rewards.combine import RewardConfig


@pytest.mark.parametrize("split", ["train", "test_id", "test_ood"])
def test_oracle_scores_one_on_every_metric(data_dir: Path, split: str) -> None:
    results = run_eval(EvalConfig(data=[str(data_dir / f"{split}.jsonl")], oracle=True))
    metrics = results["splits"][split]["metrics"]
    for name, metric in metrics.items():
        if name not in ("completion_tokens", "think_words"):
            assert metric["value"] == 1.0, name
            assert metric["n"] > 0


def test_model_eval_reports_counts_and_writes_json(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    config = EvalConfig(
        model=str(tiny_model_dir),
        data=[str(data_dir / "test_id.jsonl")],
        out=str(out),
        max_new_tokens=8,
        limit=5,
    )
    results = run_eval(config)
    assert json.loads(out.read_text()) == results
    block = results["splits"]["test_id"]
    assert block["metrics"]["action_type"]["n"] == 5 == len(block["turns"])
    call_turns = sum("exact_call" in turn["metrics"] for turn in block["turns"])
    assert block["metrics"].get("exact_call", {"n": 0})["n"] == call_turns


def test_unparseable_and_empty_predictions_score_zero_with_reasons() -> None:
    reference = Action(think="t", tool_calls=[ToolCall("f", {"x": 1})])
    for text in ["", "<tool_call>{broken</tool_call>", "<think>unclosed"]:
        action = parse_action(text)
        values = score_turn(action, reference, [], completion_tokens=3, rewards=RewardConfig())
        assert values["exact_call"] == 0.0 and values["format"] == 0.0
        assert action.problems


def test_metrics_by_hand() -> None:
    reference_call = Action(think="t", tool_calls=[ToolCall("f", {"x": 1, "y": 2})])
    reference_answer = Action(think="t", content="It is 5.", facts=["5"])
    turns = [
        # right call: action type, name and exact all 1; args 2 of 2
        score_turn(
            parse_action(
                '<think>a</think><tool_call>{"name": "f", "arguments": {"x": 1, "y": 2}}</tool_call>'
            ),
            reference_call,
            [],
            completion_tokens=10,
            rewards=RewardConfig(),
        ),
        # right name, one wrong value and one invented argument: args 1 correct of 3 predicted, 2 expected
        score_turn(
            parse_action('<tool_call>{"name": "f", "arguments": {"x": 1, "y": 3, "z": 0}}</tool_call>'),
            reference_call,
            [],
            completion_tokens=20,
            rewards=RewardConfig(),
        ),
        # answered where a call was needed
        score_turn(
            parse_action("<think>a</think>It is 5."),
            reference_call,
            [],
            completion_tokens=30,
            rewards=RewardConfig(),
        ),
        # answer turn answered correctly
        score_turn(
            parse_action("<think>a</think>It is 5."),
            reference_answer,
            [],
            completion_tokens=40,
            rewards=RewardConfig(),
        ),
    ]
    metrics = aggregate_turns(turns)
    assert (metrics["action_type"].value, metrics["action_type"].n) == (0.75, 4)
    assert (metrics["tool_name"].value, metrics["tool_name"].n) == (pytest.approx(2 / 3), 3)
    assert (metrics["exact_call"].value, metrics["exact_call"].n) == (pytest.approx(1 / 3), 3)
    # arguments: correct 2 + 1 + 0 = 3, predicted 2 + 3 + 0 = 5, expected 2 + 2 + 2 = 6 → P 0.6, R 0.5
    assert metrics["arg_f1"].value == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert (metrics["answer"].value, metrics["answer"].n) == (1.0, 1)
    assert (metrics["thinking"].value, metrics["completion_tokens"].value) == (0.75, 25.0)

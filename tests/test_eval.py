"""The evaluation runner (turn view): the oracle scores 1.0 everywhere, a model is scored with counts and
intervals, metrics by hand (ties, empty and unparseable completions), skipped turns and answer-metric overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkact.data.conversations import TurnExample
from thinkact.errors import UserError
from thinkact.eval.metrics import aggregate_turns, score_turn
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.parse import Action, ToolCall, parse_action
from thinkact.rewards.combine import RewardConfig
from thinkact.rewards.components import token_f1


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


def _turn(text: str, reference: Action, tools: list[dict[str, object]] | None = None) -> dict[str, float]:
    return score_turn(parse_action(text), reference, tools or [], completion_tokens=1, rewards=RewardConfig())


def _calls(*calls: tuple[str, dict[str, object]]) -> str:
    return "".join(
        "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"
        for name, arguments in calls
    )


def test_ties_between_calls_of_the_same_name_are_matched_by_value() -> None:
    reference = Action(think="t", tool_calls=[ToolCall("f", {"x": 1}), ToolCall("f", {"x": 2})])
    # the same two calls in the other order: a tie on names that only the values break
    swapped = _turn("<think>a</think>" + _calls(("f", {"x": 2}), ("f", {"x": 1})), reference)
    assert (swapped["exact_call"], swapped["tool_name"], swapped["correct"]) == (1.0, 1.0, 1.0)
    assert (swapped["arg_correct"], swapped["arg_predicted"], swapped["arg_expected"]) == (2.0, 2.0, 2.0)
    # one call twice: names half right, one argument right, not exact
    doubled = _turn(_calls(("f", {"x": 1}), ("f", {"x": 1})), reference)
    assert (doubled["exact_call"], doubled["tool_name"], doubled["correct"]) == (0.0, 1.0, 0.0)
    assert (doubled["arg_correct"], doubled["arg_predicted"], doubled["arg_expected"]) == (1.0, 2.0, 2.0)
    # a single call of a pair: a multiset tie broken by the count
    single = _turn(_calls(("f", {"x": 1})), reference)
    assert (single["exact_call"], single["tool_name"]) == (0.0, 0.0)
    assert aggregate_turns([swapped, doubled, single])["arg_f1"].value == pytest.approx(
        2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6)
    )


def test_turn_correctness_and_thinking_length() -> None:
    reference = Action(think="t", content="It is 14 degrees in Oslo.", facts=["14"])
    right = _turn("<think>one two three</think>It is 14 degrees in Oslo.", reference)
    assert (right["correct"], right["think_words"], right["answer"]) == (1.0, 3.0, 1.0)
    wrong = _turn("Sunny.", reference)
    assert wrong["correct"] == 0.0 and "think_words" not in wrong
    called = _turn(_calls(("w", {})), reference)
    assert (called["correct"], called["no_call"], called["answer"]) == (0.0, 0.0, 0.0)
    metrics = aggregate_turns([right, wrong, called])
    assert (metrics["think_words"].value, metrics["think_words"].n) == (3.0, 1)
    assert (metrics["correct"].value, metrics["correct"].n) == (pytest.approx(1 / 3), 3)


@pytest.mark.parametrize(
    "text", ["", "   ", "<tool_call>{broken</tool_call>", "<think>unclosed", "</tool_call>"]
)
def test_empty_and_unparseable_completions_on_answer_turns(text: str) -> None:
    values = _turn(text, Action(think="t", content="Which city?"))
    assert values["format"] == 0.0 and values["correct"] == 0.0 and values["answer"] == 0.0
    assert values["action_type"] == 1.0  # no call was made, as the reference: only the action type agrees


def test_every_aggregate_has_an_interval_around_it(data_dir: Path) -> None:
    results = run_eval(EvalConfig(data=[str(data_dir / "test_id.jsonl")], oracle=True, limit=6))
    for metric in results["splits"]["test_id"]["metrics"].values():
        assert metric["ci_low"] <= metric["value"] <= metric["ci_high"]
    assert results["bootstrap"] == {"method": "percentile", "resamples": 1000, "confidence": 0.95, "seed": 0}


def _write(path: Path, records: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return str(path)


def test_unscored_turns_are_skipped_and_answer_metric_is_overridden(tmp_path: Path) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello there, how can I help?", "score": False},
        {"role": "user", "content": "the capital of France"},
        {"role": "assistant", "content": "The capital of France is Paris."},
    ]
    records = [
        {"id": "f1", "messages": messages, "meta": {}},
        {"id": "exact", "messages": messages, "meta": {"answer_metric": "exact"}},
    ]
    path = _write(tmp_path / "small.jsonl", records)

    def predictor(turns: list[TurnExample], split: str, progress: object) -> list[tuple[str, int]]:
        return [("Paris is the capital of France.", 6) for _ in turns]

    results = run_eval(EvalConfig(model="scripted", data=[path]), predictor=predictor)
    turns = results["splits"]["small"]["turns"]
    assert [turn["id"] for turn in turns] == ["f1#3", "exact#3"]
    by_id = {turn["id"]: turn["metrics"]["answer"] for turn in turns}
    assert by_id["f1#3"] == pytest.approx(
        token_f1("Paris is the capital of France.", "The capital of France is Paris.")
    )
    assert by_id["exact#3"] == 0.0  # exact match, as the conversation's meta asks


def test_greedy_batched_generation_is_deterministic(tiny_model_dir: Path, data_dir: Path) -> None:
    config = EvalConfig(
        model=str(tiny_model_dir),
        data=[str(data_dir / "test_ood.jsonl")],
        max_new_tokens=6,
        limit=6,
        batch_size=4,
    )
    first, second = run_eval(config), run_eval(config)
    assert [t["completion"] for t in first["splits"]["test_ood"]["turns"]] == [
        t["completion"] for t in second["splits"]["test_ood"]["turns"]
    ]
    assert first["splits"]["test_ood"]["metrics"] == second["splits"]["test_ood"]["metrics"]


def test_results_hold_breakdowns_thinking_and_conversations(data_dir: Path) -> None:
    block = run_eval(EvalConfig(data=[str(data_dir / "test_ood.jsonl")], oracle=True))["splits"]["test_ood"]
    assert set(block["breakdown"]) == {"domain", "phenomenon", "action"}
    assert sum(group["correct"]["n"] for group in block["breakdown"]["domain"].values()) == len(
        block["turns"]
    )
    assert sum(group["action_type"]["n"] for group in block["breakdown"]["action"].values()) == len(
        block["turns"]
    )
    assert block["thinking"]["share"]["value"] == 1.0 and block["thinking"]["without"] == {"n": 0}
    turn = block["turns"][0]
    assert turn["conversation_id"] in block["conversations"]
    assert set(turn["components"]) <= {
        "format",
        "call",
        "tool_name",
        "tool_args",
        "tool_exact",
        "no_call",
        "answer",
    }


def test_bfloat16_evaluation_loads_the_model_in_bf16_and_is_fingerprinted(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import thinkact.eval.runner as runner

    loaded: list[object] = []
    original = runner.load_policy

    def spy(path: object, **kwargs: object) -> object:
        model, tokenizer = original(path, **kwargs)  # type: ignore[arg-type]
        loaded.append(next(model.parameters()).dtype)
        return model, tokenizer

    monkeypatch.setattr(runner, "load_policy", spy)
    base = {
        "model": str(tiny_model_dir),
        "data": [str(data_dir / "test_id.jsonl")],
        "max_new_tokens": 6,
        "limit": 4,
    }
    results = run_eval(EvalConfig(**base, dtype="bfloat16"))
    assert [str(d) for d in loaded] == ["torch.bfloat16"]
    assert results["config"]["dtype"] == "bfloat16" and len(results["splits"]["test_id"]["turns"]) == 4
    assert (
        "dtype" not in run_eval(EvalConfig(**base))["config"]
    )  # float32 keeps the fingerprint it always had
    with pytest.raises(UserError, match=r"eval\.dtype: 'float16'; choose one of float32, bfloat16"):
        EvalConfig(**base, dtype="float16")

"""Per-turn evaluation metrics and their aggregation (DESIGN.md, "Metrics").

`score_turn` turns one prediction into named values; a metric that does not apply to the turn (exact-call
accuracy on an answer turn, answer score on a call turn) is absent, so every rate is over the turns it concerns
and carries its own sample count:

- `action_type`: predicted call-vs-answer equals the reference's (all turns)
- `tool_name`: the multiset of called names equals the reference's (call turns)
- `exact_call`: calls equal the reference's as a multiset of (name, normalised arguments) (call turns)
- `arg_precision`/`arg_recall`/`arg_f1` inputs: argument values matched within name-matched calls (call turns)
- `answer`: the answer score of `rewards.components.score_answer` (answer turns)
- `no_call`: no call made where the reference answers (answer turns)
- `format`: the completion parsed without problems (all turns)
- `thinking`: a non-empty think block (all turns)
- `completion_tokens`, `reward` (the combined training reward): all turns
Left out: episode metrics (tools executed over a whole conversation) and confidence intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinkact.parse import Action
from thinkact.rewards import components as c
from thinkact.rewards.combine import RewardConfig, score_action

RATE_METRICS = (
    "action_type",
    "tool_name",
    "exact_call",
    "arg_f1",
    "answer",
    "no_call",
    "format",
    "thinking",
    "reward",
)


@dataclass
class Metric:
    value: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {"value": self.value, "n": self.n}


def score_turn(
    action: Action,
    reference: Action,
    tools: list[dict[str, Any]],
    *,
    completion_tokens: int,
    rewards: RewardConfig,
    answer_metric: str | None = None,
) -> dict[str, float]:
    """Named metric values for one turn (only those that apply)."""
    values: dict[str, float] = {
        "action_type": float(action.is_call == reference.is_call),
        "format": c.score_format(action, reference, tools, require_think=False),
        "thinking": float(bool((action.think or "").strip())),
        "completion_tokens": float(completion_tokens),
        "reward": score_action(action, reference, tools, rewards, answer_metric=answer_metric).total,
    }
    if reference.is_call:
        values["tool_name"] = float(
            sorted(call.name for call in action.tool_calls)
            == sorted(call.name for call in reference.tool_calls)
        )
        values["exact_call"] = c.score_tool_exact(action, reference, tools)
        correct, predicted, expected = argument_counts(action, reference, tools)
        values["arg_correct"], values["arg_predicted"], values["arg_expected"] = correct, predicted, expected
    else:
        values["no_call"] = c.score_no_call(action, reference, tools)
        values["answer"] = c.score_answer(
            action, reference, tools, metric=answer_metric or rewards.answer_metric
        )
    return values


def argument_counts(
    action: Action, reference: Action, tools: list[dict[str, Any]]
) -> tuple[float, float, float]:
    """(correct, predicted, expected) argument counts; correct counts values equal within name-matched calls."""
    properties = c.properties_by_tool(tools)
    correct = 0
    for predicted_call, expected_call, _ in c.match_calls(action.tool_calls, reference.tool_calls, tools):
        schema = properties.get(expected_call.name, {})
        correct += sum(
            1
            for key, value in expected_call.arguments.items()
            if key in predicted_call.arguments
            and c.values_equal(predicted_call.arguments[key], value, schema.get(key))
        )
    predicted = sum(len(call.arguments) for call in action.tool_calls)
    expected = sum(len(call.arguments) for call in reference.tool_calls)
    return float(correct), float(predicted), float(expected)


def aggregate_turns(turns: list[dict[str, float]]) -> dict[str, Metric]:
    """Mean of each metric over the turns it applies to; argument F1 is micro-averaged over arguments.

    >>> m = aggregate_turns([{"format": 1.0, "arg_correct": 1.0, "arg_predicted": 2.0, "arg_expected": 1.0},
    ...                      {"format": 0.0, "arg_correct": 1.0, "arg_predicted": 1.0, "arg_expected": 2.0}])
    >>> m["format"].value, m["format"].n, round(m["arg_f1"].value, 4), m["arg_f1"].n
    (0.5, 2, 0.6667, 2)
    """
    names = sorted(
        {name for turn in turns for name in turn} - {"arg_correct", "arg_predicted", "arg_expected"}
    )
    metrics = {}
    for name in names:
        values = [turn[name] for turn in turns if name in turn]
        metrics[name] = Metric(sum(values) / len(values), len(values))
    call_turns = [turn for turn in turns if "arg_correct" in turn]
    if call_turns:
        correct = sum(turn["arg_correct"] for turn in call_turns)
        predicted = sum(turn["arg_predicted"] for turn in call_turns)
        expected = sum(turn["arg_expected"] for turn in call_turns)
        precision = correct / predicted if predicted else float(expected == 0)
        recall = correct / expected if expected else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics["arg_f1"] = Metric(f1, len(call_turns))
    return metrics

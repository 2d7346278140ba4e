"""One assistant turn scored as the evaluation scores it: named metric values, its record, and their means.

The evaluation's turn view (`eval/runner.py`) and the held-out evaluation during training (`train/heldout.py`)
both score through `score_turns`, so the two report the same numbers for the same model and turns; a completion
that used all of `max_new_tokens` counts as cut (format 0, as in the reward). `score_turn` turns one prediction
into named values; a metric that does not apply to the turn (exact-call accuracy on an answer turn, answer score
on a call turn) is absent, so every rate is over the turns it concerns and carries its own sample count:

- `action_type`: predicted call-vs-answer equals the reference's (all turns)
- `tool_name`: the multiset of called names equals the reference's (call turns)
- `exact_call`: calls equal the reference's as a multiset of (name, normalised arguments) (call turns)
- `arg_precision`/`arg_recall`/`arg_f1` inputs: argument values matched within name-matched calls (call turns)
- `answer`: the answer score of `rewards.components.score_answer` (answer turns)
- `no_call`: no call made where the reference answers (answer turns)
- `format`: the reward's format component, one definition (`rewards.components.score_format`): the completion
  parsed without problems, was not cut at `max_new_tokens`, and (with `rewards.require_think`, the default)
  opens with a non-empty think block (all turns)
- `thinking`: a non-empty think block (all turns)
- `think_words`: words in the think block (turns that think: their mean is the mean thinking length)
- `correct`: the turn is right as a whole: on call turns the exact calls, on answer turns no call and an answer
  score of at least `ANSWER_THRESHOLD` (0.5) (all turns; the accuracy of the thinking analysis)
- `completion_tokens`, `reward` (the combined training reward): all turns

`mean_turns` gives each metric's mean and sample count. Left out: intervals (`eval/metrics.py` adds them),
episode metrics (`eval/episodes.py`) and breakdowns (`eval/breakdown.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thinkact.data.prompts import Prompt
from thinkact.parse import Action, parse_action
from thinkact.rewards import components as c
from thinkact.rewards.combine import Reward, RewardConfig, score_action

ANSWER_THRESHOLD = 0.5
"""An answer counts as correct (in `correct` and in episode success) when its answer score is at least this."""

RATE_METRICS = (
    "correct",
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
TURN_METRICS = (*RATE_METRICS, "think_words", "completion_tokens")
"""Every per-turn metric, in the order tables show them."""
ARG_COUNTS = ("arg_correct", "arg_predicted", "arg_expected")
"""Per-turn argument counts that aggregate into `arg_f1` (not metrics of their own)."""


@dataclass
class Metric:
    value: float
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    """The 95% bootstrap interval (None when not computed)."""

    def to_json(self) -> dict[str, float | int | None]:
        return {"value": self.value, "n": self.n, "ci_low": self.ci_low, "ci_high": self.ci_high}


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
    values, _ = score_turn_and_reward(
        action,
        reference,
        tools,
        completion_tokens=completion_tokens,
        rewards=rewards,
        answer_metric=answer_metric,
    )
    return values


def score_turn_and_reward(
    action: Action,
    reference: Action,
    tools: list[dict[str, Any]],
    *,
    completion_tokens: int,
    rewards: RewardConfig,
    answer_metric: str | None = None,
    truncated: bool = False,
) -> tuple[dict[str, float], Reward]:
    """`score_turn`'s values, and the training reward with its components (for reports)."""
    reward = score_action(action, reference, tools, rewards, answer_metric=answer_metric, truncated=truncated)
    think = (action.think or "").strip()
    values: dict[str, float] = {
        "action_type": float(action.is_call == reference.is_call),
        "format": c.score_format(
            action, reference, tools, require_think=rewards.require_think, truncated=truncated
        ),
        "thinking": float(bool(think)),
        "completion_tokens": float(completion_tokens),
        "reward": reward.total,
    }
    if think:
        values["think_words"] = float(len(think.split()))
    if reference.is_call:
        values["tool_name"] = float(
            sorted(call.name for call in action.tool_calls)
            == sorted(call.name for call in reference.tool_calls)
        )
        values["exact_call"] = c.score_tool_exact(action, reference, tools)
        correct, predicted, expected = argument_counts(action, reference, tools)
        values["arg_correct"], values["arg_predicted"], values["arg_expected"] = correct, predicted, expected
        values["correct"] = values["exact_call"]
    else:
        values["no_call"] = c.score_no_call(action, reference, tools)
        values["answer"] = c.score_answer(
            action, reference, tools, metric=answer_metric or rewards.answer_metric
        )
        values["correct"] = float(values["no_call"] == 1.0 and values["answer"] >= ANSWER_THRESHOLD)
    return values, reward


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


def mean_turns(turns: list[dict[str, float]]) -> dict[str, Metric]:
    """Mean of each metric over the turns it applies to, with its sample count; argument F1 is micro-averaged
    over arguments.

    >>> m = mean_turns([{"format": 1.0, "arg_correct": 1.0, "arg_predicted": 2.0, "arg_expected": 1.0},
    ...                 {"format": 0.0, "arg_correct": 1.0, "arg_predicted": 1.0, "arg_expected": 2.0}])
    >>> m["format"].value, m["format"].n, round(m["arg_f1"].value, 4), m["arg_f1"].n
    (0.5, 2, 0.6667, 2)
    """
    names = sorted({name for turn in turns for name in turn} - set(ARG_COUNTS))
    metrics = {}
    for name in names:
        values = [turn[name] for turn in turns if name in turn]
        metrics[name] = Metric(sum(values) / len(values), len(values))
    counts = collect_argument_counts(turns)
    if counts:
        metrics["arg_f1"] = Metric(compute_micro_f1(counts), len(counts))
    return metrics


def collect_argument_counts(turns: list[dict[str, float]]) -> list[tuple[float, float, float]]:
    """(correct, predicted, expected) argument counts of the call turns among `turns`."""
    return [
        (turn["arg_correct"], turn["arg_predicted"], turn["arg_expected"])
        for turn in turns
        if "arg_correct" in turn
    ]


def compute_micro_f1(counts: list[tuple[float, float, float]]) -> float:
    """F1 of argument values summed over turns; precision 1 when nothing was predicted nor expected.

    >>> compute_micro_f1([(1.0, 2.0, 1.0), (1.0, 1.0, 2.0)])
    0.6666666666666666
    >>> compute_micro_f1([(0.0, 0.0, 0.0)]), compute_micro_f1([(0.0, 0.0, 1.0)])
    (1.0, 0.0)
    """
    correct = sum(row[0] for row in counts)
    predicted = sum(row[1] for row in counts)
    expected = sum(row[2] for row in counts)
    precision = correct / predicted if predicted else float(expected == 0)
    recall = correct / expected if expected else 1.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_turns(
    turns: list[Prompt],
    predictions: Sequence[tuple[str, int]],
    rewards: RewardConfig,
    *,
    max_new_tokens: int | None,
) -> list[dict[str, Any]]:
    """Each turn's record (`score_record`) for its predicted (completion text, completion tokens).

    A completion of at least `max_new_tokens` tokens counts as cut (None: no limit, as for the oracle's
    replayed references).
    """
    return [
        score_record(
            turn,
            text,
            tokens,
            rewards,
            truncated=max_new_tokens is not None and tokens >= max_new_tokens,
        )
        for turn, (text, tokens) in zip(turns, predictions, strict=True)
    ]


def score_record(
    turn: Prompt, text: str, tokens: int, rewards: RewardConfig, *, truncated: bool = False
) -> dict[str, Any]:
    """One turn's record in the results document: its prediction, its metrics and its reward components.

    `truncated`: the completion used all of `max_new_tokens` (format 0, as in the reward).
    """
    action = parse_action(text)
    values, reward = score_turn_and_reward(
        action,
        turn.action,
        turn.tools,
        completion_tokens=tokens,
        rewards=rewards,
        answer_metric=turn.answer_metric,
        truncated=truncated,
    )
    return {
        "id": turn.id,
        "conversation_id": turn.conversation_id,
        "turn_index": turn.turn_index,
        "domain": turn.meta.get("domain", ""),
        "phenomena": turn.meta.get("phenomena", []),
        "reference": turn.reference,
        "completion": text,
        "problems": action.problems + (["cut at max_new_tokens"] if truncated else []),
        "metrics": values,
        "components": reward.components,
    }

"""The combined reward: a weighted mean of the components that apply to the turn.

A turn whose reference calls tools is scored by `format`, `call`, `tool_name`, `tool_args` and `tool_exact`; a
turn whose reference answers (no tool needed, or asking for missing information) by `format`, `no_call` and
`answer`. The total is the weighted mean over the applicable components, so it lies in [0, 1] for both kinds of
turn and a component that does not apply neither rewards nor punishes. Every component is returned by name for logging.
The default weights follow the paper (tool accuracy and answer correctness, with a small format term).

`preset` chooses how the components make the total (docs/evaluation.md has the table):
- `weighted` (the default): the weighted mean above.
- `toolrl` (ToolRL, arXiv 2504.13958): a format term that asks for the reference's kind of turn (a well-formed
  call where a call is due, a well-formed answer where an answer is), plus a correctness term in [-3, 3]: on call
  turns 6 · (name Jaccard + per-call key Jaccard + matching values) / (1 + reference calls + reference
  arguments) − 3, on answer turns 6 · answer − 3; the wrong kind of turn scores −3, the lowest. The sum, in
  [-3, 4], is mapped onto [0, 1] as (sum + 3) / 7.
- `binary` (Tool-N1, arXiv 2505.00024): 1 for a well-formed action whose calls equal the reference's exactly,
  else 0; on answer turns the format term times `no_call` times the answer's text score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from thinkact.errors import UserError, check_choice
from thinkact.parse import Action
from thinkact.rewards import components as c

CALL_COMPONENTS = ("format", "call", "tool_name", "tool_args", "tool_exact")
ANSWER_COMPONENTS = ("format", "no_call", "answer")
COMPONENTS = ("format", "call", "tool_name", "tool_args", "tool_exact", "no_call", "answer")
PRESETS = ("weighted", "toolrl", "binary")


@dataclass
class RewardConfig:
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "format": 0.1,
            "call": 0.0,
            "tool_name": 0.2,
            "tool_args": 0.3,
            "tool_exact": 0.4,
            "no_call": 0.4,
            "answer": 0.5,
        }
    )
    """Weight of each component; a component left out weighs 0. Names: format, call, tool_name, tool_args,
    tool_exact, no_call, answer. `call` (any call where one is due; 0 by default, the paper's weights) is the
    counterpart of `no_call`: without it a wrong call and an answer score the same on a call turn."""
    require_think: bool = True
    """The format component requires a non-empty <think> block first."""
    answer_metric: str = "f1"
    """Text score of answers: exact, f1 or rougeL (a conversation's meta.answer_metric overrides it)."""
    preset: str = "weighted"
    """How the components make the total: weighted (the weighted mean of `weights`), toolrl (ToolRL's format by
    kind of turn plus fine-grained name, key and value matching, the wrong kind of turn lowest) or binary
    (Tool-N1: 1 only for a well-formed, exactly right action). `weights` apply to weighted alone."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise UserError(
                f"rewards.weights: unknown component(s) {unknown}; choose from {list(COMPONENTS)}"
            )
        for name, weight in self.weights.items():
            if not (isinstance(weight, int | float) and math.isfinite(weight) and weight >= 0):
                raise UserError(f"rewards.weights.{name}: {weight!r}; weights must be finite numbers >= 0")
        for kind, names in (("call", CALL_COMPONENTS), ("answer", ANSWER_COMPONENTS)):
            if sum(self.weights.get(name, 0.0) for name in names) <= 0:
                raise UserError(
                    f"rewards.weights: give at least one of {list(names)} a positive weight ({kind} turns)"
                )
        check_choice("rewards.answer_metric", self.answer_metric, c.TEXT_METRICS)
        check_choice("rewards.preset", self.preset, PRESETS)


@dataclass
class Reward:
    total: float
    components: dict[str, float]


def score_action(
    action: Action,
    reference: Action,
    tools: list[dict[str, Any]],
    config: RewardConfig,
    *,
    answer_metric: str | None = None,
    truncated: bool = False,
) -> Reward:
    """Score one action against its reference; `components` holds only the components that apply.

    `truncated` (cut at the token limit) sets the format component to 0.

    >>> from thinkact.parse import ToolCall
    >>> ref = Action(think="t", tool_calls=[ToolCall("w", {"city": "Oslo"})])
    >>> score_action(Action(think="t", tool_calls=[ToolCall("w", {"city": "oslo"})]), ref, [], RewardConfig()).total
    1.0
    >>> r = score_action(Action(think="", tool_calls=[ToolCall("w", {"city": "Rome"})]), ref, [], RewardConfig())
    >>> r.components
    {'format': 0.0, 'call': 1.0, 'tool_name': 1.0, 'tool_args': 0.0, 'tool_exact': 0.0}
    >>> round(r.total, 3)
    0.2
    """
    metric = answer_metric or config.answer_metric
    if reference.tool_calls:
        components = {
            "format": c.score_format(
                action, reference, tools, require_think=config.require_think, truncated=truncated
            ),
            "call": c.score_call(action, reference, tools),
            "tool_name": c.score_tool_name(action, reference, tools),
            "tool_args": c.score_tool_args(action, reference, tools),
            "tool_exact": c.score_tool_exact(action, reference, tools),
        }
    else:
        components = {
            "format": c.score_format(
                action, reference, tools, require_think=config.require_think, truncated=truncated
            ),
            "no_call": c.score_no_call(action, reference, tools),
            "answer": c.score_answer(action, reference, tools, metric=metric),
        }
    if config.preset == "toolrl":
        return Reward(total=toolrl_total(action, reference, tools, components), components=components)
    if config.preset == "binary":
        return Reward(total=binary_total(components), components=components)
    weights = {name: config.weights.get(name, 0.0) for name in components}
    total = sum(weights[name] * value for name, value in components.items()) / sum(weights.values())
    return Reward(total=total, components=components)


def binary_total(components: dict[str, float]) -> float:
    """Tool-N1's reward from the turn's components: format × exact calls on call turns; format × no_call × the
    answer's text score on answer turns.

    >>> binary_total({"format": 1.0, "call": 1.0, "tool_name": 1.0, "tool_args": 0.5, "tool_exact": 0.0})
    0.0
    >>> binary_total({"format": 1.0, "call": 1.0, "tool_name": 1.0, "tool_args": 1.0, "tool_exact": 1.0})
    1.0
    >>> binary_total({"format": 1.0, "no_call": 1.0, "answer": 0.6})
    0.6
    """
    if "tool_exact" in components:
        return components["format"] * components["tool_exact"]
    return components["format"] * components["no_call"] * components["answer"]


def toolrl_total(
    action: Action, reference: Action, tools: list[dict[str, Any]], components: dict[str, float]
) -> float:
    """ToolRL's format + correctness, (sum + 3) / 7 (see the module docstring).

    A call turn with one reference call of two arguments, S_max = 1 + 1 + 2 = 4:

    >>> from thinkact.parse import ToolCall
    >>> ref = Action(think="t", tool_calls=[ToolCall("w", {"city": "Oslo", "days": 2})])
    >>> comps = {"format": 1.0}
    >>> exact = Action(think="t", tool_calls=[ToolCall("w", {"city": "Oslo", "days": 2})])
    >>> toolrl_total(exact, ref, [], comps)  # format 1, correctness 6 * 4/4 - 3 = 3: (1 + 3 + 3) / 7
    1.0
    >>> one_value = Action(think="t", tool_calls=[ToolCall("w", {"city": "Rome", "days": 2})])
    >>> round(toolrl_total(one_value, ref, [], comps), 4)  # name 1 + keys 1 + values 1 = 3: 6 * 3/4 - 3 = 1.5
    0.7857
    >>> toolrl_total(Action(think="t", content="Sunny."), ref, [], comps)  # wrong kind: format 0, -3
    0.0
    >>> answer_ref = Action(think="t", content="It is sunny.")
    >>> round(toolrl_total(Action(think="t", content="Sunny."), answer_ref, [], {"format": 1.0, "answer": 0.5}), 4)
    0.5714
    """
    kind_right = bool(action.tool_calls) == bool(reference.tool_calls)
    format_term = components["format"] if kind_right else 0.0
    if not kind_right:
        return (format_term - 3.0 + 3.0) / 7.0
    if not reference.tool_calls:
        correctness = 6.0 * components["answer"] - 3.0
    else:
        correctness = 6.0 * _toolrl_match(action, reference, tools) - 3.0
    return (format_term + correctness + 3.0) / 7.0


def _toolrl_match(action: Action, reference: Action, tools: list[dict[str, Any]]) -> float:
    """ToolRL's R_sum / S_max in [0, 1]: the Jaccard of call names, per matched call the Jaccard of its argument
    keys and the count of its exactly equal values, over 1 + reference calls + reference arguments."""
    predicted = {call.name for call in action.tool_calls}
    expected = {call.name for call in reference.tool_calls}
    name = len(predicted & expected) / len(predicted | expected)
    properties = c.properties_by_tool(tools)
    keys = values = 0.0
    for guess, truth, _ in c.match_calls(action.tool_calls, reference.tool_calls, tools):
        union = set(guess.arguments) | set(truth.arguments)
        keys += len(set(guess.arguments) & set(truth.arguments)) / len(union) if union else 1.0
        schema = properties.get(truth.name, {})
        values += sum(
            1
            for key, value in truth.arguments.items()
            if key in guess.arguments and c.values_equal(guess.arguments[key], value, schema.get(key, {}))
        )
    most = 1 + len(reference.tool_calls) + sum(len(call.arguments) for call in reference.tool_calls)
    return (name + keys + values) / most

"""The combined reward: a weighted mean of the components that apply to the turn.

A turn whose reference calls tools is scored by `format`, `call`, `tool_name`, `tool_args` and `tool_exact`; a
turn whose reference answers (no tool needed, or asking for missing information) by `format`, `no_call` and
`answer`. The total is the weighted mean over the applicable components, so it lies in [0, 1] for both kinds of
turn and a component that does not apply neither rewards nor punishes. Every component is returned by name for logging.
The default weights follow the paper (tool accuracy and answer correctness, with a small format term).
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
    weights = {name: config.weights.get(name, 0.0) for name in components}
    total = sum(weights[name] * value for name, value in components.items()) / sum(weights.values())
    return Reward(total=total, components=components)

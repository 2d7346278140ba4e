"""Episode rewards: a whole multi-step attempt (calls executed, then an answer) against the reference segment, or
against the whole conversation when a simulated user plays it to its end (`rollout/users.py`).

Components, each in [0, 1]:
- `calls`: F1 between the episode's calls and the reference's, a call counting as matched only when name and
  normalised arguments are equal (order-insensitive; 1 when neither side calls anything);
- `answer`: the answer score of the episode's final answer (0 when it never answered);
- `state`: 1 when the environment ended in the reference's final state;
- `format`: the share of the episode's steps that parsed without problems (and with thinking, if required).
The combined reward is their weighted mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from thinkact.errors import UserError
from thinkact.parse import Action, ToolCall
from thinkact.rewards import components as c
from thinkact.rewards.combine import Reward

EPISODE_COMPONENTS = ("calls", "answer", "state", "format")


@dataclass
class EpisodeRewardConfig:
    weights: dict[str, float] = field(
        default_factory=lambda: {"calls": 0.4, "answer": 0.3, "state": 0.2, "format": 0.1}
    )
    """Weight of each episode component: calls, answer, state, format."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(EPISODE_COMPONENTS))
        if unknown:
            raise UserError(
                f"episode_rewards.weights: unknown {unknown}; choose from {list(EPISODE_COMPONENTS)}"
            )
        if (
            not all(math.isfinite(w) and w >= 0 for w in self.weights.values())
            or sum(self.weights.values()) <= 0
        ):
            raise UserError(
                "episode_rewards.weights: weights must be finite numbers >= 0 with a positive sum"
            )


def score_call_f1(predicted: list[ToolCall], expected: list[ToolCall], tools: list[dict[str, Any]]) -> float:
    """F1 over exactly matching calls.

    >>> a, b = ToolCall("f", {"x": 1}), ToolCall("g", {})
    >>> score_call_f1([a, ToolCall("g", {"y": 2})], [a, b], [])
    0.5
    >>> score_call_f1([], [], [])
    1.0
    """
    if not predicted and not expected:
        return 1.0
    exact = sum(1 for _, _, score in c.match_calls(predicted, expected, tools) if score == 1.0)
    if exact == 0:
        return 0.0
    precision, recall = exact / len(predicted), exact / len(expected)
    return 2 * precision * recall / (precision + recall)


def score_episode(
    steps: list[Action],
    reference_calls: list[ToolCall],
    reference_answer: Action | None,
    state_matches: bool,
    tools: list[dict[str, Any]],
    config: EpisodeRewardConfig,
    *,
    require_think: bool = True,
    answer_metric: str = "f1",
) -> Reward:
    """The episode's reward with each component by name.

    >>> ref_call = ToolCall("get", {"id": 1})
    >>> steps = [Action(think="t", tool_calls=[ref_call]), Action(think="t", content="It is 5.")]
    >>> r = score_episode(steps, [ref_call], Action(content="It is 5."), True, [], EpisodeRewardConfig())
    >>> r.total, r.components
    (1.0, {'calls': 1.0, 'answer': 1.0, 'state': 1.0, 'format': 1.0})
    """
    calls = [call for step in steps for call in step.tool_calls]
    final = steps[-1] if steps else Action()
    answered = bool(steps) and not final.tool_calls
    if reference_answer is None:
        answer = 1.0 if not answered else 0.0
    else:
        answer = c.score_answer(final, reference_answer, tools, metric=answer_metric) if answered else 0.0
    components = {
        "calls": score_call_f1(calls, reference_calls, tools),
        "answer": answer,
        "state": float(state_matches),
        "format": sum(c.score_format(s, Action(), tools, require_think=require_think) for s in steps)
        / len(steps)
        if steps
        else 0.0,
    }
    weights = {name: config.weights.get(name, 0.0) for name in components}
    total = sum(weights[name] * value for name, value in components.items()) / sum(weights.values())
    return Reward(total=total, components=components)

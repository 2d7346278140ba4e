"""Judging one sampled completion against its reference action, and the hint a retried turn's prompt carries.

Left out: sampling and what is kept per turn (`sampling.py`, `data.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from thinkact.parse import Action
from thinkact.rewards.components import score_answer, score_tool_exact


@dataclass
class Verdict:
    """What became of one sampled completion."""

    kept: bool
    reason: str
    """Why it was rejected (one of `REASONS`); "kept" when kept."""
    action: Action
    score: float = 0.0
    """tool_exact for call turns, the answer score for answer turns."""


REASONS = (
    "cut at max_new_tokens",
    "malformed",
    "no thinking",
    "calls differ",
    "called a tool",
    "answered instead of calling",
    "answer below threshold",
    "surplus",
)
"""Why samples go unused; "surplus": right, but the turn already has `max_per_turn` kept (or the same thinking)."""


def judge_sample(
    action: Action,
    truncated: bool,
    reference: Action,
    tools: list[dict[str, Any]],
    *,
    metric: str,
    threshold: float,
) -> Verdict:
    """Keep or reject one parsed sample against its reference action.

    >>> from thinkact.parse import parse_action
    >>> ref = parse_action('<tool_call>{"name": "w", "arguments": {"city": "Oslo"}}</tool_call>')
    >>> good = parse_action('<think>Oslo.</think><tool_call>{"name": "w", "arguments": {"city": "oslo"}}</tool_call>')
    >>> judge_sample(good, False, ref, [], metric="f1", threshold=0.8).kept
    True
    >>> judge_sample(parse_action('<think>x</think><tool_call>{"name": "w"'), False, ref, [], metric="f1",
    ...     threshold=0.8).reason
    'malformed'
    """
    if truncated:
        return Verdict(False, "cut at max_new_tokens", action)
    if action.problems:
        return Verdict(False, "malformed", action)
    if not (action.think or "").strip():
        return Verdict(False, "no thinking", action)
    if reference.tool_calls:
        if not action.tool_calls:
            return Verdict(False, "answered instead of calling", action)
        exact = score_tool_exact(action, reference, tools)
        return Verdict(exact == 1.0, "kept" if exact == 1.0 else "calls differ", action, exact)
    if action.tool_calls:
        return Verdict(False, "called a tool", action)
    score = score_answer(action, reference, tools, metric=metric)
    kept = score >= threshold
    return Verdict(kept, "kept" if kept else "answer below threshold", action, score)


def hint_text(reference: Action) -> str:
    """The hint a retried turn's prompt carries: the reference action in words.

    >>> from thinkact.parse import ToolCall
    >>> 'call get_weather with arguments {"city": "Oslo"}' in hint_text(
    ...     Action(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]))
    True
    """
    if reference.tool_calls:
        calls = "; ".join(
            f"{call.name} with arguments {json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)}"
            for call in reference.tool_calls
        )
        step = f"to call {calls}"
    else:
        step = f"to answer: {json.dumps(reference.content, ensure_ascii=False)}"
    return (
        f"Hint for this reply only: the correct next step is {step}. Think it through step by step as if you had "
        "worked it out yourself, then take that step."
    )


def hinted_messages(messages: list[dict[str, Any]], reference: Action) -> list[dict[str, Any]]:
    """The history with the hint at the end of the system message (or in a new one when there is none)."""
    hint = hint_text(reference)
    if messages and messages[0]["role"] == "system":
        system = messages[0]
        content = (system.get("content") or "").rstrip()
        return [{**system, "content": f"{content}\n\n{hint}" if content else hint}, *messages[1:]]
    return [{"role": "system", "content": hint}, *messages]

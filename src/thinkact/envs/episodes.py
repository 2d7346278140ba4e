"""Episodes against an environment: run calls into tool messages, replay a conversation's reference calls, and
compare final states, so an episode's success can include "the world ended as in the reference".

Left out: the policy loop itself (generation lives in `rollout/`); this module only executes calls it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.envs.base import Environment
from thinkact.envs.registry import make_environment
from thinkact.parse import ToolCall


@dataclass
class Replay:
    """The tool messages the reference calls produced, in order, and the final state they left."""

    results: list[dict[str, Any]]
    final_state: dict[str, Any]


def tool_messages(env: Environment, calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
    """Execute calls in order; one chat-format tool message per call."""
    return [{"role": "tool", "name": call.name, "content": env.execute(call)} for call in calls]


def reference_calls(message: dict[str, Any]) -> list[ToolCall]:
    """The calls of one assistant message (arguments already objects, as `read_conversations` leaves them)."""
    calls = []
    for entry in message.get("tool_calls") or []:
        function = entry.get("function", entry)
        calls.append(ToolCall(function["name"], dict(function.get("arguments") or {})))
    return calls


def replay(conversation: Conversation) -> Replay:
    """Run every reference call of `conversation` in a fresh environment from its initial state."""
    env = make_environment(conversation.meta)
    results: list[dict[str, Any]] = []
    for message in conversation.messages:
        if message["role"] == "assistant":
            results.extend(tool_messages(env, reference_calls(message)))
    return Replay(results=results, final_state=env.snapshot())


def replay_reference(conversation: Conversation) -> dict[str, Any]:
    """The final state after a conversation's reference calls, run in a fresh environment."""
    return replay(conversation).final_state


def diff_states(actual: Any, expected: Any, where: str = "state") -> list[str]:
    """Where two states differ, as 'path: actual != expected' lines; empty when they are equal.

    >>> diff_states({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}})
    ['state.a.c: 2 != 3']
    >>> diff_states({"seats": 4}, {"seats": 4.0})
    []
    """
    if isinstance(actual, dict) and isinstance(expected, dict):
        lines = []
        for key in sorted(set(actual) | set(expected)):
            if key not in actual or key not in expected:
                lines.append(f"{where}.{key}: {'missing' if key not in actual else 'unexpected'}")
            else:
                lines.extend(diff_states(actual[key], expected[key], f"{where}.{key}"))
        return lines
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [
            line
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for line in diff_states(a, e, f"{where}[{i}]")
        ]
    return [] if actual == expected else [f"{where}: {actual!r} != {expected!r}"]

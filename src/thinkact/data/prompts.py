"""Prompts: a conversation turned, once, into what training, evaluation and chat start an episode from.

A `Prompt` is the history the policy sees, the tools it may call, and the reference it is scored against, with
the reference parsed once (`action`) and the conversation's `meta.answer_metric` already resolved against the
caller's default (`answer_metric`). Two kinds come from one conversation:

- turn prompts (`turn_prompts`): the history before each assistant message, that message the reference (the
  per-step split of Tool-N1); messages marked `"score": false` are left out (`TurnExample.scored`, which SFT's
  examples also go by), while episode prompts keep them;
- episode prompts (`episode_prompts`): the history before an assistant message that follows a user message,
  with the environment's state there and the reference *segment* up to the next user message (its calls, its
  final answer, the state it leaves). With `whole=True` there is one prompt per conversation, from its first assistant
  message to its end: the reference is then the whole conversation's calls, final answer and final state, and
  `feeds` holds the later user messages a simulated user may draw on (`rollout/users.py`).

This module holds the type; the builders (`turn_prompts`, `episode_prompts`) live in `envs/prompts.py`, because
a prompt's states come from replaying the reference's calls in the conversation's environment. Left out:
tokenising (the policy's chat template does that when an episode begins, `rollout/loop.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinkact.data.conversations import Conversation, TurnExample
from thinkact.parse import Action, ToolCall


@dataclass
class Prompt(TurnExample):
    """Where an episode starts and what it is scored against (a `TurnExample` with its reference parsed)."""

    action: Action = field(default_factory=Action)
    """The reference action of the assistant message that follows the history, parsed once."""
    answer_metric: str = "f1"
    """The conversation's `meta.answer_metric`, or the caller's default."""
    conversation: Conversation | None = None
    """The conversation the prompt comes from (simulated users and records read it)."""
    start_state: dict[str, Any] = field(default_factory=dict)
    """Episode prompts: the environment's state when the history ends."""
    reference_calls: list[ToolCall] = field(default_factory=list)
    """Episode prompts: every reference call from here to the end of the segment (or conversation)."""
    reference_answer: Action | None = None
    """Episode prompts: the reference's last answer in the segment (None when it ends on calls)."""
    final_state: dict[str, Any] = field(default_factory=dict)
    """Episode prompts: the state the reference leaves at the end of the segment (or conversation)."""
    feeds: list[list[dict[str, Any]]] = field(default_factory=list)
    """Whole-conversation prompts: the reference's later user messages, one block per user turn."""
    asked: list[bool] = field(default_factory=list)
    """Per block of `feeds`: whether it answers a question the reference assistant asked (missing information)."""

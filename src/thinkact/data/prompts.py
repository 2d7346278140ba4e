"""Prompts: a conversation turned, once, into what training, evaluation and chat start an episode from.

A `Prompt` is the history the policy sees, the tools it may call, and the reference it is scored against, with
the reference parsed once (`action`) and the conversation's `meta.answer_metric` already resolved against the
caller's default (`answer_metric`). Two kinds come from one conversation:

- turn prompts (`turn_prompts`): the history before each assistant message, that message the reference (the
  per-step split of Tool-N1); messages marked `"score": false` are left out here and nowhere else;
- episode prompts (`episode_prompts`): the history before an assistant message that follows a user message,
  with the environment's state there and the reference *segment* up to the next user message (its calls, its
  final answer, the state it leaves). With `whole=True` there is one prompt per conversation, from its first assistant
  message to its end: the reference is then the whole conversation's calls, final answer and final state, and
  `feeds` holds the later user messages a simulated user may draw on (`rollout/users.py`).

Left out: tokenising (the policy's chat template does that when an episode begins, `rollout/loop.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thinkact.data.conversations import Conversation, TurnExample, split_turns
from thinkact.envs import make_environment, reference_calls, tool_messages
from thinkact.parse import Action, ToolCall, action_from_message


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


def turn_prompts(
    conversations: Iterable[Conversation], *, answer_metric: str = "f1", states: bool = False
) -> list[Prompt]:
    """One prompt per scored assistant message (`"score": false` messages left out).

    With `states`, each prompt's `start_state` is the state the history's reference calls leave (the
    conversation's `meta.domain` must name its environment).
    """
    prompts = []
    for conversation in conversations:
        metric = _answer_metric(conversation, answer_metric)
        env = make_environment(conversation.meta, time_limit_s=None) if states else None
        for turn in split_turns(conversation):
            start_state = {} if env is None else env.snapshot()
            if env is not None:
                tool_messages(env, reference_calls(turn.reference))
            if turn.reference.get("score") is False:
                continue
            prompts.append(
                Prompt(
                    **vars(turn),
                    action=action_from_message(turn.reference),
                    answer_metric=metric,
                    conversation=conversation,
                    start_state=start_state,
                )
            )
    return prompts


def episode_prompts(
    conversation: Conversation, *, whole: bool = False, answer_metric: str = "f1"
) -> list[Prompt]:
    """One prompt per assistant turn that follows a user message (its reference segment runs to the next user
    message), or with `whole` one prompt for the conversation from its first assistant message to its end."""
    env = make_environment(conversation.meta, time_limit_s=None)  # reference calls are trusted
    metric = _answer_metric(conversation, answer_metric)
    messages = conversation.messages
    prompts: list[Prompt] = []
    pending: Prompt | None = None
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "user" and pending is not None and not whole:
            pending.final_state = env.snapshot()
            prompts.append(pending)
            pending = None
        if role == "user" and pending is not None and whole:
            previous = messages[index - 1]
            if previous["role"] == "user":
                pending.feeds[-1].append(message)
            else:
                pending.feeds.append([message])
                pending.asked.append(_is_question(previous))
        if role != "assistant":
            continue
        if pending is None and (whole or (index > 0 and messages[index - 1]["role"] == "user")):
            pending = Prompt(
                id=f"{conversation.id}#{index}",
                conversation_id=conversation.id,
                turn_index=index,
                messages=messages[:index],
                tools=conversation.tools,
                reference=message,
                meta=conversation.meta,
                action=action_from_message(message),
                answer_metric=metric,
                conversation=conversation,
                start_state=env.snapshot(),
            )
        calls = reference_calls(message)
        tool_messages(env, calls)
        if pending is not None:
            pending.reference_calls.extend(calls)
            if not calls:
                pending.reference_answer = action_from_message(message)
            elif whole:
                pending.reference_answer = None  # the conversation goes on after its answers
    if pending is not None:
        pending.final_state = env.snapshot()
        prompts.append(pending)
    if whole and prompts and isinstance(conversation.meta.get("final_state"), dict):
        prompts[0].final_state = dict(conversation.meta["final_state"])
    return prompts


def all_episode_prompts(
    conversations: Iterable[Conversation], *, whole: bool = False, answer_metric: str = "f1"
) -> list[Prompt]:
    return [
        prompt
        for conversation in conversations
        for prompt in episode_prompts(conversation, whole=whole, answer_metric=answer_metric)
    ]


def _is_question(message: dict[str, Any]) -> bool:
    """Whether an assistant message asks the user something (an answer, without calls, with a question mark)."""
    return (
        message["role"] == "assistant"
        and not message.get("tool_calls")
        and "?" in (message.get("content") or "")
    )


def _answer_metric(conversation: Conversation, default: str) -> str:
    """The one place `meta.answer_metric` overrides the configured metric."""
    return str(conversation.meta.get("answer_metric") or default)

"""Building prompts from conversations: turn prompts and episode prompts, with the environment's states.

A conversation becomes prompts once (`data/prompts.py` holds the `Prompt` type): `turn_prompts` gives one per
scored assistant message, `episode_prompts` one per assistant turn after a user message (or, with `whole=True`,
one per conversation). The states a prompt starts from and the reference leaves come from replaying the
reference's calls in the conversation's environment (trusted calls: no time limit). Left out: running the policy
(`rollout/`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thinkact.data.conversations import Conversation, split_turns
from thinkact.data.prompts import Prompt
from thinkact.envs.episodes import reference_calls, tool_messages
from thinkact.envs.registry import make_environment
from thinkact.parse import action_from_message


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
            if not turn.scored:
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

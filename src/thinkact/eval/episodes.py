"""The episode view: each test conversation replayed with the policy in its environment, tools really executed.

An episode starts from the conversation's messages before its first assistant message (system prompt and the
user's request). At each step every unfinished episode gets one completion (batched across conversations); its
calls run in the conversation's environment (`envs.make_environment(meta)`, from `meta.initial_state`) and come
back as tool messages. A user turn ends when the policy answers (a step without calls) or after `max_steps`
steps; the next user message of the reference is then fed, whatever the policy said, and the episode ends after
the last one. The reference's own tool results are never shown to the policy.

An episode succeeds when three things hold (DESIGN.md, "Metrics"):

- `calls_made`: every reference call was made: each matched by an executed call with the same name and equal
  arguments (normalised as in `tool_exact`); extra calls do not fail it, but the state check catches the
  harmful ones;
- `answer_correct`: the episode's last step is an answer whose answer score against the reference's final answer
  is at least `ANSWER_THRESHOLD` (0.5; text score averaged with fact recall, as in the `answer` reward);
- `state_match`: the environment's final snapshot equals `meta["final_state"]` (`envs.diff_states`), or the state
  the reference calls leave when the conversation does not record one.

Also reported per episode: `call_recall` (share of reference calls made), `extra_calls`, `answer` (the score),
`steps`, `truncated` (a user turn hit `max_steps`) and `thinking` (share of steps with a think block).
Left out: sampling several episodes per conversation (greedy decoding only) and user simulators: the user's
later messages are the reference's, which assumes the policy stayed on the reference's path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.envs import Environment, diff_states, make_environment, reference_calls, replay_reference
from thinkact.eval.metrics import ANSWER_THRESHOLD
from thinkact.parse import Action, ToolCall, action_from_message, parse_action, render_action
from thinkact.rewards import components as c

DEFAULT_MAX_STEPS = 4
"""Policy steps per user turn before the turn is cut off."""


@dataclass
class Episode:
    """One conversation being replayed: the transcript the policy sees and where it stands."""

    conversation: Conversation
    environment: Environment
    messages: list[dict[str, Any]]
    """The transcript so far: reference system and user messages, the policy's actions, executed results."""
    feeds: list[list[dict[str, Any]]]
    """The reference's later user messages, fed one block per finished user turn."""
    completions: list[dict[str, Any]] = field(default_factory=list)
    """Per step: the raw completion text, its token count and the parser's problems."""
    calls: list[ToolCall] = field(default_factory=list)
    """Every call the policy made, in order."""
    last_action: Action | None = None
    steps_in_turn: int = 0
    truncated: bool = False
    done: bool = False


EpisodePolicy = Callable[[list[Episode]], list[tuple[str, int]]]
"""One (completion text, completion tokens) per episode, in order."""


def start_episode(conversation: Conversation) -> Episode:
    """The episode's opening transcript and its later user messages, from the reference conversation."""
    messages = conversation.messages
    first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), len(messages))
    feeds: list[list[dict[str, Any]]] = []
    for index in range(first, len(messages)):
        if messages[index]["role"] != "user":
            continue
        if messages[index - 1]["role"] == "user" and feeds:
            feeds[-1].append(messages[index])
        else:
            feeds.append([messages[index]])
    return Episode(
        conversation=conversation,
        environment=make_environment(conversation.meta),
        messages=[dict(message) for message in messages[:first]],
        feeds=feeds,
    )


def advance_episode(episode: Episode, text: str, tokens: int, *, max_steps: int) -> None:
    """Apply one completion: record it, execute its calls, and end the user turn when it is over."""
    action = parse_action(text)
    episode.completions.append({"completion": text, "tokens": tokens, "problems": action.problems})
    message: dict[str, Any] = {"role": "assistant", "content": action.content}
    if action.think is not None:
        message["reasoning_content"] = action.think
    if action.tool_calls:
        message["tool_calls"] = [call.to_message() for call in action.tool_calls]
    episode.messages.append(message)
    episode.last_action = action
    episode.steps_in_turn += 1
    for call in action.tool_calls:
        result = episode.environment.execute(call)
        episode.messages.append({"role": "tool", "name": call.name, "content": result})
        episode.calls.append(call)
    if action.tool_calls and episode.steps_in_turn < max_steps:
        return
    episode.truncated = episode.truncated or bool(action.tool_calls)
    if episode.feeds:
        episode.messages.extend(dict(message) for message in episode.feeds.pop(0))
        episode.steps_in_turn = 0
    else:
        episode.done = True


def run_episodes(
    conversations: list[Conversation],
    policy: EpisodePolicy,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    on_step: Callable[[int, int], None] | None = None,
) -> list[Episode]:
    """Play every conversation to its end, one batched policy step at a time across all unfinished episodes.

    `on_step(finished, total)` is told after each step how many episodes have ended.
    """
    episodes = [start_episode(conversation) for conversation in conversations]
    while active := [episode for episode in episodes if not episode.done]:
        outputs = policy(active)
        for episode, (text, tokens) in zip(active, outputs, strict=True):
            advance_episode(episode, text, tokens, max_steps=max_steps)
        if on_step is not None:
            on_step(sum(episode.done for episode in episodes), len(episodes))
    return episodes


def oracle_policy(episodes: list[Episode]) -> list[tuple[str, int]]:
    """The reference's next assistant message for each episode (a harness self-check: every episode succeeds)."""
    outputs = []
    for episode in episodes:
        references = [m for m in episode.conversation.messages if m["role"] == "assistant"]
        done = sum(1 for m in episode.messages if m["role"] == "assistant")
        text = render_action(action_from_message(references[done])) if done < len(references) else ""
        outputs.append((text, len(text.split())))
    return outputs


def score_episode(episode: Episode, *, answer_metric: str) -> dict[str, float]:
    """The episode's metrics (see the module docstring); `answer_metric` is exact, f1 or rougeL."""
    conversation = episode.conversation
    expected_calls = [
        call
        for message in conversation.messages
        if message["role"] == "assistant"
        for call in reference_calls(message)
    ]
    matches = c.match_calls(episode.calls, expected_calls, conversation.tools)
    exact = sum(1 for _, _, score in matches if score == 1.0)
    call_recall = exact / len(expected_calls) if expected_calls else 1.0
    answer = score_final_answer(episode, answer_metric)
    state_match = not diff_states(episode.environment.snapshot(), find_expected_state(conversation))
    steps = [m for m in episode.messages if m["role"] == "assistant"]
    values = {
        "calls_made": float(call_recall == 1.0),
        "call_recall": call_recall,
        "extra_calls": float(len(episode.calls) - exact),
        "answer_correct": float(answer >= ANSWER_THRESHOLD),
        "answer": answer,
        "state_match": float(state_match),
        "steps": float(len(steps)),
        "truncated": float(episode.truncated),
        "thinking": sum(1.0 for m in steps if (m.get("reasoning_content") or "").strip())
        / max(len(steps), 1),
    }
    values["success"] = float(values["calls_made"] and values["answer_correct"] and state_match)
    return values


def score_final_answer(episode: Episode, answer_metric: str) -> float:
    """Answer score of the episode's last step against the reference's final answer (1.0 when the reference
    ends without an answer, so nothing is required)."""
    references = [m for m in episode.conversation.messages if m["role"] == "assistant"]
    if not references or references[-1].get("tool_calls"):
        return 1.0
    if episode.last_action is None:
        return 0.0
    return c.score_answer(episode.last_action, action_from_message(references[-1]), [], metric=answer_metric)


def find_expected_state(conversation: Conversation) -> dict[str, Any]:
    """`meta["final_state"]`, or the state the reference calls leave when the conversation records none."""
    final_state = conversation.meta.get("final_state")
    return dict(final_state) if isinstance(final_state, dict) else replay_reference(conversation)


def record_episode(episode: Episode, metrics: dict[str, float]) -> dict[str, Any]:
    """A JSON-ready record of one episode for the results document and the report."""
    conversation = episode.conversation
    expected = find_expected_state(conversation)
    return {
        "id": conversation.id,
        "domain": conversation.meta.get("domain", ""),
        "phenomena": list(conversation.meta.get("phenomena", [])),
        "messages": episode.messages,
        "completions": episode.completions,
        "state_diff": diff_states(episode.environment.snapshot(), expected)[:20],
        "metrics": metrics,
    }

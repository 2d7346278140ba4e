"""The episode view: each test conversation replayed with the policy in its environment, tools really executed.

An episode starts from the conversation's messages before its first assistant message (system prompt and the
user's request). At each step every unfinished episode gets one completion (batched across conversations); its
calls run in the conversation's environment (`envs.make_environment(meta)`, from `meta.initial_state`) and come
back as tool messages. A user turn ends when the policy answers (a step without calls), when a generation is cut
at `max_new_tokens`, or after `max_actions` steps; the user then speaks: by default (`scripted`) the reference's
next user message, whatever the policy said, and the episode ends after the last one; `rule` and `model` users
react to what the policy said (`rollout/users.py`). The reference's own tool results are never shown to the
policy. The episodes run in the same loop as training's (`rollout/loop.py`); with a local model each is one token
stream, exactly the tokens a GRPO episode with the same user would hold.

An episode succeeds when three things hold (DESIGN.md, "Metrics"):

- `calls_made`: every reference call was made: each matched by an executed call with the same name and equal
  arguments (normalised as in `tool_exact`); extra calls do not fail it, but the state check catches the
  harmful ones;
- `answer_correct`: the episode's last step is an answer whose answer score against the reference's final answer
  is at least `ANSWER_THRESHOLD` (0.5; text score averaged with fact recall, as in the `answer` reward);
- `state_match`: the environment's final snapshot equals `meta["final_state"]` (`envs.diff_states`), or the state
  the reference calls leave when the conversation does not record one.

Also reported per episode: `call_recall` (share of reference calls made), `extra_calls`, `answer` (the score),
`steps`, `truncated` (a user turn hit `max_actions`, or a generation was cut) and `thinking` (share of steps with
a think block). Left out: sampling several episodes per conversation (greedy decoding only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.data.prompts import Prompt
from thinkact.envs import diff_states, make_environment, replay_reference
from thinkact.envs.prompts import episode_prompts
from thinkact.eval.metrics import ANSWER_THRESHOLD
from thinkact.parse import action_from_message, render_action
from thinkact.rewards import components as c
from thinkact.rollout.episodes import begin_episodes
from thinkact.rollout.loop import Episode, MessageFunction, MessagePolicy, Policy, run_loop
from thinkact.rollout.users import UserConfig

__all__ = ["Episode", "oracle_policy", "record_episode", "run_episodes", "score_episode"]

DEFAULT_MAX_ACTIONS = 4
"""Policy steps per user turn before the turn is cut off."""


def conversation_prompt(conversation: Conversation) -> Prompt:
    """The whole conversation as one episode prompt: the messages before its first assistant message."""
    prompts = episode_prompts(conversation, whole=True)
    if prompts:
        return prompts[0]
    return Prompt(  # no assistant message follows a user message: the policy still gets its turn
        id=conversation.id,
        conversation_id=conversation.id,
        turn_index=len(conversation.messages),
        messages=conversation.messages,
        tools=conversation.tools,
        reference={},
        meta=conversation.meta,
        conversation=conversation,
        start_state=make_environment(conversation.meta, time_limit_s=None).snapshot(),
        final_state=replay_reference(conversation),
    )


def run_episodes(
    conversations: list[Conversation],
    policy: MessageFunction | Policy,
    *,
    max_actions: int = DEFAULT_MAX_ACTIONS,
    on_step: Callable[[int, int], None] | None = None,
    user: UserConfig | None = None,
) -> list[Episode]:
    """Play every conversation to its end, one batched policy step at a time across all unfinished episodes.

    `user` says who speaks after each user turn (default: the reference's next user message, `scripted`).
    `on_step(finished, total)` is told after each step how many episodes have ended.
    """
    user = user or UserConfig(kind="scripted")
    episodes = begin_episodes([conversation_prompt(c) for c in conversations], user=user)
    loop_policy = policy if isinstance(policy, Policy) else MessagePolicy(policy)
    return run_loop(episodes, loop_policy, max_actions=max_actions, on_round=on_step)


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
    prompt = episode.prompt  # the whole conversation's reference, parsed once (`data/prompts.py`)
    expected_calls = prompt.reference_calls
    matches = c.match_calls(episode.calls, expected_calls, prompt.tools)
    exact = sum(1 for _, _, score in matches if score == 1.0)
    call_recall = exact / len(expected_calls) if expected_calls else 1.0
    answer = score_final_answer(episode, answer_metric)
    state_match = not diff_states(_snapshot(episode), prompt.final_state)
    steps = [m for m in episode.messages if m["role"] == "assistant"]
    values = {
        "calls_made": float(call_recall == 1.0),
        "call_recall": call_recall,
        "extra_calls": float(len(episode.calls) - exact),
        "answer_correct": float(answer >= ANSWER_THRESHOLD),
        "answer": answer,
        "state_match": float(state_match),
        "steps": float(len(steps)),
        "truncated": float(episode.capped or episode.truncated),
        "thinking": sum(1.0 for m in steps if (m.get("reasoning_content") or "").strip())
        / max(len(steps), 1),
    }
    values["success"] = float(
        values["calls_made"] and values["answer_correct"] and state_match and episode.failure is None
    )
    values["failed"] = float(episode.failure is not None)
    return values


def score_final_answer(episode: Episode, answer_metric: str) -> float:
    """Answer score of the episode's last step against the reference's final answer (1.0 when the reference
    ends without an answer, so nothing is required)."""
    reference = episode.prompt.reference_answer
    if reference is None:
        return 1.0
    if episode.last_action is None:
        return 0.0
    return c.score_answer(episode.last_action, reference, [], metric=answer_metric)


def record_episode(episode: Episode, metrics: dict[str, float]) -> dict[str, Any]:
    """A JSON-ready record of one episode for the results document and the report."""
    conversation = episode.conversation
    expected = episode.prompt.final_state
    return {
        "id": conversation.id,
        "domain": conversation.meta.get("domain", ""),
        "phenomena": list(conversation.meta.get("phenomena", [])),
        "messages": episode.messages,
        "completions": episode.completions,
        "state_diff": diff_states(_snapshot(episode), expected)[:20],
        "metrics": metrics,
    }


def _snapshot(episode: Episode) -> dict[str, Any]:
    return episode.environment.snapshot() if episode.environment is not None else {}

"""Multi-turn episodes: from a user message the policy acts, its calls run in the environment, the results come
back as tool messages, and it goes on until it answers or reaches `max_turns` steps.

An episode is kept as one token stream: the prompt, then for each step the tokens the policy sampled (loss mask 1)
followed by the tool results and the next assistant header exactly as the chat template renders them (loss
mask 0). The stream is never re-rendered, so the policy is trained on precisely the tokens it produced and saw.
The rendered text between two steps is found by rendering the history with and without the tool messages; a
template for which that is not a clean suffix is refused. Only the text after the assistant's end-of-turn token is
taken, so the step itself is rendered through a stand-in with a non-empty think block: Qwen3's template renders an
empty `reasoning_content` as `<think></think>` on the last turn but drops it on earlier ones, and a step with no
or an empty think block (a policy warmed up without thinking) must not look like a template that rewrites history.

Episode starts come from reference conversations: each assistant turn that follows a user message begins a
segment that runs to the next user message; the segment's calls, final answer and the environment state before
and after it are the reference. Left out: simulated users (the next user message is not generated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.conversations import Conversation
from thinkact.envs import make_environment, reference_calls, tool_messages
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt, render
from thinkact.parse import Action, ToolCall, action_from_message, parse_action
from thinkact.rollout.generation import decode, sample


@dataclass
class EpisodeStart:
    """The history before a segment, the state the environment is in there, and the reference segment."""

    id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    meta: dict[str, Any]
    start_state: dict[str, Any]
    reference_calls: list[ToolCall]
    reference_answer: Action | None
    final_state: dict[str, Any]


@dataclass
class Episode:
    start: EpisodeStart
    prompt_ids: list[int]
    stream_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    steps: list[Action] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tool_trace: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    final_state: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    done: bool = False


def episode_starts(conversation: Conversation) -> list[EpisodeStart]:
    """One start per assistant turn that follows a user message, with its reference segment."""
    env = make_environment(conversation.meta, time_limit_s=None)  # reference calls are trusted
    messages = conversation.messages
    starts: list[EpisodeStart] = []
    pending: EpisodeStart | None = None
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "user" and pending is not None:
            pending.final_state = env.snapshot()
            starts.append(pending)
            pending = None
        if role != "assistant":
            continue
        if index > 0 and messages[index - 1]["role"] == "user":
            pending = EpisodeStart(
                id=f"{conversation.id}#{index}",
                messages=messages[:index],
                tools=conversation.tools,
                meta=conversation.meta,
                start_state=env.snapshot(),
                reference_calls=[],
                reference_answer=None,
                final_state={},
            )
        calls = reference_calls(message)
        tool_messages(env, calls)
        if pending is not None:
            pending.reference_calls.extend(calls)
            if not calls:
                pending.reference_answer = action_from_message(message)
    if pending is not None:
        pending.final_state = env.snapshot()
        starts.append(pending)
    return starts


def run_episodes(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    starts: list[EpisodeStart],
    *,
    group_size: int = 1,
    max_turns: int = 4,
    max_new_tokens: int = 128,
    temperature: float = 1.0,
    top_p: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
    step: int = 0,
) -> list[Episode]:
    """`group_size` episodes per start (grouped in order), each run until it answers or hits `max_turns`."""
    episodes = []
    for start in starts:
        prompt = encode_prompt(tokenizer, start.messages, start.tools)
        for _ in range(group_size):
            episodes.append(Episode(start=start, prompt_ids=prompt, messages=list(start.messages)))
    environments = [
        make_environment({**e.start.meta, "initial_state": e.start.start_state}) for e in episodes
    ]
    for turn in range(max_turns):
        active = [i for i, episode in enumerate(episodes) if not episode.done]
        if not active:
            break
        sampled = sample(
            model,
            tokenizer,
            [episodes[i].prompt_ids + episodes[i].stream_ids for i in active],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=batch_size,
            seed=seed,
            step=step * 1000 + turn,
        )
        for index, group in zip(active, sampled, strict=True):
            _advance(
                episodes[index], environments[index], group[0], tokenizer, last_turn=turn == max_turns - 1
            )
    for episode, env in zip(episodes, environments, strict=True):
        episode.final_state = env.snapshot()
    return episodes


def _advance(
    episode: Episode, env: Any, completion: Any, tokenizer: PreTrainedTokenizerBase, last_turn: bool
) -> None:
    """Append one sampled step; run its calls and append their results, or finish the episode."""
    text = decode(tokenizer, completion.completion_ids)
    action = parse_action(text)
    episode.stream_ids += completion.completion_ids
    episode.loss_mask += [1] * len(completion.completion_ids)
    episode.steps.append(action)
    episode.texts.append(text)
    if completion.truncated:
        episode.truncated = episode.done = True
        return
    if not action.tool_calls or last_turn:
        episode.done = True
        return
    assistant = {
        "role": "assistant",
        "content": action.content,
        "reasoning_content": action.think or "",
        "tool_calls": [call.to_message() for call in action.tool_calls],
    }
    results = tool_messages(env, action.tool_calls)
    episode.tool_trace += [
        {"name": call.name, "arguments": call.arguments, "result": result["content"]}
        for call, result in zip(action.tool_calls, results, strict=True)
    ]
    between = _between_steps(tokenizer, [*episode.messages, assistant], results, episode.start.tools)
    ids = list(tokenizer(between, add_special_tokens=False)["input_ids"])
    episode.stream_ids += ids
    episode.loss_mask += [0] * len(ids)  # tool results and headers: the policy did not write them
    episode.messages += [assistant, *results]


def _between_steps(
    tokenizer: PreTrainedTokenizerBase,
    history: list[dict[str, Any]],
    results: list[dict[str, Any]],
    tools: list[dict[str, Any]],
) -> str:
    """The rendered text after the assistant's end-of-turn token up to the next assistant header."""
    eos = tokenizer.eos_token or ""
    history = [*history[:-1], _with_stand_in_think(history[-1])]
    before = render(tokenizer, history, tools, add_generation_prompt=False)
    after = render(tokenizer, [*history, *results], tools, add_generation_prompt=True)
    cut = before.rfind(eos) + len(eos) if eos and eos in before else len(before)
    if not after.startswith(before[:cut]):
        raise UserError(
            "the chat template renders earlier turns differently once tool results follow, so episodes cannot be "
            "kept as one token stream; use a prefix-preserving template (Qwen3's is)"
        )
    return after[cut:]


def _with_stand_in_think(message: dict[str, Any]) -> dict[str, Any]:
    """The step with a non-empty `reasoning_content`, so that it renders alike whether or not it is the last turn.

    Only the text after its end-of-turn token is kept, so what stands in for the thinking never enters the stream.
    """
    if (message.get("reasoning_content") or "").strip():
        return message
    return {**message, "reasoning_content": "(no thinking)"}

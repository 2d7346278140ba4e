"""The episode loop: the one place where a policy acts, its calls run, and users answer.

Training (`rollout/episodes.py`, GRPO in both modes), evaluation (`eval/episodes.py`) and chat (`chat.py`) all
drive `run_loop`. Each round, every unfinished episode gets one step from the policy (batched across episodes);
the step's action is appended as a message (`Action.to_message`); its calls run in the episode's environment and
come back as tool messages, and the policy goes on — until it answers, a generation is cut at `max_new_tokens`,
or the turn has used `max_actions` steps. When a user turn is over, the episode's user (`rollout/users.py`) gives
the next user message, or ends the episode. Turn mode is this loop with `max_actions=1`, no environment and no
user.

A policy is one of:

- `SamplingPolicy`: a local model. The episode is kept as one token stream: the prompt, then per step the tokens
  the policy sampled (loss mask 1), then what the chat template renders for the messages that follow (tool
  results, a user message) and the next assistant header (loss mask 0). The stream is never re-rendered, so
  training, evaluation and chat all see exactly the tokens the policy produced (`rollout/stream.py`). A cut step
  (no end-of-turn token) is closed with the template's end-of-turn text before anything follows. Should the
  template render what follows a step in a way the stream cannot hold, the episode ends there as a failure
  (`Episode.failure`, `STREAM_MISMATCH`) and its transcript is cut back to what the stream holds. Each
  episode's KV cache is kept from one round to the next (`Sampling.reuse_cache`, `_StreamCache`): a step
  computes only the tokens its stream gained since the last. An episode's `prefix_ids` (GRPO's prefix-guided
  members) are forced into the stream before its first step, with loss mask 0, and the step continues from them.
- `MessagePolicy`: any function from episodes to completion texts (an API endpoint, the oracle, a test's
  script); it reads `episode.messages`, which the loop keeps in the chat format.

Left out: streaming tokens to the screen, and asynchronous users (a user answers within the round).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.prompts import Prompt
from thinkact.envs import Environment, tool_messages
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt
from thinkact.parse import Action, ToolCall, parse_action
from thinkact.rollout.generation import Completion, Streams, continue_streams, decode, sample, start_streams
from thinkact.rollout.stream import StreamMismatch, between_text

STREAM_MISMATCH = "stream_mismatch"
"""The named failure of an episode whose token stream could not hold what followed a step (`Episode.failure`)."""


@dataclass
class Step:
    """One generation: its text, its token count, its ids (token policies) and why it ended."""

    text: str
    tokens: int
    ids: list[int] | None = None
    truncated: bool = False
    """Cut at max_new_tokens before the end-of-turn token: the episode ends (its turn never closed)."""
    interrupted: bool = False
    """The generation was stopped from outside (Ctrl-C in chat): no action, the turn passes to the user."""


@dataclass
class Episode:
    """One episode in the loop: the transcript, the token stream, and where it stands."""

    prompt: Prompt
    messages: list[dict[str, Any]]
    """The transcript in the chat format: the prompt's history, the policy's actions, results, user turns."""
    environment: Environment | None = None
    """Where calls run (None: calls are not executed, as in turn mode)."""
    user: Any = None
    """Gives the next user message when a turn is over (`rollout/users.py`); None: the episode ends there."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    prompt_ids: list[int] = field(default_factory=list)
    prefix_ids: list[int] = field(default_factory=list)
    """Forced tokens (a prefix of the reference turn, GRPO's prefix-guided members): a token policy puts them at
    the start of the stream before the first step (loss mask 0) and the first step continues from them; its text
    and action then include them."""
    stream_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    steps: list[Action] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    """Per step: the raw completion text, its token count and the parser's problems."""
    calls: list[ToolCall] = field(default_factory=list)
    """Every call the policy made and the loop executed, in order."""
    tool_trace: list[dict[str, Any]] = field(default_factory=list)
    steps_in_turn: int = 0
    user_turns: int = 0
    """User messages (blocks) the user gave after the prompt."""
    turn_capped: bool = False
    """The turn that just ended used all `max_actions` steps without answering."""
    open_turn: bool = False
    """The last step did not close its turn (cut at max_new_tokens, or interrupted)."""
    capped: bool = False
    """Some turn used all `max_actions` steps without answering."""
    truncated: bool = False
    done: bool = False
    failure: str | None = None
    """Why the episode ended as a failure, starting with its name (`STREAM_MISMATCH`: the chat template rendered
    what followed a step in a way the token stream could not hold); None for an episode that ran its course. The
    step it ended after has the same text as its last problem (an interrupted step, which has no record, none)."""

    @property
    def conversation(self) -> Any:
        return self.prompt.conversation

    @property
    def last_action(self) -> Action | None:
        return self.steps[-1] if self.steps else None


class Policy(abc.ABC):
    """What the loop asks for steps: `begin` an episode, `act` on a batch of them, `extend` their streams."""

    def begin(self, episode: Episode) -> None:  # noqa: B027  (a policy that keeps no stream needs nothing)
        """Called once before the episode's first step."""

    @abc.abstractmethod
    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        """One step per episode, in order."""

    def extend(self, episode: Episode, messages: list[dict[str, Any]]) -> None:  # noqa: B027
        """`messages` (tool results, user messages), the last of `episode.messages`, follow the episode's last
        step. A policy whose stream cannot hold them sets `episode.failure` (the loop then ends the episode)."""


MessageFunction = Callable[[list[Episode]], list[tuple[str, int]]]
"""One (completion text, completion tokens) per episode, in order; reads `episode.messages`."""


class MessagePolicy(Policy):
    """A policy that reads the transcript as messages (an endpoint, the oracle, a script)."""

    def __init__(self, function: MessageFunction, *, max_new_tokens: int | None = None) -> None:
        self.function = function
        self.max_new_tokens = max_new_tokens
        """When set, a step of at least this many tokens counts as cut off."""

    def begin(self, episode: Episode) -> None:
        if episode.prefix_ids:
            raise UserError(
                "a forced prefix (grpo.prefix) needs a local model's token stream, not a message policy"
            )

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        limit = self.max_new_tokens
        return [
            Step(text, tokens, truncated=limit is not None and tokens >= limit)
            for text, tokens in self.function(episodes)
        ]


@dataclass
class Sampling:
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    batch_size: int = 16
    seed: int = 0
    step: int = 0
    """The training step (seeds derive from (seed, step, round))."""

    def round_step(self, round_index: int) -> int:
        """The `step` a round's generation is seeded with: one per (training step, round)."""
        return self.step * 1000 + round_index

    reuse_cache: bool = True
    """Keep each episode's KV cache from one round to the next, so a step computes only the tokens added since
    the last (tool results, a user turn, the next header) instead of prefilling the whole stream again. Greedy
    output is the same either way; sampled output has the same distribution, drawn from other seeds."""


class SamplingPolicy(Policy):
    """A local model generating from each episode's token stream."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sampling: Sampling
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling
        self._cache: _StreamCache | None = None

    def begin(self, episode: Episode) -> None:
        if not episode.prompt_ids:  # the turn view encodes its prompts first, to sort them by length
            episode.prompt_ids = encode_prompt(self.tokenizer, episode.messages, episode.tools)
        # The forced prefix is part of the stream from the start, so every round (and `_StreamCache`) sees it.
        episode.stream_ids += episode.prefix_ids
        episode.loss_mask += [0] * len(episode.prefix_ids)

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        streams = [episode.prompt_ids + episode.stream_ids for episode in episodes]
        if not self.sampling.reuse_cache:
            completions = generate_step(self.model, self.tokenizer, streams, self.sampling, round_index)
        else:
            if round_index == 0 or self._cache is None:
                self._cache = _StreamCache(self)
            completions = self._cache.step(episodes, streams, round_index)
        steps = []
        for episode, c in zip(episodes, completions, strict=True):
            # The first step of a prefixed episode reads as the prefix and what followed it; its ids (and tokens)
            # are only the sampled ones, which `advance` appends after the prefix already in the stream.
            forced = episode.prefix_ids if not episode.steps else []
            text = decode(self.tokenizer, forced + c.completion_ids)
            steps.append(Step(text, len(c.completion_ids), c.completion_ids, c.truncated))
        return steps

    def extend(self, episode: Episode, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        eos = self.tokenizer.eos_token or ""
        try:
            text = between_text(self.tokenizer, episode.messages[: -len(messages)], messages, episode.tools)
        except StreamMismatch as mismatch:
            episode.failure = f"{STREAM_MISMATCH}: {mismatch}"
            return
        if episode.open_turn:
            text = eos + text  # the cut or interrupted step never closed its turn
            episode.open_turn = False
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        episode.stream_ids += ids
        # tool results, user turns and headers: the policy did not write them
        episode.loss_mask += [0] * len(ids)


def generate_step(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    streams: list[list[int]],
    sampling: Sampling,
    round_index: int,
) -> list[Completion]:
    """One completion per token stream, each prefilled whole (`Sampling.reuse_cache: false`, or a round the
    per-episode caches of `_StreamCache` cannot serve).

    Streams that arrive as equal runs of the same length (a group's members before their first step) are sampled
    as one prompt with several samples, so shared-prompt generation applies.
    """
    group = _group_size(streams)
    sampled = sample(
        model,
        tokenizer,
        streams[::group],
        num_samples=group,
        max_new_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        batch_size=sampling.batch_size,
        seed=sampling.seed,
        step=sampling.round_step(round_index),
    )
    return [completion for completions in sampled for completion in completions]


@dataclass
class _Chunk:
    """Episodes generated together, in row order, with their streams (and KV cache) as of the last round."""

    keys: list[int]
    streams: Streams
    rows: list[list[int]]
    """Each row's tokens as the cache holds them (the stream with its last completion)."""


class _StreamCache:
    """The episodes' KV caches across the rounds of one `run_loop` (`Sampling.reuse_cache`).

    Round 0 splits the episodes into chunks of `batch_size` streams (a group's equal prompts kept together and
    prefilled once, `start_streams`); later rounds narrow each chunk to its unfinished episodes and run only the
    tokens each stream gained since (`Streams.extend`, `continue_streams`). A stream that does not extend what the
    cache holds (never the case for the loop's streams, which only grow) sends the round through `generate_step`.
    """

    def __init__(self, policy: SamplingPolicy) -> None:
        self.model = policy.model
        self.tokenizer = policy.tokenizer
        self.sampling = policy.sampling
        self.chunks: list[_Chunk] | None = None
        """None before round 0; empty once a round could not be served (it stays off for this loop)."""

    def step(self, episodes: list[Episode], streams: list[list[int]], round_index: int) -> list[Completion]:
        keys = [id(episode) for episode in episodes]
        if self.chunks is None:
            self.chunks = self._start(keys, streams)
        elif self.chunks:
            self.chunks = self._extend(dict(zip(keys, streams, strict=True))) or []
        if not self.chunks:
            return generate_step(self.model, self.tokenizer, streams, self.sampling, round_index)
        by_key: dict[int, Completion] = {}
        for start, chunk in enumerate(self.chunks):
            completions, chunk.streams = continue_streams(
                self.model,
                self.tokenizer,
                chunk.streams,
                max_new_tokens=self.sampling.max_new_tokens,
                temperature=self.sampling.temperature,
                top_p=self.sampling.top_p,
                seed=self.sampling.seed,
                step=self.sampling.round_step(round_index),
                index=start,
            )
            chunk.rows = [c.prompt_ids + c.completion_ids for c in completions]
            by_key.update(zip(chunk.keys, completions, strict=True))
        return [by_key[key] for key in keys]

    def _start(self, keys: list[int], streams: list[list[int]]) -> list[_Chunk]:
        group = _group_size(streams)
        size = max(self.sampling.batch_size // group, 1) * group
        chunks = []
        for start in range(0, len(streams), size):
            part = streams[start : start + size]
            prompts = part[::group]
            chunks.append(
                _Chunk(
                    keys[start : start + size],
                    start_streams(self.model, self.tokenizer, prompts, num_samples=group),
                    [],
                )
            )
        return chunks

    def _extend(self, current: dict[int, list[int]]) -> list[_Chunk] | None:
        chunks = []
        for chunk in self.chunks or []:
            rows = [row for row, key in enumerate(chunk.keys) if key in current]
            if not rows:
                continue
            new_tokens = []
            for row in rows:
                held, now = chunk.rows[row], current[chunk.keys[row]]
                if len(now) <= len(held) or now[: len(held)] != held:
                    return None
                new_tokens.append(now[len(held) :])
            streams = chunk.streams.select(rows).extend(new_tokens, self.tokenizer.pad_token_id)
            chunks.append(
                _Chunk([chunk.keys[row] for row in rows], streams, [chunk.rows[row] for row in rows])
            )
        if sum(len(chunk.keys) for chunk in chunks) != len(current):
            return None
        return chunks


def _group_size(streams: list[list[int]]) -> int:
    """The largest run length k such that the streams are consecutive runs of k equal streams (1 when none).

    >>> _group_size([[1], [1], [2], [2]]), _group_size([[1], [1], [2]]), _group_size([[1], [2]])
    (2, 1, 1)
    """
    count = len(streams)
    run = 1
    while run < count and streams[run] == streams[0]:
        run += 1
    if run == 1 or count % run:
        return 1
    for start in range(0, count, run):
        if any(streams[start + i] != streams[start] for i in range(run)):
            return 1
    return run


ActionHook = Callable[[Episode, Step, Action, list[dict[str, Any]]], None]
"""Hears each step as the loop applies it: the episode, the step, its parsed action and its tool results."""


def run_loop(
    episodes: list[Episode],
    policy: Policy,
    *,
    max_actions: int,
    on_action: ActionHook | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> list[Episode]:
    """Play every episode to its end, one batched step per round across the unfinished ones.

    `on_action(episode, step, action, results)` hears each step as it is applied; `on_round(finished, total)` how many
    episodes have ended after each round.
    """
    for episode in episodes:
        policy.begin(episode)
    round_index = 0
    while active := [episode for episode in episodes if not episode.done]:
        steps = policy.act(active, round_index)
        for episode, step in zip(active, steps, strict=True):
            advance(episode, step, policy, max_actions=max_actions, on_action=on_action)
        round_index += 1
        if on_round is not None:
            on_round(sum(episode.done for episode in episodes), len(episodes))
    return episodes


def advance(
    episode: Episode,
    step: Step,
    policy: Policy,
    *,
    max_actions: int,
    on_action: ActionHook | None = None,
) -> None:
    """Apply one step: record it, run its calls, and hand the turn to the user when it is over."""
    if step.interrupted:  # nothing was said: an empty step stands in the transcript, and the user speaks
        episode.messages.append({"role": "assistant", "content": ""})
        episode.open_turn = True
        _end_turn(episode, policy, [], capped=False)
        return
    action = parse_action(step.text)
    episode.steps.append(action)
    episode.texts.append(step.text)
    episode.completions.append(
        {
            "completion": step.text,
            "tokens": step.tokens,
            "problems": action.problems,
            "truncated": step.truncated,
        }
    )
    if step.ids is not None:
        episode.stream_ids += step.ids
        episode.loss_mask += [1] * len(step.ids)
    episode.messages.append(action.to_message())
    episode.steps_in_turn += 1
    results: list[dict[str, Any]] = []
    if action.tool_calls and episode.environment is not None:
        results = tool_messages(episode.environment, action.tool_calls)
        episode.calls += action.tool_calls
        episode.tool_trace += [
            {"name": call.name, "arguments": call.arguments, "result": result["content"]}
            for call, result in zip(action.tool_calls, results, strict=True)
        ]
    if on_action is not None:
        on_action(episode, step, action, results)
    if step.truncated:  # the turn never closed: the user speaks next (with no user, the episode ends)
        episode.truncated = episode.open_turn = True
        _end_turn(episode, policy, results, capped=False)
    elif results and episode.steps_in_turn < max_actions:
        episode.messages += results
        _follow(episode, policy, results)
    else:
        _end_turn(
            episode, policy, results, capped=bool(action.tool_calls) and episode.environment is not None
        )
    if episode.failure is not None:  # the step's record says why the episode ended after it
        action.problems.append(episode.failure)


def _end_turn(episode: Episode, policy: Policy, results: list[dict[str, Any]], *, capped: bool) -> None:
    """The user's move: their next message continues the episode; none ends it."""
    episode.turn_capped = capped
    episode.capped = episode.capped or capped
    episode.messages += results
    reply = episode.user.reply(episode) if episode.user is not None else None
    episode.steps_in_turn = 0
    if not reply:
        episode.done = True
        return
    episode.messages += reply
    if _follow(episode, policy, [*results, *reply]):
        episode.user_turns += 1


def _follow(episode: Episode, policy: Policy, messages: list[dict[str, Any]]) -> bool:
    """Put `messages`, the last of the transcript, in the policy's stream; whether it could hold them.

    One it cannot hold ends the episode as a failure (`Episode.failure`), and the messages leave the transcript
    again, so the transcript ends where the stream does (the calls' results stay in the tool trace).
    """
    policy.extend(episode, messages)
    if episode.failure is None:
        return True
    del episode.messages[len(episode.messages) - len(messages) :]
    episode.done = True
    return False

"""The episode's token stream against what the model wrote: whatever a step holds (end-of-turn strings in a think
block, user headers, special tokens spelled from ordinary pieces, unicode, nothing at all), the stream after every
step is a fresh render of the transcript, with each step as sampled; a template that renders what follows a step
in a way the stream cannot hold ends that episode as a named failure, never with an exception."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from thinkact.bench.synthetic import generate_benchmark
from thinkact.data.conversations import Conversation, read_conversations
from thinkact.envs.prompts import episode_prompts
from thinkact.eval.episodes import score_episode
from thinkact.models.chat import encode_prompt, render
from thinkact.models.load import load_tokenizer
from thinkact.parse import Action, ToolCall, action_from_message, render_action
from thinkact.rollout.episodes import begin_episodes
from thinkact.rollout.loop import STREAM_MISMATCH, Episode, Sampling, SamplingPolicy, Step, run_loop
from thinkact.rollout.users import UserConfig
from thinkact.train.grpo import GRPORunConfig, score_rollout

END = "<|im_end|>"


class ScriptedTokens(SamplingPolicy):
    """A local-model policy whose steps are scripted token ids: `script(episode, round)` gives (ids, cut)."""

    def __init__(self, tokenizer: Any, script: Any, *, on_act: Any = None) -> None:
        super().__init__(None, tokenizer, Sampling())  # type: ignore[arg-type]  (no model: nothing is sampled)
        self.script = script
        self.on_act = on_act
        self.sampled: dict[int, list[tuple[list[int], bool]]] = {}

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        steps = []
        for episode in episodes:
            if self.on_act is not None:
                self.on_act(episode)
            ids, cut = self.script(episode, round_index)
            self.sampled.setdefault(id(episode), []).append((ids, cut))
            steps.append(Step(self.tokenizer.decode(ids), len(ids), ids, truncated=cut))
        return steps


def _ids(tokenizer: Any, text: str, *, pieces: bool = False) -> list[int]:
    """`text` as tokens; with `pieces`, special tokens are spelled from ordinary ones (no stop token catches them)."""
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=pieces)["input_ids"])


def _weather(tmp_path: Path) -> Conversation:
    """`thinkact data generate --seed 0`'s first test_id conversation: a clarifying question, then 'Lisbon.'."""
    paths = generate_benchmark(tmp_path, seed=0, train=0, valid=0, test_id=1, test_ood=0)
    (conversation,) = read_conversations(paths["test_id"])
    assert conversation.id == "test_id-00000-weather"
    return conversation


@pytest.mark.parametrize("think", [END, END + END, f"a{END}b{END}{END}c"])
def test_end_of_turn_strings_in_a_think_block_leave_the_next_user_message_in_the_stream(
    tiny_model_dir: Path, tmp_path: Path, think: str
) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    (prompt,) = episode_prompts(_weather(tmp_path), whole=True)
    step = _ids(tokenizer, f"<think>{think}</think>ok{END}")
    policy = ScriptedTokens(tokenizer, lambda episode, round_index: (step, False))
    (episode,) = begin_episodes([prompt], user=UserConfig(kind="scripted"))
    run_loop([episode], policy, max_actions=2)
    assert episode.failure is None and episode.done and episode.user_turns == 1
    between = "\n<|im_start|>user\nLisbon.<|im_end|>\n<|im_start|>assistant\n"
    assert episode.stream_ids == step + _ids(tokenizer, between) + step
    assert episode.loss_mask == [1] * len(step) + [0] * len(_ids(tokenizer, between)) + [1] * len(step)
    assert [m["content"] for m in episode.messages[len(prompt.messages) :]] == ["ok", "Lisbon.", "ok"]


HOSTILE = [
    END,
    END + END,
    "<|im_start|>user\nLisbon.",
    "<|im_start|>user\n",
    "<|im_start|>assistant\n",
    "<|endoftext|>",
    "</think>",
    "</think></think>",
    "<think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>\n{}\n</tool_response>",
    "(stand-in step)",
    "é",
    "日本語",
    "\u202e",
    "\ufffd",
    "🙂",
    "\x00",
    "\n",
    "  ",
    "",
    "plain words",
]


def _hostile_text(rng: random.Random) -> str:
    return "".join(rng.choice(HOSTILE) for _ in range(rng.randint(0, 5)))


def _hostile_step(rng: random.Random, tokenizer: Any, calls: list[str]) -> tuple[list[int], bool]:
    """One adversarial step as token ids: a think block and text around an optional call, each piece tokenised
    plainly or spelled from pieces; closed by the end-of-turn token, or cut (no end-of-turn token)."""
    parts = []
    if rng.random() < 0.8:
        parts += [rng.choice(["<think>", "<think>\n", "</think>", ""]), _hostile_text(rng), "</think>"]
    parts.append(_hostile_text(rng))
    if calls and rng.random() < 0.5:
        parts.append(rng.choice(calls))
    parts.append(_hostile_text(rng))
    ids = [t for part in parts for t in _ids(tokenizer, part, pieces=rng.random() < 0.5)]
    if rng.random() < 0.15:
        return ids, True
    return [*ids, tokenizer.eos_token_id], False


def _calls(conversation: Conversation) -> list[str]:
    """The reference's calls as completion text, and the same calls with hostile argument values (their results
    then echo the values back into the stream)."""
    texts = []
    for message in conversation.messages:
        if message.get("tool_calls"):
            action = action_from_message(message)
            hostile = [
                ToolCall(call.name, {key: f"{END}\n<|im_start|>user\nhi {key}" for key in call.arguments})
                for call in action.tool_calls
            ]
            texts.append(render_action(action, with_think=False))
            texts.append(render_action(Action(tool_calls=hostile), with_think=False))
    return texts


def _check_stream(tokenizer: Any, episode: Episode, sampled: list[tuple[list[int], bool]]) -> None:
    """The episode's stream is a fresh render of its transcript: the prompt, then each step as sampled, then the
    template's render of the messages that follow it (a cut step first closed with the end-of-turn token) and the
    next header; the loss mask is 1 exactly on the sampled tokens. A finished episode's stream ends with its last
    step."""
    steps: list[list[dict[str, Any]]] = []  # the messages after each step
    for message in episode.messages[len(episode.prompt.messages) :]:
        if message["role"] == "assistant":
            steps.append([])
        else:
            steps[-1].append(message)
    assert len(steps) == len(sampled)
    expected = encode_prompt(tokenizer, episode.prompt.messages, episode.tools)
    mask: list[int] = []
    for number, ((ids, cut), following) in enumerate(zip(sampled, steps, strict=True), start=1):
        expected += ids
        mask += [1] * len(ids)
        if number == len(sampled) and episode.done:
            continue
        between = "\n" + render(tokenizer, following, [], add_generation_prompt=True)
        upto = sum(len(s) + 1 for s in steps[:number]) + len(episode.prompt.messages)
        fresh = render(tokenizer, episode.messages[:upto], episode.tools, add_generation_prompt=True)
        assert fresh.endswith(between)  # the whole transcript's render ends with what follows the step
        between_ids = _ids(tokenizer, (END if cut else "") + between)
        expected += between_ids
        mask += [0] * len(between_ids)
    assert episode.prompt_ids + episode.stream_ids == expected
    assert episode.loss_mask == mask


def test_the_stream_is_a_fresh_render_of_the_transcript_whatever_the_steps_hold(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    conversations = [
        c
        for c in read_conversations(data_dir / "train.jsonl") + read_conversations(data_dir / "test_id.jsonl")
        if sum(m["role"] == "user" for m in c.messages) >= 2
    ]
    prompts = [prompt for c in conversations for prompt in episode_prompts(c, whole=True)]
    calls = {prompt.id: _calls(c) for c in conversations for prompt in episode_prompts(c, whole=True)}
    rng = random.Random(20260301)
    checked = {"rounds": 0}
    episodes = begin_episodes(prompts * 6, user=UserConfig(kind="scripted"))

    def check_before_acting(episode: Episode) -> None:
        _check_stream(tokenizer, episode, policy.sampled.get(id(episode), []))
        checked["rounds"] += 1

    policy = ScriptedTokens(
        tokenizer,
        lambda episode, round_index: _hostile_step(rng, tokenizer, calls[episode.prompt.id]),
        on_act=check_before_acting,
    )
    run_loop(episodes, policy, max_actions=2)
    for episode in episodes:
        assert episode.done and episode.failure is None
        _check_stream(tokenizer, episode, policy.sampled[id(episode)])
    steps = [step for episode in episodes for step in episode.texts]
    assert checked["rounds"] == len(steps) and len(steps) > 2 * len(episodes)
    # the script reached every hostile case: a think block with two end-of-turn strings, a spelled-out one (the
    # stop token never caught it), a user header, cut steps, calls whose results echo hostile values, user turns
    assert any("<think>" in t and t.count(END) >= 3 for t in steps)
    spelled = _ids(tokenizer, END, pieces=True)
    assert any(
        ids[i : i + len(spelled)] == spelled
        for sampled in policy.sampled.values()
        for ids, _ in sampled
        for i in range(len(ids))
    )
    assert any("<|im_start|>user" in t for t in steps)
    assert any(episode.truncated for episode in episodes)
    assert any(f"hi {key}" in r["content"] for e in episodes for r in e.messages for key in ("city", "date"))
    assert all(episode.user_turns >= 1 for episode in episodes)  # every stream crosses a user turn


SUNNY_TEMPLATE_ADDITION = (
    "{%- if not loop.first and messages[loop.index0 - 1].content == 'sunny' %}(sunny){%- endif %}"
)
"""Appended to a user or tool block: the template then renders what follows a step by what the step said."""


def _sunny_tokenizer(tiny_model_dir: Path, block: str) -> Any:
    tokenizer = load_tokenizer(tiny_model_dir)
    old = {
        "user": "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}",
        "tool": "{{- '\\n<tool_response>\\n' }}",
    }[block]
    assert tokenizer.chat_template.count(old) == 1
    tokenizer.chat_template = tokenizer.chat_template.replace(old, old + SUNNY_TEMPLATE_ADDITION)
    return tokenizer


@pytest.mark.parametrize("block", ["user", "tool"])
def test_a_template_the_stream_cannot_follow_fails_the_episode_with_its_reason(
    tiny_model_dir: Path, tmp_path: Path, block: str
) -> None:
    conversation = _weather(tmp_path)
    (prompt,) = episode_prompts(conversation, whole=True)
    tokenizer = _sunny_tokenizer(tiny_model_dir, block)
    call = json.dumps({"name": "get_weather", "arguments": {"city": "Lisbon", "date": "2026-05-19"}})
    text = {"user": "<think>t</think>sunny", "tool": f"<think>t</think>sunny<tool_call>{call}</tool_call>"}[
        block
    ]
    step = _ids(tokenizer, text + END)
    (episode,) = begin_episodes([prompt], user=UserConfig(kind="scripted"))
    run_loop([episode], ScriptedTokens(tokenizer, lambda episode, round_index: (step, False)), max_actions=2)
    assert episode.done and episode.failure is not None and episode.failure.startswith(f"{STREAM_MISMATCH}: ")
    assert ("user message" if block == "user" else "tool results") in episode.failure
    # the step's record names it; the stream and the transcript both end with the step
    assert episode.steps[-1].problems[-1] == episode.failure == episode.completions[-1]["problems"][-1]
    assert episode.stream_ids == step and episode.loss_mask == [1] * len(step)
    assert episode.messages[len(prompt.messages) :] == [episode.steps[0].to_message()]
    assert episode.user_turns == 0
    assert len(episode.tool_trace) == (block == "tool")  # a call that ran stays in the trace
    # the same template follows a step that did not say "sunny"
    other = _ids(tokenizer, text.replace("sunny", "cloudy") + END)
    (fine,) = begin_episodes([prompt], user=UserConfig(kind="scripted", max_turns=1))
    run_loop([fine], ScriptedTokens(tokenizer, lambda episode, round_index: (other, False)), max_actions=2)
    assert fine.done and fine.failure is None and fine.user_turns == 1
    assert "<|im_start|>user\nLisbon.<|im_end|>" in tokenizer.decode(fine.stream_ids)


def test_an_episode_that_failed_scores_nothing_in_training_and_never_succeeds_in_eval(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The failed episode above: GRPO's reward is 0 on every component (it would otherwise train on a
    conversation the policy never saw), and eval's episode view counts it failed, never a success."""
    conversation = _weather(tmp_path)
    (prompt,) = episode_prompts(conversation, whole=True)
    tokenizer = _sunny_tokenizer(tiny_model_dir, "user")
    step = _ids(tokenizer, "<think>t</think>sunny" + END)
    (episode,) = begin_episodes([prompt], user=UserConfig(kind="scripted"))
    run_loop([episode], ScriptedTokens(tokenizer, lambda episode, round_index: (step, False)), max_actions=2)
    config = GRPORunConfig(mode="episode", user=UserConfig(kind="scripted"))
    reward = score_rollout(episode, config, step=0)
    assert reward.total == 0.0 and reward.components and set(reward.components.values()) == {0.0}
    metrics = score_episode(episode, answer_metric="f1")
    assert metrics["failed"] == 1.0 and metrics["success"] == 0.0
    episode.failure = None  # the same transcript, had it not failed, is scored on its merits
    assert score_rollout(episode, config, step=0).components != reward.components
    assert score_episode(episode, answer_metric="f1")["failed"] == 0.0

"""Episodes: reference segments, a scripted multi-turn episode's token stream and masks, and its reward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.scripted import scripted_sample
from thinkact.data.conversations import Conversation, read_conversations
from thinkact.envs.prompts import episode_prompts as episode_starts
from thinkact.models.chat import render
from thinkact.models.load import load_policy
from thinkact.parse import action_from_message, render_action
from thinkact.rewards.episode import EpisodeRewardConfig, score_episode
from thinkact.rollout import loop as loop_module
from thinkact.rollout.episodes import final_state, sample_episodes
from thinkact.rollout.loop import Sampling

SCRIPTED = Sampling(reuse_cache=False)
"""Tests that script `sample` take the path that calls it each round (no per-episode cache)."""


def _chained(data_dir: Path) -> Conversation:
    for conversation in read_conversations(data_dir / "train.jsonl"):
        calls = [m for m in conversation.messages if m.get("tool_calls")]
        users = [m for m in conversation.messages if m["role"] == "user"]
        if len(calls) >= 2 and len(users) == 1:
            return conversation
    raise AssertionError("the fixture data has no single-request conversation with two call turns")


def test_segments_carry_reference_calls_answer_and_states(data_dir: Path) -> None:
    for conversation in read_conversations(data_dir / "train.jsonl"):
        starts = episode_starts(conversation)
        users = sum(m["role"] == "user" for m in conversation.messages)
        assert len(starts) == users
        assert starts[-1].final_state == conversation.meta["final_state"]
        assert starts[0].start_state == conversation.meta["initial_state"]
        all_calls = [c for s in starts for c in s.reference_calls]
        expected = [c["function"]["name"] for m in conversation.messages for c in m.get("tool_calls") or []]
        assert [c.name for c in all_calls] == expected


def test_scripted_episode_stream_masks_and_reward(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    conversation = _chained(data_dir)
    start = episode_starts(conversation)[0]
    # The scripted policy replays the reference assistant messages of the segment, one per generation.
    script = [m for m in conversation.messages[len(start.messages) :] if m["role"] == "assistant"]
    completions = [
        tokenizer(render_action(action_from_message(m)) + "<|im_end|>", add_special_tokens=False)["input_ids"]
        for m in script
    ]
    monkeypatch.setattr(loop_module, "sample", scripted_sample(completions))
    (episode,) = sample_episodes(
        model, tokenizer, [start], group_size=1, max_actions=len(script) + 2, sampling=SCRIPTED
    )
    assert len(episode.steps) == len(script) and episode.done and not episode.truncated
    # the stream is exactly what the template renders for the reference conversation
    rendered = render(
        tokenizer,
        conversation.messages[: len(start.messages) + _segment_length(conversation, start)],
        conversation.tools,
        add_generation_prompt=False,
    )
    stream = tokenizer.decode(episode.prompt_ids + episode.stream_ids, skip_special_tokens=False)
    assert rendered.startswith(stream) and rendered[len(stream) :].strip() == ""
    # loss only on the scripted tokens; tool results and headers carry none
    sampled = [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if m]
    assert sampled == [t for ids in completions for t in ids]
    unmasked = tokenizer.decode(
        [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if not m]
    )
    assert "<tool_response>" in unmasked and "<think>" not in unmasked
    # the world ends as in the reference, and the episode scores 1
    assert final_state(episode) == start.final_state
    reward = score_episode(
        episode.steps, start.reference_calls, start.reference_answer, True, start.tools, EpisodeRewardConfig()
    )
    assert reward.total == 1.0


def _segment_length(conversation: Conversation, start: Any) -> int:
    rest = conversation.messages[len(start.messages) :]
    for index, message in enumerate(rest):
        if message["role"] == "user":
            return index
    return len(rest)


def test_episode_reward_by_hand() -> None:
    from thinkact.parse import Action, ToolCall

    good, other = ToolCall("get", {"id": 1}), ToolCall("get", {"id": 2})
    steps = [Action(think="t", tool_calls=[good, other]), Action(think="", content="It is 5.")]
    reward = score_episode(steps, [good], Action(content="It is 5."), False, [], EpisodeRewardConfig())
    # calls: P 1/2, R 1 → F1 2/3; answer 1; state 0; format: step 2 has empty thinking → 1/2
    assert reward.components["calls"] == pytest.approx(2 / 3)
    assert reward.components == {"calls": pytest.approx(2 / 3), "answer": 1.0, "state": 0.0, "format": 0.5}
    assert reward.total == pytest.approx(0.4 * 2 / 3 + 0.3 + 0.0 + 0.1 * 0.5)


@pytest.mark.parametrize("think", ["", "<think>\n\n</think>\n\n"])
def test_steps_without_thinking_run_as_one_stream(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, think: str
) -> None:
    """A policy warmed up without thinking: call steps with no or an empty think block (Qwen3's template renders
    an empty reasoning_content differently on the last turn) still make one stream, with loss on its tokens only."""
    model, tokenizer = load_policy(tiny_model_dir)
    conversation = _chained(data_dir)
    start = episode_starts(conversation)[0]
    script = [m for m in conversation.messages[len(start.messages) :] if m["role"] == "assistant"]
    texts = [think + render_action(action_from_message(m), with_think=False) + "<|im_end|>" for m in script]
    completions = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    monkeypatch.setattr(loop_module, "sample", scripted_sample(completions))
    (episode,) = sample_episodes(
        model, tokenizer, [start], group_size=1, max_actions=len(script) + 2, sampling=SCRIPTED
    )
    assert len(episode.steps) == len(script) and episode.done
    assert all(not (step.think or "") for step in episode.steps)
    assert final_state(episode) == start.final_state
    sampled = [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if m]
    assert sampled == [t for ids in completions for t in ids]
    unmasked = tokenizer.decode(
        [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if not m]
    )
    assert "<tool_response>" in unmasked and "(no thinking)" not in unmasked

"""The one episode loop: scripted policies (masks, stops, tool results, user turns), the three simulated users, and
the same token stream in evaluation and training."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.scripted import scripted_sample
from thinkact.data.conversations import Conversation, read_conversations, write_conversations
from thinkact.envs.prompts import episode_prompts, turn_prompts
from thinkact.errors import UserError
from thinkact.eval.episodes import oracle_policy, score_episode
from thinkact.eval.episodes import run_episodes as run_eval_episodes
from thinkact.eval.runner import EvalConfig, load_predictors
from thinkact.models.load import load_policy
from thinkact.models.tiny import pretrained_base
from thinkact.parse import action_from_message, render_action
from thinkact.rollout import loop as loop_module
from thinkact.rollout.episodes import begin_episodes, sample_episodes
from thinkact.rollout.generation import Completion, continue_streams, sample
from thinkact.rollout.loop import Episode, MessagePolicy, Sampling, Step, run_loop
from thinkact.rollout.users import NOTHING_TO_ADD, STOP, UserConfig
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer

SCRIPTED = Sampling(reuse_cache=False)
"""Tests that script `sample` take the path that calls it each round (no per-episode cache)."""


def _conversations(data_dir: Path) -> list[Conversation]:
    return read_conversations(data_dir / "train.jsonl") + read_conversations(data_dir / "test_id.jsonl")


def _missing_info(data_dir: Path) -> Conversation:
    for conversation in _conversations(data_dir):
        if "missing_info" in conversation.meta["phenomena"]:
            return conversation
    raise AssertionError("the fixture data has no missing-information conversation")


def _multi_turn_with_calls(data_dir: Path) -> Conversation:
    for conversation in _conversations(data_dir):
        users = sum(m["role"] == "user" for m in conversation.messages)
        if users >= 2 and any(m.get("tool_calls") for m in conversation.messages):
            return conversation
    raise AssertionError("the fixture data has no multi-request conversation with calls")


def test_one_prompt_type_resolves_filters_and_overrides_once(data_dir: Path) -> None:
    conversation = _multi_turn_with_calls(data_dir)
    conversation.meta["answer_metric"] = "exact"
    conversation.messages[-1]["score"] = False
    turns = turn_prompts([conversation], answer_metric="f1")
    assistants = [m for m in conversation.messages if m["role"] == "assistant"]
    assert len(turns) == len(assistants) - 1  # the unscored message is left out, here only
    assert {t.answer_metric for t in turns} == {"exact"}
    assert turns[0].action == action_from_message(assistants[0])
    (whole,) = episode_prompts(conversation, whole=True)
    segments = episode_prompts(conversation)
    assert whole.reference_calls == [c for s in segments for c in s.reference_calls]
    assert whole.final_state == conversation.meta["final_state"] == segments[-1].final_state
    assert whole.start_state == segments[0].start_state == conversation.meta["initial_state"]
    users = [m for m in conversation.messages if m["role"] == "user"]
    assert [m for block in whole.feeds for m in block] == users[1:]


def _scripted(texts: list[str]) -> MessagePolicy:
    script = list(texts)
    return MessagePolicy(lambda active: [(script.pop(0), 5) for _ in active], max_new_tokens=50)


def test_the_loop_runs_calls_caps_turns_and_hands_the_turn_to_the_user(data_dir: Path) -> None:
    conversation = _multi_turn_with_calls(data_dir)
    (prompt,) = episode_prompts(conversation, whole=True)
    call = render_action(action_from_message(next(m for m in conversation.messages if m.get("tool_calls"))))
    (episode,) = begin_episodes([prompt], user=UserConfig(kind="scripted"))
    seen: list[tuple[str, int]] = []
    run_loop(
        [episode],
        _scripted(
            [call, call, "<think>t</think>Done.", "<think>t</think>Again."] + ["<think>t</think>Ok."] * 9
        ),
        max_actions=2,
        on_action=lambda e, step, action, results: seen.append((action.content, len(results))),
    )
    # step 1 calls and sees its results; step 2 calls again and the turn is cut off (its calls still ran)
    assert seen[0][1] >= 1 and seen[1][1] >= 1 and episode.capped
    roles = [m["role"] for m in episode.messages[len(prompt.messages) :]]
    assert roles[:2] == ["assistant", "tool"] and "user" in roles
    # every later user message of the reference was fed, after each turn ended
    users = [m["content"] for m in episode.messages if m["role"] == "user"]
    assert users == [m["content"] for m in conversation.messages if m["role"] == "user"]
    assert episode.done and episode.user_turns == len(prompt.feeds)
    assert episode.calls == [c for m in episode.steps[:2] for c in m.tool_calls]


def test_a_cut_generation_ends_the_turn_and_an_interrupt_passes_it_to_the_user(data_dir: Path) -> None:
    conversation = _multi_turn_with_calls(data_dir)
    (prompt,) = episode_prompts(conversation, whole=True)
    (episode,) = begin_episodes([prompt], user=UserConfig(kind="scripted", max_turns=1))

    class Cut(MessagePolicy):
        def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
            if round_index == 0:
                return [Step("<think>long", 50, truncated=True)]
            return [Step("", 0, interrupted=True)]

    run_loop([episode], Cut(lambda active: []), max_actions=4)
    assert episode.truncated and episode.done
    assert len(episode.steps) == 1  # the interrupt added no step
    assert episode.user_turns == 1  # capped at max_turns, then the episode ended
    # with no user, a cut generation ends the episode
    (alone,) = begin_episodes([prompt])
    run_loop([alone], Cut(lambda active: []), max_actions=4)
    assert alone.done and len(alone.steps) == 1 and alone.user_turns == 0


def test_turn_mode_is_one_step_without_tools(data_dir: Path) -> None:
    prompts = turn_prompts(_conversations(data_dir)[:2])
    episodes = begin_episodes(prompts[:3], group_size=2, execute=False)
    call = render_action(prompts[0].action) if prompts[0].action.tool_calls else "<tool_call>{}</tool_call>"
    run_loop(episodes, MessagePolicy(lambda active: [(call, 3)] * len(active)), max_actions=1)
    assert all(e.done and len(e.steps) == 1 and not e.tool_trace and e.environment is None for e in episodes)


def test_stream_masks_cover_sampled_tokens_only_across_user_turns(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    conversation = _multi_turn_with_calls(data_dir)
    (prompt,) = episode_prompts(conversation, whole=True)
    script = [m for m in conversation.messages[len(prompt.messages) :] if m["role"] == "assistant"]
    completions = [
        tokenizer(render_action(action_from_message(m)) + "<|im_end|>", add_special_tokens=False)["input_ids"]
        for m in script
    ]
    monkeypatch.setattr(loop_module, "sample", scripted_sample(completions))
    (episode,) = sample_episodes(
        model, tokenizer, [prompt], max_actions=4, user=UserConfig(kind="scripted"), sampling=SCRIPTED
    )
    assert len(episode.steps) == len(script) and episode.done
    sampled = [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if m]
    assert sampled == [t for ids in completions for t in ids]
    unmasked = tokenizer.decode(
        [t for t, m in zip(episode.stream_ids, episode.loss_mask, strict=True) if not m]
    )
    for message in conversation.messages[len(prompt.messages) :]:
        if message["role"] == "user":
            assert message["content"] in unmasked  # the user's turns are in the stream, without loss
    assert "<tool_response>" in unmasked
    assert score_episode(episode, answer_metric="f1")["success"] == 1.0


def test_rule_user_gives_withheld_details_only_when_asked(data_dir: Path) -> None:
    conversation = _missing_info(data_dir)
    rule = UserConfig(kind="rule")
    (asked,) = run_eval_episodes([conversation], oracle_policy, user=rule)
    assert score_episode(asked, answer_metric="f1")["success"] == 1.0  # the oracle asks, the user answers
    guessed = run_eval_episodes([conversation], lambda active: [("<think>t</think>Done.", 3)], user=rule)[0]
    users = [m["content"] for m in guessed.messages if m["role"] == "user"]
    reference_users = [m["content"] for m in conversation.messages if m["role"] == "user"]
    (prompt,) = episode_prompts(conversation, whole=True)
    withheld = [
        block[0]["content"] for block, was_asked in zip(prompt.feeds, prompt.asked, strict=True) if was_asked
    ]
    assert withheld and not set(withheld) & set(users)  # never volunteered
    assert set(users) < set(reference_users)
    assert score_episode(guessed, answer_metric="f1")["success"] == 0.0
    # a question the reference never asked is met with nothing new
    plain = next(
        c
        for c in _conversations(data_dir)
        if "missing_info" not in c.meta["phenomena"] and sum(m["role"] == "user" for m in c.messages) >= 2
    )
    curious = run_eval_episodes([plain], lambda active: [("Which one?", 2)], user=rule)[0]
    assert any(m["content"] == NOTHING_TO_ADD for m in curious.messages if m["role"] == "user")


class _FakeUserModel(BaseHTTPRequestHandler):
    replies: ClassVar[list[str]] = ["Also, what about tomorrow?", STOP]
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        text = type(self).replies[min(len(type(self).requests) - 1, len(type(self).replies) - 1)]
        payload = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def user_model_url() -> Iterator[str]:
    _FakeUserModel.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeUserModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    thread.join()


def test_model_user_speaks_through_an_openai_compatible_endpoint(data_dir: Path, user_model_url: str) -> None:
    conversation = _conversations(data_dir)[0]
    user = UserConfig(kind="model", url=user_model_url, model="user-sim")
    (episode,) = run_eval_episodes(
        [conversation], lambda active: [("<think>t</think>It is sunny.", 4)], user=user
    )
    assert [m["content"] for m in episode.messages if m["role"] == "user"][-1] == "Also, what about tomorrow?"
    assert episode.done and episode.user_turns == 1  # the second reply was STOP
    first = _FakeUserModel.requests[0]
    assert first["model"] == "user-sim" and first["messages"][0]["role"] == "system"
    assert conversation.messages[1]["content"] in first["messages"][0]["content"]  # the goal
    assert [m["role"] for m in first["messages"][1:]] == ["assistant", "user"]  # roles swapped
    assert first["messages"][-1]["content"] == "It is sunny."
    with pytest.raises(UserError, match=r"user\.kind=model: set user\.url"):
        UserConfig(kind="model")


def test_eval_episode_view_and_training_hold_the_same_token_stream(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = _multi_turn_with_calls(data_dir)
    path = tmp_path / "one.jsonl"
    write_conversations(path, [conversation])

    def greedy(model: Any, tokenizer: Any, prompts: list[list[int]], **kwargs: Any) -> list[list[Completion]]:
        # training samples; here both decode greedily (one row per group member: greedy takes one sample each)
        group = kwargs.pop("num_samples")
        rows = sample(
            model, tokenizer, [p for p in prompts for _ in range(group)], **{**kwargs, "temperature": 0.0}
        )
        return [[c for row in rows[i * group : (i + 1) * group] for c in row] for i in range(len(prompts))]

    def greedy_continue(*args: Any, **kwargs: Any) -> Any:
        return continue_streams(*args, **{**kwargs, "temperature": 0.0})

    monkeypatch.setattr(loop_module, "sample", greedy)
    monkeypatch.setattr(loop_module, "continue_streams", greedy_continue)
    scripted = UserConfig(kind="scripted")
    _, policy = load_predictors(
        EvalConfig(
            model=str(tiny_model_dir), data=[str(path)], max_new_tokens=12, batch_size=4, user=scripted
        )
    )
    (evaluated,) = run_eval_episodes([conversation], policy, max_actions=2, user=scripted)
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(
        data=str(path), mode="episode", group_size=2, prompts_per_step=1, max_new_tokens=12, max_actions=2,
        micro_batch=2, user=scripted, mask_truncated=False,
    )  # fmt: skip
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(path)
    rollouts = trainer.rollout(0, [0])
    assert evaluated.user_turns >= 1  # the stream crosses user turns
    for rollout in rollouts:
        assert rollout.prompt_ids == evaluated.prompt_ids
        assert rollout.prompt_ids + rollout.completion_ids == evaluated.prompt_ids + evaluated.stream_ids
        assert rollout.loss_mask == evaluated.loss_mask


def test_grpo_episode_step_with_a_rule_user_scores_the_whole_conversation(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    conversation = _missing_info(data_dir)
    path = tmp_path / "missing.jsonl"
    write_conversations(path, [conversation])
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(
        data=str(path), mode="episode", group_size=2, prompts_per_step=1, max_new_tokens=6, max_actions=2,
        micro_batch=2, user=UserConfig(kind="rule"),
    )  # fmt: skip
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(path)
    (prompt,) = trainer.prompts  # one prompt per conversation, its reference the whole conversation
    assert prompt.reference_calls == [c for p in episode_prompts(conversation) for c in p.reference_calls]
    metrics, rollouts = trainer.step(0)
    assert len(rollouts) == 2 and set(rollouts[0].components) == {"calls", "answer", "state", "format"}
    assert "reward" in metrics
    with pytest.raises(UserError, match="needs mode: episode"):
        GRPORunConfig(user=UserConfig(kind="scripted"))


def test_a_cut_step_is_closed_in_the_stream_before_the_user_speaks(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    (prompt,) = episode_prompts(_multi_turn_with_calls(data_dir), whole=True)
    cut = tokenizer("<think>\nI am still thinking", add_special_tokens=False)["input_ids"]

    def cut_sample(model: Any, tokenizer: Any, prompts: list[list[int]], **_: Any) -> list[list[Completion]]:
        return [[Completion(prompts[0], cut, truncated=True)]]

    monkeypatch.setattr(loop_module, "sample", cut_sample)
    user = UserConfig(kind="scripted", max_turns=1)
    (episode,) = sample_episodes(model, tokenizer, [prompt], max_actions=4, user=user, sampling=SCRIPTED)
    assert episode.truncated and len(episode.steps) == 2 and episode.user_turns == 1
    first_end = len(cut)
    assert episode.stream_ids[:first_end] == cut and episode.loss_mask[:first_end] == [1] * first_end
    after = tokenizer.decode(episode.stream_ids[first_end : episode.loss_mask.index(1, first_end)])
    assert after.startswith("<|im_end|>") and prompt.feeds[0][0]["content"] in after
    assert after.endswith("<|im_start|>assistant\n")


def test_each_episode_keeps_its_cache_across_rounds_and_gets_the_streams_of_a_fresh_prefill(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Greedy episodes over several rounds (user turns, episodes ending at different rounds, a batch split in
    chunks): with each episode's KV cache kept from round to round, every stream and mask is the one a fresh
    prefill of the whole stream gives, and after the first round only the new tokens are computed."""
    conversations = [_multi_turn_with_calls(data_dir), *_conversations(data_dir)[:4]]
    path = tmp_path / "some.jsonl"
    write_conversations(path, conversations)
    scripted = UserConfig(kind="scripted")
    continued: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        streams = args[2]
        continued.append(int((streams.attention_NW.sum(dim=1) > 0).sum()))
        return continue_streams(*args, **kwargs)

    monkeypatch.setattr(loop_module, "continue_streams", counting)
    played = {}
    for reuse in (True, False):
        _, policy = load_predictors(  # the shipped base writes calls, so its episodes run several rounds
            EvalConfig(
                model=str(pretrained_base()), data=[str(path)], max_new_tokens=40, batch_size=2, user=scripted
            )
        )
        policy.sampling.reuse_cache = reuse  # type: ignore[attr-defined]
        played[reuse] = run_eval_episodes(conversations, policy, max_actions=2, user=scripted)
    rounds = max(len(episode.texts) for episode in played[True])
    assert rounds >= 2 and len({len(episode.texts) for episode in played[True]}) > 1
    # on the cached path every step ran once, in chunks of at most two, narrowed to the unfinished episodes
    assert sum(continued) == sum(len(episode.texts) for episode in played[True]) and max(continued) == 2
    assert len(continued) > rounds
    for cached, fresh in zip(played[True], played[False], strict=True):
        assert cached.prompt_ids + cached.stream_ids == fresh.prompt_ids + fresh.stream_ids
        assert cached.loss_mask == fresh.loss_mask and cached.texts == fresh.texts

"""The episode view: whole conversations played with tools executed; success needs the calls, the answer and the
final state, each checked here by a scripted policy that gets exactly one of them wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkact.data.conversations import read_conversations
from thinkact.errors import UserError
from thinkact.eval.episodes import Episode, oracle_policy, run_episodes, score_episode
from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.parse import ToolCall, parse_action, render_action


@pytest.mark.parametrize("split", ["test_id", "test_ood"])
def test_oracle_succeeds_on_every_episode(data_dir: Path, split: str) -> None:
    results = run_eval(EvalConfig(data=[str(data_dir / f"{split}.jsonl")], oracle=True, view="both"))
    block = results["splits"][split]
    metrics = block["episodes"]["metrics"]
    for name in ("success", "calls_made", "call_recall", "answer_correct", "state_match", "thinking"):
        assert metrics[name]["value"] == 1.0, name
    assert metrics["success"]["n"] == len(read_conversations(data_dir / f"{split}.jsonl"))
    assert metrics["extra_calls"]["value"] == metrics["truncated"]["value"] == 0.0
    assert block["metrics"]["correct"]["value"] == 1.0  # "both": the turn view ran too


def _episodes(data_dir: Path, policy: object, max_actions: int = 4) -> dict[str, Episode]:
    conversations = read_conversations(data_dir / "test_id.jsonl")
    return {e.conversation.id: e for e in run_episodes(conversations, policy, max_actions=max_actions)}  # type: ignore[arg-type]


def _score(episode: Episode) -> dict[str, float]:
    return score_episode(episode, answer_metric="f1")


def test_an_agent_that_never_calls_fails_and_still_hears_every_user_message(data_dir: Path) -> None:
    episodes = _episodes(data_dir, lambda active: [("<think>no</think>Done.", 3)] * len(active))
    for episode in episodes.values():
        reference_users = [m["content"] for m in episode.conversation.messages if m["role"] == "user"]
        assert [m["content"] for m in episode.messages if m["role"] == "user"] == reference_users
        assert sum(m["role"] == "assistant" for m in episode.messages) == len(reference_users)
        metrics = _score(episode)
        assert metrics["success"] == 0.0 and metrics["answer_correct"] == 0.0
        assert metrics["calls_made"] == 0.0 and metrics["steps"] == len(reference_users)
    # creating an event changes the calendar, so an agent that never calls leaves another state
    assert _score(episodes["test_id-00001-calendar"])["state_match"] == 0.0
    assert (
        _score(episodes["test_id-00000-weather"])["state_match"] == 1.0
    )  # reading the forecast changes nothing


def test_an_agent_that_always_calls_is_cut_off_after_max_actions(data_dir: Path) -> None:
    call = (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Perth", "date": "2026-11-08"}}</tool_call>'
    )
    episodes = _episodes(data_dir, lambda active: [(call, 9)] * len(active), max_actions=2)
    weather = episodes["test_id-00000-weather"]
    metrics = _score(weather)
    assert metrics["truncated"] == 1.0 and metrics["steps"] == 2.0
    assert metrics["calls_made"] == 1.0 and metrics["extra_calls"] == 1.0  # the reference call, then a repeat
    assert metrics["answer_correct"] == 0.0 and metrics["success"] == 0.0
    tool = weather.messages[3]
    assert tool["role"] == "tool" and tool["name"] == "get_weather"
    assert json.loads(tool["content"])["city"] == "Perth"
    assert "error" in json.loads(episodes["test_id-00002-banking"].messages[3]["content"])


def test_right_calls_with_a_wrong_answer_fail_on_the_answer(data_dir: Path) -> None:
    def policy(active: list[Episode]) -> list[tuple[str, int]]:
        outputs = []
        for text, tokens in oracle_policy(active):
            action = parse_action(text)
            if not action.tool_calls:
                action.content = "I could not find anything."
            outputs.append((render_action(action), tokens))
        return outputs

    metrics = _score(_episodes(data_dir, policy)["test_id-00002-banking"])
    assert (metrics["calls_made"], metrics["state_match"], metrics["answer_correct"]) == (1.0, 1.0, 0.0)
    assert metrics["success"] == 0.0


def test_a_harmful_extra_call_fails_on_the_final_state(data_dir: Path) -> None:
    transfer = ToolCall("transfer", {"from_account": "checking", "to_account": "savings", "amount": 1})

    def policy(active: list[Episode]) -> list[tuple[str, int]]:
        outputs = []
        for episode, (text, tokens) in zip(active, oracle_policy(active), strict=True):
            action = parse_action(text)
            if action.tool_calls and episode.conversation.meta["domain"] == "banking":
                action.tool_calls.append(transfer)
            outputs.append((render_action(action), tokens))
        return outputs

    episode = _episodes(data_dir, policy)["test_id-00002-banking"]
    metrics = _score(episode)
    assert (metrics["calls_made"], metrics["answer_correct"], metrics["state_match"]) == (1.0, 1.0, 0.0)
    assert metrics["success"] == 0.0 and metrics["extra_calls"] == 1.0


def test_episode_view_needs_a_domain(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    record = {
        "id": "a",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hi."}],
    }
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(UserError, match=r"plain\.jsonl: conversation 'a' has no meta\.domain.*--view turn"):
        run_eval(EvalConfig(data=[str(path)], oracle=True, view="episode"))
    assert (
        run_eval(EvalConfig(data=[str(path)], oracle=True))["splits"]["plain"]["metrics"]["correct"]["value"]
        == 1.0
    )


def test_model_episodes_are_batched_and_recorded(tiny_model_dir: Path, data_dir: Path) -> None:
    config = EvalConfig(
        model=str(tiny_model_dir),
        data=[str(data_dir / "test_id.jsonl")],
        view="episode",
        max_new_tokens=6,
        limit=3,
    )
    block = run_eval(config)["splits"]["test_id"]
    assert block["turns"] == [] and block["metrics"] == {}
    records = block["episodes"]["records"]
    assert len(records) == 3 == block["episodes"]["metrics"]["success"]["n"]
    for record in records:
        assert record["messages"][0]["role"] == "system"
        assert len(record["completions"]) == record["metrics"]["steps"]

"""The chat session, driven by scripted input: a scripted agent's thinking, calls, results and answer are shown
and recorded; commands work; the command line talks to the tiny model through stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from thinkact.chat import ChatConfig, run_chat
from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app
from thinkact.errors import UserError
from thinkact.rollout.loop import STREAM_MISMATCH, Episode, Policy, Step


def scripted(lines: list[str]) -> Any:
    remaining = list(lines)

    def read(prompt: str) -> str:
        if not remaining:
            raise EOFError
        return remaining.pop(0)

    return read


def test_a_scripted_session_shows_thinking_calls_results_and_answers() -> None:
    completions = [
        '<think>Oslo tomorrow is 2026-03-02.</think><tool_call>{"name": "get_weather", "arguments": '
        '{"city": "Oslo", "date": "2026-03-02"}}</tool_call>',
        "<think>I have the forecast.</think>It will be [bold]fine[/bold] in Oslo.",
        "<think>No such city.</think><tool_call>"
        '{"name": "get_air_quality", "arguments": {"city": "Atlantis"}}</tool_call>',
        '<tool_call>{"name": "get_air_quality", "arguments": {"city": "Lima"}}</tool_call>',
        "<think>unclosed",
    ]
    seen: list[list[dict[str, Any]]] = []

    def policy(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        assert {tool["function"]["name"] for tool in tools} == {"get_weather", "get_air_quality"}
        seen.append([dict(message) for message in messages])
        return completions.pop(0)

    console = Console(record=True, width=200, force_terminal=False)
    config = ChatConfig(model="scripted", domain="weather", today="2026-03-01", max_actions=2)
    lines = [
        "What's the weather in Oslo tomorrow?",
        "/tools",
        "/state",
        "And the air in Atlantis?",
        "ok",
        "/exit",
        "x",
    ]
    messages = run_chat(config, policy, read=scripted(lines), console=console)
    text = console.export_text()
    assert "Today is 2026-03-01 (Sunday)" in messages[0]["content"]
    assert "thinking: Oslo tomorrow is 2026-03-02." in text
    assert '→ get_weather({"city": "Oslo", "date": "2026-03-02"})' in text
    assert "← get_weather: {" in text and '"city": "Oslo"' in text
    assert "agent> It will be [bold]fine[/bold] in Oslo." in text  # model text is shown, not read as markup
    assert "get_air_quality: Current air quality" in text and '"mean_c"' in text  # /tools and /state
    assert '← get_air_quality: {"error": "unknown city \'Atlantis\'' in text  # the tool's error, to the model
    assert "used its 2 steps without answering" in text
    assert "(<think> has no closing </think>; empty action" in text  # bad output is shown, not a crash
    roles = [message["role"] for message in messages]
    assert roles == [
        "system", "user", "assistant", "tool", "assistant",
        "user", "assistant", "tool", "assistant", "tool",
        "user", "assistant",
    ]  # fmt: skip
    assert messages[3]["name"] == "get_weather" and json.loads(messages[3]["content"])["city"] == "Oslo"
    assert messages[4]["content"] == "It will be [bold]fine[/bold] in Oslo."
    assert seen[1][-1]["role"] == "tool"  # the agent saw the result before answering
    assert completions == []  # "/exit" ended the session before the last line


def test_reset_starts_over_and_end_of_input_leaves() -> None:
    calls = 0

    def policy(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        nonlocal calls
        calls += 1
        return "Hello."

    console = Console(record=True, width=120)
    messages = run_chat(
        ChatConfig(domain="banking"), policy, read=scripted(["hi", "/reset", "hey"]), console=console
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant"] and messages[1][
        "content"
    ] == "hey"
    assert calls == 2 and "started over" in console.export_text()


def test_reset_before_the_first_message_starts_over_too() -> None:
    console = Console(record=True, width=120)
    messages = run_chat(
        ChatConfig(domain="banking"),
        lambda messages, tools: "Hello.",
        read=scripted(["/reset", "hey"]),
        console=console,
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant"] and messages[1][
        "content"
    ] == "hey"
    assert "started over" in console.export_text()


def test_ctrl_c_ends_the_turn_and_cut_output_is_marked() -> None:
    calls = 0

    def policy(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[str, bool]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt  # Ctrl-C while the first reply is generated
        return "<think>long</think>The answer is", True

    console = Console(record=True, width=120)
    messages = run_chat(ChatConfig(domain="banking"), policy, read=scripted(["hi", "again"]), console=console)
    shown = console.export_text()
    assert "interrupted: the agent's turn ends here" in shown
    assert (
        calls == 2 and messages[-1]["content"] == "The answer is"
    )  # the session went on to the next message
    assert "cut off at max_new_tokens" in shown


class _MismatchedStream(Policy):
    """Answers "Hello." and, as a local model whose template the stream cannot follow does, fails to extend."""

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        return [Step("Hello.", 2) for _ in episodes]

    def extend(self, episode: Episode, messages: list[dict[str, Any]]) -> None:
        episode.failure = (
            f"{STREAM_MISMATCH}: the chat template renders the user message after this step differently"
        )


def test_an_episode_that_fails_says_why_and_ends_the_session() -> None:
    console = Console(record=True, width=400)
    lines = ["hi", "and now?", "never read"]
    policy = _MismatchedStream()
    messages = run_chat(
        ChatConfig(domain="banking"), policy, read=lambda prompt: lines.pop(0), console=console
    )
    shown = console.export_text()
    assert "the session ends: stream_mismatch: the chat template renders the user message" in shown
    assert [m["content"] for m in messages[1:]] == ["hi", "Hello."]  # the next message did not fit the stream
    assert lines == ["never read"]  # the session ended there


def test_chat_config_errors_name_the_fix() -> None:
    with pytest.raises(UserError, match="--domain 'moon' is not a bundled domain; use one of weather"):
        ChatConfig(domain="moon")
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        ChatConfig(today="tomorrow")


def test_chat_command_with_the_tiny_model(tiny_model_dir: Path) -> None:
    arguments = ["chat", "--model", str(tiny_model_dir), "--domain", "units", "--today", "2026-03-01"]
    result = CliRunner().invoke(
        app, [*arguments, "--set", "max_new_tokens=8"], input="Convert 3 km to miles\n/state\n"
    )
    assert result.exit_code == 0, result.output
    assert "thinkact chat · domain units" in result.output and '"rates"' in result.output
    missing = CliRunner().invoke(app, ["chat"])
    assert isinstance(missing.exception, UserError) and "give --model DIR" in str(missing.exception)

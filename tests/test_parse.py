"""The parser on well-formed and malformed completions: it never raises, and it says what was wrong."""

from __future__ import annotations

import pytest

from thinkact.parse import Action, ToolCall, action_from_message, parse_action, render_action


def test_think_then_two_calls() -> None:
    text = (
        "<think>\nNeed both.\n</think>\n\n<tool_call>\n"
        '{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n'
        "</tool_call><|im_end|>"
    )
    action = parse_action(text)
    assert action.think == "Need both."
    assert action.tool_calls == [ToolCall("a", {"x": 1}), ToolCall("b", {})]
    assert action.content == ""
    assert action.problems == []


def test_json_list_inside_one_tag_and_string_arguments() -> None:
    action = parse_action(
        '<think>t</think><tool_call>[{"name": "a", "arguments": "{\\"x\\": 2}"}, {"name": "b"}]</tool_call>'
    )
    assert action.tool_calls == [ToolCall("a", {"x": 2}), ToolCall("b", {})]
    assert action.problems == []


def test_answer_without_calls() -> None:
    action = parse_action("<think>Easy.</think>\n\nIt is 14 degrees.")
    assert (action.think, action.content, action.tool_calls, action.problems) == (
        "Easy.",
        "It is 14 degrees.",
        [],
        [],
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty action: neither a tool call nor an answer"),
        ("<think>never closed", "<think> has no closing </think>"),
        (
            '<think>t</think><tool_call>{"name": "a", "arguments": {"x": 1}}',
            "tool call 1 has no closing </tool_call>",
        ),
        ("<think>t</think><tool_call>not json</tool_call>", "tool call 1 is not valid JSON"),
        ('<think>t</think><tool_call>{"arguments": {}}</tool_call>', 'tool call 1 has no "name"'),
        (
            '<think>t</think><tool_call>{"name": "a", "arguments": [1]}</tool_call>',
            "tool call 1 (a): arguments are not a JSON object",
        ),
        (
            '<think>t</think><tool_call>{"name": "a", "arguments": "{oops"}</tool_call>',
            "tool call 1 (a): arguments are a string that is not JSON",
        ),
        ("<think>t</think><tool_call>42</tool_call>", "tool call 1 is not a JSON object"),
        ("<think>t</think>answer</tool_call>", "stray </tool_call> without an opening tag"),
        ("answer <think>late</think>", "think tags after the start of the action"),
        ("plan</think>answer", "</think> without an opening <think>"),
    ],
)
def test_malformed_output_is_reported_not_raised(text: str, problem: str) -> None:
    assert problem in parse_action(text).problems


def test_missing_close_tag_still_yields_the_call() -> None:
    action = parse_action('<think>t</think><tool_call>{"name": "a", "arguments": {"x": 1}}')
    assert action.tool_calls == [ToolCall("a", {"x": 1})]


def test_unclosed_think_before_call_keeps_the_call() -> None:
    action = parse_action('<think>plan<tool_call>{"name": "a", "arguments": {}}</tool_call>')
    assert action.think == "plan"
    assert action.tool_calls == [ToolCall("a", {})]


def test_garbage_never_raises() -> None:
    for text in [
        "<tool_call>",
        "</think></think><think>",
        "<tool_call></tool_call>" * 3,
        "\x00\uffff{",
        "}" * 50,
    ]:
        assert isinstance(parse_action(text), Action)


def test_render_then_parse_round_trips() -> None:
    action = Action(think="why", tool_calls=[ToolCall("f", {"a": [1, 2], "b": {"c": "é"}})], content="")
    assert parse_action(render_action(action)).tool_calls == action.tool_calls
    answer = Action(think="why", content="Done.")
    parsed = parse_action(render_action(answer))
    assert (parsed.think, parsed.content, parsed.problems) == ("why", "Done.", [])


def test_reference_message_to_action() -> None:
    message = {
        "role": "assistant",
        "content": "It is sunny.",
        "reasoning_content": "From the result.",
        "facts": ["sunny"],
    }
    action = action_from_message(message)
    assert (action.think, action.content, action.facts, action.tool_calls) == (
        "From the result.",
        "It is sunny.",
        ["sunny"],
        [],
    )

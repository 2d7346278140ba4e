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


QWEN35_CALL = (
    "<think>\nLook the user up.\n</think>\n\n<tool_call>\n<function=get_user_id>\n<parameter=user>\nMin-ji Park\n"
    "</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=search>\n<parameter=limit>\n3\n</parameter>\n"
    '<parameter=filters>\n{"lang": ["en", "ko"]}\n</parameter>\n<parameter=note>\nline one\nline two\n</parameter>\n'
    "</function>\n</tool_call><|im_end|>"
)


def test_qwen35_xml_calls_are_read() -> None:
    """Qwen3.5 / Qwen3-Coder's own call form, as its chat template writes it (one newline around each value)."""
    action = parse_action(QWEN35_CALL)
    assert action.think == "Look the user up."
    assert action.tool_calls == [
        ToolCall("get_user_id", {"user": "Min-ji Park"}),
        ToolCall("search", {"limit": 3, "filters": {"lang": ["en", "ko"]}, "note": "line one\nline two"}),
    ]
    assert (action.content, action.problems) == ("", [])


def test_qwen35_values_json_when_they_parse_else_text() -> None:
    values = "".join(
        f"<parameter={key}>\n{value}\n</parameter>\n"
        for key, value in [
            ("a", "true"),
            ("b", "null"),
            ("c", '"quoted"'),
            ("d", "NaN"),
            ("e", ""),
            ("f", " x "),
        ]
    )
    (call,) = parse_action(f"<tool_call>\n<function=f>\n{values}</function>\n</tool_call>").tool_calls
    assert call.arguments == {"a": True, "b": None, "c": "quoted", "d": "NaN", "e": "", "f": " x "}


@pytest.mark.parametrize(
    ("body", "calls", "problem"),
    [
        ("<function=>\n</function>", [], "tool call 1 has no function name (<function=NAME>)"),
        ("<function=f\n<parameter=a>\n1\n</parameter>\n</function>", [], "tool call 1 has no function name"),
        (
            "<function=f>\n<parameter=a>\n1\n</parameter>",
            [ToolCall("f", {"a": 1})],
            "tool call 1 has no closing </function>",
        ),
        (
            "<function=f>\n<parameter=a>\n1\n<parameter=b>\n2\n</parameter>\n</function>",
            [ToolCall("f", {"a": 1, "b": 2})],
            "tool call 1 (f) has no closing </parameter> for 'a'",
        ),
        (
            "<function=f>\n<parameter=a>\n1\n</parameter>\n<parameter=a>\n2\n</parameter>\n</function>",
            [ToolCall("f", {"a": 1})],
            "tool call 1 (f) gives parameter 'a' twice; the first is kept",
        ),
        (
            "<function=f>\nsure!\n<parameter=a>\n1\n</parameter>\n</function>",
            [ToolCall("f", {"a": 1})],
            "tool call 1 (f) has text outside its parameters ('sure!')",
        ),
        (
            "<function=f>\n</function> and more",
            [ToolCall("f", {})],
            "tool call 1 (f) has text after </function>",
        ),
        (
            "<function=f>\n<parameter=>\n1\n</parameter>\n</function>",
            [ToolCall("f", {})],
            "tool call 1 (f) has a parameter without a name (<parameter=NAME>)",
        ),
        (
            "<function=f>\n<parameter=a\n1\n</parameter>\n</function>",
            [ToolCall("f", {})],
            "tool call 1 (f) has a parameter without a name (<parameter=NAME>)",
        ),
        (
            "<function=f>" + "<parameter=p>\n1\n</parameter>" * 300 + "</function>",
            [ToolCall("f", {"p": 1})],
            "tool call 1 (f) has more than 256 parameters; the rest were not read",
        ),
    ],
)
def test_malformed_qwen35_calls_are_reported_not_raised(
    body: str, calls: list[ToolCall], problem: str
) -> None:
    action = parse_action(f"<think>t</think><tool_call>\n{body}\n</tool_call>")
    assert action.tool_calls == calls
    assert any(found.startswith(problem) for found in action.problems), action.problems


def test_qwen35_garbage_never_raises() -> None:
    for text in [
        "<tool_call><function=",
        "<tool_call><function=f>" + "<parameter=" * 1000,
        "<tool_call><function=f><parameter=a>" + "[" * 500,
        "<tool_call><function=f></parameter></function></function>",
        "<tool_call><function=f><parameter=a>\ud800</parameter></function>",
        "<tool_call><function=<function=f>>",
    ]:
        assert isinstance(parse_action(text), Action)

"""Readers, writers, conversion and validation of the data formats (fixtures in tests/fixtures/formats)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.readers import READERS
from thinkact.data.readers.convert import run_convert
from thinkact.data.readers.hermes import convert_hermes
from thinkact.data.readers.openai import convert_openai
from thinkact.data.readers.records import RecordError
from thinkact.data.readers.schemas import tool_schema
from thinkact.data.readers.sharegpt import convert_sharegpt
from thinkact.data.readers.xlam import parameter_schema
from thinkact.data.validate import validate_record
from thinkact.data.writers import alternates, to_sharegpt, write_sharegpt
from thinkact.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
BFCL_QUESTIONS = Path(__file__).parent / "fixtures" / "bfcl" / "data" / "BFCL_v4_live_multiple.json"
SOURCES = {
    "openai": FIXTURES / "openai.jsonl",
    "sharegpt": FIXTURES / "sharegpt.json",
    "xlam": FIXTURES / "xlam.json",
    "hermes": FIXTURES / "hermes.jsonl",
    "apibank": FIXTURES / "apibank" / "level-1",
    "bfcl": BFCL_QUESTIONS,
}


def convert(name: str, tmp_path: Path, **options: Any) -> list[Conversation]:
    out = tmp_path / f"{name}.jsonl"
    run_convert(SOURCES[name], source_format=name, out=out, skip_invalid=True, **options)
    return read_conversations(out)


def by_id(conversations: list[Conversation]) -> dict[str, Conversation]:
    return {conversation.id: conversation for conversation in conversations}


def calls(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (call["function"]["name"], call["function"]["arguments"]) for call in message.get("tool_calls", [])
    ]


def test_every_format_has_a_fixture() -> None:
    assert set(READERS) == {*SOURCES, "chat"}


def test_openai_messages(tmp_path: Path) -> None:
    first, second = convert("openai", tmp_path)
    assert calls(first.messages[2]) == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert first.messages[2]["reasoning_content"] == "Two cities, two calls."
    assert [m.get("name") for m in first.messages[3:5]] == ["get_weather", "get_weather"]
    assert first.meta == {"source": "hand-written"}
    assert second.id == "openai-2"  # no id in the record: file stem and line
    assert second.messages[0] == {"role": "system", "content": "Be brief."}  # developer role, text parts
    assert calls(second.messages[2]) == [("get_weather", {"city": "Oslo"})]  # legacy function_call
    assert second.messages[3]["role"] == "tool"
    assert second.messages[4]["reasoning_content"] == "It is cold."
    assert second.messages[4]["content"] == "3°C in Oslo."
    assert second.tools[0]["type"] == "function"  # bare function wrapped, JSON string parsed


def test_sharegpt_with_function_call_and_observation(tmp_path: Path) -> None:
    single, parallel = convert("sharegpt", tmp_path)
    assert [m["role"] for m in single.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert single.messages[3] == {"role": "tool", "content": '{"temp": 18}', "name": "get_weather"}
    assert calls(parallel.messages[1]) == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert parallel.messages[1]["reasoning_content"] == "Both at once."
    assert [m["content"] for m in parallel.messages[2:4]] == ['{"temp": 18}', '{"temp": 25}']
    assert parallel.messages[4] == {
        "role": "assistant",
        "content": "Paris 18°C, Rome 25°C.",
        "reasoning_content": "Report both.",
    }


def test_sharegpt_observation_must_hold_one_result_per_call() -> None:
    record = {
        "conversations": [
            {"from": "human", "value": "a and b"},
            {
                "from": "function_call",
                "value": '[{"name": "f", "arguments": {}}, {"name": "f", "arguments": {}}]',
            },
            {"from": "observation", "value": "both results in one blob"},
        ]
    }
    with pytest.raises(Exception, match=r"conversations\[2\]\.value: 2 results expected"):
        convert_sharegpt(record, "x")


def test_xlam_types_become_json_schema(tmp_path: Path) -> None:
    primes, average = convert("xlam", tmp_path)
    assert primes.id == "0"
    fibonacci = primes.tools[1]["function"]["parameters"]
    assert fibonacci["required"] == ["count"]
    assert fibonacci["properties"]["start"]["prefixItems"] == [{"type": "integer"}, {"type": "integer"}]
    assert calls(primes.messages[1]) == [("is_prime", {"n": 17}), ("fibonacci", {"count": 5})]
    properties = average.tools[0]["function"]["parameters"]["properties"]
    assert properties["values"] == {"description": "Values.", "type": "array", "items": {"type": "number"}}
    assert properties["options"]["type"] == "object"
    assert properties["callback"]["x-python-type"] == "Callable[[float], float], optional"


@pytest.mark.parametrize(
    ("spelled", "schema", "optional"),
    [
        ("str", {"type": "string"}, False),
        ("int, optional", {"type": "integer"}, True),
        ("Optional[float]", {"type": "number"}, True),
        ("List[str]", {"type": "array", "items": {"type": "string"}}, False),
        ("Dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}, False),
        ("Union[int, str]", {"anyOf": [{"type": "integer"}, {"type": "string"}]}, False),
        ("bool", {"type": "boolean"}, False),
    ],
)
def test_xlam_parameter_types(spelled: str, schema: dict[str, Any], optional: bool) -> None:
    assert parameter_schema({"type": spelled}) == (schema, optional)


def test_hermes_and_qwen_tags(tmp_path: Path) -> None:
    conversations = by_id(convert("hermes", tmp_path))
    hermes = conversations["h-1"]
    assert [tool["function"]["name"] for tool in hermes.tools] == ["get_weather"]
    assert "<tools>\n[" not in hermes.messages[0]["content"]  # the block is gone, the instructions stay
    assert calls(hermes.messages[2]) == [("get_weather", {"city": "Paris"})]  # a Python-literal call
    assert hermes.messages[3] == {"role": "tool", "name": "get_weather", "content": '{"temp": 18}'}
    qwen = conversations["q-1"]
    assert qwen.messages[0]["content"] == "You are a weather assistant."  # Qwen's tool boilerplate removed
    assert len(qwen.tools) == 1
    assert qwen.messages[2]["reasoning_content"] == "Two calls."
    assert [m["role"] for m in qwen.messages[3:5]] == ["tool", "tool"]  # a user turn of tool responses
    assert by_id(convert("hermes", tmp_path))["t-1"].messages == [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "user", "content": "Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
            ],
        },
        {"role": "tool", "name": "get_weather", "content": '{"temp": 3}'},
        {"role": "assistant", "content": "3°C in Oslo."},
    ]


def test_bfcl_question_with_possible_answer(tmp_path: Path) -> None:
    (question,) = convert("bfcl", tmp_path)
    assert question.tools[1]["function"]["parameters"]["properties"]["conditions"]["type"] == "object"
    reference = question.messages[-1]
    assert calls(reference) == [
        ("fetch_records", {"conditions": {"department": "Science", "school": "Bluebird High School"}})
    ]
    assert question.meta["category"] == "live_multiple"
    assert question.meta["possible_answer"][0]["fetch_records"]["conditions"][0]["year"] == ["", 2020]


def test_invalid_record_stops_the_conversion_with_file_line_and_field(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(UserError, match=r"openai_invalid\.jsonl:2: not valid JSON") as error:
        run_convert(FIXTURES / "openai_invalid.jsonl", source_format="chat", out=out)
    assert "--skip-invalid" in str(error.value)
    assert not out.exists()


def test_skip_invalid_writes_rejects_with_reasons(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    summary = run_convert(FIXTURES / "openai_invalid.jsonl", source_format="chat", out=out, skip_invalid=True)
    assert (summary.read, summary.written, summary.rejected) == (5, 1, 4)
    rejects = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [reject["where"].rsplit(":", 1)[1] for reject in rejects] == ["2", "3", "4", "5"]
    assert "'get_time' is not among the declared tools" in rejects[1]["problems"][0]
    assert rejects[2]["problems"] == [
        "messages[1].tool_calls: 1 call but 0 tool results follow; give each call its tool message"
    ]
    assert rejects[3]["record"]["id"] == "string-args"  # the record as it was given


def test_convert_cli_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    args = ["data", "convert", str(FIXTURES / "apibank" / "level-1"), "--from", "apibank", "--out", str(out)]
    run = CliRunner().invoke(app, [*args, "--skip-invalid"])
    assert run.exit_code == 0, run.output
    assert "read 3 records" in run.output and "wrote 2" in run.output and "rejected 1" in run.output


def test_validate_cli_reports_file_line_and_field(tmp_path: Path) -> None:
    run = CliRunner().invoke(app, ["data", "validate", str(FIXTURES / "openai_invalid.jsonl")])
    assert run.exit_code == 1
    lines = run.output.splitlines()
    expected = "openai_invalid.jsonl:3: messages[1].tool_calls[0].function.name: 'get_time' is not among"
    assert expected in lines[1]
    assert lines[-1].endswith("5 records, 1 valid, 4 with problems")
    good = tmp_path / "good.jsonl"
    run_convert(SOURCES["openai"], source_format="openai", out=good)
    assert CliRunner().invoke(app, ["data", "validate", str(good)]).exit_code == 0


def record(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "r", "messages": messages, "tools": tools or []}


USER = {"role": "user", "content": "hi"}
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {}}}],
}
TOOL_F = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(
    ("messages", "tools", "problem"),
    [
        ([USER], None, "messages: no assistant message"),
        (
            [{"role": "assistant", "content": "hello"}, USER],
            None,
            "messages[0]: an assistant message before any user",
        ),
        (
            [USER, CALL, {"role": "tool", "name": "g", "content": "1"}],
            [TOOL_F],
            "messages[2].name: 'g' answers no call",
        ),
        (
            [USER, CALL, {"role": "tool", "tool_call_id": "c9", "content": "1"}],
            [TOOL_F],
            "messages[2].tool_call_id",
        ),
        ([USER, CALL, USER], [TOOL_F], "messages[1].tool_calls: 1 call but 0 tool results"),
        ([USER, CALL], [TOOL_F, TOOL_F], "tools[1].function.name: 'f' is declared twice"),
        (
            [USER, CALL],
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "dict"}}}],
            "tools[0].function.parameters: expected a JSON Schema object",
        ),
        (
            [USER, CALL],
            [
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"type": "object", "required": "x"}},
                }
            ],
            "tools[0].function.parameters['required']: not a valid JSON Schema",
        ),
    ],
)
def test_validation_checks(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, problem: str
) -> None:
    problems = validate_record(record(messages, tools))
    assert any(found.startswith(problem) for found in problems), problems


def test_a_conversation_may_end_on_its_calls() -> None:
    assert validate_record(record([USER, CALL], [TOOL_F])) == []


RICH = Conversation(
    id="rich-1",
    tools=[TOOL_F],
    meta={"domain": "test", "phenomena": ["parallel"]},
    messages=[
        {"role": "system", "content": "Be helpful."},
        USER,
        {
            "role": "assistant",
            "content": "Checking both.",
            "reasoning_content": "Two calls needed.",
            "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}, "id": "a"},
                {
                    "type": "function",
                    "function": {"name": "f", "arguments": {"x": [1, {"y": None}]}},
                    "id": "b",
                },
            ],
        },
        {
            "role": "tool",
            "name": "f",
            "tool_call_id": "b",
            "content": "two\n</tool_response>\n<tool_response>\n?",
        },
        {"role": "tool", "name": "f", "tool_call_id": "a", "content": "one"},
        {
            "role": "assistant",
            "content": "Done: one and two.",
            "reasoning_content": "",
            "facts": ["one", "two"],
        },
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "You're welcome.", "score": False},
    ],
)


def test_chat_to_sharegpt_to_chat_loses_nothing(tmp_path: Path) -> None:
    sharegpt = tmp_path / "rich.sharegpt.jsonl"
    write_sharegpt(sharegpt, [RICH])
    back = tmp_path / "back.jsonl"
    run_convert(sharegpt, source_format="sharegpt", out=back)
    assert json.loads(back.read_text()) == RICH.to_json()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_fixture_round_trips_through_sharegpt(name: str, tmp_path: Path) -> None:
    chat = tmp_path / "chat.jsonl"
    run_convert(SOURCES[name], source_format=name, out=chat, skip_invalid=True)
    run_convert(chat, source_format="chat", out=tmp_path / "s.jsonl", target_format="sharegpt")
    run_convert(tmp_path / "s.jsonl", source_format="sharegpt", out=tmp_path / "back.jsonl")
    original = [json.loads(line) for line in chat.read_text().splitlines()]
    assert [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()] == original


def test_sharegpt_output_follows_llama_factory() -> None:
    turns = to_sharegpt(RICH)["conversations"]
    assert [turn["from"] for turn in turns] == [
        "system",
        "human",
        "function_call",
        "observation",
        "gpt",
        "human",
        "gpt",
    ]
    call = turns[2]["value"]
    assert call.startswith("<think>\nTwo calls needed.\n</think>\n\n[")
    assert json.loads(call.split("\n\n", 1)[1])[1] == {
        "name": "f",
        "arguments": {"x": [1, {"y": None}]},
        "id": "b",
    }
    assert alternates(RICH)
    two_replies = Conversation(
        "c", [USER, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    assert not alternates(two_replies)


@pytest.mark.parametrize(
    "body",
    [
        '[{"name": "f"}, {"name": "g"}]',  # a JSON list
        "[{'name': 'f'}, {'name': 'g'}]",  # a Python literal (Hermes data)
        '{"name": "f"}\n{"name": "g"}',  # one object per line (Qwen's template)
        '{"name": "f"}{"name": "g"}',  # objects back to back (Hermes 3's template)
    ],
)
def test_hermes_tools_block_shapes(body: str) -> None:
    record = {
        "conversations": [
            {"from": "system", "value": f"<tools>{body}</tools>"},
            {"from": "human", "value": "x"},
        ]
    }
    tools = convert_hermes(record, "x")["tools"]
    assert [tool["function"]["name"] for tool in tools] == ["f", "g"]


def test_llama_factory_typed_content_parts() -> None:
    """LLaMA-Factory's "messages" layout: text / reasoning / tool_call parts, all calls answered by one tool
    message holding a JSON list of results, tools in Python terms."""
    record = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "value": "Use tools."}]},
            {"role": "user", "content": [{"type": "text", "value": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "value": "Two cities, "},
                    {"type": "reasoning", "value": "two calls."},
                    {"type": "tool_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
                    {"type": "tool_call", "value": '{"name": "get_weather", "arguments": {"city": "Rome"}}'},
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "text",
                        "value": '[{"tool_call_id": "c1", "name": "get_weather", "content": {"temp": 18}}, '
                        '{"name": "get_weather", "content": "25 degrees"}]',
                    }
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "value": "Both known."},
                    {"type": "text", "value": "18 and 25."},
                ],
            },
        ],
        "tools": '[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "dict", '
        '"properties": {"city": {"type": "str"}, "days": {"type": "List[int]"}}, "required": ["city"]}}}]',
    }
    converted = convert_openai(record, "lf-1")
    assert converted["messages"] == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "Two cities, two calls.",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ],
        },
        {"role": "tool", "name": "get_weather", "tool_call_id": "c1", "content": '{"temp": 18}'},
        {"role": "tool", "name": "get_weather", "content": "25 degrees"},
        {"role": "assistant", "content": "18 and 25.", "reasoning_content": "Both known."},
    ]
    assert converted["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "array", "items": {"type": "integer"}}},
        "required": ["city"],
    }
    assert validate_record(converted) == []


def test_a_tool_message_that_is_one_result_stays_whole() -> None:
    """A JSON list is split only when it holds one {"name", "content"} result per call."""
    record = {
        "messages": [
            {"role": "user", "content": "Movie?"},
            {"role": "assistant", "tool_calls": [{"function": {"name": "movie", "arguments": {}}}]},
            {"role": "tool", "content": '[{"title": "Inception", "year": 2010}]'},
        ],
        "tools": [{"name": "movie", "parameters": {"type": "object"}}],
    }
    assert convert_openai(record, "m")["messages"][2] == {
        "role": "tool",
        "content": '[{"title": "Inception", "year": 2010}]',
        "name": "movie",
    }
    # a real result that happens to be a list of records with "name" and "content" keys is no result list
    notes = '[{"name": "notes.txt", "content": "buy milk"}]'
    record["messages"][2] = {"role": "tool", "content": notes}
    assert convert_openai(record, "m")["messages"][2] == {"role": "tool", "content": notes, "name": "movie"}


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            r"messages\[0\]\.content\[0\]: only text, reasoning and tool_call parts are supported",
        ),
        (
            {"role": "user", "content": [{"type": "reasoning", "value": "hmm"}]},
            r"messages\[0\]\.content\[0\]: a reasoning part in a user message; only assistants have them",
        ),
        (
            {"role": "assistant", "content": [{"type": "tool_call", "value": '{"name": "f", "arguments": '}]},
            r"messages\[0\]\.content\[0\]\.value: a string that is not standard JSON",
        ),
        (
            {
                "role": "assistant",
                "reasoning_content": "a",
                "content": [{"type": "reasoning", "value": "b"}],
            },
            r"messages\[0\]\.content: reasoning parts and a reasoning_content field; keep one of them",
        ),
    ],
)
def test_content_parts_that_cannot_be_read_are_refused(message: dict[str, Any], problem: str) -> None:
    with pytest.raises(RecordError, match=problem):
        convert_openai({"messages": [message]}, "x")


QWEN35_SYSTEM = (
    "# Tools\n\nYou have access to the following functions:\n\n<tools>\n"
    '{"type": "function", "function": {"name": "find_post_office", "parameters": {"type": "object", "properties": '
    '{"zip": {"type": "string"}, "radius_km": {"type": "integer"}, "open_now": {"type": "boolean"}, '
    '"note": {"type": "string"}}}}}\n</tools>\n\n'
    "If you choose to call a function ONLY reply in the following format with NO suffix:\n\n<tool_call>\n"
    "<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n</function>\n"
    "</tool_call>\n\n<IMPORTANT>\nReminder:\n- Required parameters MUST be specified\n</IMPORTANT>\n\n"
    "You are a postal clerk."
)


def test_qwen35_xml_calls_in_hermes_text() -> None:
    """Qwen3.5's template: its tool boilerplate first, then the system text; calls as <function=...> XML."""
    text = (
        f"<|im_start|>system\n{QWEN35_SYSTEM}<|im_end|>\n<|im_start|>user\nPost office near 10115?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nOne call.\n</think>\n\n<tool_call>\n<function=find_post_office>\n"
        "<parameter=zip>\n10115\n</parameter>\n<parameter=radius_km>\n5\n</parameter>\n"
        "<parameter=open_now>\nTrue\n</parameter>\n"
        "<parameter=note>\nfirst line\nsecond line\n</parameter>\n</function>\n</tool_call><|im_end|>\n"
    )
    record = convert_hermes({"text": text}, "q35")
    assert [tool["function"]["name"] for tool in record["tools"]] == ["find_post_office"]
    assert record["messages"] == [
        {"role": "system", "content": "You are a postal clerk."},
        {"role": "user", "content": "Post office near 10115?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {
                        "name": "find_post_office",
                        # "zip" is typed string: its digits stay text; "radius_km" is JSON, so a number;
                        # "open_now" is a boolean the template wrote as Python's True.
                        "arguments": {
                            "zip": "10115",
                            "radius_km": 5,
                            "open_now": True,
                            "note": "first line\nsecond line",
                        },
                    },
                }
            ],
            "reasoning_content": "One call.",
        },
    ]
    assert validate_record(record) == []


def test_malformed_qwen35_xml_call_is_refused_with_its_place() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "<tool_call>\n<function=f>\n<parameter=a>\n1\n</function>\n</tool_call>",
            },
        ]
    }
    with pytest.raises(
        RecordError, match=r"messages\[1\] <tool_call> 1: the XML call \(f\) has no closing </parameter>"
    ):
        convert_hermes(record, "x")


TOOLACE_SYSTEM = (
    "You are an expert in composing functions.\nHere is a list of functions in JSON format that you can invoke:\n"
    '[{"name": "Market Trends API", "description": "Market trends.", "parameters": {"type": "dict", "properties": '
    '{"trend_type": {"type": "string"}, "limit": {"type": "int"}}, "required": ["trend_type"]}, "required": null}, '
    '{"name": "newAddress", "parameters": {"type": "dict", "properties": {}}}]. \nShould you decide to return the '
    "function call(s), put it in the format of [func1(params_name=params_value)]"
)


def toolace_record(name: str) -> dict[str, Any]:
    return {
        "conversations": [
            {"from": "human", "value": "Top market trends?"},
            {
                "from": "function_call",
                "value": json.dumps({"name": name, "arguments": {"trend_type": "GAINERS"}}),
            },
            {"from": "observation", "value": '[{"name": "Market Trends API", "results": {"trends": []}}]'},
            {"from": "gpt", "value": "No trends today."},
        ],
        "system": TOOLACE_SYSTEM,
        "tools": "[]",
    }


def test_sharegpt_tools_listed_in_the_system_prompt(tmp_path: Path) -> None:
    """LLaMA-Factory's ToolACE conversion: `tools` is "[]" and the tools are a JSON list in the system prompt."""
    record = convert_sharegpt(toolace_record("Market Trends API"), "t")
    assert [tool["function"]["name"] for tool in record["tools"]] == ["Market Trends API", "newAddress"]
    assert record["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"trend_type": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["trend_type"],
    }
    assert record["messages"][0] == {"role": "system", "content": TOOLACE_SYSTEM}  # kept as it was
    assert calls(record["messages"][2]) == [("Market Trends API", {"trend_type": "GAINERS"})]
    assert validate_record(record) == []
    # A call to a shortened name is refused with the turn, the call and the listed tools.
    source = tmp_path / "toolace.json"
    records = [toolace_record("Market Trends API"), toolace_record("API")]
    source.write_text("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n")  # one per line
    summary = run_convert(source, source_format="sharegpt", out=tmp_path / "out.jsonl", skip_invalid=True)
    assert (summary.written, summary.rejected) == (1, 1)
    (rejected,) = [json.loads(line) for line in summary.rejects.read_text().splitlines()]
    assert rejected["where"] == f"{source}:3"
    assert rejected["problems"] == [
        "conversations[1].value: calls 'API', which the tools listed in the system prompt do not name (listed: "
        "'Market Trends API', 'newAddress'); 'Market Trends API' ends with it: the conversion that made this file "
        "seems to have cut tool names to their last word, so write the full name in the call"
    ]
    assert rejected["record"] == toolace_record("API")


@pytest.mark.parametrize(
    ("parameters", "schema"),
    [
        (  # BFCL / ToolACE: "dict" and Python type names, nested too
            {
                "type": "dict",
                "properties": {"a": {"type": "float"}, "b": {"type": "list", "items": {"type": "str"}}},
            },
            {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "array", "items": {"type": "string"}}},
            },
        ),
        (  # xLAM's bare layout
            {"n": {"type": "int", "description": "N."}, "m": {"type": "str, optional", "default": ""}},
            {
                "type": "object",
                "properties": {
                    "n": {"description": "N.", "type": "integer"},
                    "m": {"default": "", "type": "string"},
                },
                "required": ["n"],
            },
        ),
        (  # JSON Schema already: unchanged
            {
                "type": "object",
                "properties": {"x": {"type": ["string", "null"], "enum": ["a", None]}},
                "required": [],
            },
            {
                "type": "object",
                "properties": {"x": {"type": ["string", "null"], "enum": ["a", None]}},
                "required": [],
            },
        ),
        (  # a type name that is no Python type: left for the validator to name
            {"type": "object", "properties": {"x": {"type": "text"}}},
            {"type": "object", "properties": {"x": {"type": "text"}}},
        ),
    ],
)
def test_tool_parameters_in_python_terms_become_json_schema(
    parameters: dict[str, Any], schema: dict[str, Any]
) -> None:
    converted = tool_schema({"name": "f", "parameters": parameters}, "tools[0]")["function"]["parameters"]
    assert converted == schema
    assert json.dumps(converted) == json.dumps(schema)  # key order kept

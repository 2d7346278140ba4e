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

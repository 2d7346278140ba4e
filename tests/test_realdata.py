"""Real public tool-use data (samples in ../shared/realdata, sources in its SOURCES.md): each reader reads the
cases found in them, or refuses them with a message that says what to change. Skipped where ../shared is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkact.data.readers import READERS
from thinkact.data.readers.openai import convert_openai
from thinkact.data.readers.sharegpt import convert_sharegpt
from thinkact.data.validate import validate_record

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "samples"
pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="the real-data samples in ../shared are not here"
)


def _items(source_format: str, path: Path) -> list:
    return list(READERS[source_format](path))


def test_hermes_chatml_text_keeps_the_last_turn_without_im_end() -> None:
    (item,) = _items("hermes", SAMPLES / "hermes" / "hermes_fc_v1_card_chatml_text.jsonl")
    assert item.record is not None and not item.problems
    roles = [message["role"] for message in item.record["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert item.record["messages"][-1]["content"].startswith("The stock fundamentals data for Tesla")
    assert validate_record(item.record) == []


def test_hermes_rows_with_literal_newlines_and_misplaced_names_are_read() -> None:
    items = _items("hermes", SAMPLES / "hermes" / "hermes_fc_v1_card_records.jsonl")
    assert all(item.record is not None for item in items), [item.problems for item in items]
    calls = [
        call["function"]
        for item in items
        for m in item.record["messages"]
        for call in m.get("tool_calls", [])
    ]
    extraction = next(call for call in calls if call["name"] == "ExpertQAExtractor")
    assert list(extraction["arguments"]) == ["queries"] and len(extraction["arguments"]["queries"]) == 3


def test_qwen35_xml_calls_are_read() -> None:
    (item,) = _items("hermes", SAMPLES / "hermes" / "qwen35_xml_call_excerpt.jsonl")
    assert item.record is not None and not item.problems
    assert validate_record(item.record) == []
    assert [tool["function"]["name"] for tool in item.record["tools"]] == ["get_user_id"]
    # Qwen3.5's tool boilerplate (tools block and call-format example) was all the system text: nothing is left.
    assert item.record["messages"] == [
        {"role": "user", "content": "look up the user ID for Min-ji Park."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_user_id", "arguments": {"user": "Min-ji Park"}},
                }
            ],
            "reasoning_content": "",
        },
    ]


def test_xlam_card_layout_with_required_flags() -> None:
    items = _items("xlam", SAMPLES / "xlam" / "xlam_quoted_records.json")
    assert all(item.record is not None for item in items), [item.problems for item in items]
    card = items[-1].record
    assert all(validate_record(item.record) == [] for item in items)
    schema = card["tools"][0]["function"]["parameters"]
    assert schema["required"] and all("required" not in spec for spec in schema["properties"].values())


def test_bfcl_java_is_refused_as_the_docs_say() -> None:
    items = _items("bfcl", SAMPLES / "bfcl" / "BFCL_v4_simple_java.json")
    assert items and all(item.record is None for item in items)
    assert "Java/JavaScript category thinkact leaves out" in items[0].problems[0]
    python = _items("bfcl", SAMPLES / "bfcl" / "BFCL_v4_simple_python.json")
    assert all(item.record is not None for item in python)


def test_toolace_tools_come_from_the_system_prompt() -> None:
    """LLaMA-Factory's ToolACE conversion: `tools` is "[]" and the list is in the system prompt. 4 of the 40
    records call tools by listed names and convert; the other 36 call shortened names ("API" for "Market Trends
    API") and each is refused naming the turn, the call and the listed tools."""
    path = SAMPLES / "sharegpt" / "toolace_sharegpt_func_fixed.first40.json"
    items = _items("sharegpt", path)
    converted = [item for item in items if item.record is not None]
    assert [item.where.rsplit(":", 1)[-1] for item in converted] == ["630", "928", "1166", "1580"]
    assert all(validate_record(item.record) == [] for item in converted)
    record = converted[0].record
    assert [tool["function"]["name"] for tool in record["tools"]] == [
        "S_YTD",
        "items",
        "loginUser",
        "GetMarkdownInStorageToPdf",
        "Uthmani Text API",
    ]
    assert record["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "video_url": {"description": "The URL of the video to be downloaded", "type": "string"},
            "output_path": {
                "description": "The path where the downloaded video will be saved",
                "type": "string",
            },
        },
        "required": ["video_url"],
    }
    calls = [call["function"] for message in record["messages"] for call in message.get("tool_calls", [])]
    assert calls == [
        {
            "name": "S_YTD",
            "arguments": {
                "video_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "output_path": "desktop",
            },
        },
        {
            "name": "GetMarkdownInStorageToPdf",
            "arguments": {"srcPath": "/documents/my_notes.md", "storage": "Google Drive"},
        },
    ]
    assert record["messages"][0]["content"].startswith("You are an expert in composing functions.")
    refused = [item for item in items if item.record is None]
    assert len(refused) == 36
    assert refused[0].where == f"{path}:2"
    assert refused[0].problems == [
        "conversations[1].value: calls 'API', which the tools listed in the system prompt do not name (listed: "
        "'newAddress', 'Market Trends API', 'Get Futures Prices', 'SEC Filings', 'United States Away from Home "
        "Mobility API', 'Calculate Sales Tax'); 'Market Trends API' ends with it: the conversion that made this "
        "file seems to have cut tool names to their last word, so write the full name in the call"
    ]
    assert all(
        "which the tools listed in the system prompt do not name" in item.problems[0] for item in refused
    )


def test_llama_factory_reasoning_tool_use_demo() -> None:
    """LLaMA-Factory's reason_tool_use demo: typed content parts become reasoning, calls and tool messages."""
    path = SAMPLES / "openai" / "lf_reason_tool_use_demo.first10.jsonl"
    items = _items("openai", path)
    assert [item.problems for item in items] == [[]] * 10
    assert all(validate_record(item.record) == [] for item in items)
    source = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    # Every reasoning part is its turn's reasoning_content, word for word.
    for item, raw in zip(items, source, strict=True):
        assistants = [m for m in item.record["messages"] if m["role"] == "assistant"]
        parts = [m["content"] for m in raw["messages"] if m["role"] == "assistant"]
        assert [m["reasoning_content"] for m in assistants] == [p[0]["value"] for p in parts]
    circles = items[2].record["messages"]
    assert [m["role"] for m in circles] == [
        *("system", "user", "assistant", "tool", "tool", "assistant"),
        *("user", "assistant", "tool", "tool", "tool", "assistant"),
    ]
    assert circles[1]["content"] == (
        "Calculate the area of a circle with a radius of 1.5 meters. Also, find the area for a radius of 3 meters."
    )
    assert circles[2]["content"] == ""
    assert circles[2]["reasoning_content"].startswith(
        "Okay, the user wants the area of a circle with radius 1.5"
    )
    assert [c["function"] for c in circles[2]["tool_calls"]] == [
        {"name": "circle_area", "arguments": {"radius": 1.5}},
        {"name": "circle_area", "arguments": {"radius": 3}},
    ]
    assert circles[3:5] == [
        {
            "role": "tool",
            "name": "circle_area",
            "tool_call_id": "call_7aEpYivNq3WjuZ3DXJlNZXiZ",
            "content": "{'area': 7.0686, 'radius': 1.5, 'unit':'square meters'}",
        },
        {
            "role": "tool",
            "name": "circle_area",
            "tool_call_id": "call_RcOWM5rYHIKqdKWc0Vd6aTF1",
            "content": "{'area': 28.2743, 'radius': 3, 'unit':'square meters'}",
        },
    ]
    assert [c["function"]["arguments"] for c in circles[7]["tool_calls"]] == [
        {"radius": 2.5},
        {"radius": 4},
        {"radius": 5.5},
    ]
    assert [m["content"] for m in circles[8:11]] == [
        "{'area': 19.6349, 'radius': 2.5, 'unit':'square meters'}",
        "{'area': 50.2655, 'radius': 4.0, 'unit':'square meters'}",
        "{'area': 95.0332, 'radius': 5.5, 'unit':'square meters'}",
    ]
    movie = items[1].record["messages"]
    assert movie[2]["reasoning_content"].startswith(
        'Alright, the user wants information about the movie "Inception".'
    )
    assert movie[3] == {
        "role": "tool",
        "content": '[{"title": "Inception", "director": "Christopher Nolan", "release_year": 2010, "genre": '
        '"Science fiction", "rating": 8.8}]',
        "name": "get_movie_details",
    }
    (moved,) = [m for m in items[4].record["messages"] if m["role"] == "tool"]
    assert moved["name"] == "move_files"
    assert json.loads(moved["content"])["file_names"] == ["photo1.jpg", "photo2.jpg", "photo3.jpg"]
    # Tools in Python terms: "dict"/"str" (record 1) and xLAM's bare layout (record 10).
    assert items[0].record["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "identifier": {
                "description": "The unique identifier for the device asset.",
                "type": "string",
                "default": "71491234-A",
            }
        },
    }
    search = items[9].record["tools"][2]["function"]
    assert search["name"] == "search" and search["parameters"]["required"] == ["q"]
    assert search["parameters"]["properties"]["number"]["type"] == "integer"
    assert [c["function"]["name"] for c in items[9].record["messages"][2]["tool_calls"]] == [
        "pagesjaunes",
        "links_finder",
        "search",
    ]


def test_llama3_parameters_key_keeps_its_arguments() -> None:
    """Calls that say "parameters" (Llama-3 style), taken from a real glaive record, in both readers."""
    raw = json.loads((SAMPLES / "sharegpt" / "glaive_toolcall_en_demo.first100.json").read_text("utf-8"))[0]
    for turn in raw["conversations"]:
        if turn["from"] == "function_call":
            call = json.loads(turn["value"])
            turn["value"] = json.dumps({"name": call["name"], "parameters": call["arguments"]})
            expected = call["arguments"]
    record = convert_sharegpt(raw, "g")
    (function,) = [c["function"] for m in record["messages"] for c in m.get("tool_calls", [])]
    assert function["arguments"] == expected and expected
    line = (SAMPLES / "openai" / "DERIVED_openai_shape_from_glaive_en.first60.jsonl").read_text("utf-8")
    raw = json.loads(line.splitlines()[0])
    for message in raw["messages"]:
        for call in message.get("tool_calls") or []:
            call["function"]["parameters"] = call["function"].pop("arguments")
            expected = json.loads(call["function"]["parameters"])
    record = convert_openai(raw, "o")
    (function,) = [c["function"] for m in record["messages"] for c in m.get("tool_calls", [])]
    assert function["arguments"] == expected and expected

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


def test_qwen35_xml_calls_are_refused_with_the_fix() -> None:
    (item,) = _items("hermes", SAMPLES / "hermes" / "qwen35_xml_call_excerpt.jsonl")
    assert item.record is None and 'write it as {"name": ..., "arguments"' in item.problems[0]


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


def test_toolace_calls_to_undeclared_tools_are_refused_with_the_fix() -> None:
    items = _items("sharegpt", SAMPLES / "sharegpt" / "toolace_sharegpt_func_fixed.first40.json")
    refused = [item for item in items if item.record is not None and validate_record(item.record)]
    problems = [p for item in refused for p in validate_record(item.record)]
    assert refused and any("is not among the declared tools (none; add its schema" in p for p in problems)


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

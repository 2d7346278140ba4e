"""Malformed user input, per loader, through the command line: a message naming the file (and line or field) and
what to do, exit status 2, never a traceback. Run in-process, so that a traceback would fail the test."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from thinkact.cli import app

CALL = {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def _chat(**overrides: object) -> str:
    record = {
        "id": "a",
        "tools": [TOOL],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "name": "f", "content": "{}"},
            {"role": "assistant", "content": "done"},
        ],
    }
    record.update(overrides)
    return json.dumps(record)


DEEP = "[" * 3000 + "]" * 3000
LONG_INT = "9" * 5000
CHAT_CASES: dict[str, tuple[bytes, str]] = {
    "invalid utf-8": (b'{"id": "a\xff\xfe"}\n', "not valid UTF-8"),
    "invalid utf-8 on line 3": (_chat().encode() + b"\n\n" + b'{"id": "\xc3("}\n', ":3: not valid UTF-8"),
    "over-long integer": (f'{{"id": "a", "n": {LONG_INT}}}\n'.encode(), "integer of more than 4300 digits"),
    "deep nesting": (f'{{"id": "a", "x": {DEEP}}}\n'.encode(), "nested deeper than 64 levels"),
    "moderately deep nesting": (
        ('{"id": "a", "x": ' + "[" * 300 + "]" * 300 + "}\n").encode(),
        "nested deeper",
    ),
    "NaN": (b'{"id": "a", "x": NaN}\n', "NaN is not a JSON number"),
    "Infinity": (b'{"id": "a", "x": -Infinity}\n', "Infinity is not a JSON number"),
    "huge float": (b'{"id": "a", "x": 1e999}\n', "too large for a float"),
    "not JSON": (b"{oops\n", "not valid JSON"),
    "parameters not an object": (
        _chat(tools=[{"type": "function", "function": {"name": "f", "parameters": 5}}]).encode(),
        "tools[0].function.parameters: expected a JSON Schema object",
    ),
    "undeclared tool, no tools": (_chat(tools=[]).encode(), "'f' is not among the declared tools"),
    "arguments string deep": (
        _chat(
            messages=[
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "function": {
                                "name": "f",
                                "arguments": json.dumps({"x": json.loads("[" * 100 + "]" * 100)}),
                            }
                        }
                    ],
                },
            ]
        ).encode(),
        "not standard JSON",
    ),
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(sys, "argv", ["thinkact", *argv])
    with pytest.raises(SystemExit) as stop:
        app()
    captured = capsys.readouterr()
    message = captured.err + captured.out
    assert stop.value.code == 2, message
    assert "Traceback" not in message
    return " ".join(message.split())


@pytest.mark.parametrize("case", sorted(CHAT_CASES))
def test_chat_data_loader(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    content, expected = CHAT_CASES[case]
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    message = _run(["data", "stats", str(path)], capsys, monkeypatch)
    assert str(path) in message and expected in message


READER_CASES: dict[str, tuple[str, str, bytes, str]] = {
    "sharegpt array: deep": ("sharegpt", "d.json", f'[{{"conversations": {DEEP}}}]'.encode(), "d.json:1"),
    "sharegpt array: long int": ("sharegpt", "d.json", f'[{{"x": {LONG_INT}}}]'.encode(), "4300 digits"),
    "sharegpt: bad utf-8": ("sharegpt", "d.json", b'[{"conversations": "\xff"}]', "not valid UTF-8"),
    "openai: NaN": ("openai", "d.jsonl", b'{"messages": [], "x": NaN}\n', "NaN is not a JSON number"),
    "openai: long int": ("openai", "d.jsonl", f'{{"messages": {LONG_INT}}}\n'.encode(), "4300 digits"),
    "hermes: non-string key": (
        "hermes",
        "d.jsonl",
        json.dumps(
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "<tool_call>{'name': 'f', 'arguments': {1: 2}}</tool_call>"},
                ]
            }
        ).encode(),
        "not JSON data",
    ),
    "hermes: deep literal": (
        "hermes",
        "d.jsonl",
        json.dumps(
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {
                        "from": "gpt",
                        "value": "<tool_call>{'name': 'f', 'arguments': {'x': "
                        + "[" * 100
                        + "]" * 100
                        + "}}</tool_call>",
                    },
                ]
            }
        ).encode(),
        "nested deeper",
    ),
    "xlam: deep tools string": (
        "xlam",
        "d.json",
        json.dumps([{"id": 1, "query": "q", "tools": DEEP, "answers": "[]"}]).encode(),
        "nested deeper",
    ),
    "bfcl: long int": (
        "bfcl",
        "BFCL_v4_simple_python.json",
        f'{{"id": "simple_python_0", "x": {LONG_INT}}}\n'.encode(),
        "4300 digits",
    ),
    "bfcl: bad utf-8": ("bfcl", "BFCL_v4_simple_python.json", b'{"id": "\xff"}\n', "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(READER_CASES))
def test_format_readers(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source_format, name, content, expected = READER_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    argv = ["data", "convert", str(path), "--from", source_format, "--out", str(tmp_path / "out.jsonl")]
    message = _run(argv, capsys, monkeypatch)
    assert name in message and expected in message
    assert "Fix the record" in message or "fix" in message.lower() or "save the file" in message


CONFIG_CASES: dict[str, tuple[str, str]] = {
    "NaN weight": (
        "rewards:\n  weights:\n    format: .nan\n",
        "rewards.weights.format: expected a finite number",
    ),
    "inf learning rate": ("learning_rate: .inf\n", "learning_rate: expected a finite number"),
    "over-long int": (f"steps: {LONG_INT}\n", "a value YAML cannot read"),
    "deep nesting": ("rewards: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    "deep mapping": (
        "rewards:\n  weights:\n    format: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
        "rewards.weights.format: expected a number",
    ),
    "not YAML": ("steps: [1\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_loader(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text, expected = CONFIG_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    message = _run(["grpo", "--config", str(path), "--model", str(tmp_path / "none")], capsys, monkeypatch)
    assert "bad.yaml" in message and expected in message


def test_config_file_of_bad_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"steps: 3\nseed: \xff\n")
    message = _run(["grpo", "--config", str(path)], capsys, monkeypatch)
    assert "bad.yaml:2: not valid UTF-8" in message


def test_override_of_nan_weight_names_the_field(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _run(["grpo", "--set", "rewards.weights.format=.nan"], capsys, monkeypatch)
    assert "rewards.weights.format: expected a finite number" in message

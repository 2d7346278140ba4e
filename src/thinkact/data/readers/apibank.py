"""API-Bank level-1 dialogues (Li et al., EMNLP 2023) → the chat format, one conversation per dialogue file.

A dialogue is a JSONL file of events: `{"role": "User"|"AI", "text": ...}` and `{"role": "API", "api_name": ...,
"param_dict": {...}, "result": {"output": ..., "exception": ...}}`. Each event keeps its place:

- `User` → a user message; `AI` → an assistant message;
- `API` → an assistant message with that one call, then a tool message with the recorded output (a string as
  it is, anything else as JSON; `{"exception": ...}` when the call failed). Two API events in a row stay two
  call turns, because the original benchmark scores each API event as its own test point.

This mirrors how the original evaluator builds its test points: every API event is a call test point (name and
parameters), and the AI reply that directly follows an API event is a response test point scored with ROUGE-L.
AI replies that do not follow a call are not test points, so their messages carry `"score": false`; `meta`
says `"answer_metric": "rougeL"` and `"source": "api-bank"`. The tools are the APIs the dialogue calls (the
original gives the model exactly those descriptions), built from `data/all_apis.csv` (its `api_info` text is
Python, read with `ast`, never executed); the output parameters are appended to the description because the
original shows them too. The system message says "This year is 2023.", as the original prompts do.

Left out: the original checks a call by running the API and comparing results (a few APIs accept equivalent
values); here the reference is the recorded call. Level-2 (ToolSearcher) and level-3 dialogues.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkact.data.readers.records import RecordError, SourceItem
from thinkact.data.readers.xlam import python_type_schema
from thinkact.errors import UserError
from thinkact.jsonsafe import JSONValueError, jsonl_lines, load_json, read_utf8
from thinkact.parse import ToolCall

SYSTEM_PROMPT = "This year is 2023."
APIS_FILE = Path("data") / "all_apis.csv"
_SIGNATURE = re.compile(r"(\w+)\s*:\s*([\w\[\], ]+?)\s*(?:,|$)")


def read_apibank(path: Path, apis: Path | None = None) -> Iterator[SourceItem]:
    """Every dialogue file under `path` (a folder, or one file); the API table is found above it unless given."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not path.exists() or not files:
        raise UserError(
            f"{path}: no API-Bank dialogues (*.jsonl) there; pass lv1-lv2-samples/level-1-given-desc"
        )
    tools = load_api_tools(apis or find_apis_file(path))
    for file in files:
        raw = read_utf8(file)
        try:
            record = convert_dialogue(raw, file.stem, tools)
        except RecordError as problem:
            yield SourceItem(where=str(file), raw=raw, problems=[str(problem)])
            continue
        yield SourceItem(where=str(file), raw=raw, record=record)


def find_apis_file(start: Path) -> Path:
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / APIS_FILE).is_file():
            return folder / APIS_FILE
    raise UserError(f"{start}: no {APIS_FILE} found in any folder above it; pass the API table with --apis")


def load_api_tools(path: Path) -> dict[str, dict[str, Any]]:
    """API name → tool schema, from API-Bank's `all_apis.csv`."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; pass API-Bank's data/all_apis.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "api_info" not in rows[0] or "类名" not in rows[0]:
        raise UserError(f"{path}: expected API-Bank's table with the columns 类名 (class name) and api_info")
    return {row["类名"]: _tool(row) for row in rows}


def _tool(row: dict[str, str]) -> dict[str, Any]:
    info = _parse_info(row["api_info"])
    inputs = info.get("input_parameters")
    if not isinstance(inputs, dict):  # GetToday declares `{None}`; ImageCaption's api_info is empty
        inputs = {} if "input_parameters" in info else _signature(row.get("input_parameters", ""))
    properties = {name: _parameter(spec) for name, spec in inputs.items()}
    description = str(info.get("description", ""))
    outputs = info.get("output_parameters")
    if isinstance(outputs, dict) and outputs:
        returns = "; ".join(
            f"{name} ({spec.get('type')}): {spec.get('description', '')}"
            for name, spec in outputs.items()
            if isinstance(spec, dict)
        )
        description = f"{description}\nReturns: {returns}".strip()
    function = {"name": row["类名"], "description": description}
    return {
        "type": "function",
        "function": {**function, "parameters": {"type": "object", "properties": properties}},
    }


def _parse_info(text: str) -> dict[str, Any]:
    """The assignments of an `api_info` cell (`description = "..."`, `input_parameters = {...}`), as literals."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    info = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                info[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return info


def _signature(text: str) -> dict[str, dict[str, str]]:
    """Parameters from the table's signature column, `(image: str)`, for APIs whose api_info is empty."""
    return {name: {"type": kind} for name, kind in _SIGNATURE.findall(text.strip("() "))}


def _parameter(spec: Any) -> dict[str, Any]:
    spec = spec if isinstance(spec, dict) else {}
    schema = python_type_schema(str(spec.get("type", "str"))) or {"type": "string"}
    return {**schema, "description": str(spec.get("description", ""))}


def convert_dialogue(text: str, name: str, tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One dialogue file's text as a chat-format conversation."""
    events = []
    for number, line in jsonl_lines(text):
        try:
            events.append((number, load_json(line)))
        except JSONValueError as error:
            raise RecordError(f"line {number}: {error}") from None
    if not events:
        raise RecordError("the dialogue file is empty")
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    called: list[str] = []
    previous = None
    for number, event in events:
        role = event.get("role") if isinstance(event, dict) else None
        if role == "API":
            messages.extend(_api_messages(event, number, tools))
            called += [event["api_name"]] if event["api_name"] not in called else []
        elif role in ("User", "AI") and isinstance(event.get("text"), str):
            message = {"role": "user" if role == "User" else "assistant", "content": event["text"]}
            if role == "AI" and previous != "API":
                message["score"] = False  # not a test point: the original scores only replies to API results
            messages.append(message)
        else:
            raise RecordError(f'line {number}: expected {{"role": "User"|"AI", "text": ...}} or an API event')
        previous = role
    return {
        "id": f"api-bank-{name}",
        "tools": [tools[api] for api in called],
        "messages": messages,
        "meta": {"source": "api-bank", "level": 1, "answer_metric": "rougeL", "file": f"{name}.jsonl"},
    }


def _api_messages(event: dict[str, Any], number: int, tools: dict[str, Any]) -> list[dict[str, Any]]:
    name, arguments, result = event.get("api_name"), event.get("param_dict"), event.get("result")
    if not isinstance(name, str) or name not in tools:
        raise RecordError(f"line {number}: api_name: {name!r} is not in API-Bank's API table (all_apis.csv)")
    if not isinstance(arguments, dict):
        raise RecordError(f"line {number}: param_dict: expected an object of parameters")
    if not isinstance(result, dict):
        raise RecordError(f"line {number}: result: expected the recorded {{output, exception}}")
    output, exception = result.get("output"), result.get("exception")
    if exception is not None:
        content = json.dumps({"exception": exception}, ensure_ascii=False)
    else:
        content = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    call = ToolCall(name, arguments).to_message()
    return [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": name, "content": content},
    ]

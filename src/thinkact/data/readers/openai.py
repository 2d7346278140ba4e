"""OpenAI / Hugging Face messages JSONL → the chat format.

Each record is `{"messages": [...], "tools": [...]}` as the OpenAI API and HF chat templates take it: `content`
a string, null or a list of text parts; assistant `tool_calls` with arguments as a JSON string or an object and an
optional `id`; `role: tool` results with `tool_call_id`; `reasoning_content` for thinking. Also understood: the
legacy `function_call` / `role: function` pair, the `developer` role (a system message), `tools` stored as a
JSON string (as HF datasets often do) or as bare function objects, and a leading `<think>…</think>` in assistant
content when there is no `reasoning_content`. A tool result without a `name` gets the name of the call it
answers (by `tool_call_id`, else by position). Other top-level fields go into `meta`.

Left out: non-text content parts (images, audio): such a record is rejected with the part named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkact.data.readers.records import (
    RecordError,
    SourceItem,
    extra_fields,
    load_json_field,
    read_call,
    read_items,
    record_id,
    split_think,
    text_of,
    wrap_tool,
)

_ROLE_ALIASES = {"developer": "system", "function": "tool"}


def read_openai(path: Path) -> Iterator[SourceItem]:
    return read_items(path, convert_openai)


def convert_openai(raw: Any, default_id: str) -> dict[str, Any]:
    """One OpenAI-style record as a chat-format record.

    >>> record = convert_openai({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant",
    ...     "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
    ...     {"role": "tool", "tool_call_id": "c1", "content": "2"}]}, "d-1")
    >>> record["messages"][1]["tool_calls"], record["messages"][2]["name"]
    ([{'type': 'function', 'function': {'name': 'f', 'arguments': {'x': 1}}, 'id': 'c1'}], 'f')
    """
    if not isinstance(raw, dict):
        raise RecordError("record: expected a JSON object with a messages list")
    source = load_json_field(raw.get("messages"), "messages")
    if not isinstance(source, list) or not source:
        raise RecordError("messages: expected a non-empty list of chat messages")
    tools = load_json_field(raw.get("tools") or [], "tools")
    if not isinstance(tools, list):
        raise RecordError("tools: expected a list of tool schemas")
    messages = [convert_message(message, f"messages[{index}]") for index, message in enumerate(source)]
    name_tool_results(messages)
    return {
        "id": record_id(raw, default_id),
        "tools": [wrap_tool(tool, f"tools[{index}]") for index, tool in enumerate(tools)],
        "messages": messages,
        "meta": extra_fields(raw, ("id", "messages", "tools")),
    }


def convert_message(message: Any, where: str) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise RecordError(f"{where}: expected a JSON object with a role")
    converted = dict(message)
    role = converted.get("role")
    converted["role"] = _ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
    converted["content"] = text_of(converted.get("content"), f"{where}.content") or ""
    legacy = converted.pop("function_call", None)
    calls = converted.get("tool_calls") or ([{"function": legacy}] if legacy else [])
    if calls:
        if not isinstance(calls, list):
            raise RecordError(f"{where}.tool_calls: expected a list")
        converted["tool_calls"] = [
            read_call(call, f"{where}.tool_calls[{i}]") for i, call in enumerate(calls)
        ]
    else:
        converted.pop("tool_calls", None)
    if converted["role"] == "assistant" and "reasoning_content" not in converted:
        reasoning, content = split_think(converted["content"])
        if reasoning is not None:
            converted["reasoning_content"], converted["content"] = reasoning, content
    return converted


def name_tool_results(messages: list[dict[str, Any]]) -> None:
    """Give each tool result without a `name` the name of the call it answers (by id, else by position)."""
    calls: list[dict[str, Any]] = []
    position = 0
    for message in messages:
        if message.get("role") != "tool":
            calls = (message.get("tool_calls") or []) if message.get("role") == "assistant" else []
            position = 0
            continue
        if "name" not in message:
            by_id = [
                call
                for call in calls
                if call.get("id") is not None and call["id"] == message.get("tool_call_id")
            ]
            matched = by_id[0] if by_id else calls[position] if position < len(calls) else None
            if matched is not None:
                message["name"] = matched["function"]["name"]
        position += 1

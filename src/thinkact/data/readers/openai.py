"""OpenAI / Hugging Face messages JSONL → the chat format.

Each record is `{"messages": [...], "tools": [...]}` as the OpenAI API and HF chat templates take it: `content`
a string, null or a list of text parts; assistant `tool_calls` with arguments as a JSON string or an object and an
optional `id`; `role: tool` results with `tool_call_id`; `reasoning_content` for thinking. Also understood: the
legacy `function_call` / `role: function` pair, the `developer` role (a system message), `tools` stored as a
JSON string (as HF datasets often do) or as bare function objects, and a leading `<think>…</think>` in assistant
content when there is no `reasoning_content`. A tool result without a `name` gets the name of the call it
answers (by `tool_call_id`, else by position). Other top-level fields go into `meta`.

LLaMA-Factory's own "messages" layout is read too: content parts `{"type": "text" | "reasoning" | "tool_call",
"value": ...}`. An assistant's reasoning parts become its `reasoning_content` (joined as LLaMA-Factory joins them),
its tool_call parts (`{"name", "arguments"}` as JSON) its `tool_calls`, in order. One tool message may answer all
the calls of a turn as a JSON list of `{"name", "content"}` results (with `tool_call_id` or not), one per call; it
becomes one tool message per result. Tool parameters written in Python terms (`"type": "dict"`, `"str"`, xLAM's
bare layout) become JSON Schema (`schemas.tool_schema`).

Left out: other content parts (images, audio): such a record is rejected with the part named.
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
)
from thinkact.data.readers.schemas import tool_schema
from thinkact.jsonsafe import JSONValueError, dump_json, load_json

_ROLE_ALIASES = {"developer": "system", "function": "tool"}
_RESULT_KEYS = frozenset({"name", "tool_call_id", "content"})
"""The fields of one result in a tool message that answers several calls at once (LLaMA-Factory's demos)."""


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
    messages = split_result_lists(messages)
    name_tool_results(messages)
    return {
        "id": record_id(raw, default_id),
        "tools": [tool_schema(tool, f"tools[{index}]") for index, tool in enumerate(tools)],
        "messages": messages,
        "meta": extra_fields(raw, ("id", "messages", "tools")),
    }


def convert_message(message: Any, where: str) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise RecordError(f"{where}: expected a JSON object with a role")
    converted = dict(message)
    role = converted.get("role")
    converted["role"] = _ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
    content = converted.get("content")
    if isinstance(content, list):
        _take_parts(converted, content, f"{where}.content")
    else:
        converted["content"] = text_of(content, f"{where}.content") or ""
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


def _take_parts(message: dict[str, Any], parts: list[Any], where: str) -> None:
    """Content parts into the message: text into `content`, reasoning and tool_call parts (assistant only) into
    `reasoning_content` and `tool_calls`. Text parts say `text` (OpenAI) or `value` (LLaMA-Factory)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        value = part.get("text", part.get("value")) if isinstance(part, dict) else None
        if kind not in ("text", "reasoning", "tool_call") or value is None:
            raise RecordError(
                f"{where}[{index}]: only text, reasoning and tool_call parts are supported (found {part!r:.60})"
            )
        if kind != "text" and message["role"] != "assistant":
            raise RecordError(
                f"{where}[{index}]: a {kind} part in a {message['role']} message; only assistants have them"
            )
        if kind == "tool_call":
            calls.append(
                read_call(load_json_field(value, f"{where}[{index}].value"), f"{where}[{index}].value")
            )
        elif not isinstance(value, str):
            raise RecordError(f"{where}[{index}].value: expected a string")
        else:
            (texts if kind == "text" else reasoning).append(value)
    message["content"] = "".join(texts)
    if reasoning:
        if "reasoning_content" in message:
            raise RecordError(f"{where}: reasoning parts and a reasoning_content field; keep one of them")
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        if message.get("tool_calls") or message.get("function_call"):
            raise RecordError(f"{where}: tool_call parts and a tool_calls field; keep one of them")
        message["tool_calls"] = calls


def split_result_lists(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each tool message that answers all calls of a turn with a JSON list of `{"name", "content"}` results (one
    per call, `tool_call_id` optional) split into one tool message per result; other messages as they are.

    >>> split_result_lists([{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}] * 2},
    ...     {"role": "tool", "content": '[{"name": "f", "content": {"n": 1}}, {"name": "f", "content": "2"}]'}])[1:]
    [{'role': 'tool', 'name': 'f', 'content': '{"n": 1}'}, {'role': 'tool', 'name': 'f', 'content': '2'}]
    """
    converted: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        before = messages[index - 1] if index else {}
        after = messages[index + 1] if index + 1 < len(messages) else {}
        calls = (before.get("tool_calls") or []) if before.get("role") == "assistant" else []
        names = [(call.get("function") or {}).get("name") for call in calls]
        results = _result_list(message, names) if calls and after.get("role") != "tool" else None
        if results is None:
            converted.append(message)
            continue
        for result in results:
            content = result["content"]
            converted.append(
                {
                    "role": "tool",
                    **{key: result[key] for key in ("name", "tool_call_id") if key in result},
                    "content": content if isinstance(content, str) else dump_json(content),
                }
            )
    return converted


def _result_list(message: dict[str, Any], names: list[Any]) -> list[dict[str, Any]] | None:
    """The results of a tool message holding one `{"name", "content"}` result per call as a JSON list, each named
    as its call is, in order; else None (a tool whose real result is a list of named records stays whole)."""
    if message.get("role") != "tool" or set(message) != {"role", "content"}:
        return None
    try:
        results = load_json(message["content"])
    except JSONValueError:
        return None
    if not isinstance(results, list) or len(results) != len(names):
        return None
    if not all(
        _is_result(result) and result.get("name") == name for result, name in zip(results, names, strict=True)
    ):
        return None
    return results


def _is_result(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "content" in value
        and value.keys() <= _RESULT_KEYS
        and all(isinstance(value.get(key, ""), str) for key in ("name", "tool_call_id"))
    )


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

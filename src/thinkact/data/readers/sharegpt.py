"""ShareGPT with tool turns (LLaMA-Factory's layout, used by APIGen-MT, glaive and others) → the chat format.

A record is `{"conversations": [{"from": ..., "value": ...}], "system": "...", "tools": "[...]"}`:

- `human` / `user` → user; `gpt` / `assistant` → assistant; `system` (first turn) → system;
- `function_call` → an assistant message with `tool_calls`; its value is one `{"name", "arguments"}` object or
  a list of them (parallel calls), as JSON, optionally preceded by `<think>…</think>`;
- `observation` / `tool` → tool results. Several results for parallel calls share one observation, joined
  with LLaMA-Factory's `"\\n</tool_response>\\n<tool_response>\\n"`; each gets the name of its call by position.
- `tools` is a JSON string (or a list) of function schemas, bare or wrapped in `{"type": "function", ...}`, with
  Python type names (`"dict"`, `"str"`, xLAM's bare layout) turned into JSON Schema. When it is empty (`"[]"`, as
  in LLaMA-Factory's conversion of ToolACE) the tools are read from a JSON list of them in the system prompt, which
  stays as it is; a call to a name that list lacks is refused with the names it has.
- A leading `<think>…</think>` in a `gpt` or `function_call` value becomes `reasoning_content`.

Turns may also use `role`/`content` keys. Keys beyond `from`/`value` on a turn are kept on the message (the
ShareGPT writer uses this to round-trip what ShareGPT has no field for: `facts`, `score`, call ids, text said
alongside calls); other top-level fields go into `meta`. Left out: multimodal fields (`images`, `videos`), which
land in `meta` untouched, and preference pairs (`chosen`/`rejected`).
"""

from __future__ import annotations

import json
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
)
from thinkact.data.readers.schemas import tool_schema
from thinkact.jsonsafe import make_decoder

RESULT_JOINER = "\n</tool_response>\n<tool_response>\n"
"""How LLaMA-Factory joins the results of parallel calls into one observation."""
TOOL_MESSAGES_KEY = "tool_messages"
"""Observation-turn key holding per-result fields (name, tool_call_id, ...) when position alone cannot say them."""
ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "function_call",
    "observation": "tool",
    "tool": "tool",
    "system": "system",
}


def read_sharegpt(path: Path) -> Iterator[SourceItem]:
    return read_items(path, convert_sharegpt)


def convert_sharegpt(raw: Any, default_id: str) -> dict[str, Any]:
    """One ShareGPT record as a chat-format record.

    >>> record = convert_sharegpt({"conversations": [{"from": "human", "value": "Weather in Paris?"},
    ...     {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "Paris"}}'},
    ...     {"from": "observation", "value": '{"temp": 21}'}, {"from": "gpt", "value": "21 degrees."}],
    ...     "tools": '[{"name": "weather", "parameters": {"type": "object"}}]'}, "x-1")
    >>> [m["role"] for m in record["messages"]], record["messages"][2]["name"]
    (['user', 'assistant', 'tool', 'assistant'], 'weather')
    """
    if not isinstance(raw, dict):
        raise RecordError("record: expected a JSON object with a conversations list")
    turns = raw.get("conversations", raw.get("messages"))
    if not isinstance(turns, list) or not turns:
        raise RecordError("conversations: expected a non-empty list of turns")
    tools = load_json_field(raw.get("tools") or [], "tools")
    if not isinstance(tools, list):
        raise RecordError("tools: expected a list of tool schemas (or a JSON string of one)")
    messages: list[dict[str, Any]] = []
    system = raw.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    listed = None if tools else tools_in_text(system if isinstance(system, str) else "")
    origin = "tools"
    if listed:
        _check_listed(turns, listed)
        tools, origin = listed, "the system prompt's tool list"
    calls: list[dict[str, Any]] = []
    for index, turn in enumerate(turns):
        where = f"conversations[{index}]"
        role, value, extras = _split_turn(turn, where)
        if role == "tool":
            messages.extend(_results(value, extras, calls, where))
            continue
        message = _message(role, value, extras, where)
        calls = message.get("tool_calls", [])
        messages.append(message)
    return {
        "id": record_id(raw, default_id),
        "tools": [tool_schema(tool, f"{origin}[{index}]") for index, tool in enumerate(tools)],
        "messages": messages,
        "meta": extra_fields(raw, ("id", "conversations", "messages", "system", "tools")),
    }


def tools_in_text(text: str) -> list[dict[str, Any]] | None:
    """The first JSON list of named function objects in a text (a system prompt that lists its tools), or None.

    >>> tools_in_text('Functions you can call: [{"name": "f", "parameters": {}}]. Answer with one.')
    [{'name': 'f', 'parameters': {}}]
    """
    decoder = make_decoder()
    start = text.find("[")
    while start >= 0:
        if text[start + 1 : start + 64].lstrip().startswith("{"):
            try:
                found, _ = decoder.raw_decode(text, start)
            except (ValueError, RecursionError):
                found = None
            if _is_tool_list(found):
                return list(found)
        start = text.find("[", start + 1)
    return None


def _is_tool_list(value: Any) -> bool:
    """A non-empty list of named objects that each describe a function (`parameters` or `description`), so that
    a system prompt's list of people or records is not taken for tools.

    >>> _is_tool_list([{"name": "Alice", "role": "lead"}]), _is_tool_list([{"name": "f", "parameters": {}}])
    (False, True)
    """
    return (
        isinstance(value, list)
        and bool(value)
        and all(_tool_name(tool) is not None and _describes_function(tool) for tool in value)
    )


def _describes_function(tool: dict[str, Any]) -> bool:
    function = tool.get("function", tool)
    return isinstance(function, dict) and ("parameters" in function or "description" in function)


def _tool_name(tool: Any) -> str | None:
    function = tool.get("function", tool) if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


def _check_listed(turns: list[Any], listed: list[dict[str, Any]]) -> None:
    """Refuse the first call to a name the system prompt's tool list lacks, naming the turn, the call and the list.

    All calls are checked before any turn is converted: when a conversion has renamed the calls, that is what the
    user needs to hear about first, whatever else a later turn holds.
    """
    names = [_tool_name(tool) or "" for tool in listed]
    for index, turn in enumerate(turns):
        where = f"conversations[{index}]"
        role, value, _ = _split_turn(turn, where)
        if role != "function_call":
            continue
        for call in _calls(split_think(value)[1], where):
            name = call["function"]["name"]
            if name not in names:
                raise RecordError(
                    f"{where}.value: calls {name!r}, which the tools listed in the system prompt do not name "
                    f"(listed: {', '.join(map(repr, names))}){_renamed_hint(name, names)}"
                )


def _renamed_hint(name: str, names: list[str]) -> str:
    """What to do about a call to an unlisted name; says so when a listed name ends with it (a shortened name)."""
    for listed_name in names:
        if (
            len(listed_name) > len(name)
            and listed_name.endswith(name)
            and not listed_name[-len(name) - 1].isalnum()
        ):
            return (
                f"; {listed_name!r} ends with it: the conversion that made this file seems to have cut tool names "
                "to their last word, so write the full name in the call"
            )
    return "; call a listed tool, or add the tool to the list"


def _split_turn(turn: Any, where: str) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(turn, dict):
        raise RecordError(f'{where}: expected {{"from": ..., "value": ...}}')
    tag_keys = ("from", "value") if "from" in turn else ("role", "content")
    tag, value = turn.get(tag_keys[0]), turn.get(tag_keys[1])
    if tag not in ROLES:
        raise RecordError(f"{where}.{tag_keys[0]}: {tag!r} is not one of {', '.join(ROLES)}")
    if not isinstance(value, str):
        raise RecordError(f"{where}.{tag_keys[1]}: expected a string")
    extras = {key: item for key, item in turn.items() if key not in tag_keys}
    return ROLES[tag], value, extras


def _message(role: str, value: str, extras: dict[str, Any], where: str) -> dict[str, Any]:
    if role in ("user", "system"):
        return {"role": role, "content": value, **extras}
    reasoning, text = split_think(value)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if role == "function_call":
        message["content"] = extras.pop("content", "")
        message["tool_calls"] = _calls(text, where)
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    message.update(extras)
    return message


def _calls(text: str, where: str) -> list[dict[str, Any]]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"{where}.value: the function call is not valid JSON ({error.msg})") from None
    entries = payload if isinstance(payload, list) else [payload]
    return [read_call(entry, f"{where}.value[{index}]") for index, entry in enumerate(entries)]


def _results(
    value: str, extras: dict[str, Any], calls: list[dict[str, Any]], where: str
) -> list[dict[str, Any]]:
    """The tool messages of one observation turn: one per call, split on LLaMA-Factory's joiner."""
    fields = extras.pop(TOOL_MESSAGES_KEY, None)
    if fields is not None and not (
        isinstance(fields, list) and all(isinstance(item, dict) for item in fields)
    ):
        raise RecordError(f"{where}.{TOOL_MESSAGES_KEY}: expected a list of objects, one per tool result")
    expected = len(fields) if fields is not None else max(len(calls), 1)
    if fields is not None and all("content" in item for item in fields):
        contents = [item["content"] for item in fields]
    else:
        contents = value.split(RESULT_JOINER) if expected > 1 else [value]
    if len(contents) != expected:
        raise RecordError(
            f"{where}.value: {expected} results expected for {expected} calls, found {len(contents)}; "
            f"separate the results of parallel calls with {RESULT_JOINER!r}"
        )
    messages = []
    for position, content in enumerate(contents):
        message: dict[str, Any] = {"role": "tool", "content": content}
        if position < len(calls):
            message["name"] = calls[position]["function"]["name"]
        message.update(fields[position] if fields is not None else {})
        message.update(extras)
        messages.append(message)
    return messages

"""Hermes / Qwen tagged text → the chat format.

The tool-use convention of NousResearch's Hermes function-calling data and of Qwen's chat template: tools are
listed inside `<tools>…</tools>` in the system prompt (a JSON or Python-literal list, or one JSON object per
line as Qwen renders them); the assistant writes `<think>…</think>` and `<tool_call>{"name", "arguments"}</tool_call>`
blocks; results come back as `<tool_response>…</tool_response>` blocks, in a `tool` turn (Hermes) or a user
turn made only of such blocks (Qwen). Qwen3.5 and Qwen3-Coder write the call inside `<tool_call>` as XML,
`<function=NAME><parameter=KEY>VALUE</parameter></function>`; such calls are read too. A record is any of:

- `{"conversations": [{"from": "system"|"human"|"gpt"|"tool", "value": ...}]}` (hermes-function-calling-v1),
- `{"messages": [{"role": ..., "content": ...}]}` with the tags inside the contents,
- `{"text": "<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n..."}`, a conversation rendered with Qwen's
  template.

Calls and results may be JSON or Python literals (Hermes writes `{'name': ...}`); they are read with `json`,
then `ast.literal_eval`, never `eval`. An XML call's values are JSON-decoded when they parse as JSON, else kept as
text (a parameter the tool's schema types as a string always keeps its text), less the one newline Qwen's template
writes on each side of a value. Two slips of hermes-function-calling-v1 rows are read for what they mean: a
call wrapped in literal `\\n` sequences (escaped twice), and a call whose `name` sits inside its `arguments`. The
last `{"text"}` turn may lack its `<|im_end|>`; text in a tool turn outside its `<tool_response>` blocks is refused
(say where it belongs) rather than dropped. The tools block is removed from the system prompt; Qwen3's and
Qwen3.5's own tool boilerplate goes with it, any other system text stays. A result `{"name": ..., "content": ...}`
gives its tool message that name, otherwise it takes the name of the call at its position. Other fields go into
`meta`.

Left out: calls in other dialects (`[TOOL_CALLS]`, `<|python_tag|>`) stay as plain text in the content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkact.data.readers.records import (
    RecordError,
    SourceItem,
    extra_fields,
    load_literal,
    read_items,
    record_id,
    split_think,
    wrap_tool,
)
from thinkact.jsonsafe import dump_json, make_decoder
from thinkact.parse import FUNCTION_OPEN, ToolCall, read_xml_call

_TOOLS = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)
# A turn ends at <|im_end|>; the last one may end at the end of the text (the Hermes card's example does).
_TURN = re.compile(r"<\|im_start\|>(\w+)\n(.*?)(?:<\|im_end\|>|(?=<\|im_start\|>)|\Z)", re.DOTALL)
_QWEN_TOOLS_HEADER = "# Tools\n\nYou may call one or more functions"
_QWEN35_TOOLS_HEADER = "# Tools\n\nYou have access to the following functions:"
# Qwen3.5's boilerplate ends with its reminder block; a shorter variant ends with the call format's example.
_QWEN35_TOOLS_ENDS = ("</IMPORTANT>", "</tool_call>")
_PYTHON_BOOLS = {"True": True, "False": False}
"""How Qwen3.5's template writes a bool argument (Jinja's `string` filter on a Python bool)."""
_ROLES = {
    **{"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"},
    **{"tool": "tool", "observation": "tool", "ipython": "tool"},
}


def read_hermes(path: Path) -> Iterator[SourceItem]:
    return read_items(path, convert_hermes)


def convert_hermes(raw: Any, default_id: str) -> dict[str, Any]:
    """One Hermes/Qwen record as a chat-format record.

    >>> record = convert_hermes({"conversations": [
    ...     {"from": "system", "value": "Use tools.<tools>[{'type': 'function', 'function': {'name': 'f'}}]</tools>"},
    ...     {"from": "human", "value": "go"},
    ...     {"from": "gpt", "value": "<tool_call>{'arguments': {'a': 1}, 'name': 'f'}</tool_call>"},
    ...     {"from": "tool", "value": '<tool_response>{"name": "f", "content": {"ok": true}}</tool_response>'}]}, "h")
    >>> record["messages"][0]["content"], record["messages"][2]["tool_calls"][0]["function"], record["messages"][3]
    ('Use tools.', {'name': 'f', 'arguments': {'a': 1}}, {'role': 'tool', 'name': 'f', 'content': '{"ok": true}'})
    """
    if not isinstance(raw, dict):
        raise RecordError("record: expected a JSON object with conversations, messages or text")
    turns = _turns(raw)
    tools: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for index, (role, text, where) in enumerate(turns):
        if role == "system" and index == 0:
            text, tools = _system_tools(text, where)
            if text:
                messages.append({"role": "system", "content": text})
        elif role == "tool" or (role == "user" and _only_responses(text)):
            messages.extend(_results(text, calls, where))
        elif role == "assistant":
            message = _assistant(text, where, tools)
            calls = message.get("tool_calls", [])
            messages.append(message)
        else:
            messages.append({"role": role, "content": text})
    if not messages:
        raise RecordError("conversations: no turns found")
    return {
        "id": record_id(raw, default_id),
        "tools": tools,
        "messages": messages,
        "meta": extra_fields(raw, ("id", "conversations", "messages", "text")),
    }


def _turns(raw: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role, text, field) for each turn, whichever of the three record shapes it is."""
    if isinstance(raw.get("text"), str):
        found = [(role, body, f"text turn {n}") for n, (role, body) in enumerate(_TURN.findall(raw["text"]))]
        if not found:
            raise RecordError("text: no <|im_start|>role ... <|im_end|> turns found")
        return [(_role(role, where), body, where) for role, body, where in found]
    key = "conversations" if "conversations" in raw else "messages"
    source = raw.get(key)
    if not isinstance(source, list) or not source:
        raise RecordError(f"{key}: expected a non-empty list of turns (or a text field)")
    turns = []
    for index, turn in enumerate(source):
        where = f"{key}[{index}]"
        if not isinstance(turn, dict):
            raise RecordError(f"{where}: expected an object with from/value or role/content")
        role, text = (
            (turn.get("from"), turn.get("value"))
            if "from" in turn
            else (turn.get("role"), turn.get("content"))
        )
        if not isinstance(text, str):
            raise RecordError(f"{where}: expected the turn's text as a string")
        turns.append((_role(role, where), text, where))
    return turns


def _role(role: Any, where: str) -> str:
    if role not in _ROLES:
        raise RecordError(f"{where}: role {role!r} is not one of {', '.join(_ROLES)}")
    return _ROLES[role]


def _system_tools(text: str, where: str) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt without its tools block, and the tools listed in it."""
    # The instructions around the block may mention the tags themselves ("within <tools></tools> XML tags").
    blocks = [match for match in _TOOLS.finditer(text) if match.group(1).strip()]
    if not blocks:
        return text.strip(), []
    if len(blocks) > 1:
        raise RecordError(f"{where}: {len(blocks)} <tools> blocks; expected one")
    match = blocks[0]
    body = match.group(1).strip()
    entries = _listed_tools(body, f"{where} <tools>")
    tools = [wrap_tool(tool, f"{where} <tools>[{index}]") for index, tool in enumerate(entries)]
    header = text.find(_QWEN_TOOLS_HEADER)
    header35 = text.find(_QWEN35_TOOLS_HEADER, 0, match.start())
    if header >= 0:  # Qwen3 writes the system text first, then its tool boilerplate to the end
        rest = text[:header]
    elif header35 >= 0:  # Qwen3.5 writes its tool boilerplate first, then the system text
        rest = text[:header35] + text[_qwen35_boilerplate_end(text, match.end()) :]
    else:
        rest = text[: match.start()] + text[match.end() :]
    return rest.strip(), tools


def _qwen35_boilerplate_end(text: str, after_tools: int) -> int:
    for marker in _QWEN35_TOOLS_ENDS:
        found = text.find(marker, after_tools)
        if found >= 0:
            return found + len(marker)
    return after_tools


def _listed_tools(body: str, where: str) -> list[Any]:
    """A JSON or Python-literal list, or JSON objects one after another (Qwen puts one per line, Hermes 3 none)."""
    try:
        listed = load_literal(body, where)
        return listed if isinstance(listed, list) else [listed]
    except RecordError:
        pass
    decoder = make_decoder()
    entries, position = [], 0
    while position < len(body):
        if body[position].isspace():
            position += 1
            continue
        try:
            entry, position = decoder.raw_decode(body, position)
        except (ValueError, RecursionError):
            raise RecordError(f"{where}: neither a JSON list, a Python literal, nor JSON objects") from None
        entries.append(entry)
    return entries


def _assistant(text: str, where: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    reasoning, rest = split_think(text)
    if rest.count("<tool_call>") != rest.count("</tool_call>"):
        raise RecordError(f"{where}: a <tool_call> is not closed with </tool_call>")
    calls = [
        _call(body, f"{where} <tool_call> {n}", tools) for n, body in enumerate(_CALL.findall(rest), start=1)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": _CALL.sub("", rest).strip()}
    if calls:
        message["tool_calls"] = calls
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


def _call(body: str, where: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    # Some Hermes rows were escaped twice: the newlines around the call are the two characters backslash, n.
    body = _strip_literal_newlines(body)
    if body.startswith(FUNCTION_OPEN):
        return _xml_call(body, where, tools)
    payload = load_literal(body, where)
    if isinstance(payload, dict) and set(payload) == {"arguments"} and isinstance(payload["arguments"], dict):
        # Some hermes-function-calling-v1 rows close the arguments after the name: {"arguments": {..., "name": f}}.
        arguments = dict(payload["arguments"])
        if isinstance(arguments.get("name"), str):
            payload = {"name": arguments.pop("name"), "arguments": arguments}
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        raise RecordError(f'{where}: expected {{"name": ..., "arguments": {{...}}}}')
    arguments = payload.get("arguments", payload.get("parameters")) or {}
    if isinstance(arguments, str):
        arguments = load_literal(arguments, f"{where} arguments")
    if not isinstance(arguments, dict):
        raise RecordError(f"{where}: arguments must be an object")
    return ToolCall(payload["name"], arguments).to_message()


def _xml_call(body: str, where: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A Qwen3.5 XML call, read with its tool's schema: a string parameter keeps its text ("10115" stays a string),
    and a boolean one written `True` / `False` (how the template renders a Python bool) is that bool."""
    call, problems = read_xml_call(body)
    types = _parameter_types(tools, call.name) if call is not None else {}
    if call is not None and not problems:
        text = {key for key, kind in types.items() if kind == "string"}
        call, problems = read_xml_call(body, text_parameters=text)
    if call is None or problems:
        raise RecordError(
            f"{where}: the XML call {'; '.join(problems)}; write it as Qwen3.5's template does "
            "(<function=NAME>, then <parameter=KEY>VALUE</parameter> for each argument, then </function>)"
        )
    arguments = {
        key: _PYTHON_BOOLS.get(value, value)
        if types.get(key) == "boolean" and isinstance(value, str)
        else value
        for key, value in call.arguments.items()
    }
    return ToolCall(call.name, arguments).to_message()


def _parameter_types(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The `type` of each parameter of tool `name`, as its schema gives it."""
    for tool in tools:
        function = tool["function"]
        properties = (function.get("parameters") or {}).get("properties")
        if function["name"] == name and isinstance(properties, dict):
            return {key: spec.get("type") for key, spec in properties.items() if isinstance(spec, dict)}
    return {}


def _strip_literal_newlines(body: str) -> str:
    r"""The call's text without literal `\n` sequences (and whitespace) around it.

    >>> _strip_literal_newlines('\\n{"name": "f"}\\n ')
    '{"name": "f"}'
    """
    body = body.strip()
    while body.startswith("\\n"):
        body = body[2:].lstrip()
    while body.endswith("\\n"):
        body = body[:-2].rstrip()
    return body


def _only_responses(text: str) -> bool:
    return bool(_RESPONSE.search(text)) and not _RESPONSE.sub("", text).strip()


def _results(text: str, calls: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    bodies = _RESPONSE.findall(text) or [text]
    outside = _RESPONSE.sub("", text).strip() if len(bodies) and _RESPONSE.search(text) else ""
    if outside:
        raise RecordError(
            f"{where}: text outside the <tool_response> blocks of a tool turn ({outside[:60]!r}); put it inside "
            "a block, or in a turn of its own"
        )
    messages = []
    for position, body in enumerate(bodies):
        message: dict[str, Any] = {"role": "tool"}
        if position < len(calls):
            message["name"] = calls[position]["function"]["name"]
        try:
            payload = load_literal(body, where)
        except RecordError:
            payload = None
        if (
            isinstance(payload, dict)
            and set(payload) == {"name", "content"}
            and isinstance(payload["name"], str)
        ):
            message["name"] = payload["name"]
            content = payload["content"]
            message["content"] = content if isinstance(content, str) else dump_json(content)
        else:
            message["content"] = body.strip()
        messages.append(message)
    return messages

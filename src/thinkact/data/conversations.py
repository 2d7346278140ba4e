"""Conversations in the chat format: load, check, write, and split into per-turn examples.

A conversation is one JSON object per line (DESIGN.md, decision 1)::

    {"id": "weather-00001",
     "tools": [{"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}],
     "messages": [{"role": "system", "content": ...}, {"role": "user", "content": ...},
                  {"role": "assistant", "content": "", "reasoning_content": ...,
                   "tool_calls": [{"type": "function", "function": {"name": ..., "arguments": {...}}}]},
                  {"role": "tool", "name": ..., "content": "<JSON result>"},
                  {"role": "assistant", "content": ..., "reasoning_content": ..., "facts": [...]}],
     "meta": {"domain": ..., "phenomena": [...], ...}}

Every assistant message is a reference action; `reasoning_content` is its reference reasoning and `facts` (answers
only) lists what the answer must contain. Tool-call arguments are stored as objects; a JSON string is accepted
on the way in and parsed.

A turn example is the history up to one assistant message plus that message as the reference (the per-step
split of Tool-N1). Left out here: readers for other formats (`data/readers`), and deep checks of argument values
against the tool schemas (the environment does those when a call runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkact.errors import UserError
from thinkact.jsonsafe import JSONValueError, dump_json, load_json, read_jsonl_lines

ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Conversation:
    id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "tools": self.tools, "messages": self.messages, "meta": self.meta}


@dataclass
class TurnExample:
    """The history before one assistant message, and that message as the reference action."""

    id: str
    conversation_id: str
    turn_index: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    reference: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        """Whether the reference is a target: not marked `"score": false` (such a message is history only, neither
        scored by turn evaluation nor trained on by SFT).

        >>> TurnExample("a#1", "a", 1, [], [], {"role": "assistant", "content": "hi", "score": False}).scored
        False
        """
        return self.reference.get("score") is not False


def check_record(record: Any) -> list[str]:
    """Problems with one conversation record, each as 'field: what is wrong'. Empty when the record is valid.

    >>> check_record({"id": "a", "messages": [{"role": "user", "content": "hi"}]})
    []
    >>> check_record({"id": "a", "messages": [{"role": "bot", "content": "hi"}]})
    ["messages[0].role: 'bot' is not one of system, user, assistant, tool"]
    """
    if not isinstance(record, dict):
        return ["record: expected a JSON object"]
    problems = []
    if not isinstance(record.get("id"), str) or not record["id"]:
        problems.append('id: missing; give each conversation a unique string "id"')
    tools = record.get("tools", [])
    if not isinstance(tools, list):
        problems.append("tools: expected a list of tool schemas")
        tools = []
    declared = set()
    for index, tool in enumerate(tools):
        name = _tool_name(tool)
        if name is None:
            problems.append(f'tools[{index}]: expected {{"type": "function", "function": {{"name": ...}}}}')
            continue
        declared.add(name)
        parameters = tool.get("function", tool).get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            problems.append(
                f"tools[{index}].function.parameters: expected a JSON Schema object "
                f'({{"type": "object", "properties": {{...}}}}), found {parameters!r:.40}'
            )
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append("messages: expected a non-empty list of chat messages")
        return problems
    problems.extend(_check_messages(messages, declared))
    if "meta" in record and not isinstance(record["meta"], dict):
        problems.append("meta: expected a JSON object")
    return problems


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    function = tool.get("function", tool)
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) and name else None


def _check_messages(messages: list[Any], declared: set[str]) -> list[str]:
    problems = []
    open_calls = 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            problems.append(f"{where}: expected a JSON object")
            continue
        role = message.get("role")
        if role not in ROLES:
            problems.append(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
            continue
        if role == "system" and index != 0:
            problems.append(f"{where}: a system message may only come first")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            problems.append(f"{where}.content: expected a string")
        if role == "tool":
            if open_calls == 0:
                problems.append(f"{where}: a tool result must follow an assistant message with tool_calls")
            open_calls = max(open_calls - 1, 0)
            continue
        if role == "assistant":
            calls = message.get("tool_calls") or []
            problems.extend(_check_calls(calls, f"{where}.tool_calls", declared))
            open_calls = len(calls) if isinstance(calls, list) else 0
        else:
            open_calls = 0
    return problems


def _check_calls(calls: Any, where: str, declared: set[str]) -> list[str]:
    if not isinstance(calls, list):
        return [f"{where}: expected a list"]
    problems = []
    for index, call in enumerate(calls):
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            problems.append(
                f'{where}[{index}]: expected {{"function": {{"name": ..., "arguments": {{...}}}}}}'
            )
            continue
        name = function["name"]
        if name not in declared:
            listed = ", ".join(sorted(declared)) or "none; add its schema to the record's tools"
            problems.append(
                f"{where}[{index}].function.name: {name!r} is not among the declared tools ({listed})"
            )
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = load_json(arguments)
            except JSONValueError as error:
                problems.append(
                    f"{where}[{index}].function.arguments: a string that is not standard JSON ({error})"
                )
                continue
        if not isinstance(arguments, dict):
            problems.append(f"{where}[{index}].function.arguments: expected a JSON object")
    return problems


def normalise_record(record: dict[str, Any]) -> Conversation:
    """A checked record as a `Conversation`, with call arguments parsed into objects."""
    messages = []
    for message in record["messages"]:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [_normalise_call(call) for call in message["tool_calls"]]
        messages.append(message)
    return Conversation(
        id=record["id"],
        messages=messages,
        tools=list(record.get("tools", [])),
        meta=dict(record.get("meta", {})),
    )


def _normalise_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        arguments = load_json(arguments)
    return {"type": "function", "function": {"name": function["name"], "arguments": arguments}}


def read_conversations(path: str | Path) -> list[Conversation]:
    """Load a chat-format JSONL file; a bad line stops with its file, line number, field and the fix.

    Every record goes through `data.validate.validate_record`, the check `thinkact data validate` runs, so what
    loads is exactly what validates.
    """
    from thinkact.data.validate import validate_record  # validate builds on this module's check_record

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: no such data file; run `thinkact data generate --out DIR` or pass an existing file"
        )
    conversations = []
    seen: dict[str, int] = {}
    for number, line in read_jsonl_lines(path):
        try:
            record = load_json(line)
        except JSONValueError as error:
            raise UserError(f"{path}:{number}: {error}; each line must be one JSON object") from None
        problems = validate_record(record)
        if problems:
            listed = "; ".join(problems[:5])
            raise UserError(f"{path}:{number}: {listed} (check it with `thinkact data validate {path}`)")
        if record["id"] in seen:
            raise UserError(f"{path}:{number}: id: {record['id']!r} repeats line {seen[record['id']]}")
        seen[record["id"]] = number
        conversations.append(normalise_record(record))
    if not conversations:
        raise UserError(f"{path}: the file holds no conversations")
    return conversations


def write_conversations(path: str | Path, conversations: Iterable[Conversation]) -> int:
    """Write conversations as JSONL (stable key order, UTF-8); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for conversation in conversations:
            handle.write(dump_json(conversation.to_json()) + "\n")
            count += 1
    return count


def split_turns(conversation: Conversation) -> Iterator[TurnExample]:
    """One example per assistant message: the messages before it, and it as the reference."""
    for index, message in enumerate(conversation.messages):
        if message["role"] == "assistant":
            yield TurnExample(
                id=f"{conversation.id}#{index}",
                conversation_id=conversation.id,
                turn_index=index,
                messages=conversation.messages[:index],
                tools=conversation.tools,
                reference=message,
                meta=conversation.meta,
            )


def turn_examples(conversations: Iterable[Conversation]) -> list[TurnExample]:
    return [turn for conversation in conversations for turn in split_turns(conversation)]

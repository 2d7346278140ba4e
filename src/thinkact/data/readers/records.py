"""What every reader shares: records read from JSON Lines or JSON-array files, each with where it came from.

A reader turns each source record into one chat-format record, or into the problems that stop it (a
`RecordError` raised while converting). `read_items` runs a per-record converter over a file and never lets a
bad record end the file early: each one comes out as a `SourceItem` with its location, so the caller can stop
on it or write it to a rejects file. Left out: the checks on the converted record (`data/validate.py`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkact.errors import UserError
from thinkact.jsonsafe import (
    MAX_DEPTH,
    JSONValueError,
    jsonl_lines,
    load_json,
    make_decoder,
    read_utf8,
    tame,
)
from thinkact.parse import THINK_CLOSE, THINK_OPEN, ToolCall


class RecordError(Exception):
    """One source record cannot be converted; the message starts with the field it is about."""


@dataclass
class SourceItem:
    """One source record: where it is, what it was, and the chat-format record it became (or why not)."""

    where: str
    raw: Any
    record: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)


Converter = Callable[[Any, str], dict[str, Any]]
"""(source record, id to use when the record has none) → chat-format record; raises RecordError."""


def read_items(path: Path, convert: Converter) -> Iterator[SourceItem]:
    """Convert every record of a JSONL or JSON-array file; bad records become items with problems."""
    for where, raw, error in iter_json_records(path):
        if error:
            yield SourceItem(where=where, raw=raw, problems=[error])
            continue
        try:
            record = convert(raw, default_id(path, where))
        except RecordError as problem:
            yield SourceItem(where=where, raw=raw, problems=[str(problem)])
            continue
        yield SourceItem(where=where, raw=raw, record=record)


def default_id(path: Path, where: str) -> str:
    """An id for a record that brings none: the file's stem and the record's line."""
    return f"{path.stem}-{where.rsplit(':', 1)[-1]}"


def iter_json_records(path: Path) -> Iterator[tuple[str, Any, str]]:
    """(location `file:line`, record, error) for each record of a JSON Lines file or a JSON array file.

    A line (or array item) that is not JSON comes out with its text and an error message; the rest of the file
    is still read.
    """
    if not path.is_file():
        raise UserError(f"{path}: no such file; pass the path of an existing data file")
    text = read_utf8(path)
    if text.lstrip().startswith("["):
        yield from _iter_array(path, text)
        return
    for number, line in jsonl_lines(text):
        try:
            yield f"{path}:{number}", load_json(line), ""
        except JSONValueError as error:
            yield f"{path}:{number}", line[:200], f"{error}; each line must be one JSON object"


def _iter_array(path: Path, text: str) -> Iterator[tuple[str, Any, str]]:
    """The items of a JSON array, each located by the line it starts on."""
    decoder = make_decoder()
    position = text.index("[") + 1
    while True:
        position = _skip(text, position, ",")
        if position >= len(text):
            raise UserError(f"{path}: the JSON array is not closed; the file looks cut short")
        if text[position] == "]":
            return
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise UserError(
                f"{path}:{error.lineno}: not valid JSON ({error.msg} at column {error.colno})"
            ) from None
        except (JSONValueError, RecursionError) as error:  # no place to resume from: the file stops here
            reason = error if isinstance(error, JSONValueError) else f"nested deeper than {MAX_DEPTH} levels"
            raise UserError(f"{path}:{line}: {reason}; fix this item of the array") from None
        try:
            yield f"{path}:{line}", tame(item), ""
        except JSONValueError as error:
            yield f"{path}:{line}", None, str(error)


def _skip(text: str, position: int, separators: str) -> int:
    while position < len(text) and (text[position].isspace() or text[position] in separators):
        position += 1
    return position


def load_json_field(value: Any, where: str) -> Any:
    """A field that datasets store either as JSON or as a JSON string (HF datasets often stringify nested data)."""
    if not isinstance(value, str):
        return value
    try:
        return load_json(value)
    except JSONValueError as error:
        raise RecordError(f"{where}: a string that is not standard JSON ({error})") from None


def load_literal(text: str, where: str) -> Any:
    """JSON, or a Python literal (Hermes data writes dicts with single quotes); read with `ast`, never `eval`."""
    try:
        return load_json(text)
    except JSONValueError as error:
        if not str(error).startswith("not valid JSON"):
            raise RecordError(f"{where}: {error}") from None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise RecordError(f"{where}: neither JSON nor a Python literal: {text.strip()[:80]!r}") from None
    try:
        return tame(value)  # a literal may hold what JSON cannot (sets, non-string keys, bytes)
    except JSONValueError as error:
        raise RecordError(
            f"{where}: the Python literal {text.strip()[:60]!r} is not JSON data ({error})"
        ) from None


def wrap_tool(tool: Any, where: str) -> dict[str, Any]:
    """A tool in the chat format's shape, `{"type": "function", "function": {...}}`, from either common shape."""
    if not isinstance(tool, dict):
        raise RecordError(f"{where}: expected a tool object with a name")
    function = tool.get("function", tool) if tool.get("type", "function") == "function" else tool
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise RecordError(f'{where}: expected {{"name": ..., "parameters": {{...}}}}')
    return {"type": "function", "function": function}


def text_of(content: Any, where: str) -> str | None:
    """Message content as a string: a string, None, or a list of text parts (the OpenAI multi-part shape)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise RecordError(f"{where}[{index}]: only text parts are supported (found {part!r:.60})")
        return "".join(texts)
    raise RecordError(f"{where}: expected a string or a list of text parts")


def split_think(text: str) -> tuple[str | None, str]:
    """A leading `<think>…</think>` block apart from the rest; the inverse of `join_think`.

    >>> split_think("<think>\\nplan\\n</think>\\n\\nHello")
    ('plan', 'Hello')
    >>> split_think("Hello")
    (None, 'Hello')
    """
    stripped = text.lstrip()
    end = stripped.find(THINK_CLOSE)
    if not stripped.startswith(THINK_OPEN) or end < 0:
        return None, text
    inner = stripped[len(THINK_OPEN) : end].removeprefix("\n").removesuffix("\n")
    rest = stripped[end + len(THINK_CLOSE) :]
    return inner, rest[2:] if rest.startswith("\n\n") else rest.lstrip()


def join_think(reasoning: str | None, text: str) -> str:
    """Reasoning written inline before the text, as Qwen3 renders it (LLaMA-Factory's convention too)."""
    return text if reasoning is None else f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n{text}"


def record_id(raw: dict[str, Any], default: str) -> str:
    """The record's own id as a string (xLAM numbers them), or the default when it has none."""
    return str(raw["id"]) if raw.get("id") not in (None, "") else default


def extra_fields(raw: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """`meta` for the converted record: the source's own `meta`, plus every field the reader does not map."""
    meta = dict(raw.get("meta") or {})
    meta.update({key: value for key, value in raw.items() if key not in (*known, "meta") and key not in meta})
    return meta


def read_call(entry: Any, where: str) -> dict[str, Any]:
    """A call in the chat format from `{"name", "arguments"}` or `{"function": {...}}`, other keys (an `id`) kept.

    >>> read_call({"id": "c1", "function": {"name": "f", "arguments": '{"x": 1}'}}, "calls[0]")
    {'type': 'function', 'function': {'name': 'f', 'arguments': {'x': 1}}, 'id': 'c1'}
    """
    function = entry.get("function", entry) if isinstance(entry, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise RecordError(f'{where}: expected {{"name": ..., "arguments": {{...}}}}')
    # Llama-3 style data says "parameters" where the chat format says "arguments"; both mean the same.
    key = "arguments" if "arguments" in function or "parameters" not in function else "parameters"
    arguments = load_json_field(function.get(key) or {}, f"{where}.{key}")
    if not isinstance(arguments, dict):
        raise RecordError(f"{where}.arguments: expected a JSON object")
    call = ToolCall(function["name"], arguments).to_message()
    wrapper = ("type", "function") if function is not entry else ("name", "arguments", "parameters")
    call.update({key: value for key, value in entry.items() if key not in wrapper})
    return call

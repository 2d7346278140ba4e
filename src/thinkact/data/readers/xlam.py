"""xLAM function-calling records (Salesforce/xlam-function-calling-60k, APIGen) → the chat format.

A record is `{"id": 7, "query": "...", "tools": "[...]", "answers": "[...]"}`, `tools` and `answers` being JSON
strings (or lists). A tool is `{"name", "description", "parameters": {NAME: {"type": "str, optional",
"description", "default"}}}` with Python-style types; they become JSON Schema (`python_type_schema`), and a
parameter is required unless its type says `optional` (`"int, optional"`, `Optional[int]`) or it says
`"required": false` (the dataset card's layout). Each answer
`{"name", "arguments"}` becomes a tool call; the conversation is the user's query and one assistant message
with those calls (xLAM records hold no tool results and no final answer).

Left out: types that are not Python type expressions (`"Callable"`, free text) become an unconstrained schema
(`{}`), and the original spelling stays in the parameter as `x-python-type`.
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
    load_json_field,
    read_call,
    read_items,
    record_id,
)

_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "boolean": {"type": "boolean"},
    "list": {"type": "array"},
    "array": {"type": "array"},
    "tuple": {"type": "array"},
    "set": {"type": "array", "uniqueItems": True},
    "dict": {"type": "object"},
    "object": {"type": "object"},
    "none": {"type": "null"},
    "any": {},
}
_TOKEN = re.compile(r"\s*([A-Za-z_][\w.]*|\[|\]|,)")


def read_xlam(path: Path) -> Iterator[SourceItem]:
    return read_items(path, convert_xlam)


def convert_xlam(raw: Any, default_id: str) -> dict[str, Any]:
    """One xLAM record as a chat-format record.

    >>> tools = '[{"name": "is_prime", "parameters": {"n": {"type": "int", "description": "N."}}}]'
    >>> answers = '[{"name": "is_prime", "arguments": {"n": 7}}]'
    >>> record = convert_xlam({"id": 3, "query": "Is 7 prime?", "tools": tools, "answers": answers}, "x")
    >>> record["id"], record["tools"][0]["function"]["parameters"]["required"]
    ('3', ['n'])
    >>> record["messages"][1]["tool_calls"][0]["function"]
    {'name': 'is_prime', 'arguments': {'n': 7}}
    """
    if not isinstance(raw, dict):
        raise RecordError("record: expected a JSON object with query, tools and answers")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RecordError("query: expected the user's request as a non-empty string")
    tools = load_json_field(raw.get("tools") or [], "tools")
    answers = load_json_field(raw.get("answers"), "answers")
    if not isinstance(tools, list):
        raise RecordError("tools: expected a list of tools (or a JSON string of one)")
    if not isinstance(answers, list):
        raise RecordError("answers: expected a list of calls (or a JSON string of one)")
    calls = [read_call(answer, f"answers[{index}]") for index, answer in enumerate(answers)]
    return {
        "id": record_id(raw, default_id),
        "tools": [_tool(tool, f"tools[{index}]") for index, tool in enumerate(tools)],
        "messages": [
            {"role": "user", "content": query},
            {"role": "assistant", "content": "", "tool_calls": calls},
        ],
        "meta": {"source": "xlam", **extra_fields(raw, ("id", "query", "tools", "answers"))},
    }


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
        raise RecordError(f'{where}: expected {{"name": ..., "description": ..., "parameters": {{...}}}}')
    parameters = tool.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RecordError(f"{where}.parameters: expected an object of parameters")
    if parameters.get("type") == "object":  # already JSON Schema (some xLAM-style sets mix both)
        schema = parameters
    else:
        properties, required = {}, []
        for name, spec in parameters.items():
            if not isinstance(spec, dict):
                raise RecordError(f"{where}.parameters.{name}: expected {{'type': ..., 'description': ...}}")
            properties[name], optional = parameter_schema(spec)
            if not optional:
                required.append(name)
        schema = {"type": "object", "properties": properties, "required": required}
    function = {key: value for key, value in tool.items() if key != "parameters"}
    return {"type": "function", "function": {**function, "parameters": schema}}


def parameter_schema(spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(JSON Schema of one xLAM parameter, whether it is optional).

    >>> parameter_schema({"type": "List[int], optional", "description": "Ids.", "default": [1]})
    ({'description': 'Ids.', 'default': [1], 'type': 'array', 'items': {'type': 'integer'}}, True)
    >>> parameter_schema({"type": "int", "required": False})  # the dataset card's per-parameter flag
    ({'type': 'integer'}, True)
    """
    spelled = spec.get("type", "")
    text = spelled.strip() if isinstance(spelled, str) else ""
    optional = text.lower().endswith(", optional")
    text = text[: -len(", optional")] if optional else text
    schema = {key: value for key, value in spec.items() if key not in ("type", "required")}
    if isinstance(spec.get("required"), bool):  # the dataset card's layout: "required": true on the parameter
        optional = optional or not spec["required"]
    typed = python_type_schema(text) if text else {}
    if typed is None:
        schema["x-python-type"] = spelled
        return schema, optional
    optional = optional or text.startswith("Optional[")
    return {**schema, **typed}, optional


def python_type_schema(text: str) -> dict[str, Any] | None:
    """JSON Schema for a Python type expression, or None when it is not one.

    >>> python_type_schema("Dict[str, List[float]]")
    {'type': 'object', 'additionalProperties': {'type': 'array', 'items': {'type': 'number'}}}
    >>> python_type_schema("Union[int, str]")
    {'anyOf': [{'type': 'integer'}, {'type': 'string'}]}
    """
    tokens = [match.group(1) for match in _TOKEN.finditer(text)]
    if not tokens or "".join(tokens) != re.sub(r"\s+", "", text):
        return None
    try:
        schema, rest = _parse_type(tokens)
    except (IndexError, ValueError):
        return None
    return schema if not rest else None


def _parse_type(tokens: list[str]) -> tuple[dict[str, Any], list[str]]:
    name, rest = tokens[0].split(".")[-1], tokens[1:]
    arguments: list[dict[str, Any]] = []
    if rest and rest[0] == "[":
        rest = rest[1:]
        while rest[0] != "]":
            argument, rest = _parse_type(rest)
            arguments.append(argument)
            rest = rest[1:] if rest[0] == "," else rest
        rest = rest[1:]
    return _generic(name.lower(), arguments), rest


def _generic(name: str, arguments: list[dict[str, Any]]) -> dict[str, Any]:
    if name in ("union", "optional"):
        kept = (
            [argument for argument in arguments if argument != {"type": "null"}]
            if name == "optional"
            else arguments
        )
        return kept[0] if len(kept) == 1 else {"anyOf": kept}
    if name == "literal":
        raise ValueError("Literal values are not types")
    if name not in _SCALARS:
        raise ValueError(f"unknown type {name}")
    schema = dict(_SCALARS[name])
    if arguments and name in ("list", "set", "array"):
        schema["items"] = arguments[0]
    elif arguments and name == "tuple":
        schema.update(prefixItems=arguments, minItems=len(arguments), maxItems=len(arguments))
    elif arguments and name in ("dict", "object") and len(arguments) == 2:
        schema["additionalProperties"] = arguments[1]
    return schema

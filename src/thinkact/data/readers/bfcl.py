"""BFCL question files and their possible answers → the chat format; BFCL function docs → JSON Schema tools.

BFCL (the Berkeley Function Calling Leaderboard) keeps each category in `BFCL_v<N>_<category>.json`, JSON Lines
of `{"id", "question": [[{"role", "content"}, ...]], "function": [{"name", "description", "parameters"}]}`,
and the acceptable answers in `possible_answer/<same name>`: `{"id", "ground_truth": [{FUNCTION: {PARAM:
[acceptable values]}}]}`, where `""` among the values means the parameter may be left out.

Function docs use BFCL's own type names; `bfcl_tool` turns them into JSON Schema tools: `dict` → `object`,
`float` → `number`, `tuple` → `array`, `any` → no type, nested `properties` and `items` alike, and appends the
note BFCL adds to every Python function description at inference time. A converted question is the
question's messages plus one reference assistant turn: the ground truth's calls, each parameter at its first
acceptable value and optional ones (not required, accepting `""`) left out; an irrelevance question's reference makes
no call. `meta` keeps the category and the possible answer, so `thinkact bfcl score` semantics stay available.

Left out: multi-turn, agentic, Java and JavaScript categories (rejected with the reason), and `live_relevance`
questions, which have no possible answer to build a reference from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkact.data.readers.records import RecordError, SourceItem
from thinkact.errors import UserError
from thinkact.jsonsafe import JSONValueError, load_json, read_jsonl_lines
from thinkact.parse import ToolCall

PYTHON_NOTE = " Note that the provided function is in Python 3 syntax."
"""What BFCL appends to each function description of a Python category before showing it to a model."""
_TYPES: dict[str, str | None] = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "tuple": "array",
    "array": "array",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "any": None,
}


def bfcl_category(entry_id: str) -> str:
    """The category of a BFCL entry, as BFCL derives it from the id.

    >>> bfcl_category("live_parallel_multiple_3-2-0"), bfcl_category("simple_python_12")
    ('live_parallel_multiple', 'simple_python')
    """
    return entry_id.split(":")[0].rsplit("_", 1)[0]


def load_bfcl_file(path: Path) -> list[dict[str, Any]]:
    """The entries of a BFCL JSON Lines file (questions or possible answers), each with a string id."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; pass BFCL's data folder (it holds BFCL_v*_<category>.json)")
    entries = []
    for number, line in read_jsonl_lines(path):
        try:
            entry = load_json(line)
        except JSONValueError as error:
            raise UserError(
                f"{path}:{number}: {error}; fix that line (BFCL files hold one JSON entry per line)"
            ) from None
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise UserError(f'{path}:{number}: id: expected an object with a string "id"')
        entries.append(entry)
    return entries


def answers_path(question_file: Path) -> Path:
    return question_file.parent / "possible_answer" / question_file.name


def bfcl_tool(function: dict[str, Any], where: str = "function") -> dict[str, Any]:
    """A BFCL function doc as a chat-format tool.

    >>> bfcl_tool({"name": "area", "description": "Area.", "parameters": {"type": "dict", "required": ["r"],
    ...     "properties": {"r": {"type": "float", "description": "Radius."}}}})["function"]["parameters"]
    {'type': 'object', 'required': ['r'], 'properties': {'r': {'type': 'number', 'description': 'Radius.'}}}
    """
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise RecordError(f"{where}: expected a function doc with a name")
    parameters = bfcl_schema(
        function.get("parameters") or {"type": "dict", "properties": {}}, f"{where}.parameters"
    )
    description = str(function.get("description", "")) + PYTHON_NOTE
    return {
        "type": "function",
        "function": {"name": function["name"], "description": description, "parameters": parameters},
    }


def bfcl_schema(schema: Any, where: str) -> dict[str, Any]:
    """One BFCL parameter schema in JSON Schema terms (types renamed, nested schemas converted)."""
    if not isinstance(schema, dict):
        raise RecordError(f"{where}: expected a schema object")
    converted = dict(schema)
    if "type" in schema:
        if schema["type"] not in _TYPES:
            raise RecordError(f"{where}.type: BFCL type {schema['type']!r} is not one of {', '.join(_TYPES)}")
        kind = _TYPES[schema["type"]]
        if kind is None:
            del converted["type"]
        else:
            converted["type"] = kind
    if isinstance(schema.get("properties"), dict):
        converted["properties"] = {
            name: bfcl_schema(value, f"{where}.properties.{name}")
            for name, value in schema["properties"].items()
        }
    if "items" in schema:
        converted["items"] = bfcl_schema(schema["items"], f"{where}.items")
    return converted


def bfcl_messages(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages of a single-turn BFCL question."""
    question = entry.get("question")
    if not isinstance(question, list) or len(question) != 1 or not isinstance(question[0], list):
        raise RecordError(
            "question: only single-turn questions are supported (multi-turn categories are left out)"
        )
    return [dict(message) for message in question[0]]


def read_bfcl(path: Path) -> Iterator[SourceItem]:
    """Every question of one BFCL question file, with its possible answer when the category has them."""
    if path.is_dir():
        raise UserError(f"{path}: pass one question file, for example {path}/BFCL_v4_simple_python.json")
    answers = (
        {entry["id"]: entry for entry in load_bfcl_file(answers_path(path))}
        if answers_path(path).is_file()
        else {}
    )
    for entry in load_bfcl_file(path):
        where = f"{path}:{entry['id']}"
        try:
            record = convert_question(entry, answers.get(entry["id"]))
        except RecordError as problem:
            yield SourceItem(where=where, raw=entry, problems=[str(problem)])
            continue
        yield SourceItem(where=where, raw=entry, record=record)


def convert_question(entry: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    category = bfcl_category(entry["id"])
    if category.endswith(("_java", "_javascript")):
        raise RecordError(
            f"id: {entry['id']!r} is in {category}, a Java/JavaScript category thinkact leaves out (its answers "
            "are source-code strings, not JSON values); convert the Python categories instead"
        )
    functions = entry.get("function") or []
    tools = [bfcl_tool(function, f"function[{index}]") for index, function in enumerate(functions)]
    meta: dict[str, Any] = {"source": "bfcl", "category": category}
    if "irrelevance" in category:
        reference: dict[str, Any] = {"role": "assistant", "content": ""}
    elif answer is None:
        raise RecordError(f"ground_truth: no possible answer for {entry['id']} (live_relevance has none)")
    else:
        truth = answer.get("ground_truth")
        if not isinstance(truth, list) or not all(
            isinstance(call, dict) and len(call) == 1 for call in truth
        ):
            raise RecordError("ground_truth: expected a list of {FUNCTION: {PARAM: [values]}}")
        docs = {function.get("name"): function for function in functions}
        calls = [reference_call(call, docs) for call in truth]
        reference = {"role": "assistant", "content": "", "tool_calls": calls}
        meta["possible_answer"] = truth
    return {"id": entry["id"], "tools": tools, "messages": [*bfcl_messages(entry), reference], "meta": meta}


def reference_call(truth: dict[str, Any], docs: dict[str, Any]) -> dict[str, Any]:
    """One ground-truth entry as a call: the first acceptable value of each parameter, optional ones left out.

    >>> reference_call({"f": {"a": ["", True], "b": ["x", ""], "c": [3]}}, {"f": {"parameters": {"required": ["a"]}}})
    {'type': 'function', 'function': {'name': 'f', 'arguments': {'a': True, 'c': 3}}}
    """
    (name, accepted), *_ = truth.items()
    if not isinstance(accepted, dict):
        raise RecordError(f"ground_truth.{name}: expected {{PARAM: [acceptable values]}}")
    parameters = (docs.get(name) or {}).get("parameters", {})
    properties, required = parameters.get("properties", {}), parameters.get("required", [])
    arguments = {}
    for param, values in accepted.items():
        if not isinstance(values, list) or ("" in values and param not in required):
            continue
        values = [value for value in values if value != ""] or [""]
        kind = properties.get(param, {}).get("type")
        items = properties.get(param, {}).get("items", {}).get("type")
        arguments[param] = _pick(values[0], kind, items)
    return ToolCall(name, arguments).to_message()


def _pick(value: Any, kind: str | None, items: str | None) -> Any:
    """A concrete value from a possible answer; dicts (and lists of dicts) hold acceptable values per key."""
    if kind == "dict" and isinstance(value, dict):
        return {
            key: options[0]
            for key, options in value.items()
            if isinstance(options, list) and options and "" not in options
        }
    if kind == "array" and items == "dict" and isinstance(value, list):
        return [_pick(item, "dict", None) for item in value]
    if kind in ("array", "tuple") and value == "":
        return []  # BFCL compares lists item by item, so a required list whose only answer is "" accepts []
    return value

"""Deep checks of chat-format conversations, reported with file, line and field.

`validate_record` runs the shared loader's `check_record` (roles known, system first, calls well formed and
declared, arguments objects, tool results only after calls) and adds what a converted dataset also needs:

- roles in order: a user message before the first assistant message, and at least one assistant message;
- tool results follow their calls: as many results as calls before the next message (a conversation may end
  on calls, its last reference action), each result's `name` and `tool_call_id` among that message's calls;
- tools are sound: unique names, and `parameters` a JSON Schema object that passes the meta-schema.

`validate_file` applies it to every line of a JSONL file, plus unique ids. Left out: checking argument values
against the schemas; datasets in the field disagree with their own schemas often (API-Bank, xLAM), and the
environment checks a call when it runs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from thinkact.data.conversations import check_record
from thinkact.data.readers.records import iter_json_records


@dataclass(frozen=True)
class Problem:
    """One problem with one record: where (`file:line`) and what (`field: what is wrong`)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def validate_record(record: Any) -> list[str]:
    """Problems with one chat-format record, each as 'field: what is wrong'; empty when it is valid.

    >>> validate_record({"id": "a", "tools": [{"function": {"name": "f"}}], "messages": [
    ...     {"role": "user", "content": "hi"},
    ...     {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
    ...     {"role": "user", "content": "and?"}]})
    ['messages[1].tool_calls: 1 call but 0 tool results follow; give each call its tool message']
    """
    problems = check_record(record)
    if problems:
        return problems
    messages = record["messages"]
    return [*_check_order(messages), *_check_results(messages), *_check_tools(record.get("tools", []))]


def validate_file(path: Path) -> tuple[int, list[Problem]]:
    """(number of records, problems) for a chat-format JSONL file."""
    count = 0
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for where, record, error in iter_json_records(path):
        count += 1
        found = [error] if error else validate_record(record)
        if not found and record["id"] in seen:
            found = [f"id: {record['id']!r} repeats {seen[record['id']]}; give each conversation its own id"]
        if not found:
            seen[record["id"]] = where
        problems.extend(Problem(where, message) for message in found)
    return count, problems


def _check_order(messages: list[dict[str, Any]]) -> list[str]:
    roles = [message["role"] for message in messages]
    if "assistant" not in roles:
        return ["messages: no assistant message, so there is nothing to train on or score"]
    first = roles.index("assistant")
    if "user" not in roles[:first]:
        return [
            f"messages[{first}]: an assistant message before any user message; start with the user's turn"
        ]
    return []


def _check_results(messages: list[dict[str, Any]]) -> list[str]:
    problems = []
    for index, message in enumerate(messages):
        calls = (message.get("tool_calls") or []) if message["role"] == "assistant" else []
        if not calls:
            continue
        results = list(_following_results(messages, index + 1))
        at_end = index + 1 + len(results) == len(messages)
        if len(results) != len(calls) and not (at_end and not results):
            problems.append(
                f"messages[{index}].tool_calls: {len(calls)} call{'s' * (len(calls) != 1)} but {len(results)} "
                "tool results follow; give each call its tool message"
            )
        names = {call.get("function", call)["name"] for call in calls}
        ids = {call["id"] for call in calls if call.get("id") is not None}
        for position, result in results:
            if result.get("name") is not None and result["name"] not in names:
                problems.append(
                    f"messages[{position}].name: {result['name']!r} answers no call of messages[{index}] "
                    f"(calls: {', '.join(sorted(names))})"
                )
            if ids and result.get("tool_call_id") is not None and result["tool_call_id"] not in ids:
                problems.append(
                    f"messages[{position}].tool_call_id: {result['tool_call_id']!r} is no call id of messages[{index}]"
                )
    return problems


def _following_results(messages: list[dict[str, Any]], start: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for position in range(start, len(messages)):
        if messages[position]["role"] != "tool":
            return
        yield position, messages[position]


def _check_tools(tools: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        function = tool.get("function", tool)
        if function["name"] in seen:
            problems.append(f"tools[{index}].function.name: {function['name']!r} is declared twice")
        seen.add(function["name"])
        parameters = function.get("parameters")
        if parameters is None:
            continue
        where = f"tools[{index}].function.parameters"
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            problems.append(
                f'{where}: expected a JSON Schema object ({{"type": "object", "properties": {{...}}}})'
            )
            continue
        problem = _schema_problem(json.dumps(parameters, sort_keys=True))
        if problem:
            problems.append(f"{where}{problem}")
    return problems


@functools.lru_cache(maxsize=4096)
def _schema_problem(parameters: str) -> str:
    """'[path]: why' when the JSON Schema (as canonical JSON) is invalid, else ''; cached, since every
    conversation of a dataset repeats the same few tool schemas and the meta-schema check is slow."""
    schema = json.loads(parameters)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        path = "".join(f"[{part!r}]" for part in error.path)
        return f"{path}: not a valid JSON Schema ({error.message})"
    return ""

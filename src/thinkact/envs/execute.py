"""Execute one tool call safely: look the tool up, validate the arguments, run it under a time limit, cap the result.

Every failure the model can cause comes back as the tool message `{"error": "..."}` naming what went wrong and
what is allowed, never as an exception (DESIGN.md, decision 6):

- an unknown tool name lists the available tools;
- arguments that break the tool's JSON Schema name the offending field and list the parameters;
- a `ToolError` raised by the tool is passed on as its message; any other exception is reported with its type;
- a tool still running after `time_limit_s` is abandoned: its worker thread cannot be killed in Python, so it is
  left to finish in the background (a daemon thread), and since it works on a copy of the state its late
  changes are never kept. `time_limit_s=None` runs the tool in the calling thread with no limit, for trusted
  calls only (the benchmark generator's reference calls), where a thread per call would dominate the cost;
- a result longer than `max_result_chars` once serialised is replaced by an error that says so.

Arguments are only ever handed to the tool's Python function as values; nothing the model writes is passed to
`eval`, `exec` or a shell. Left out: process isolation and memory limits (the bundled tools are trusted code).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema.exceptions import best_match

from thinkact.envs.tools import State, Tool, ToolError
from thinkact.parse import ToolCall

DEFAULT_TIME_LIMIT_S = 2.0
DEFAULT_MAX_RESULT_CHARS = 4000


def execute_call(
    tools: Mapping[str, Tool],
    state: State,
    call: ToolCall,
    *,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
) -> tuple[str, State | None]:
    """Run `call` against `state`; the tool message content and the new state (None when the call failed).

    >>> from thinkact.envs.tools import Tool
    >>> add = Tool("add", "Add two numbers.", {"type": "object", "properties": {"a": {"type": "number"},
    ...     "b": {"type": "number"}}, "required": ["a", "b"]}, lambda state, a, b: {"sum": a + b})
    >>> execute_call({"add": add}, {}, ToolCall("add", {"a": 1, "b": 2}))
    ('{"sum": 3}', {})
    >>> execute_call({"add": add}, {}, ToolCall("mul", {}))[0]
    '{"error": "unknown tool \\'mul\\'; available tools: add"}'
    """
    tool = tools.get(call.name)
    if tool is None:
        return format_error(
            f"unknown tool {call.name!r}; available tools: {', '.join(tools) or 'none'}"
        ), None
    problem = check_arguments(tool, call.arguments)
    if problem is not None:
        return format_error(problem), None
    working = json.loads(json.dumps(state))  # the tool changes a copy; it is kept only if the call succeeds

    def run() -> Any:
        return tool.run(working, **call.arguments)

    finished, value, error = run_with_time_limit(run, time_limit_s, name=f"thinkact-tool-{tool.name}")
    if not finished:
        return format_error(
            f"tool {tool.name!r} ran past its time limit of {time_limit_s} s and was abandoned; "
            "try again with simpler arguments"
        ), None
    if isinstance(error, ToolError):
        return format_error(str(error)), None
    if error is not None:
        return format_error(f"tool {tool.name!r} failed: {type(error).__name__}: {error}"), None
    return _serialise(tool.name, value, max_result_chars), working


def check_arguments(tool: Tool, arguments: Any) -> str | None:
    """The problem with `arguments` under the tool's schema, or None when they are valid."""
    parameters = describe_parameters(tool.parameters)
    if not isinstance(arguments, dict):
        return f"invalid arguments for {tool.name}: expected a JSON object; parameters: {parameters}"
    if not _all_finite(arguments):
        # Python's JSON reader accepts NaN and Infinity; no tool should ever compute with them.
        return f"invalid arguments for {tool.name}: numbers must be finite (no NaN or Infinity)"
    error = best_match(tool.validator.iter_errors(arguments))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    what = f"{where}: {error.message}" if where else error.message
    return f"invalid arguments for {tool.name}: {what}; parameters: {parameters}"


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_all_finite(item) for item in value)
    return True


def describe_parameters(schema: dict[str, Any]) -> str:
    """A one-line summary of a tool's parameters, for error messages.

    >>> describe_parameters({"properties": {"unit": {"type": "string", "enum": ["c", "f"]},
    ...     "city": {"type": "string"}}, "required": ["city"]})
    'unit (one of c, f), city (string, required)'
    """
    required = set(schema.get("required", []))
    parts = []
    for name, spec in schema.get("properties", {}).items():
        kind = (
            f"one of {', '.join(str(v) for v in spec['enum'])}" if "enum" in spec else spec.get("type", "any")
        )
        parts.append(f"{name} ({kind}{', required' if name in required else ''})")
    return ", ".join(parts) or "none"


def run_with_time_limit(
    function: Callable[[], Any], time_limit_s: float | None, *, name: str = "thinkact-tool"
) -> tuple[bool, Any, Exception | None]:
    """Run `function` in a worker thread: (finished in time, its value, the exception it raised).

    A thread still running at the limit is abandoned as a daemon (Python cannot kill a thread). With no limit
    (None) the function runs in the calling thread.
    """
    outcome: dict[str, Any] = {}
    if time_limit_s is None:
        try:
            return True, function(), None
        except Exception as error:  # the tool's failure is reported to the model, not raised
            return True, None, error

    def target() -> None:
        try:
            outcome["value"] = function()
        except Exception as error:  # the tool's failure is reported to the model, not raised
            outcome["error"] = error

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    worker.join(time_limit_s)
    if worker.is_alive():
        return False, None, None
    return True, outcome.get("value"), outcome.get("error")


def _serialise(name: str, value: Any, max_result_chars: int) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        return format_error(f"tool {name!r} failed: its result is not JSON ({error})")
    if len(text) > max_result_chars:
        return format_error(
            f"result of {name!r} is {len(text)} characters, over the limit of {max_result_chars}; "
            "ask for less (a narrower query or a smaller limit)"
        )
    return text


def format_error(message: str) -> str:
    """The tool message for a failure: `{"error": message}` as JSON."""
    return json.dumps({"error": message}, ensure_ascii=False)

"""Execute one tool call safely: look the tool up, validate the arguments, run it under a time limit, cap the result.

Every failure the model or the tool can cause comes back as the tool message `{"error": "..."}` naming what went
wrong and what is allowed, never as an exception (DESIGN.md, decision 6), and a call that fails leaves the state
exactly as it was: the tool works on a copy, kept only when the whole call succeeds.

- an unknown tool name lists the available tools;
- arguments that break the tool's JSON Schema name the offending field and list the parameters; arguments that
  are not standard JSON within `jsonsafe`'s bounds (NaN, nesting past 64 levels) are refused before the tool runs;
- a `ToolError` raised by the tool is passed on as its message; any other exception, `SystemExit`,
  `KeyboardInterrupt` and every other `BaseException` raised inside the tool is reported with its type;
- a tool still running after `time_limit_s` is abandoned: its worker thread cannot be killed in Python, so it is
  left to finish in the background (a daemon thread), and since it works on a copy of the state its late
  changes are never kept. A tool that finishes past its limit is a time-out too: its result came back, but it
  is refused with the same message and its changes are dropped. `time_limit_s=None` runs the tool in the
  calling thread with no limit, for trusted calls only (the benchmark generator's reference calls), where a
  thread per call would dominate the cost (there a `KeyboardInterrupt` is the user's Ctrl-C and is not caught);
- a result that is not standard JSON (NaN, Infinity, nesting past 64 levels, objects that are not JSON) or that
  is longer than `max_result_chars` once serialised is replaced by an error that says so, and its state change is
  dropped;
- every error message is capped at `MAX_ERROR_CHARS`, so a tool that echoes a megabyte argument echoes a prefix.

A thread cannot stop a tool that holds the GIL (a long C-level computation, a backtracking regular expression):
the caller cannot even wake at the limit, so the call returns only once the tool has finished; the tool's own
clock says it was late, and its result and state change are thrown away. `isolation="process"` runs each call
in a forked child process instead, killed at the time limit; it costs a fork per call (milliseconds) and needs
the result and state to be picklable, so it is an option for tools that must be killable, not the default.

Arguments are only ever handed to the tool's Python function as values; nothing the model writes is passed to
`eval`, `exec` or a shell. Left out: memory limits and sandboxing (a forked child shares the parent's files).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from jsonschema.exceptions import best_match

from thinkact.envs.tools import State, Tool, ToolError
from thinkact.jsonsafe import dump_json, json_problem
from thinkact.parse import ToolCall

DEFAULT_TIME_LIMIT_S = 2.0
DEFAULT_MAX_RESULT_CHARS = 4000
MAX_ERROR_CHARS = 600
"""Error messages longer than this are cut (a tool may echo a huge argument back)."""
Isolation = Literal["thread", "process"]
ISOLATIONS: tuple[str, ...] = ("thread", "process")


def execute_call(
    tools: Mapping[str, Tool],
    state: State,
    call: ToolCall,
    *,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    isolation: Isolation = "thread",
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

    name = f"thinkact-tool-{tool.name}"
    if isolation == "process" and time_limit_s is not None:
        finished, outcome, error = run_in_process(tool, working, call.arguments, time_limit_s)
        value, working = outcome if finished and error is None else (None, working)
    else:
        finished, value, error = run_with_time_limit(run, time_limit_s, name=name)
    if not finished:
        return format_error(
            f"tool {tool.name!r} ran past its time limit of {time_limit_s} s and was abandoned; "
            "try again with simpler arguments"
        ), None
    if isinstance(error, ToolError):
        return format_error(str(error)), None
    if error is not None:
        kind = error.kind if isinstance(error, ToolProcessError) else type(error).__name__
        return format_error(f"tool {tool.name!r} failed: {kind}: {error}"), None
    text, failed = _serialise(tool.name, value, max_result_chars)
    if failed:
        return text, None  # a result the model may not see does not change the world either
    problem = json_problem(working)
    if problem is not None:
        return format_error(f"tool {tool.name!r} failed: it left a state that is not JSON ({problem})"), None
    return text, working


def check_arguments(tool: Tool, arguments: Any) -> str | None:
    """The problem with `arguments` under the tool's schema, or None when they are valid."""
    parameters = describe_parameters(tool.parameters)
    if not isinstance(arguments, dict):
        return f"invalid arguments for {tool.name}: expected a JSON object; parameters: {parameters}"
    problem = json_problem(arguments)
    if problem is not None:
        # Python's JSON reader accepts NaN and Infinity; no tool should ever compute with them.
        return f"invalid arguments for {tool.name}: {problem} (numbers must be finite, values standard JSON)"
    error = best_match(tool.validator.iter_errors(arguments))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    what = f"{where}: {error.message}" if where else error.message
    return f"invalid arguments for {tool.name}: {what}; parameters: {parameters}"


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
) -> tuple[bool, Any, BaseException | None]:
    """Run `function` in a worker thread: (finished in time, its value, the exception it raised).

    A thread still running at the limit is abandoned as a daemon (Python cannot kill a thread), and one that
    finished past it counts as not finished: a tool holding the GIL keeps the caller from waking at the limit,
    so the worker times the function itself. In the worker every `BaseException` is the tool's (a `SystemExit`
    there would otherwise end the thread silently and pass for a success). With no limit (None) the function
    runs in the calling thread, where a `KeyboardInterrupt` is the user's and propagates.
    """
    outcome: dict[str, Any] = {}
    if time_limit_s is None:
        try:
            return True, function(), None
        except (Exception, SystemExit) as error:  # the tool's failure is reported to the model, not raised
            return True, None, error

    def target() -> None:
        started = time.monotonic()
        try:
            outcome["value"] = function()
        except BaseException as error:
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    worker.join(time_limit_s)
    if worker.is_alive() or outcome.get("seconds", 0.0) > time_limit_s:
        return False, None, None
    if "value" not in outcome and "error" not in outcome:
        return True, None, RuntimeError("the tool ended without a result")
    return True, outcome.get("value"), outcome.get("error")


class ToolProcessError(Exception):
    """What a tool raised in its child process, carried back by type name and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def run_in_process(
    tool: Tool, state: State, arguments: dict[str, Any], time_limit_s: float
) -> tuple[bool, Any, BaseException | None]:
    """Run the tool in a forked child, killed at the limit: (finished, (value, new state), exception).

    Fork (where the platform has it) lets tools be closures; elsewhere the tool must be picklable (spawn). The
    child times the tool itself, so a result that was ready only past the limit (this process was slow to wait
    for it) is a time-out as in a thread.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context: Any = multiprocessing.get_context(method)  # a fork or spawn context, both with Process
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, tool, state, arguments), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(time_limit_s):
            return False, None, None
        kind, payload, seconds = receive.recv()
    except EOFError:
        child.join(1.0)
        return True, None, RuntimeError(f"the tool's process ended with exit code {child.exitcode}")
    finally:
        if child.is_alive():
            child.kill()
        child.join(1.0)
        receive.close()
    if seconds > time_limit_s:
        return False, None, None
    if kind == "value":
        return True, payload, None
    if kind == "tool_error":
        return True, None, ToolError(payload[1])
    return True, None, ToolProcessError(payload[0], payload[1])


def _child(send: Any, tool: Tool, state: State, arguments: dict[str, Any]) -> None:
    started = time.monotonic()
    try:
        value = tool.run(state, **arguments)
        message: tuple[str, Any] = ("value", (value, state))
    except ToolError as error:
        message = ("tool_error", ("ToolError", str(error)))
    except BaseException as error:
        message = ("error", (type(error).__name__, str(error)))
    seconds = time.monotonic() - started
    try:
        send.send((*message, seconds))
    except Exception as error:  # an unpicklable result
        send.send(("error", (type(error).__name__, f"the result could not be sent back: {error}"), seconds))


def _serialise(name: str, value: Any, max_result_chars: int) -> tuple[str, bool]:
    """The result as the tool message, and whether it had to be replaced by an error."""
    problem = json_problem(value)
    if problem is not None:
        return format_error(f"tool {name!r} failed: its result is not standard JSON ({problem})"), True
    text = dump_json(value)  # checked above; this only replaces lone surrogates
    if len(text) > max_result_chars:
        return format_error(
            f"result of {name!r} is {len(text)} characters, over the limit of {max_result_chars}; "
            "ask for less (a narrower query or a smaller limit)"
        ), True
    return text, False


def format_error(message: str) -> str:
    """The tool message for a failure: `{"error": message}` as JSON, the message cut at `MAX_ERROR_CHARS`.

    >>> len(format_error("x" * 10_000)) < 700
    True
    """
    if len(message) > MAX_ERROR_CHARS:
        message = f"{message[:MAX_ERROR_CHARS]}... ({len(message) - MAX_ERROR_CHARS} more characters cut)"
    return json.dumps({"error": message}, ensure_ascii=False)

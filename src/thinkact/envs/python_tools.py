"""Your own tools in Python: a file or module of plain typed functions with docstrings becomes a `Domain`.

Each public function the module defines (or each name in its `__all__`) is a tool. Its JSON Schema comes from
its signature and its Google-style docstring through transformers' `get_json_schema` (the description is the
docstring's first paragraph, each parameter is described under `Args:`, `(choices: [...])` gives an enum), so
what the model reads is what the function declares. Tools return any JSON value; a tool that raises
`thinkact.envs.ToolError` (or any exception) answers the model with an error message (`envs.execute`).

State: a class defined in the module with the methods `reset(self, state=None)` (None: start from the initial
state) and `snapshot(self) -> dict` (a JSON object) gives the environment its state, and its other public methods
are tools too. Every call runs on a fresh instance reset to the environment's current state, and the snapshot it
leaves becomes the new state only when the call succeeds, so the execution layer's rules hold unchanged: a failed
or abandoned call leaves the state as it was, and `meta.initial_state` / `meta.final_state` work as for the bundled
domains.

A file that does not import, a function without a docstring or type hints, a parameter the docstring does not
describe, two tools with one name: each stops the run with a `UserError` naming the file, line and function, and
what to change. Left out: async functions (wrap them), `*args`/`**kwargs` tools, and more than one state class.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from thinkact.envs.tools import Domain, State, Tool
from thinkact.errors import UserError

STATE_METHODS = ("reset", "snapshot")


def load_python_tools(source: str) -> Domain:
    """The domain of the tools in `source`, a `.py` file or an importable module name.

    >>> load_python_tools("no_such_tools.py")
    Traceback (most recent call last):
    ...
    thinkact.errors.UserError: --tools no_such_tools.py: no such file; give a Python file or an importable module name
    """
    module = import_tools_module(source)
    where = _where(module, source)
    names = _public_names(module, source)
    state_classes = [
        value for name in names if inspect.isclass(value := getattr(module, name)) and _is_state_class(value)
    ]
    if len(state_classes) > 1:
        listed = ", ".join(cls.__name__ for cls in state_classes)
        raise UserError(
            f"--tools {where}: more than one state class ({listed}); keep one, or list one in __all__"
        )
    tools = [
        _function_tool(getattr(module, name), where)
        for name in names
        if inspect.isfunction(getattr(module, name))
    ]
    default_state: Callable[[], State] = dict
    if state_classes:
        cls = state_classes[0]
        default_state = _initial_state(cls, where)
        tools += _method_tools(cls, where)
    if not tools:
        raise UserError(
            f"--tools {where}: defines no tools; write plain typed functions with docstrings "
            "(or a class with reset/snapshot whose public methods are the tools)"
        )
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            raise UserError(f"--tools {where}: two tools are named {tool.name!r}; rename one")
        seen.add(tool.name)
    doc = (inspect.getdoc(module) or "").strip().split("\n\n")[0]
    role = " ".join(doc.split()) or f"You help the user with the tools of {Path(where).stem}."
    return Domain(name=Path(where).stem, role=role, tools=tuple(tools), default_state=default_state)


def import_tools_module(source: str) -> ModuleType:
    """Import a `.py` file (by path) or a module (by dotted name); a `UserError` saying why it failed."""
    path = Path(source)
    looks_like_file = source.endswith(".py") or "/" in source or path.is_file()
    if looks_like_file:
        if not path.is_file():
            raise UserError(
                f"--tools {source}: no such file; give a Python file or an importable module name"
            )
        name = f"thinkact_user_tools_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise UserError(f"--tools {source}: not a Python file Python can import; give a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise UserError(
                f"--tools {source}: importing it failed: {_describe_import_error(error, path)}"
            ) from None
        return module
    try:
        return importlib.import_module(source)
    except Exception as error:
        raise UserError(
            f"--tools {source}: importing module {source!r} failed: {type(error).__name__}: {error}; "
            "give a .py file path or a module on the Python path"
        ) from None


def _describe_import_error(error: Exception, path: Path) -> str:
    """The error with the line of the user's file where it happened."""
    line = error.lineno if isinstance(error, SyntaxError) else None
    if line is None:
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if Path(frame.filename).resolve() == path.resolve():
                line = frame.lineno
                break
    at = f" (line {line})" if line else ""
    return f"{type(error).__name__}: {error}{at}; fix the file so that `python {path}` runs"


def _where(module: ModuleType, source: str) -> str:
    return source if source.endswith(".py") else (getattr(module, "__file__", None) or source)


def _public_names(module: ModuleType, source: str) -> list[str]:
    """`__all__` when the module has one; otherwise its own public functions and classes, in file order."""
    listed = getattr(module, "__all__", None)
    if listed is not None:
        missing = [name for name in listed if not hasattr(module, name)]
        if missing:
            raise UserError(f"--tools {source}: __all__ names {', '.join(missing)}, which the module lacks")
        return list(listed)
    own = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or (inspect.isclass(value) and _is_state_class(value)))
        and getattr(value, "__module__", None) == module.__name__
    ]
    return own


def _is_state_class(cls: type) -> bool:
    return all(callable(getattr(cls, method, None)) for method in STATE_METHODS)


def _schema(function: Callable[..., Any], where: str, label: str) -> dict[str, Any]:
    """The chat-format spec of `function` from its signature and docstring, or a `UserError` saying what to add."""
    from transformers.utils import get_json_schema

    line = _line(function)
    at = f"{where}:{line}" if line else where
    if inspect.iscoroutinefunction(function):
        raise UserError(
            f"--tools {at}: {label} is async; tools are plain functions (wrap it with asyncio.run)"
        )
    try:
        spec: dict[str, Any] = get_json_schema(function)
    except Exception as error:  # transformers' DocstringParsingException, TypeHintParsingException, ...
        raise UserError(
            f"--tools {at}: {label}: {error}; give every tool type hints and a docstring whose Args: section "
            "describes each parameter (or start its name with _ so it is not a tool)"
        ) from None
    parameters = spec["function"]["parameters"]
    # An invented argument then gets the schema's message instead of the function's TypeError.
    parameters["additionalProperties"] = False
    return spec


def _line(function: Callable[..., Any]) -> int | None:
    try:
        return inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return None


def _function_tool(function: Callable[..., Any], where: str) -> Tool:
    spec = _schema(function, where, f"function {function.__name__}")["function"]

    def run(state: State, **arguments: Any) -> Any:
        return function(**arguments)

    return Tool(spec["name"], spec.get("description", ""), spec["parameters"], run)


def _initial_state(cls: type, where: str) -> Callable[[], State]:
    """The state a fresh instance starts from, checked once here so that a broken class fails at load."""
    try:
        instance = cls()
        instance.reset(None)
        state = instance.snapshot()
        json.dumps(state, allow_nan=False)
    except Exception as error:
        raise UserError(
            f"--tools {where}: state class {cls.__name__}: {cls.__name__}() then reset(None) then snapshot() "
            f"failed: {type(error).__name__}: {error}; it must construct without arguments and snapshot() must "
            "return a JSON object"
        ) from None
    if not isinstance(state, dict):
        raise UserError(
            f"--tools {where}: {cls.__name__}.snapshot() returned {type(state).__name__}; return a JSON object"
        )
    frozen = json.dumps(state)

    def default_state() -> State:
        copied: State = json.loads(frozen)
        return copied

    return default_state


def _method_tools(cls: type, where: str) -> list[Tool]:
    sample = cls()
    tools = []
    for name, member in vars(cls).items():
        if name.startswith("_") or name in STATE_METHODS or not inspect.isfunction(member):
            continue
        spec = _schema(getattr(sample, name), where, f"method {cls.__name__}.{name}")["function"]
        tools.append(
            Tool(spec["name"], spec.get("description", ""), spec["parameters"], _method_runner(cls, name))
        )
    return tools


def _method_runner(cls: type, name: str) -> Callable[..., Any]:
    """Run the method on a fresh instance reset to `state`; write the snapshot it leaves back into `state`.

    The executor hands `state` as a copy and keeps it only when the call succeeds, so a fresh instance per call
    means an abandoned call (past its time limit) can never touch the state of a later one.
    """

    def run(state: State, **arguments: Any) -> Any:
        instance = cls()
        instance.reset(json.loads(json.dumps(state)))
        value = getattr(instance, name)(**arguments)
        after = instance.snapshot()
        if not isinstance(after, dict):
            raise TypeError(f"{cls.__name__}.snapshot() returned {type(after).__name__}, not a JSON object")
        after = json.loads(json.dumps(after, allow_nan=False))
        state.clear()
        state.update(after)
        return value

    return run

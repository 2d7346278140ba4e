"""The fault matrix: every fault a tool can have, in every bundled domain, is an `{"error"}` tool message and leaves
the environment's state exactly as it was before the call."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from thinkact.envs import DOMAINS, Domain, Environment, Tool, ToolError, get_domain
from thinkact.envs.execute import MAX_ERROR_CHARS
from thinkact.parse import ToolCall

RELEASE = threading.Event()
ANY_ARGUMENTS: dict[str, Any] = {"type": "object"}


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


class _Custom(BaseException):
    pass


def _half_made(state: dict[str, Any]) -> None:
    """What a faulty tool does before it fails: change the world it was handed."""
    for key in list(state):
        state[key] = "half-made"
    state["added_by_a_failed_call"] = True


def _stall() -> Any:
    RELEASE.wait(10)  # released at the end of the module, so the abandoned thread ends
    return {"late": True}


FAULTS: dict[str, Callable[[], Any]] = {
    "exception": lambda: 1 / 0,
    "tool_error": lambda: (_ for _ in ()).throw(ToolError("no such thing")),
    "system_exit": lambda: (_ for _ in ()).throw(SystemExit(3)),
    "keyboard_interrupt": lambda: (_ for _ in ()).throw(KeyboardInterrupt()),
    "base_exception": lambda: (_ for _ in ()).throw(_Custom("odd")),
    "recursion": lambda: (_ for _ in ()).throw(RecursionError("deep")),
    "oversize_result": lambda: {"text": "x" * 100_000},
    "nan_result": lambda: {"value": float("nan")},
    "infinity_result": lambda: {"value": float("-inf")},
    "deep_result": lambda: {"value": _deep(5000)},
    "not_json_result": lambda: {"value": object()},
    "set_result": lambda: {"value": {1, 2}},
    "huge_int_result": lambda: {"value": 10**5000},
    "timeout": _stall,
}


def _faulty(domain: Domain, fault: Callable[[], Any]) -> Domain:
    """The domain with each tool replaced by one that half-changes the state, then has `fault`."""

    def run(state: dict[str, Any], **arguments: Any) -> Any:
        _half_made(state)
        return fault()

    tools = tuple(Tool(tool.name, tool.description, ANY_ARGUMENTS, run) for tool in domain.tools)
    return Domain(domain.name, domain.role, tools, domain.default_state)


def _assert_error(content: str) -> str:
    message = json.loads(content)
    assert set(message) == {"error"} and isinstance(message["error"], str) and message["error"]
    assert "NaN" not in content and "Infinity" not in content
    return str(message["error"])


@pytest.fixture(scope="module", autouse=True)
def _release_stalled_tools() -> Any:
    yield
    RELEASE.set()


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("domain_name", DOMAINS)
def test_every_fault_is_an_error_message_and_changes_nothing(domain_name: str, fault: str) -> None:
    domain = get_domain(domain_name)
    env = Environment(_faulty(domain, FAULTS[fault]), time_limit_s=0.05 if fault == "timeout" else 2.0)
    before = env.snapshot()
    for tool in domain.tools:
        _assert_error(env.execute(ToolCall(tool.name, {"anything": 1})))
        assert env.snapshot() == before, (
            f"{domain_name}.{tool.name} kept the state of a failed call ({fault})"
        )


ARGUMENT_FAULTS: dict[str, Any] = {
    "not_in_schema": {"invented_parameter": 1},
    "nan_argument": {"x": float("nan")},
    "deep_argument": {"x": _deep(2000)},
    "huge_argument": {"x": "y" * 1_000_000},
}


@pytest.mark.parametrize("fault", sorted(ARGUMENT_FAULTS))
@pytest.mark.parametrize("domain_name", DOMAINS)
def test_bad_arguments_are_refused_before_the_real_tool_runs(domain_name: str, fault: str) -> None:
    env = Environment(get_domain(domain_name))
    before = env.snapshot()
    for tool in get_domain(domain_name).tools:
        error = _assert_error(env.execute(ToolCall(tool.name, ARGUMENT_FAULTS[fault])))
        assert len(error) < MAX_ERROR_CHARS + 100  # a megabyte argument is not echoed back whole
        assert env.snapshot() == before


@pytest.mark.parametrize(
    ("domain_name", "call"),
    [
        (
            "calendar",
            ToolCall(
                "create_event", {"title": "t" * 5000, "date": "2026-03-20", "start": "09:00", "minutes": 30}
            ),
        ),
        ("contacts", ToolCall("add_contact", {"name": "n" * 5000, "phone": "+47 555 0199"})),
    ],
)
def test_a_result_over_the_cap_creates_nothing(domain_name: str, call: ToolCall) -> None:
    env = Environment(get_domain(domain_name))
    before = env.snapshot()
    assert "over the limit" in _assert_error(env.execute(call))
    assert env.snapshot() == before
    # the same call with a short value succeeds and changes the state, so the cap is what refused it
    short = {
        key: value[:20] if isinstance(value, str) and len(value) > 100 else value
        for key, value in call.arguments.items()
    }
    assert "error" not in json.loads(env.execute(ToolCall(call.name, short)))
    assert env.snapshot() != before


def test_error_messages_echo_arguments_capped() -> None:
    def echo(state: dict[str, Any], text: str) -> Any:
        raise ToolError(f"unknown item {text!r}")

    tool = Tool("echo", "Echo.", {"type": "object", "properties": {"text": {"type": "string"}}}, echo)
    env = Environment(Domain("echo", "Echo.", (tool,), dict))
    error = _assert_error(env.execute(ToolCall("echo", {"text": "z" * 1_000_000})))
    assert error.startswith("unknown item 'zzz") and "more characters cut" in error
    assert len(error) < MAX_ERROR_CHARS + 100


def _spin(state: dict[str, Any]) -> Any:
    state["spun"] = True
    while True:  # holds the interpreter in a tight loop: a thread limit cannot stop it, a process kill can
        pass


def _exit_hard(state: dict[str, Any]) -> Any:
    state["half"] = True
    os._exit(7)


def _grow(state: dict[str, Any], n: int) -> Any:
    state.setdefault("items", []).append(n)
    return {"items": len(state["items"])}


def _process_domain(run: Callable[..., Any]) -> Domain:
    return Domain("p", "Process.", (Tool("t", "T.", ANY_ARGUMENTS, run),), lambda: {"items": [0]})


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_process_isolation_kills_a_runaway_tool_and_keeps_successes() -> None:
    runaway = Environment(_process_domain(_spin), time_limit_s=0.2, isolation="process")
    before = runaway.snapshot()
    assert "time limit" in _assert_error(runaway.execute(ToolCall("t", {})))
    assert runaway.snapshot() == before
    crashed = Environment(_process_domain(_exit_hard), time_limit_s=5.0, isolation="process")
    assert "exit code 7" in _assert_error(crashed.execute(ToolCall("t", {})))
    assert crashed.snapshot() == before
    for fault in ("system_exit", "nan_result", "exception"):
        env = Environment(
            _faulty(_process_domain(_grow), FAULTS[fault]), time_limit_s=5.0, isolation="process"
        )
        _assert_error(env.execute(ToolCall("t", {})))
        assert env.snapshot() == before
    working = Environment(_process_domain(_grow), time_limit_s=5.0, isolation="process")
    assert json.loads(working.execute(ToolCall("t", {"n": 5}))) == {"items": 2}
    assert working.snapshot() == {"items": [0, 5]}  # the child's change to the state comes back

"""The execution layer: each failure mode yields its error message; calls change state atomically."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from thinkact.envs import (
    DOMAINS,
    Domain,
    Environment,
    Tool,
    ToolError,
    diff_states,
    get_domain,
    make_environment,
)
from thinkact.envs.tools import object_schema
from thinkact.errors import UserError
from thinkact.parse import ToolCall

RELEASE = threading.Event()


def _divide(state: dict[str, Any], a: float, b: float) -> dict[str, Any]:
    state["calls"] += 1
    return {"quotient": a / b}


def _stall(state: dict[str, Any]) -> dict[str, Any]:
    state["calls"] += 1
    RELEASE.wait(5)  # the test releases it, so the abandoned thread ends soon after
    return {}


def _shout(state: dict[str, Any], size: int) -> dict[str, Any]:
    return {"text": "x" * size}


def _refuse(state: dict[str, Any]) -> dict[str, Any]:
    state["calls"] += 1
    raise ToolError("the shop is closed; come back at 09:00")


TOY = Domain(
    name="toy",
    role="You are a toy.",
    tools=(
        Tool(
            "divide",
            "Divide a by b.",
            object_schema({"a": {"type": "number"}, "b": {"type": "number"}}),
            _divide,
        ),
        Tool("stall", "Never finishes in time.", object_schema({}), _stall),
        Tool("shout", "A long text.", object_schema({"size": {"type": "integer"}}), _shout),
        Tool("refuse", "Always refuses.", object_schema({}), _refuse),
    ),
    default_state=lambda: {"calls": 0},
)


def _error(content: str) -> str:
    payload = json.loads(content)
    assert set(payload) == {"error"}, payload
    return str(payload["error"])


@pytest.fixture
def toy() -> Environment:
    return Environment(TOY, time_limit_s=0.05, max_result_chars=200)


def test_a_good_call_returns_json_and_keeps_the_change(toy: Environment) -> None:
    assert json.loads(toy.execute(ToolCall("divide", {"a": 6, "b": 3}))) == {"quotient": 2.0}
    assert toy.snapshot() == {"calls": 1}


def test_unknown_tool_lists_the_available_ones(toy: Environment) -> None:
    message = _error(toy.execute(ToolCall("multiply", {"a": 1})))
    assert "unknown tool 'multiply'" in message
    assert "divide, stall, shout, refuse" in message


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": 1}, "'b' is a required property"),
        ({"a": 1, "b": "two"}, "b: 'two' is not of type 'number'"),
        ({"a": 1, "b": 2, "c": 3}, "'c' was unexpected"),
        ({"a": float("nan"), "b": 2}, "numbers must be finite"),
    ],
)
def test_bad_arguments_name_the_field_and_the_parameters(
    toy: Environment, arguments: dict[str, Any], expected: str
) -> None:
    message = _error(toy.execute(ToolCall("divide", arguments)))
    assert expected in message
    assert "parameters: a (number, required), b (number, required)" in message or "finite" in message
    assert toy.snapshot() == {"calls": 0}


def test_an_exception_in_the_tool_is_reported_and_changes_nothing(toy: Environment) -> None:
    message = _error(toy.execute(ToolCall("divide", {"a": 1, "b": 0})))
    assert message == "tool 'divide' failed: ZeroDivisionError: division by zero"
    assert toy.snapshot() == {"calls": 0}


def test_a_tool_error_passes_its_message_on(toy: Environment) -> None:
    assert _error(toy.execute(ToolCall("refuse", {}))) == "the shop is closed; come back at 09:00"
    assert toy.snapshot() == {"calls": 0}


def test_a_tool_past_its_time_limit_is_abandoned(toy: Environment) -> None:
    RELEASE.clear()
    try:
        message = _error(toy.execute(ToolCall("stall", {})))
    finally:
        RELEASE.set()
    assert "ran past its time limit of 0.05 s" in message
    assert toy.snapshot() == {"calls": 0}


def _backtrack(state: dict[str, Any]) -> dict[str, Any]:
    state["calls"] += 1
    # Exponential backtracking inside the regex engine, which holds the interpreter lock throughout (a tenth of a
    # second and more here): the caller cannot wake at the limit, so the call ends after the tool has finished.
    return {"match": re.fullmatch(r"(a+)+b", "a" * 21) is not None}


def test_a_tool_that_holds_the_interpreter_past_its_limit_is_a_time_out() -> None:
    domain = Domain(
        name="greedy",
        role="You are greedy.",
        tools=(Tool("backtrack", "Holds the interpreter.", object_schema({}), _backtrack),),
        default_state=lambda: {"calls": 0},
    )
    env = Environment(domain, time_limit_s=0.005)  # the tool's own work takes 20x this and more
    before = env.snapshot()
    message = _error(env.execute(ToolCall("backtrack", {})))
    assert message == (
        "tool 'backtrack' ran past its time limit of 0.005 s and was abandoned; try again with simpler arguments"
    )
    assert env.snapshot() == before == {"calls": 0}
    # Without a limit the same call finishes and keeps its change.
    unlimited = Environment(domain, time_limit_s=None)
    assert json.loads(unlimited.execute(ToolCall("backtrack", {}))) == {"match": False}
    assert unlimited.snapshot() == {"calls": 1}


def test_an_oversized_result_is_replaced_by_an_error(toy: Environment) -> None:
    assert json.loads(toy.execute(ToolCall("shout", {"size": 10}))) == {"text": "x" * 10}
    message = _error(toy.execute(ToolCall("shout", {"size": 500})))
    assert "over the limit of 200" in message


def test_reset_returns_to_the_given_or_default_state(toy: Environment) -> None:
    toy.execute(ToolCall("divide", {"a": 1, "b": 1}))
    toy.reset()
    assert toy.snapshot() == {"calls": 0}
    toy.reset({"calls": 7})
    assert toy.snapshot() == {"calls": 7}


def test_a_transfer_moves_money_and_overdrawing_is_refused() -> None:
    env = make_environment({"domain": "banking"})
    before = env.snapshot()["accounts"]
    result = json.loads(
        env.execute(
            ToolCall("transfer", {"from_account": "savings", "to_account": "checking", "amount": 200})
        )
    )
    assert result["from_balance"] == before["savings"] - 200
    after = env.snapshot()["accounts"]
    assert after["checking"] == round(before["checking"] + 200, 2)
    assert "insufficient funds" in _error(
        env.execute(
            ToolCall("transfer", {"from_account": "checking", "to_account": "savings", "amount": 1e9})
        )
    )
    assert env.snapshot()["accounts"] == after


def test_every_bundled_domain_has_two_to_five_concise_tools() -> None:
    for name in DOMAINS:
        domain = get_domain(name)
        assert 2 <= len(domain.tools) <= 5, name
        env = Environment(domain)
        assert env.tools == domain.specs()
        for spec in env.tools:
            assert len(json.dumps(spec)) < 700, spec["function"]["name"]


def test_make_environment_names_a_bad_domain() -> None:
    with pytest.raises(UserError, match=r"meta\.domain: .moon. is not a bundled domain"):
        make_environment({"domain": "moon"})
    with pytest.raises(UserError, match=r"meta\.domain: missing"):
        make_environment({})


def test_diff_states_points_at_the_difference() -> None:
    assert diff_states({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ["state.a[1].b: 2 != 3"]
    assert diff_states({"a": 1}, {"b": 1}) == ["state.a: unexpected", "state.b: missing"]


def test_without_a_time_limit_the_tool_runs_inline_with_the_same_errors() -> None:
    env = Environment(TOY, time_limit_s=None)
    assert json.loads(env.execute(ToolCall("divide", {"a": 1, "b": 4}))) == {"quotient": 0.25}
    assert "ZeroDivisionError" in _error(env.execute(ToolCall("divide", {"a": 1, "b": 0})))
    assert env.snapshot() == {"calls": 1}

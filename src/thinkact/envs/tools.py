"""Tools and domains: plain typed functions over a JSON state, each with a JSON Schema for its arguments.

A `Tool` is `run(state, **arguments)` returning a JSON-serialisable result; it raises `ToolError` for a failure
the model should read (unknown account, no seats left). A `Domain` groups a few tools with the one-line role of
its system prompt and its default state. Left out: execution (validation, time limit, size cap live in
`envs.execute`) and holding state (`envs.base.Environment`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator

State = dict[str, Any]


class ToolError(Exception):
    """A failure the tool reports to the model (unknown account, no seats left): becomes `{"error": message}`."""


@dataclass(frozen=True)
class Tool:
    """One function the policy may call: `run(state, **arguments)` returns a JSON-serialisable result.

    `run` may change `state` in place; the executor hands it a copy and keeps the change only when the call
    succeeds, so a failed call never leaves the world half-changed.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Any]
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once per tool: constructing a validator costs far more than validating with it.
        object.__setattr__(self, "validator", Draft202012Validator(self.parameters))

    def spec(self) -> dict[str, Any]:
        """The tool in the chat format's JSON Schema shape."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class Domain:
    """A simulated service: its tools, the one-line role of its system prompt, and its default state."""

    name: str
    role: str
    tools: tuple[Tool, ...]
    default_state: Callable[[], State]

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools]


def object_schema(properties: dict[str, dict[str, Any]], required: list[str] | None = None) -> dict[str, Any]:
    """A tool's parameter schema: an object with exactly these properties (no invented ones).

    >>> object_schema({"city": {"type": "string"}}, ["city"])["additionalProperties"]
    False
    """
    return {
        "type": "object",
        "properties": properties,
        "required": list(required if required is not None else properties),
        "additionalProperties": False,
    }


DATE_SCHEMA: dict[str, Any] = {"type": "string", "description": "YYYY-MM-DD"}


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` argument as a date; a `ToolError` that shows the format otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a calendar date; use YYYY-MM-DD, e.g. 2026-03-14") from None


def find_key(names: Iterable[str], wanted: str, what: str) -> str:
    """The key among `names` equal to `wanted` ignoring case and spaces; a `ToolError` listing them otherwise."""
    listed = list(names)
    for name in listed:
        if name.casefold() == wanted.strip().casefold():
            return name
    raise ToolError(f"unknown {what} {wanted!r}; known: {', '.join(listed)}")

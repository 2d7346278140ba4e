"""The pieces of the pretraining corpus's domains: a parameter, a tool with its requests, reasoning and answer, a
domain of tools, and the values drawn for an argument.

Left out: the domains themselves (`domains.py` and `invented.py`) and the conversations built from them
(`conversations.py`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thinkact.data.words import invent_name

LOWER_WORDS = (
    "red", "blue", "green", "small", "large", "quiet", "fast", "fresh", "old", "new", "warm", "cold", "long",
    "short", "bright", "dark", "soft", "heavy", "light", "round", "square", "wooden", "silver", "golden",
)  # fmt: skip
THINGS = (
    "lantern", "basket", "ribbon", "compass", "notebook", "teapot", "blanket", "helmet", "candle", "bucket",
    "scarf", "ladder", "mirror", "pillow", "bottle", "drum", "kite", "glove", "wallet", "clock",
)  # fmt: skip


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    """name, person, count, amount, date, time, choice, thing."""
    description: str = ""
    choices: tuple[str, ...] = ()
    low: int = 1
    high: int = 50


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[Param, ...]
    asks: tuple[str, ...]
    """User requests, `str.format` fields named after the params (dates as the user says them)."""
    plan: str
    """The reasoning sentence before the call."""
    result: Callable[[random.Random, dict[str, Any]], dict[str, Any]]
    answer: str
    """The answer after the result: fields from the arguments and the result."""
    optional: tuple[Param, ...] = ()
    topic: str = ""
    """What the requests ask for when the name does not say it (`_invent_tool`'s `opaque`); empty otherwise."""

    def schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for param in (*self.params, *self.optional):
            spec: dict[str, Any] = {"type": _json_type(param.kind)}
            if param.description:
                spec["description"] = param.description
            if param.choices:
                spec["enum"] = list(param.choices)
            properties[param.name] = spec
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": [param.name for param in self.params],
                },
            },
        }


def _json_type(kind: str) -> str:
    return {"count": "integer", "amount": "number"}.get(kind, "string")


@dataclass(frozen=True)
class Domain:
    name: str
    roles: tuple[str, ...]
    tools: tuple[Tool, ...]
    chat: tuple[tuple[str, str], ...] = field(default=())
    """(user, answer) small talk that needs no tool."""


def draw_value(rng: random.Random, param: Param) -> Any:
    """A value for an argument of `param`'s kind: invented names, numbers, times, choices, things."""
    if param.kind == "name":
        return invent_name(rng)
    if param.kind == "person":
        return f"{invent_name(rng)} {invent_name(rng)}"
    if param.kind == "count":
        return rng.randint(param.low, param.high)
    if param.kind == "amount":
        return round(rng.uniform(param.low, param.high), 2)
    if param.kind == "time":
        return f"{rng.randint(7, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    if param.kind == "choice":
        return rng.choice(param.choices)
    if param.kind == "thing":
        return f"{rng.choice(LOWER_WORDS)} {rng.choice(THINGS)}"
    raise ValueError(f"no value for kind {param.kind!r}")

"""Units and maths: unit conversion, currency conversion at the state's rates, and arithmetic.

State: `{"rates": {currency: units per 1 EUR}}`. The calculator takes an operation name and two numbers;
nothing is ever parsed as an expression or evaluated. Left out: compound units and expressions.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import Domain, State, Tool, ToolError, find_key, object_schema

# unit → (dimension, size in the dimension's base unit); temperature is handled apart.
UNITS: dict[str, tuple[str, float]] = {
    "km": ("length", 1000.0), "m": ("length", 1.0), "cm": ("length", 0.01), "mi": ("length", 1609.344),
    "ft": ("length", 0.3048), "in": ("length", 0.0254), "kg": ("mass", 1.0), "g": ("mass", 0.001),
    "lb": ("mass", 0.45359237), "oz": ("mass", 0.028349523125), "l": ("volume", 1.0), "ml": ("volume", 0.001),
    "gal": ("volume", 3.785411784), "cup": ("volume", 0.2365882365),
}  # fmt: skip
TEMPERATURES = ("C", "F", "K")


def _to_celsius(value: float, unit: str) -> float:
    return {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[unit]


def _from_celsius(value: float, unit: str) -> float:
    return {"C": value, "F": value * 9 / 5 + 32, "K": value + 273.15}[unit]


def convert_value(value: float, from_unit: str, to_unit: str) -> float:
    """`value` in `to_unit`, rounded to 2 decimals.

    >>> convert_value(10, "mi", "km"), convert_value(100, "C", "F")
    (16.09, 212.0)
    """
    if from_unit in TEMPERATURES and to_unit in TEMPERATURES:
        return round(_from_celsius(_to_celsius(value, from_unit), to_unit), 2)
    source, target = UNITS.get(from_unit), UNITS.get(to_unit)
    if source is None or target is None or source[0] != target[0]:
        raise ToolError(f"cannot convert {from_unit} to {to_unit}: the units measure different things")
    return round(value * source[1] / target[1], 2)


def convert_units(state: State, value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    return {"value": convert_value(value, from_unit, to_unit), "unit": to_unit}


def convert_currency(state: State, amount: float, from_currency: str, to_currency: str) -> dict[str, Any]:
    source = find_key(state["rates"], from_currency, "currency")
    target = find_key(state["rates"], to_currency, "currency")
    rate = state["rates"][target] / state["rates"][source]
    return {"amount": round(amount * rate, 2), "currency": target, "rate": round(rate, 4)}


def calculate(state: State, operation: str, a: float, b: float) -> dict[str, Any]:
    if operation == "divide" and b == 0:
        raise ToolError("cannot divide by zero")
    results = {
        "add": lambda: a + b,
        "subtract": lambda: a - b,
        "multiply": lambda: a * b,
        "divide": lambda: a / b,
        "percent_of": lambda: a * b / 100,
    }
    return {"result": round(results[operation](), 4)}


def default_state() -> State:
    return {"rates": {"EUR": 1.0, "USD": 1.08, "GBP": 0.85, "JPY": 161.5, "CHF": 0.95}}


_UNIT = {"type": "string", "enum": [*UNITS, *TEMPERATURES]}
DOMAIN = Domain(
    name="units",
    role="You are a calculator assistant for units, currencies and arithmetic.",
    tools=(
        Tool(
            "convert_units",
            "Convert a value between units of length, mass, volume or temperature (C, F, K).",
            object_schema({"value": {"type": "number"}, "from_unit": _UNIT, "to_unit": _UNIT}),
            convert_units,
        ),
        Tool(
            "convert_currency",
            "Convert money at today's rate.",
            object_schema(
                {
                    "amount": {"type": "number"},
                    "from_currency": {"type": "string"},
                    "to_currency": {"type": "string"},
                }
            ),
            convert_currency,
        ),
        Tool(
            "calculate",
            "a (operation) b; percent_of gives a% of b.",
            object_schema(
                {
                    "operation": {
                        "type": "string",
                        "enum": ["add", "subtract", "multiply", "divide", "percent_of"],
                    },
                    "a": {"type": "number"},
                    "b": {"type": "number"},
                }
            ),
            calculate,
        ),
    ),
    default_state=default_state,
)

"""Weather: daily forecasts and air quality for the cities the state knows.

State: `{"cities": {name: {"country": str, "mean_c": int}}}`. A forecast is a pure function of (city, date,
mean temperature) through a hash, so every call is deterministic and no table of days is stored. Left out:
hourly data and real climatology.
"""

from __future__ import annotations

import hashlib
from typing import Any

from thinkact.envs.tools import DATE_SCHEMA, Domain, State, Tool, find_key, object_schema, parse_day

CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "rain", "windy", "fog")
AIR_LEVELS = ((50, "good"), (100, "moderate"), (150, "unhealthy for sensitive groups"), (500, "unhealthy"))


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def compute_forecast(city: str, day: str, mean_c: int) -> dict[str, Any]:
    """The forecast in Celsius for one city and day.

    >>> compute_forecast("Oslo", "2026-03-14", 4)
    {'condition': 'partly cloudy', 'high': 3, 'low': -3}
    """
    digest = _digest(city, day)
    high = mean_c + digest[0] % 11 - 5
    low = high - 3 - digest[1] % 7
    condition = "snow" if high <= 1 and digest[2] % 2 else CONDITIONS[digest[2] % len(CONDITIONS)]
    return {"condition": condition, "high": high, "low": low}


def to_fahrenheit(celsius: int) -> int:
    return round(celsius * 9 / 5 + 32)


def get_weather(state: State, city: str, date: str, unit: str = "celsius") -> dict[str, Any]:
    name = find_key(state["cities"], city, "city")
    parse_day(date)
    day = compute_forecast(name, date, state["cities"][name]["mean_c"])
    if unit == "fahrenheit":
        day["high"], day["low"] = to_fahrenheit(day["high"]), to_fahrenheit(day["low"])
    return {"city": name, "date": date, **day, "unit": unit}


def compute_air_quality(city: str) -> dict[str, Any]:
    index = 15 + _digest(city, "aqi")[0] % 140
    level = next(label for limit, label in AIR_LEVELS if index <= limit)
    return {"city": city, "aqi": index, "level": level}


def get_air_quality(state: State, city: str) -> dict[str, Any]:
    return compute_air_quality(find_key(state["cities"], city, "city"))


def default_state() -> State:
    return {
        "cities": {
            "Oslo": {"country": "Norway", "mean_c": 4},
            "Paris": {"country": "France", "mean_c": 12},
            "Lima": {"country": "Peru", "mean_c": 20},
        }
    }


_CITY = {"type": "string", "description": "City name"}
DOMAIN = Domain(
    name="weather",
    role="You are a weather assistant.",
    tools=(
        Tool(
            "get_weather",
            "Forecast for a city on a date: condition, high and low.",
            object_schema(
                {
                    "city": _CITY,
                    "date": DATE_SCHEMA,
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                },
                ["city", "date"],
            ),
            get_weather,
        ),
        Tool(
            "get_air_quality",
            "Current air quality index of a city.",
            object_schema({"city": _CITY}),
            get_air_quality,
        ),
    ),
    default_state=default_state,
)

"""Calendar: list, create and delete events; a new event may not overlap an existing one.

State: `{"events": [{"id", "title", "date", "start": "HH:MM", "minutes"}], "next_id": int}`. Events are listed
with their start and duration only, so finding a free slot takes arithmetic. Left out: recurring events,
attendees and time zones.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import DATE_SCHEMA, Domain, State, Tool, ToolError, object_schema, parse_day


def parse_clock(text: str) -> int:
    """Minutes after midnight of an `HH:MM` time; a `ToolError` showing the format otherwise.

    >>> parse_clock("09:30")
    570
    """
    hours, _, minutes = text.partition(":")
    if not (
        hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60
    ):
        raise ToolError(f"{text!r} is not a time; use 24-hour HH:MM, e.g. 14:30")
    return int(hours) * 60 + int(minutes)


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {key: event[key] for key in ("id", "title", "start", "minutes")}


def list_events(state: State, date: str) -> dict[str, Any]:
    parse_day(date)
    events = sorted((e for e in state["events"] if e["date"] == date), key=lambda e: parse_clock(e["start"]))
    return {"date": date, "events": [_public(e) for e in events]}


def create_event(state: State, title: str, date: str, start: str, minutes: int) -> dict[str, Any]:
    parse_day(date)
    begin = parse_clock(start)
    if begin + minutes > 24 * 60:
        raise ToolError("the event would run past midnight; choose an earlier start or a shorter duration")
    for other in state["events"]:
        other_begin = parse_clock(other["start"])
        if other["date"] == date and begin < other_begin + other["minutes"] and other_begin < begin + minutes:
            raise ToolError(
                f"overlaps {other['title']!r} ({other['start']}, {other['minutes']} min); choose another time"
            )
    event = {"id": f"E{state['next_id']}", "title": title, "date": date, "start": start, "minutes": minutes}
    state["next_id"] += 1
    state["events"].append(event)
    return {"created": event}


def delete_event(state: State, event_id: str) -> dict[str, Any]:
    for index, event in enumerate(state["events"]):
        if event["id"] == event_id.strip():
            del state["events"][index]
            return {"deleted": event}
    raise ToolError(f"no event with id {event_id!r}; find ids with list_events")


def default_state() -> State:
    return {
        "events": [{"id": "E1", "title": "Team sync", "date": "2026-03-16", "start": "09:00", "minutes": 30}],
        "next_id": 2,
    }


DOMAIN = Domain(
    name="calendar",
    role="You are a calendar assistant.",
    tools=(
        Tool(
            "list_events",
            "Events on a date, with start time and duration.",
            object_schema({"date": DATE_SCHEMA}),
            list_events,
        ),
        Tool(
            "create_event",
            "Add an event; it may not overlap another.",
            object_schema(
                {
                    "title": {"type": "string"},
                    "date": DATE_SCHEMA,
                    "start": {"type": "string", "description": "HH:MM, 24-hour"},
                    "minutes": {"type": "integer", "minimum": 5, "maximum": 600},
                }
            ),
            create_event,
        ),
        Tool(
            "delete_event",
            "Delete an event by id.",
            object_schema({"event_id": {"type": "string"}}),
            delete_event,
        ),
    ),
    default_state=default_state,
)

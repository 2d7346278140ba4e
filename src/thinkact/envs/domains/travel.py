"""Travel: search flights, book seats, cancel bookings (a booking takes seats, a cancellation returns them).

State: `{"flights": {id: {"origin", "destination", "date", "depart": "HH:MM", "price", "seats"}}, "bookings":
{id: {"flight_id", "passengers", "total"}}, "next_booking": int}`. Left out: return trips as one booking,
fare classes and passenger names.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import DATE_SCHEMA, Domain, State, Tool, ToolError, object_schema, parse_day


def search_flights(state: State, origin: str, destination: str, date: str) -> dict[str, Any]:
    parse_day(date)
    found = [
        {"id": flight_id, "depart": f["depart"], "price": f["price"], "seats": f["seats"]}
        for flight_id, f in state["flights"].items()
        if f["origin"].casefold() == origin.strip().casefold()
        and f["destination"].casefold() == destination.strip().casefold()
        and f["date"] == date
    ]
    return {"origin": origin, "destination": destination, "date": date, "flights": found}


def book_flight(state: State, flight_id: str, passengers: int = 1) -> dict[str, Any]:
    flight = state["flights"].get(flight_id)
    if flight is None:
        raise ToolError(f"no flight with id {flight_id!r}; find ids with search_flights")
    if passengers > flight["seats"]:
        raise ToolError(f"flight {flight_id} has only {flight['seats']} seats left")
    flight["seats"] -= passengers
    booking_id = f"B{state['next_booking']}"
    state["next_booking"] += 1
    booking = {
        "flight_id": flight_id,
        "passengers": passengers,
        "total": round(passengers * flight["price"], 2),
    }
    state["bookings"][booking_id] = booking
    return {"booking_id": booking_id, **booking}


def cancel_booking(state: State, booking_id: str) -> dict[str, Any]:
    booking = state["bookings"].pop(booking_id.strip(), None)
    if booking is None:
        raise ToolError(f"no booking with id {booking_id!r}")
    state["flights"][booking["flight_id"]]["seats"] += booking["passengers"]
    return {"cancelled": booking_id, "refund": booking["total"]}


def default_state() -> State:
    return {
        "flights": {
            "FL100": {
                "origin": "Oslo",
                "destination": "Paris",
                "date": "2026-03-20",
                "depart": "08:15",
                "price": 129.0,
                "seats": 4,
            },
        },
        "bookings": {},
        "next_booking": 1,
    }


DOMAIN = Domain(
    name="travel",
    role="You are a travel agent that books flights.",
    tools=(
        Tool(
            "search_flights",
            "Flights between two cities on a date.",
            object_schema(
                {"origin": {"type": "string"}, "destination": {"type": "string"}, "date": DATE_SCHEMA}
            ),
            search_flights,
        ),
        Tool(
            "book_flight",
            "Book seats on a flight.",
            object_schema(
                {
                    "flight_id": {"type": "string"},
                    "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
                }
            ),
            book_flight,
        ),
        Tool(
            "cancel_booking",
            "Cancel a booking and refund it.",
            object_schema({"booking_id": {"type": "string"}}),
            cancel_booking,
        ),
    ),
    default_state=default_state,
)

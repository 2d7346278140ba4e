"""Travel conversations: flight searches on relative days, booking the cheapest or earliest for a party,
outbound and return searches at once, cancellations with refunds.

Left out: multi-leg journeys and passenger details (the backend has neither).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import CITIES
from thinkact.bench.synthetic.phrasing import Phrases, RelativeDay, join_words, money, upper_first
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.parse import ToolCall

DOMAIN = "travel"
PARTY = {1: "just me", 2: "two of us", 3: "three of us", 4: "four of us"}
CRITERIA = {
    "cheapest": ("the cheapest", lambda f: (f["price"], f["depart"])),
    "earliest": ("the earliest", lambda f: (f["depart"], f["price"])),
}

ASK_SEARCH = Phrases(
    seen=(
        "Find flights from {a} to {b} {when}.",
        "Are there any flights {a} to {b} {when}?",
        "What flights go from {a} to {b} {when}?",
    ),
    held_out=("Options for flying {a} → {b} {when}?", "Look up {a}-{b} flights {when}."),
)
ASK_BOOK = Phrases(
    seen=(
        "Book {criterion} flight from {a} to {b} {when} for {n} passengers.",
        "Please book {criterion} {a} to {b} flight {when}; we are {n} people.",
    ),
    held_out=("{n} seats on {criterion} flight {a}-{b} {when}, please book it.",),
)
ASK_BOOK_VAGUE = Phrases(
    seen=("Book me a flight to {b} {when}.", "I need to fly to {b} {when}."),
    held_out=("Get me to {b} {when}.",),
)
GIVE_ORIGIN = Phrases(
    seen=("From {a}, {party}. The cheapest is fine.", "{a}; {party}. Take the cheapest one."),
    held_out=("Leaving from {a}, {party}; cheapest works.",),
)
ASK_ROUND_TRIP = Phrases(
    seen=(
        "I need flights from {a} to {b} {out} and back {back}.",
        "Search {a} to {b} {out}, and the return flight {back}.",
    ),
    held_out=("Outbound {a}-{b} {out}, inbound {back}: what's available?",),
)
ASK_CANCEL = Phrases(
    seen=(
        "Cancel booking {booking}.",
        "Please cancel my booking {booking}.",
        "I can't travel; cancel {booking}.",
    ),
    held_out=("Booking {booking} is off, cancel it.",),
)
ASK_BOOK_LISTED = Phrases(
    seen=("Book the {depart} one for {n}.", "I'll take the {depart} flight, {n} seats please."),
    held_out=("The {depart} departure, {n} passengers.",),
)
CHATS = (
    Chat(
        Phrases(seen=("What is a layover?",), held_out=("Layover means what?",)),
        "The user asks what a layover is; that is a travel definition I know, so no search is needed.",
        "A layover is a stop between two flights of one journey, where you wait for your connecting flight.",
        ("connecting flight",),
    ),
    Chat(
        Phrases(
            seen=("How early should I get to the airport?",),
            held_out=("Airport: how much time before takeoff?",),
        ),
        "The user wants general advice on airport timing, not a flight, so no search is needed.",
        "Arrive about 2 hours before a domestic or European flight and 3 hours before a long-haul one.",
        ("2 hours",),
    ),
)


def _flights_on(ctx: Context, origin: str, destination: str, day: date, count: int) -> list[dict[str, Any]]:
    departs = sorted(ctx.rng.sample(range(12, 44), count))
    return [
        {
            "origin": origin,
            "destination": destination,
            "date": day.isoformat(),
            "depart": f"{slot // 2:02d}:{slot % 2 * 30:02d}",
            "price": float(ctx.rng.randint(40, 450)),
            "seats": ctx.rng.randint(4, 9),
        }
        for slot in departs
    ]


def sample_state(ctx: Context, routes: list[tuple[str, str, date]], bookings: int = 0) -> dict[str, Any]:
    """Two to four flights on each wanted route and day, a distractor day, and `bookings` existing bookings."""
    rows = []
    for origin, destination, day in routes:
        rows += _flights_on(ctx, origin, destination, day, ctx.rng.randint(2, 4))
        rows += _flights_on(ctx, origin, destination, day + timedelta(days=1), 1)
    ids = ctx.rng.sample(range(100, 1000), len(rows))
    flights = {f"FL{number}": row for number, row in zip(ids, rows, strict=True)}
    state: dict[str, Any] = {"flights": flights, "bookings": {}, "next_booking": ctx.rng.randint(100, 900)}
    for flight_id in ctx.rng.sample(sorted(flights), bookings):
        passengers = ctx.rng.randint(1, 3)
        flights[flight_id]["seats"] -= passengers
        total = round(passengers * flights[flight_id]["price"], 2)
        state["bookings"][f"B{state['next_booking']}"] = {
            "flight_id": flight_id,
            "passengers": passengers,
            "total": total,
        }
        state["next_booking"] += 1
    return state


def _route(ctx: Context) -> tuple[str, str]:
    a, b = ctx.sample(CITIES, 2)
    return a[0], b[0]


def _listing(flights: list[dict[str, Any]]) -> str:
    return join_words([f"{f['id']} at {f['depart']} for {money(f['price'])}" for f in flights])


def _search(a: str, b: str, day: RelativeDay) -> ToolCall:
    return ToolCall("search_flights", {"origin": a, "destination": b, "date": day.day.isoformat()})


def write_search(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    day = ctx.day(("tomorrow", "day_after", "weekday", "in_days"))
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(a, b, day.day)]))
    dialogue.user(ctx.say(ASK_SEARCH, a=a, b=b, when=day.phrase))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}. I search {a} to {b} on that date.", _search(a, b, day)
    )
    flights = result["flights"]
    dialogue.answer(
        f"search_flights found {len(flights)} flights; I list them with times and prices.",
        f"On {day.day.isoformat()} from {a} to {b}: {_listing(flights)}.",
        [f["id"] for f in flights],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def _book_best(dialogue: Dialogue, flights: list[dict[str, Any]], criterion: str, n: int) -> None:
    label, key = CRITERIA[criterion]
    best = min(flights, key=key)
    (booking,) = dialogue.call(
        f"{upper_first(label)} of the {len(flights)} flights is {best['id']} ({best['depart']}, "
        f"{money(best['price'])}). I book it for {n}.",
        ToolCall("book_flight", {"flight_id": best["id"], "passengers": n}),
    )
    dialogue.answer(
        f"book_flight confirmed {booking['booking_id']}; {n} x {money(best['price'])} = {money(booking['total'])}, "
        "which I report.",
        f"Booked {best['id']} departing {best['depart']} for {n} passenger(s): booking {booking['booking_id']}, "
        f"total {money(booking['total'])}.",
        [booking["booking_id"], money(booking["total"])],
    )


def write_book(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    day = ctx.day(("tomorrow", "day_after", "weekday", "in_days"))
    criterion = ctx.choose(sorted(CRITERIA))
    n = ctx.rng.randint(1, 4)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(a, b, day.day)]))
    dialogue.user(ctx.say(ASK_BOOK, criterion=CRITERIA[criterion][0], a=a, b=b, when=day.phrase, n=n))
    (result,) = dialogue.call(
        f"book_flight needs a flight id; {day.explanation}, so I first search {a} to {b} on that date.",
        _search(a, b, day),
    )
    _book_best(dialogue, result["flights"], criterion, n)
    dialogue.mark("reasoning_args")
    return dialogue


def write_book_vague(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    day = ctx.day(("tomorrow", "weekday", "in_days"))
    n = ctx.rng.randint(1, 4)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(a, b, day.day)]))
    dialogue.user(ctx.say(ASK_BOOK_VAGUE, b=b, when=day.phrase))
    dialogue.ask(
        "To search and book I need the departure city and the number of passengers; the user gave neither.",
        "Happy to help. Where are you flying from, and how many passengers?",
    )
    dialogue.user(ctx.say(GIVE_ORIGIN, bare=True, a=a, party=PARTY[n]))
    (result,) = dialogue.call(
        f"The trip is {a} to {b}; {day.explanation}. I search that date.",
        _search(a, b, day),
    )
    _book_best(dialogue, result["flights"], "cheapest", n)
    dialogue.mark("reasoning_args")
    return dialogue


def write_round_trip(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    out = ctx.day(("tomorrow", "day_after"))
    back = ctx.day(("weekday", "in_days"))
    while back.day <= out.day:
        back = ctx.day(("in_days",))
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(a, b, out.day), (b, a, back.day)]))
    dialogue.user(ctx.say(ASK_ROUND_TRIP, a=a, b=b, out=out.phrase, back=back.phrase))
    there, home = dialogue.call(
        f"{upper_first(out.explanation)}; {back.explanation}. The two searches are independent, so I run both.",
        _search(a, b, out),
        _search(b, a, back),
    )
    first = min(there["flights"], key=lambda f: f["price"])
    second = min(home["flights"], key=lambda f: f["price"])
    total = money(first["price"] + second["price"])
    dialogue.answer(
        f"I list both directions and add the cheapest of each: {money(first['price'])} + "
        f"{money(second['price'])} = {total}.",
        f"{a} to {b} on {out.day.isoformat()}: {_listing(there['flights'])}. Back on {back.day.isoformat()}: "
        f"{_listing(home['flights'])}. The cheapest pair costs {total}.",
        [first["id"], second["id"], total],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_cancel(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    state = sample_state(ctx, [(a, b, ctx.day(("weekday", "in_days")).day)], bookings=2)
    booking = ctx.choose(sorted(state["bookings"]))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_CANCEL, booking=booking))
    (result,) = dialogue.call(
        f"The user gave the booking id {booking}; cancel_booking needs nothing else.",
        ToolCall("cancel_booking", {"booking_id": booking}),
    )
    dialogue.answer(
        f"The booking is cancelled with a refund of {money(result['refund'])}.",
        f"Booking {booking} is cancelled; {money(result['refund'])} will be refunded.",
        [money(result["refund"])],
    )
    return dialogue


def write_search_then_book(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    day = ctx.day(("tomorrow", "weekday"))
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(a, b, day.day)]))
    dialogue.user(ctx.say(ASK_SEARCH, a=a, b=b, when=day.phrase))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}. I search {a} to {b} on that date.", _search(a, b, day)
    )
    dialogue.answer(
        f"search_flights found {len(result['flights'])} flights on {day.day.isoformat()}; I list each with its "
        "time and price so the user can choose.",
        f"Flights on {day.day.isoformat()}: {_listing(result['flights'])}.",
        [f["id"] for f in result["flights"]],
    )
    choice = ctx.choose(result["flights"])
    n = ctx.rng.randint(1, 3)
    dialogue.user(ctx.say(ASK_BOOK_LISTED, bare=True, depart=choice["depart"], n=n))
    (booking,) = dialogue.call(
        f"The {choice['depart']} flight in the results is {choice['id']}. I book {n} seat(s).",
        ToolCall("book_flight", {"flight_id": choice["id"], "passengers": n}),
    )
    dialogue.answer(
        f"book_flight confirmed {booking['booking_id']}; {n} x {money(choice['price'])} = "
        f"{money(booking['total'])}, which I report.",
        f"Booked {choice['id']} for {n}: booking {booking['booking_id']}, total {money(booking['total'])}.",
        [booking["booking_id"], money(booking["total"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    a, b = _route(ctx)
    return build_no_tool(ctx, DOMAIN, sample_state(ctx, [(a, b, ctx.today)]), CHATS)


SCENARIOS = (
    Scenario("search", write_search, 1.5),
    Scenario("book", write_book, 1.5),
    Scenario("book_vague", write_book_vague),
    Scenario("round_trip", write_round_trip),
    Scenario("cancel", write_cancel),
    Scenario("search_then_book", write_search_then_book),
    Scenario("chat", write_chat, 0.8),
)

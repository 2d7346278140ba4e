"""Calendar conversations: days named relative to today, spoken times turned into HH:MM, free slots found by
arithmetic over a listing, cancellations that need an id from a listing.

Left out: recurring events and attendees (the backend has neither).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import MEETINGS
from thinkact.bench.synthetic.phrasing import (
    Phrases,
    RelativeDay,
    clock,
    join_words,
    spoken_clock,
    upper_first,
)
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.envs.domains.calendar import parse_clock
from thinkact.parse import ToolCall

DOMAIN = "calendar"
DURATIONS = (
    (30, "30 minutes"),
    (45, "45 minutes"),
    (60, "an hour"),
    (90, "an hour and a half"),
    (120, "two hours"),
)

ASK_DAY = Phrases(
    seen=(
        "What's on my calendar {when}?",
        "What do I have scheduled {when}?",
        "Can you list my events {when}?",
        "Am I free {when}? What's planned?",
    ),
    held_out=("Run me through my schedule {when}.", "Agenda {when}, please."),
)
ASK_CREATE = Phrases(
    seen=(
        "Add '{title}' to my calendar {when} at {time} for {duration}.",
        "Schedule '{title}' {when} at {time}, lasting {duration}.",
        "Please put '{title}' in my calendar {when}, starting at {time}, for {duration}.",
    ),
    held_out=(
        "Block {duration} at {time} {when} for '{title}'.",
        "New event '{title}': {when}, {time}, {duration} long.",
    ),
)
ASK_CANCEL = Phrases(
    seen=(
        "Cancel my {title} {when}.",
        "Please delete the {title} event {when}.",
        "Remove {title} from my calendar {when}.",
    ),
    held_out=("Scrap the {title} {when}, I can't make it.",),
)
ASK_AFTER = Phrases(
    seen=(
        "Book {duration} for '{new}' right after my {title} {when}.",
        "Schedule '{new}' for {duration}, starting as soon as my {title} ends {when}.",
    ),
    held_out=("Straight after the {title} {when}, give me {duration} for '{new}'.",),
)
ASK_CREATE_VAGUE = Phrases(
    seen=("Put '{title}' on my calendar {when}.", "I need to add '{title}' {when}."),
    held_out=("Calendar: '{title}' {when}.",),
)
GIVE_TIME = Phrases(
    seen=("At {time}, for {duration}.", "Start at {time}; it takes {duration}.", "{time}, {duration}."),
    held_out=("Make it {time}, {duration} long.",),
)
ASK_BUSIER = Phrases(
    seen=("Am I busier {a} or {b}?", "Which day has more events, {a} or {b}?"),
    held_out=("Compare my load {a} versus {b}.",),
)
ASK_CANCEL_LISTED = Phrases(
    seen=("Please cancel the {title}.", "Cancel {title}, I can't go.", "Delete the {title} one."),
    held_out=("Drop {title}.",),
)
ASK_DATE = Phrases(
    seen=("What's the date {when}?", "Which date is it {when}?"),
    held_out=("Give me the calendar date for {when}.",),
)
CHATS = (
    Chat(
        Phrases(
            seen=("How many minutes are in an hour and a half?",),
            held_out=("An hour and a half is how many minutes?",),
        ),
        "An hour has 60 minutes, so an hour and a half is 1.5 × 60 = 90 minutes; simple arithmetic, no tool needed.",
        "An hour and a half is 90 minutes.",
        ("90",),
    ),
    Chat(
        Phrases(seen=("Thanks, that's all for today!",), held_out=("Cool, done for now.",)),
        "The user is wrapping up and asks for nothing new, so there is nothing to look up; I reply politely.",
        "You're welcome! Enjoy your day.",
        bare=True,
    ),
)


def _minutes_note(spoken: str, minutes: int) -> str:
    return "" if spoken == f"{minutes} minutes" else f" and {spoken} is {minutes} minutes"


def _end(start: str, minutes: int) -> str:
    total = parse_clock(start) + minutes
    return clock(total // 60, total % 60)


def _free(events: list[dict[str, Any]], day: str, start: int, minutes: int) -> bool:
    return all(
        e["date"] != day
        or not (start < parse_clock(e["start"]) + e["minutes"] and parse_clock(e["start"]) < start + minutes)
        for e in events
    )


def sample_state(ctx: Context, busy_days: list[date]) -> dict[str, Any]:
    """A few events on each of `busy_days` (at least one) and on some other days around today."""
    days = set(busy_days) | {ctx.today + timedelta(days=ctx.rng.randint(0, 9)) for _ in range(3)}
    events: list[dict[str, Any]] = []
    for day in sorted(days):
        for _ in range(ctx.rng.randint(1 if day in busy_days else 0, 3)):
            start, minutes = ctx.rng.randint(16, 34) * 30, ctx.choose((30, 45, 60, 90))
            titles = {e["title"] for e in events if e["date"] == day.isoformat()}
            title = ctx.pick(MEETINGS)
            if title not in titles and _free(events, day.isoformat(), start, minutes):
                events.append(
                    {
                        "title": title,
                        "date": day.isoformat(),
                        "start": clock(start // 60, start % 60),
                        "minutes": minutes,
                    }
                )
    if not any(e["date"] in {d.isoformat() for d in busy_days} for e in events):
        events.append(
            {"title": ctx.pick(MEETINGS), "date": busy_days[0].isoformat(), "start": "10:00", "minutes": 60}
        )
    events.sort(key=lambda e: (e["date"], e["start"]))
    numbered = [{"id": f"E{i}", **e} for i, e in enumerate(events, start=1)]
    return {"events": numbered, "next_id": len(numbered) + 1}


def _on(state: dict[str, Any], day: RelativeDay) -> list[dict[str, Any]]:
    return [e for e in state["events"] if e["date"] == day.day.isoformat()]


def _listing(events: list[dict[str, Any]]) -> str:
    return join_words([f"{e['title']} at {e['start']} ({e['minutes']} min)" for e in events])


def _mark_day(dialogue: Dialogue, day: RelativeDay) -> None:
    if day.phrase != "today":
        dialogue.mark("reasoning_args")


def write_list_day(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    if ctx.rng.random() < 0.15:  # sometimes the day is free, and the answer must say so
        state["events"] = [e for e in state["events"] if e["date"] != day.day.isoformat()]
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_DAY, when=day.phrase))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}. I list the events on that date.",
        ToolCall("list_events", {"date": day.day.isoformat()}),
    )
    events = result["events"]
    if events:
        text = f"{upper_first(day.phrase)} ({day.day.isoformat()}) you have {_listing(events)}."
        reason = f"list_events returned {len(events)} event(s) for {day.day.isoformat()}; I list them with their times."
    else:
        text = f"Your calendar is empty {day.phrase} ({day.day.isoformat()})."
        reason = f"list_events returned no events for {day.day.isoformat()}, so the user is free."
    dialogue.answer(reason, text, [e["title"] for e in events] or [day.day.isoformat()])
    _mark_day(dialogue, day)
    return dialogue


def _free_start(ctx: Context, state: dict[str, Any], day: date, minutes: int) -> int:
    options = [
        slot * 30 for slot in range(16, 38) if _free(state["events"], day.isoformat(), slot * 30, minutes)
    ]
    return ctx.choose(options)


def write_create(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    minutes, spoken = ctx.choose(DURATIONS)
    start = _free_start(ctx, state, day.day, minutes)
    title = ctx.pick(MEETINGS)
    hhmm, said = clock(start // 60, start % 60), spoken_clock(start // 60, start % 60)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_CREATE, title=title, when=day.phrase, time=said, duration=spoken))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}; {said} is {hhmm}{_minutes_note(spoken, minutes)}. I call create_event.",
        ToolCall(
            "create_event", {"title": title, "date": day.day.isoformat(), "start": hhmm, "minutes": minutes}
        ),
    )
    dialogue.answer(
        f"create_event added '{title}' as {result['created']['id']} on {day.day.isoformat()} at {hhmm}; I confirm "
        "the date and time.",
        f"Added '{title}' on {day.day.isoformat()} at {hhmm} for {minutes} minutes.",
        [day.day.isoformat(), hhmm],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_cancel(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    target = ctx.choose(_on(state, day))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_CANCEL, title=target["title"], when=day.phrase))
    dialogue.call(
        f"delete_event needs the event id, so I first list that day's events; {day.explanation}.",
        ToolCall("list_events", {"date": day.day.isoformat()}),
    )
    dialogue.call(
        f"The {target['title']} at {target['start']} has id {target['id']}. I delete it.",
        ToolCall("delete_event", {"event_id": target["id"]}),
    )
    dialogue.answer(
        f"delete_event removed {target['title']} ({target['id']}) from {day.day.isoformat()}; I confirm the "
        "cancellation.",
        f"Cancelled {target['title']} at {target['start']} on {day.day.isoformat()}.",
        [target["title"]],
    )
    _mark_day(dialogue, day)
    return dialogue


def write_after_event(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    target = ctx.choose(_on(state, day))
    minutes, spoken = ctx.choose(DURATIONS[:3])
    start = _end(target["start"], target["minutes"])
    # Keep the slot after the event free, so the reference call succeeds.
    state["events"] = [
        e
        for e in state["events"]
        if e is target or _free([e], day.day.isoformat(), parse_clock(start), minutes)
    ]
    new = ctx.pick(MEETINGS)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_AFTER, duration=spoken, new=new, title=target["title"], when=day.phrase))
    dialogue.call(
        f"I need to know when the {target['title']} ends; {day.explanation}. I list that day's events.",
        ToolCall("list_events", {"date": day.day.isoformat()}),
    )
    dialogue.call(
        f"The {target['title']} starts at {target['start']} and lasts {target['minutes']} minutes, so it ends at "
        f"{start}. I create '{new}' at {start} for {minutes} minutes.",
        ToolCall(
            "create_event", {"title": new, "date": day.day.isoformat(), "start": start, "minutes": minutes}
        ),
    )
    dialogue.answer(
        f"create_event added '{new}' at {start}; it ends at {_end(start, minutes)}, right after the "
        f"{target['title']}, so I confirm both times.",
        f"Booked '{new}' on {day.day.isoformat()} from {start} to {_end(start, minutes)}, "
        f"right after your {target['title']}.",
        [start, _end(start, minutes)],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_create_vague(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    minutes, spoken = ctx.choose(DURATIONS)
    start = _free_start(ctx, state, day.day, minutes)
    title = ctx.pick(MEETINGS)
    hhmm, said = clock(start // 60, start % 60), spoken_clock(start // 60, start % 60)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_CREATE_VAGUE, title=title, when=day.phrase))
    dialogue.ask(
        "create_event needs a start time and a duration, and the user gave neither; I ask for both.",
        "Sure. What time does it start, and how long will it take?",
    )
    dialogue.user(upper_first(ctx.say(GIVE_TIME, bare=True, time=said, duration=spoken)))
    dialogue.call(
        f"{upper_first(day.explanation)}; {said} is {hhmm}{_minutes_note(spoken, minutes)}. I call create_event.",
        ToolCall(
            "create_event", {"title": title, "date": day.day.isoformat(), "start": hhmm, "minutes": minutes}
        ),
    )
    dialogue.answer(
        f"create_event added '{title}' on {day.day.isoformat()} at {hhmm}; I confirm the date and time.",
        f"Added '{title}' on {day.day.isoformat()} at {hhmm} for {minutes} minutes.",
        [day.day.isoformat(), hhmm],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_busier_day(ctx: Context) -> Dialogue:
    first = ctx.day(("tomorrow", "day_after"))
    second = ctx.day(("weekday", "in_days"))
    while second.day == first.day:
        second = ctx.day(("weekday", "in_days"))
    state = sample_state(ctx, [first.day, second.day])
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_BUSIER, a=first.phrase, b=second.phrase))
    a, b = dialogue.call(
        f"{upper_first(first.explanation)}; {second.explanation}. I list both days at once.",
        ToolCall("list_events", {"date": first.day.isoformat()}),
        ToolCall("list_events", {"date": second.day.isoformat()}),
    )
    n, m = len(a["events"]), len(b["events"])
    if n == m:
        verdict = f"Both days are equally busy, with {n} event(s) each."
    else:
        busier = first if n > m else second
        verdict = (
            f"{upper_first(busier.phrase)} ({busier.day.isoformat()}) is busier: "
            f"{max(n, m)} event(s) against {min(n, m)}."
        )
    dialogue.answer(
        f"I count the events: {n} on {first.day.isoformat()} and {m} on {second.day.isoformat()}.",
        verdict,
        [str(max(n, m))],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_list_then_cancel(ctx: Context) -> Dialogue:
    day = ctx.day()
    state = sample_state(ctx, [day.day])
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_DAY, when=day.phrase))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}. I list that day's events.",
        ToolCall("list_events", {"date": day.day.isoformat()}),
    )
    dialogue.answer(
        f"list_events returned {len(result['events'])} event(s) for {day.day.isoformat()}; I list each with its "
        "start time and duration.",
        f"On {day.day.isoformat()} you have {_listing(result['events'])}.",
        [e["title"] for e in result["events"]],
    )
    target = ctx.choose(result["events"])
    dialogue.user(ctx.say(ASK_CANCEL_LISTED, bare=True, title=target["title"]))
    dialogue.call(
        f"The listing I just got shows {target['title']} with id {target['id']}. I delete it.",
        ToolCall("delete_event", {"event_id": target["id"]}),
    )
    dialogue.answer(
        f"delete_event removed {target['title']} ({target['id']}); I confirm the cancellation.",
        f"Done, {target['title']} is cancelled.",
        [target["title"]],
    )
    _mark_day(dialogue, day)
    return dialogue


def write_date_of(ctx: Context) -> Dialogue:
    day = ctx.day(("weekday", "in_days", "day_after"))
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [ctx.today]))
    dialogue.user(ctx.say(ASK_DATE, when=day.phrase))
    dialogue.answer(
        f"No tool needed: {day.explanation}.",
        f"{upper_first(day.phrase)} is {day.day.isoformat()}.",
        [day.day.isoformat()],
    )
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, sample_state(ctx, [ctx.today]), CHATS)


SCENARIOS = (
    Scenario("list_day", write_list_day, 1.5),
    Scenario("create", write_create, 1.5),
    Scenario("cancel", write_cancel),
    Scenario("after_event", write_after_event),
    Scenario("create_vague", write_create_vague),
    Scenario("busier_day", write_busier_day),
    Scenario("list_then_cancel", write_list_then_cancel),
    Scenario("date_of", write_date_of, 0.5),
    Scenario("chat", write_chat, 0.8),
)

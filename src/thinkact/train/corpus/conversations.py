"""The pretraining corpus's conversations and plain-text documents, deterministic for a seed.

Each conversation is a system prompt with a date, then one of: a single call, two parallel calls, a request that
misses a detail (asked for, then called), a follow-up request, small talk, or two lookups whose numbers the answer
adds; reasoning comes before every action. Left out: errors returned by tools.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from thinkact.data.words import invent_name
from thinkact.train.corpus.domains import DOMAINS
from thinkact.train.corpus.invented import invent_domain
from thinkact.train.corpus.tools import LOWER_WORDS, THINGS, Domain, Tool, draw_value

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SYSTEM_FORMS = (
    "Current date: {iso} ({weekday}). {role}",
    "{role} The date is {weekday}, {iso}.",
    "Date {iso}, {weekday}. {role}",
    "{role} It is {weekday} {iso} now.",
)
OPENERS = ("", "", "", "Hello, ", "Good day. ", "Please help: ", "Hey, ")
DAY_FORMS = {
    "today": ("today", "this day"),
    "tomorrow": ("tomorrow",),
    "plus": ("in {n} days", "{n} days from now"),
    "weekday": ("on {name}", "next {name}", "this {name}"),
    "absolute": ("on {iso}", "for {iso}"),
}
MISSING_ASK = ("Which {label} do you mean?", "Tell me the {label}, please.", "I need the {label} first.")
FOLLOW_UPS = ("And one more thing: ", "Also, ", "Next, ", "Now ")


def _pick_day(rng: random.Random, today: date) -> tuple[str, date, str]:
    """(how the user says the day, the date, the reasoning that resolves it)."""
    kind = rng.choice(("today", "tomorrow", "plus", "plus", "weekday", "weekday", "absolute"))
    stamp = f"{today.isoformat()} ({WEEKDAYS[today.weekday()]})"
    if kind == "today":
        return (
            rng.choice(DAY_FORMS["today"]),
            today,
            f"the date is {stamp}, so the day is {today.isoformat()}.",
        )
    if kind == "tomorrow":
        day = today + timedelta(days=1)
        return "tomorrow", day, f"the date is {stamp}; one day later is {day.isoformat()}."
    if kind == "plus":
        n = rng.randint(2, 9)
        day = today + timedelta(days=n)
        phrase = rng.choice(DAY_FORMS["plus"]).format(n=n)
        return phrase, day, f"the date is {stamp}; {n} days later is {day.isoformat()}."
    if kind == "weekday":
        target = rng.randrange(7)
        ahead = (target - today.weekday()) % 7 or 7
        day = today + timedelta(days=ahead)
        phrase = rng.choice(DAY_FORMS["weekday"]).format(name=WEEKDAYS[target])
        return phrase, day, f"the date is {stamp}; the coming {WEEKDAYS[target]} is {day.isoformat()}."
    day = today + timedelta(days=rng.randint(1, 60))
    phrase = rng.choice(DAY_FORMS["absolute"]).format(iso=day.isoformat())
    return phrase, day, f"the day is given as {day.isoformat()}."


@dataclass
class _Call:
    tool: Tool
    arguments: dict[str, Any]
    said: dict[str, Any]
    """How the user said each argument (dates as phrases)."""
    reasons: dict[str, str]


def _make_call(rng: random.Random, tool: Tool, today: date) -> _Call:
    arguments: dict[str, Any] = {}
    said: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for param in tool.params:
        if param.kind == "date":
            phrase, day, reason = _pick_day(rng, today)
            arguments[param.name], said[param.name] = day.isoformat(), phrase
            reasons[f"{param.name}_reason"] = reason
        else:
            arguments[param.name] = said[param.name] = draw_value(rng, param)
    return _Call(tool, arguments, said, reasons)


def _tool_message(name: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "name": name, "content": json.dumps(result)}


def _call_message(calls: list[_Call], reasoning: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "reasoning_content": reasoning,
        "tool_calls": [
            {"type": "function", "function": {"name": call.tool.name, "arguments": call.arguments}}
            for call in calls
        ],
    }


def _plan(call: _Call) -> str:
    return call.tool.plan.format(**call.arguments, **call.reasons)


def _system(rng: random.Random, domain: Domain, today: date) -> dict[str, Any]:
    form = rng.choice(SYSTEM_FORMS)
    text = form.format(
        iso=today.isoformat(), weekday=WEEKDAYS[today.weekday()], role=rng.choice(domain.roles)
    )
    return {"role": "system", "content": text}


def _single(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    call = _make_call(rng, rng.choice(domain.tools), today)
    result = call.tool.result(rng, call.arguments)
    request = rng.choice(OPENERS) + rng.choice(call.tool.asks).format(**call.said)
    return [
        {"role": "user", "content": request},
        _call_message([call], _plan(call)),
        _tool_message(call.tool.name, result),
        {
            "role": "assistant",
            "content": call.tool.answer.format(**{**call.arguments, **result}),
            "reasoning_content": f"The tool answered; I report {', '.join(str(v) for v in result.values())[:120]}.",
        },
    ]


def _parallel(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    tools = [rng.choice(domain.tools), rng.choice(domain.tools)]
    calls = [_make_call(rng, tool, today) for tool in tools]
    results = [call.tool.result(rng, call.arguments) for call in calls]
    asks = [rng.choice(call.tool.asks).format(**call.said) for call in calls]
    request = rng.choice(OPENERS) + asks[0] + " " + asks[1]
    reasoning = "Two separate requests; each gets its own call in this one reply. " + " ".join(
        _plan(c) for c in calls
    )
    answers = [
        call.tool.answer.format(**{**call.arguments, **result})
        for call, result in zip(calls, results, strict=True)
    ]
    return [
        {"role": "user", "content": request},
        _call_message(calls, reasoning),
        *[_tool_message(call.tool.name, result) for call, result in zip(calls, results, strict=True)],
        {
            "role": "assistant",
            "content": " ".join(answers),
            "reasoning_content": "Both tools answered; I report each.",
        },
    ]


def _missing(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    tools = [tool for tool in domain.tools if len(tool.params) >= 2] or list(domain.tools)
    tool = rng.choice(tools)
    call = _make_call(rng, tool, today)
    missing = rng.choice([p for p in tool.params if p.kind not in ("date",)] or list(tool.params))
    label = (missing.description or missing.name).lower()
    hidden = dict(call.said)
    hidden[missing.name] = "<missing>"
    request = rng.choice(call.tool.asks).format(**hidden)
    request = request.replace(" <missing>", "").replace("<missing> ", "").replace("<missing>", "")
    result = tool.result(rng, call.arguments)
    return [
        {"role": "user", "content": request},
        {
            "role": "assistant",
            "content": rng.choice(MISSING_ASK).format(label=label),
            "reasoning_content": f"To call {tool.name} I need the {label}, which the request does not give; I ask.",
        },
        {
            "role": "user",
            "content": f"{missing.name.replace('_', ' ').capitalize()}: {call.said[missing.name]}.",
        },
        _call_message([call], "Now I have every detail. " + _plan(call)),
        _tool_message(tool.name, result),
        {
            "role": "assistant",
            "content": tool.answer.format(**{**call.arguments, **result}),
            "reasoning_content": "The result is in; I answer with it.",
        },
    ]


def _follow_up(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    first = _single(rng, domain, today)
    second = _single(rng, domain, today)
    second[0] = {"role": "user", "content": rng.choice(FOLLOW_UPS) + second[0]["content"]}
    return first + second


def _chat(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    question, answer = rng.choice(domain.chat) if domain.chat else ("Hello!", "Hello! How can I help?")
    return [
        {"role": "user", "content": rng.choice(OPENERS) + question},
        {
            "role": "assistant",
            "content": answer,
            "reasoning_content": "No tool is needed for this; I answer directly.",
        },
    ]


def _sum_calls(rng: random.Random, domain: Domain, today: date) -> list[dict[str, Any]]:
    """Two lookups whose numbers the answer adds up (arithmetic over tool results)."""
    numeric = [
        t
        for t in domain.tools
        if any(isinstance(v, int) for v in t.result(random.Random(0), _probe(t)).values())
    ]
    tool = rng.choice(numeric or list(domain.tools))
    calls = [_make_call(rng, tool, today) for _ in range(2)]
    results = [tool.result(rng, call.arguments) for call in calls]
    key = next(
        (
            k
            for k, v in results[0].items()
            if isinstance(v, int) and not isinstance(v, bool) and k not in calls[0].arguments
        ),
        None,
    )
    if key is None:
        return _parallel(rng, domain, today)
    a, b = results[0][key], results[1][key]
    asks = [rng.choice(tool.asks).format(**call.said) for call in calls]
    return [
        {"role": "user", "content": f"{asks[0]} {asks[1]} What is the sum of the two?"},
        _call_message(
            calls, "Two lookups go out together, then I add the numbers. " + " ".join(_plan(c) for c in calls)
        ),
        *[_tool_message(tool.name, result) for result in results],
        {
            "role": "assistant",
            "content": f"The first is {a} and the second is {b}; together {a + b}.",
            "reasoning_content": f"{a} + {b} = {a + b}.",
        },
    ]


def _probe(tool: Tool) -> dict[str, Any]:
    rng = random.Random(0)
    return {
        param.name: draw_value(rng, param) if param.kind != "date" else "2026-01-01" for param in tool.params
    }


KINDS: tuple[tuple[Callable[[random.Random, Domain, date], list[dict[str, Any]]], int], ...] = (
    (_single, 40),
    (_parallel, 12),
    (_missing, 12),
    (_follow_up, 12),
    (_chat, 8),
    (_sum_calls, 6),
)


def generate_conversations(
    count: int, seed: int, invented: float = 0.0, opaque: float = 0.0
) -> list[dict[str, Any]]:
    """`count` conversations in the chat format (`messages`, `tools`), deterministic for a seed; a share
    `invented` of them use a domain of tools invented for that conversation (`invent_domain`; a share `opaque`
    of those tools named apart from the request), the rest one of the corpus's fixed domains."""
    rng = random.Random(f"corpus/{seed}")
    kinds, weights = zip(*KINDS, strict=True)
    conversations = []
    for _ in range(count):
        domain = invent_domain(rng, opaque) if invented and rng.random() < invented else rng.choice(DOMAINS)
        today = date(2025, 1, 1) + timedelta(days=rng.randrange(1100))
        build = rng.choices(kinds, weights)[0]
        messages = [_system(rng, domain, today), *build(rng, domain, today)]
        conversations.append({"messages": messages, "tools": [tool.schema() for tool in domain.tools]})
    return conversations


def generate_documents(count: int, seed: int) -> list[str]:
    """Plain-text lines: calendar facts, arithmetic and short descriptions, deterministic for a seed."""
    rng = random.Random(f"documents/{seed}")
    documents = []
    for _ in range(count):
        kind = rng.randrange(4)
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(1100))
        if kind == 0:
            n = rng.randint(1, 9)
            later = day + timedelta(days=n)
            documents.append(
                f"{day.isoformat()} is a {WEEKDAYS[day.weekday()]}. {n} days after it comes {later.isoformat()}, "
                f"a {WEEKDAYS[later.weekday()]}. The next day is {(day + timedelta(days=1)).isoformat()}."
            )
        elif kind == 1:
            a, b = rng.randint(1, 500), rng.randint(1, 500)
            documents.append(
                f"{a} plus {b} is {a + b}. {a} + {b} = {a + b}. {max(a, b)} - {min(a, b)} = {max(a, b) - min(a, b)}."
            )
        elif kind == 2:
            name, other = invent_name(rng), invent_name(rng)
            thing = f"{rng.choice(LOWER_WORDS)} {rng.choice(THINGS)}"
            documents.append(
                f"{name} lives near {other}. Every {WEEKDAYS[rng.randrange(7)]}, {name} carries a {thing} to {other}."
            )
        else:
            week = [day + timedelta(days=i) for i in range(7)]
            documents.append(" ".join(f"{WEEKDAYS[d.weekday()]} {d.isoformat()}." for d in week))
    return documents

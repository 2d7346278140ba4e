"""The pretraining corpus of the tiny base: generated tool-use conversations and plain text, disjoint from the
bundled benchmark.

A real base model (vanilla Qwen3-1.7B in the paper) already knows the tool-call format, can copy a name or a
number from a request into a call's arguments, reads dates and answers from a tool's result. This corpus gives
the tiny model that knowledge without showing it the benchmark: its domains, tool names, system prompts, user
phrasings and reasoning sentences are all its own (a test checks that none of the benchmark's tool names or
template sentences appear), and its entities are invented pseudo-words, so copying has to be learned as copying.

What it holds (each conversation rendered later through the chat template, with tools):
- single, parallel and chained calls, a follow-up request in a second user turn, a question that needs a detail
  the user did not give (asked for, then called), and small talk that needs no tool;
- reasoning before every action, including dates worked out from the system prompt's date ("tomorrow",
  "in 3 days", "on Friday") and sums over numbers;
- plain-text documents: calendar facts (the day after a date, weekdays), arithmetic, short descriptions.

Left out: the benchmark's seven domains and their phrasings (on purpose), errors returned by tools, and any
natural-language text beyond what templates give.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "gl", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "x", "nd")
_LOWER_WORDS = (
    "red", "blue", "green", "small", "large", "quiet", "fast", "fresh", "old", "new", "warm", "cold", "long",
    "short", "bright", "dark", "soft", "heavy", "light", "round", "square", "wooden", "silver", "golden",
)  # fmt: skip
_THINGS = (
    "lantern", "basket", "ribbon", "compass", "notebook", "teapot", "blanket", "helmet", "candle", "bucket",
    "scarf", "ladder", "mirror", "pillow", "bottle", "drum", "kite", "glove", "wallet", "clock",
)  # fmt: skip


def invent_name(rng: random.Random) -> str:
    """A capitalised pseudo-word ('Tirvola'): entities nobody has seen, so calls must copy them."""
    word = "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.randint(2, 3))
    )
    return word.capitalize()


def spelled_name(rng: random.Random) -> str:
    """A capitalised English-like word ('Wallow', 'Straing', 'Tsoeri'): entities spelled as real names are.

    `invent_name` builds every word from the same few syllables, which the tokenizer learns as whole pieces
    ('Gos' 'bras' 'bro' 'x'), so a base trained on them copies those pieces and not words: the two-stage base
    predicted 94% of the later tokens of a copied corpus name, and 55% once the names were made of other
    letters, as real ones are ('Lisbon' is 'L' 'is' 'bon'; docs/benchmarks.md). Seven names in ten follow a
    character trigram model of the corpus's own lower-case words (and are none of them), the others are letters
    drawn by their frequency in those words; so they split into the vocabulary's common pieces, like the names
    of any real request.

    >>> name = spelled_name(random.Random(0))
    >>> name.isalpha() and name[0].isupper() and 4 <= len(name) <= 10
    True
    """
    trigrams, letters, _, known = _spelling_model()
    while True:
        if rng.random() < 0.7:
            word, context = "", "^^"
            while len(word) < 11:
                choices, weights = trigrams[context]
                letter = rng.choices(choices, weights)[0]
                if letter == "$":
                    break
                word, context = word + letter, context[1] + letter
        else:
            word = "".join(rng.choices(letters[0], letters[1], k=rng.randint(4, 9)))
        if 4 <= len(word) <= 10 and word not in known:
            return word.capitalize()


def english_words() -> frozenset[str]:
    """The corpus's own lower-case words of three letters or more ('the', 'please', 'lantern'): ordinary words,
    which `spelled_name` never spells and `data.rename.fresh_entities` never replaces."""
    return _spelling_model()[2]


@functools.cache
def _spelling_model() -> tuple[
    dict[str, tuple[list[str], list[int]]], tuple[list[str], list[int]], frozenset[str], frozenset[str]
]:
    """(next-letter counts after each two letters, letter counts, the words, the words never to spell) from the
    corpus's own lower-case words of three letters or more (its templates, seed 0; `^` starts a word, `$` ends
    it). The words never to spell are those, and every word of the benchmark's entity pools, so that no corpus
    entity is a benchmark city, person or product ('Rome', 'Kettle')."""
    from thinkact.bench.synthetic import entities

    text = " ".join(json.dumps(record) for record in generate_conversations(400, 0))
    words = set(re.findall(r"\b[a-z]{3,}\b", text + " ".join(generate_documents(200, 0))))
    pools = json.dumps([value for name, value in vars(entities).items() if name.isupper()])
    benchmark = {word.lower() for word in re.findall(r"[A-Za-z]+", pools)}
    following: dict[str, Counter[str]] = defaultdict(Counter)
    for word in sorted(words):
        marked = f"^^{word}$"
        for i in range(2, len(marked)):
            following[marked[i - 2 : i]][marked[i]] += 1
    counts = Counter("".join(sorted(words)))
    return (
        {context: (list(c), list(c.values())) for context, c in following.items()},
        (sorted(counts), [counts[letter] for letter in sorted(counts)]),
        frozenset(words),
        frozenset(words | benchmark),
    )


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


def _num(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "library",
        ("You help members of the city library.", "Library desk assistant."),
        (
            Tool(
                "find_book",
                "Look up a book by its author and report where it is shelved.",
                (Param("author", "person", "Full name of the author"),),
                (
                    "Do you have anything written by {author}?",
                    "I am looking for a book by {author}.",
                    "Which shelf holds the books of {author}?",
                ),
                "The member asks about books by {author}, so I search the catalogue for that author.",
                lambda rng, a: {
                    "author": a["author"],
                    "title": f"The {invent_name(rng)} Road",
                    "shelf": _num(rng, 1, 90),
                },
                "There is {title} by {author}, on shelf {shelf}.",
            ),
            Tool(
                "hold_book",
                "Put a book on hold for a member until a given date.",
                (
                    Param("title", "name", "Book title"),
                    Param("until", "date", "Last day of the hold, YYYY-MM-DD"),
                ),
                (
                    "Please keep {title} for me until {until}.",
                    "Could you hold the book {title} {until}?",
                ),
                "I need the title {title} and the last day; {until_reason} I place the hold.",
                lambda rng, a: {
                    "title": a["title"],
                    "until": a["until"],
                    "hold_id": f"H{_num(rng, 100, 999)}",
                },
                "Done: {title} is held for you until {until} (hold {hold_id}).",
            ),
        ),
        (("What are your opening hours?", "The library is open from 9:00 to 18:00 on weekdays."),),
    ),
    Domain(
        "restaurant",
        ("You reserve tables at restaurants.", "A dining concierge."),
        (
            Tool(
                "reserve_table",
                "Reserve a table at a restaurant for a number of guests on a day and time.",
                (
                    Param("restaurant", "name", "Restaurant name"),
                    Param("guests", "count", "Number of guests", low=1, high=12),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("time", "time", "HH:MM"),
                ),
                (
                    "Book {restaurant} for {guests} people {day} at {time}.",
                    "I want a table for {guests} at {restaurant}, {day}, {time} please.",
                    "Can you get us a table at {restaurant} {day} at {time}? We are {guests}.",
                ),
                "A table at {restaurant} for {guests} guests; {day_reason} The time is {time}.",
                lambda rng, a: {**a, "table": _num(rng, 1, 40), "confirmed": True},
                "Your table {table} at {restaurant} is booked for {guests} on {day} at {time}.",
            ),
            Tool(
                "menu_price",
                "The price of a dish at a restaurant.",
                (Param("restaurant", "name", "Restaurant name"), Param("dish", "thing", "Dish name")),
                ("How much is the {dish} at {restaurant}?", "What does {restaurant} charge for {dish}?"),
                "The user wants the price of {dish} at {restaurant}; I look it up.",
                lambda rng, a: {**a, "price": _num(rng, 4, 60)},
                "The {dish} at {restaurant} costs {price}.",
            ),
        ),
        (("Do you like cooking?", "I do not cook, but I can find you a good table."),),
    ),
    Domain(
        "fitness",
        ("You keep a training log.", "Fitness coach assistant."),
        (
            Tool(
                "log_run",
                "Record a run: distance in kilometres and the day it happened.",
                (Param("km", "count", "Distance", low=1, high=42), Param("day", "date", "YYYY-MM-DD")),
                ("I ran {km} km {day}, please log it.", "Add a run of {km} kilometres for {day}."),
                "A run of {km} km; {day_reason} I record it.",
                lambda rng, a: {**a, "total_km": a["km"] + _num(rng, 0, 200)},
                "Logged {km} km on {day}. Your total is now {total_km} km.",
            ),
            Tool(
                "count_steps",
                "Number of steps a person walked on a day.",
                (Param("person", "person", "Who"), Param("day", "date", "YYYY-MM-DD")),
                ("How many steps did {person} walk {day}?", "Steps of {person} {day}?"),
                "I need the steps of {person}; {day_reason} I ask the tracker.",
                lambda rng, a: {**a, "steps": _num(rng, 500, 25000)},
                "{person} walked {steps} steps on {day}.",
            ),
        ),
        (("Is stretching useful?", "Yes, a few minutes of stretching after a run helps recovery."),),
    ),
    Domain(
        "music",
        ("You control the music player.", "Music assistant."),
        (
            Tool(
                "play_album",
                "Start playing an album by an artist.",
                (Param("artist", "person", "Artist"), Param("album", "name", "Album title")),
                ("Play the album {album} by {artist}.", "Put on {album} from {artist}."),
                "The user wants {album} by {artist}; I start it.",
                lambda rng, a: {**a, "tracks": _num(rng, 6, 18), "playing": True},
                "Now playing {album} by {artist}, {tracks} tracks.",
            ),
            Tool(
                "set_volume",
                "Set the speaker volume from 0 to 100.",
                (Param("level", "count", "Volume level", low=0, high=100),),
                ("Set the volume to {level}.", "Volume {level} please."),
                "The requested level is {level}.",
                lambda rng, a: {"level": a["level"]},
                "The volume is now {level}.",
            ),
        ),
        (("What is your favourite song?", "I have no favourite, but I can play yours."),),
    ),
    Domain(
        "parking",
        ("You manage parking permits.", "Parking office assistant."),
        (
            Tool(
                "park_car",
                "Pay for parking in a zone for a number of hours on a day.",
                (
                    Param("zone", "name", "Zone name"),
                    Param("hours", "count", "Hours", low=1, high=10),
                    Param("day", "date", "YYYY-MM-DD"),
                ),
                (
                    "Pay {hours} hours of parking in zone {zone} {day}.",
                    "I need to park in {zone} for {hours} hours {day}.",
                ),
                "Parking in {zone} for {hours} hours; {day_reason}",
                lambda rng, a: {
                    **a,
                    "cost": a["hours"] * _num(rng, 1, 4),
                    "ticket": f"P{_num(rng, 1000, 9999)}",
                },
                "Ticket {ticket}: {hours} hours in {zone} on {day}, cost {cost}.",
            ),
        ),
        (("Is parking free on holidays?", "Most zones are free on public holidays."),),
    ),
    Domain(
        "garden",
        ("You look after a plant nursery's orders.", "Garden shop helper."),
        (
            Tool(
                "order_seeds",
                "Order packets of seeds of a plant variety.",
                (
                    Param("variety", "name", "Plant variety"),
                    Param("packets", "count", "Number of packets", low=1, high=20),
                ),
                ("Order {packets} packets of {variety} seeds.", "I would like {packets} packs of {variety}."),
                "{packets} packets of the variety {variety}.",
                lambda rng, a: {
                    **a,
                    "order": f"G{_num(rng, 100, 999)}",
                    "price": a["packets"] * _num(rng, 2, 5),
                },
                "Order {order}: {packets} packets of {variety} for {price}.",
            ),
            Tool(
                "water_plan",
                "How often a plant variety should be watered, in days.",
                (Param("variety", "name", "Plant variety"),),
                ("How often should I water {variety}?", "Watering schedule for {variety}?"),
                "The question is about watering {variety}; I check the care sheet.",
                lambda rng, a: {**a, "every_days": _num(rng, 1, 14)},
                "Water {variety} every {every_days} days.",
            ),
        ),
        (("Do plants like music?", "Some gardeners think so, but there is little proof."),),
    ),
    Domain(
        "pets",
        ("You run the pet clinic's front desk.", "Veterinary clinic assistant."),
        (
            Tool(
                "vet_visit",
                "Book a visit for a pet on a day and time.",
                (
                    Param("pet", "name", "Pet name"),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("time", "time", "HH:MM"),
                ),
                ("Can {pet} see the vet {day} at {time}?", "Book a checkup for {pet}, {day} at {time}."),
                "A visit for {pet}; {day_reason} At {time}.",
                lambda rng, a: {**a, "room": _num(rng, 1, 9)},
                "{pet} is booked on {day} at {time}, room {room}.",
            ),
            Tool(
                "pet_weight",
                "The last recorded weight of a pet in kilograms.",
                (Param("pet", "name", "Pet name"),),
                ("How heavy was {pet} last time?", "What does {pet} weigh?"),
                "I look up the record of {pet}.",
                lambda rng, a: {**a, "kg": _num(rng, 2, 45)},
                "{pet} weighed {kg} kg at the last visit.",
            ),
        ),
        (("Are cats better than dogs?", "Both make fine companions."),),
    ),
    Domain(
        "delivery",
        ("You track parcels.", "Courier service assistant."),
        (
            Tool(
                "track_parcel",
                "Status of a parcel by its code.",
                (Param("code", "name", "Parcel code"),),
                ("Where is my parcel {code}?", "Track parcel {code} for me."),
                "The parcel code is {code}; I look it up.",
                lambda rng, a: {
                    **a,
                    "status": rng.choice(("in transit", "delivered", "at the depot")),
                    "stop": invent_name(rng),
                },
                "Parcel {code} is {status}, last seen at {stop}.",
            ),
            Tool(
                "send_parcel",
                "Send a parcel of some weight to a person.",
                (
                    Param("recipient", "person", "Recipient"),
                    Param("kg", "count", "Weight in kg", low=1, high=30),
                ),
                ("Send a {kg} kg parcel to {recipient}.", "I want to ship {kg} kilos to {recipient}."),
                "A parcel of {kg} kg for {recipient}.",
                lambda rng, a: {**a, "code": invent_name(rng).upper()[:6], "fee": a["kg"] * _num(rng, 1, 3)},
                "Your parcel to {recipient} has code {code}; the fee is {fee}.",
            ),
        ),
        (("Do you deliver on Sundays?", "No, parcels move from Monday to Saturday."),),
    ),
    Domain(
        "cinema",
        ("You sell cinema tickets.", "Box office assistant."),
        (
            Tool(
                "buy_seats",
                "Buy seats for a film on a day.",
                (
                    Param("film", "name", "Film title"),
                    Param("seats", "count", "Number of seats", low=1, high=8),
                    Param("day", "date", "YYYY-MM-DD"),
                ),
                ("Get me {seats} seats for {film} {day}.", "{seats} tickets to {film}, {day}, please."),
                "{seats} seats for {film}; {day_reason}",
                lambda rng, a: {**a, "hall": _num(rng, 1, 12), "total": a["seats"] * _num(rng, 7, 15)},
                "You have {seats} seats for {film} on {day} in hall {hall}; total {total}.",
            ),
        ),
        (("Is popcorn included?", "Popcorn is sold separately at the counter."),),
    ),
    Domain(
        "home",
        ("You control a smart home.", "Home automation assistant."),
        (
            Tool(
                "set_heating",
                "Set the heating of a room to a temperature.",
                (
                    Param("room", "choice", "Room", choices=("kitchen", "bedroom", "hall", "office")),
                    Param("degrees", "count", "Target temperature", low=15, high=28),
                ),
                ("Heat the {room} to {degrees} degrees.", "Set the {room} at {degrees}."),
                "The {room} should reach {degrees} degrees.",
                lambda rng, a: {**a, "was": _num(rng, 12, 24)},
                "The {room} goes from {was} to {degrees} degrees.",
            ),
            Tool(
                "lights",
                "Switch the lights of a room on or off.",
                (
                    Param("room", "choice", "Room", choices=("kitchen", "bedroom", "hall", "office")),
                    Param("state", "choice", "on or off", choices=("on", "off")),
                ),
                ("Turn the {room} lights {state}.", "Lights {state} in the {room}."),
                "The {room} lights should be {state}.",
                lambda rng, a: {**a, "done": True},
                "The {room} lights are {state}.",
            ),
        ),
        (("Can you make coffee?", "Not yet; I only handle heating and lights."),),
    ),
    Domain(
        "school",
        ("You help a school office.", "School records assistant."),
        (
            Tool(
                "grade_of",
                "The grade a student got in a course.",
                (Param("student", "person", "Student"), Param("course", "name", "Course")),
                ("What grade did {student} get in {course}?", "Show me the {course} grade of {student}."),
                "I need the grade of {student} in {course}.",
                lambda rng, a: {**a, "grade": _num(rng, 40, 100)},
                "{student} got {grade} in {course}.",
            ),
            Tool(
                "book_room",
                "Book a classroom on a day for a number of hours.",
                (
                    Param("room", "name", "Room name"),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("hours", "count", "Hours", low=1, high=6),
                ),
                ("Reserve room {room} {day} for {hours} hours.", "I need {room} for {hours} hours {day}."),
                "Room {room} for {hours} hours; {day_reason}",
                lambda rng, a: {**a, "booking": f"R{_num(rng, 10, 99)}"},
                "Room {room} is yours on {day} for {hours} hours (booking {booking}).",
            ),
        ),
        (
            (
                "When do holidays start?",
                "The school calendar lists them; I can only book rooms and read grades.",
            ),
        ),
    ),
    Domain(
        "market",
        ("You price items at a farmers' market.", "Market stall assistant."),
        (
            Tool(
                "stall_price",
                "Price of one item at a market stall.",
                (Param("stall", "name", "Stall name"), Param("item", "thing", "Item")),
                ("How much is a {item} at the {stall} stall?", "Price of the {item} at {stall}?"),
                "The price of a {item} at {stall}.",
                lambda rng, a: {**a, "price": _num(rng, 1, 30)},
                "A {item} costs {price} at {stall}.",
            ),
        ),
        (("Is the market open in winter?", "It opens every Saturday, all year."),),
    ),
)

TOOL_VERBS = (
    "fetch",
    "lookup",
    "query",
    "read",
    "show",
    "find",
    "check",
    "record",
    "note",
    "mark",
    "count",
    "open",
)
_NOUNS = (
    "height", "owner", "rating", "colour", "capacity", "depth", "score", "distance", "speed", "age", "address",
    "size", "price", "length", "weight", "status", "code", "rank", "volume", "label",
)  # fmt: skip
_PARAM_WORDS = (
    "spot", "item", "target", "person", "place", "group", "tag", "member", "site", "unit", "holder", "entry",
    "slot", "name", "region", "crew", "house", "team",
)  # fmt: skip
_PARAM_KINDS = (
    ("name", 35),
    ("person", 15),
    ("date", 20),
    ("count", 15),
    ("time", 5),
    ("thing", 5),
    ("choice", 5),
)
_KIND_TEXT = {
    "name": "Name of the {word}",
    "person": "Full name of the {word}",
    "date": "Day, YYYY-MM-DD",
    "count": "How many",
    "time": "HH:MM",
    "thing": "The {word}",
    "choice": "One of the listed values",
}
_OPENINGS = ("Please {verb}", "I need you to {verb}", "Can you {verb}", "Would you {verb}", "{Verb}")


def _invent_word(rng: random.Random) -> str:
    """A lower-case pseudo-word ('brelox'), for invented tool and parameter names."""
    return invent_name(rng).lower()


def _name_apart(rng: random.Random, verb: str, noun: str, taken: set[str]) -> str:
    """A tool name of `verb` and an invented word that is neither `noun` nor taken (added to `taken`)."""
    word = _invent_word(rng)
    while word in taken or word == noun:
        word = _invent_word(rng)
    name = f"{verb}_{word}" if rng.random() < 0.7 else f"{word}_{verb}"
    taken.update((word, name))
    return name


def _invent_params(rng: random.Random, noun: str) -> list[Param]:
    """One to three parameters of drawn kinds, named from a word list or invented, none named `noun`."""
    kinds, weights = zip(*_PARAM_KINDS, strict=True)
    params: list[Param] = []
    for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
        kind = rng.choices(kinds, weights)[0]
        word = rng.choice(_PARAM_WORDS) if rng.random() < 0.6 else _invent_word(rng)
        if word in {p.name for p in params} or word == noun or kind in {p.kind for p in params} & {"date"}:
            continue
        choices = tuple(_invent_word(rng) for _ in range(3)) if kind == "choice" else ()
        params.append(Param(word, kind, _KIND_TEXT[kind].format(word=word), choices, 1, 20))
    return params


def _said(rng: random.Random, param: Param) -> str:
    """How a request gives `param`: its `str.format` field, with the parameter's word around it or not."""
    field_ = "{" + param.name + "}"
    if param.kind in ("date", "person"):
        return field_
    if param.kind == "time":
        return f"at {field_}"
    if param.kind == "count":
        return f"{field_} {param.name}s" if rng.random() < 0.5 else f"{param.name} count {field_}"
    return f"{param.name} {field_}" if rng.random() < 0.5 else field_


def _invent_tool(rng: random.Random, taken: set[str], opaque: float = 0.0) -> Tool:
    """A tool nobody has seen: its name, parameters, requests and reasoning are drawn for one conversation, so
    a model can only call it right by reading the tool list and copying from the request.

    A share `opaque` of the tools get a name that shares no word with the request (`query_brelox` for a
    request about the height): the request, the reasoning and the tool's description speak of the height, and
    only the tool list ties that topic to the name, as the benchmark's `find_contact` is tied to "phone number"
    by nothing the user says. Without them the name is the request's noun and a verb, and a base learns to
    compose names from the request instead of reading the list (docs/benchmarks.md, "Names read from the list").
    With `opaque` 0 nothing else is drawn, so the corpus is the one earlier recipes built.
    """
    hidden = bool(opaque) and rng.random() < opaque
    while True:
        noun = rng.choice(_NOUNS) if rng.random() < 0.5 else _invent_word(rng)
        verb = rng.choice(TOOL_VERBS)
        name = f"{verb}_{noun}" if rng.random() < 0.7 else f"{noun}_{verb}"
        if name not in taken and noun not in taken:
            break
    taken.update((name, noun))
    if hidden:
        name = _name_apart(rng, verb, noun, taken)
    params = _invent_params(rng, noun)
    joined = ", ".join(_said(rng, param) for param in params)
    opening = rng.choice(_OPENINGS).format(verb=verb, Verb=verb.capitalize())
    asks = (
        f"{opening} the {noun} for {joined}.",
        f"What is the {noun} of {joined}?",
        f"{joined}: {verb} its {noun}, please.",
    )
    if hidden:
        asks = (
            f"I'd like the {noun} for {joined}.",
            f"What is the {noun} of {joined}?",
            f"{joined}: its {noun}?",
        )
    reasons = []
    for param in params:
        if param.kind == "date":
            reasons.append("{" + param.name + "_reason}")
        else:
            reasons.append(f"The {param.name} is {{{param.name}}}.")
    plan = f"The request is for the {noun}, which {name} gives. " + " ".join(reasons) + f" I call {name}."
    if hidden:
        plan = f"The request is for the {noun}; the tool that gives the {noun} is {name}. " + " ".join(
            reasons
        )
        plan += f" I call {name}."
    value_kind = rng.choice(("count", "name", "thing"))
    key = noun if noun not in {p.name for p in params} else f"{noun}_value"

    def result(
        rng: random.Random, arguments: dict[str, Any], key: str = key, kind: str = value_kind
    ) -> dict[str, Any]:
        return {**arguments, key: _value(rng, Param(key, kind, high=500))}

    first = params[0].name if params else key
    answer = f"The {noun} for {{{first}}} is {{{key}}}."
    description = (
        f"Gives the {noun} of a {first}." if hidden else f"{verb.capitalize()} the {noun} of a {first}."
    )
    return Tool(name, description, tuple(params), asks, plan, result, answer, topic=noun if hidden else "")


def invent_domain(rng: random.Random, opaque: float = 0.0) -> Domain:
    """A domain of 1 to 4 invented tools (`_invent_tool`), the one a conversation uses among its distractors."""
    taken: set[str] = set()
    tools = tuple(_invent_tool(rng, taken, opaque) for _ in range(rng.randint(1, 4)))
    noun = tools[0].topic or tools[0].name.split("_")[-1]
    return Domain("invented", (f"You answer questions about {noun} records.", "A records assistant."), tools)


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


def _value(rng: random.Random, param: Param) -> Any:
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
        return f"{rng.choice(_LOWER_WORDS)} {rng.choice(_THINGS)}"
    raise ValueError(f"no value for kind {param.kind!r}")


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
            arguments[param.name] = said[param.name] = _value(rng, param)
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
    return {param.name: _value(rng, param) if param.kind != "date" else "2026-01-01" for param in tool.params}


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
            thing = f"{rng.choice(_LOWER_WORDS)} {rng.choice(_THINGS)}"
            documents.append(
                f"{name} lives near {other}. Every {WEEKDAYS[rng.randrange(7)]}, {name} carries a {thing} to {other}."
            )
        else:
            week = [day + timedelta(days=i) for i in range(7)]
            documents.append(" ".join(f"{WEEKDAYS[d.weekday()]} {d.isoformat()}." for d in week))
    return documents

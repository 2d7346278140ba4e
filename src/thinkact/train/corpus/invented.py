"""Domains invented for one conversation: tools nobody has seen, whose names, parameters, requests and reasoning
are drawn afresh, so a model can only call them right by reading the tool list and copying from the request.

Left out: the fixed domains (`domains.py`).
"""

from __future__ import annotations

import random
from typing import Any

from thinkact.data.words import TOOL_VERBS, invent_name
from thinkact.train.corpus.tools import Domain, Param, Tool, draw_value

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
        return {**arguments, key: draw_value(rng, Param(key, kind, high=500))}

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

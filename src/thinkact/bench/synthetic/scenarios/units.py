"""Units and maths conversations: choosing unit codes from words, currencies, percentages, and chains where a
converted value feeds the calculator.

Left out: expressions with more than two operands (the calculator takes one operation at a time).
"""

from __future__ import annotations

import json

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import CURRENCIES
from thinkact.bench.synthetic.phrasing import Phrases
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.envs.domains.units import default_state
from thinkact.parse import ToolCall

DOMAIN = "units"
# (words the user says, unit code)
UNIT_WORDS = {
    "mi": "miles", "km": "kilometres", "m": "metres", "ft": "feet", "in": "inches", "cm": "centimetres",
    "kg": "kilograms", "lb": "pounds", "g": "grams", "oz": "ounces", "l": "litres", "gal": "gallons",
    "ml": "millilitres", "cup": "cups", "C": "degrees Celsius", "F": "degrees Fahrenheit", "K": "kelvin",
}  # fmt: skip
PAIRS = (
    ("mi", "km"), ("km", "mi"), ("ft", "m"), ("m", "ft"), ("in", "cm"), ("cm", "in"), ("kg", "lb"), ("lb", "kg"),
    ("oz", "g"), ("g", "oz"), ("gal", "l"), ("l", "gal"), ("cup", "ml"), ("F", "C"), ("C", "F"), ("C", "K"),
)  # fmt: skip

ASK_CONVERT = Phrases(
    seen=(
        "How many {to} is {value} {frm}?",
        "Convert {value} {frm} to {to}.",
        "What is {value} {frm} in {to}?",
    ),
    held_out=("{value} {frm} → {to}?", "Express {value} {frm} in {to}, please."),
)
ASK_CURRENCY = Phrases(
    seen=("How much is {amount} {a} in {b}?", "Convert {amount} {a} to {b}."),
    held_out=("{amount} {a} equals how many {b} today?",),
)
ASK_PERCENT = Phrases(
    seen=("What's {p}% of {x}?", "Calculate {p} percent of {x}.", "How much is a {p}% tip on a bill of {x}?"),
    held_out=("{p}% of {x} comes to?",),
)
ASK_WEEKLY = Phrases(
    seen=(
        "I run {value} {frm} every day. How many {to} is that in a week?",
        "If I walk {value} {frm} a day, how many {to} do I cover in 7 days?",
    ),
    held_out=("Daily {value} {frm}, seven days: total in {to}?",),
)
ASK_SPLIT = Phrases(
    seen=(
        "Dinner cost {amount} {a}, split between {n} people. How much is each share in {b}?",
        "We owe {amount} {a} in total and there are {n} of us. What does each person pay in {b}?",
    ),
    held_out=("{amount} {a} divided by {n} people, in {b} per head?",),
)
ASK_TWO = Phrases(
    seen=("Convert {v1} and {v2} {frm} to {to}.", "What are {v1} {frm} and {v2} {frm} in {to}?"),
    held_out=("Both {v1} and {v2} {frm}, as {to}?",),
)
ASK_VAGUE = Phrases(
    seen=("Convert {value} degrees for me.", "What's {value} degrees in the other scale?"),
    held_out=("{value} degrees, other unit?",),
)
GIVE_SCALE = Phrases(
    seen=("From {frm} to {to}.", "It's {frm}; I want {to}."),
    held_out=("{frm} into {to}.",),
)
ASK_AGAIN = Phrases(seen=("And {value}?", "What about {value} {frm}?"), held_out=("Now {value}.",))
CHATS = (
    Chat(
        Phrases(seen=("How many centimetres are in a metre?",), held_out=("A metre has how many cm?",)),
        "The user asks how many centimetres make a metre; that is a basic fact (100), so a tool call is not needed.",
        "There are 100 centimetres in a metre.",
        ("100",),
    ),
    Chat(
        Phrases(seen=("What is 12 times 12?",), held_out=("12 squared?",)),
        "The user asks for 12 times 12; that is simple mental arithmetic, 12 × 12 = 144, so no tool is needed.",
        "12 times 12 is 144.",
        ("144",),
    ),
    Chat(
        Phrases(seen=("Thanks, that's all.",), held_out=("Grand, thanks.",)),
        "The user is done and asks for nothing new, so there is nothing to compute; I reply politely.",
        "You're welcome!",
        bare=True,
    ),
)


def number(value: float) -> str:
    """A number as the tool result shows it (JSON): 16.09, 212.0, 3."""
    return json.dumps(value)


def _value(ctx: Context, unit: str) -> int | float:
    if unit in ("C", "F", "K"):
        return ctx.rng.randint(-10, 40) if unit == "C" else ctx.rng.randint(20, 100)
    tenths = ctx.rng.randint(10, 500) / 10
    return ctx.choose((ctx.rng.randint(1, 50), int(tenths) if tenths.is_integer() else tenths))


def _unit_reason(value: float, frm: str, to: str) -> str:
    return (
        f"The user converts {value} {UNIT_WORDS[frm]} to {UNIT_WORDS[to]}; in convert_units those are '{frm}' and "
        f"'{to}', so I call it with value {value}."
    )


def _convert(value: float, frm: str, to: str) -> ToolCall:
    return ToolCall("convert_units", {"value": value, "from_unit": frm, "to_unit": to})


def write_convert(ctx: Context) -> Dialogue:
    frm, to = ctx.choose(PAIRS)
    value = _value(ctx, frm)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_CONVERT, value=value, frm=UNIT_WORDS[frm], to=UNIT_WORDS[to]))
    (result,) = dialogue.call(
        _unit_reason(value, frm, to),
        _convert(value, frm, to),
    )
    dialogue.answer(
        f"convert_units returned {number(result['value'])} {to} for {value} {frm}; I report the converted value.",
        f"{value} {UNIT_WORDS[frm]} is {number(result['value'])} {UNIT_WORDS[to]}.",
        [number(result["value"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_currency(ctx: Context) -> Dialogue:
    a, b = ctx.rng.sample([*CURRENCIES, "JPY"], 2)
    amount = ctx.rng.randint(5, 2000)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_CURRENCY, amount=amount, a=a, b=b))
    (result,) = dialogue.call(
        f"A currency conversion of {amount} from {a} to {b}; convert_currency uses today's rate.",
        ToolCall("convert_currency", {"amount": amount, "from_currency": a, "to_currency": b}),
    )
    dialogue.answer(
        f"At a rate of {number(result['rate'])}, {amount} {a} is {number(result['amount'])} {b}.",
        f"{amount} {a} is {number(result['amount'])} {b} at today's rate of {number(result['rate'])}.",
        [number(result["amount"])],
    )
    return dialogue


def write_percent(ctx: Context) -> Dialogue:
    p = ctx.choose((5, 10, 12, 15, 18, 20, 25, 30, 40))
    x = ctx.rng.randint(20, 900)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_PERCENT, p=p, x=x))
    (result,) = dialogue.call(
        f"{p}% of {x} is the calculator's percent_of with a = {p} and b = {x}.",
        ToolCall("calculate", {"operation": "percent_of", "a": p, "b": x}),
    )
    dialogue.answer(
        f"calculate returned {number(result['result'])} for {p}% of {x}; I report it.",
        f"{p}% of {x} is {number(result['result'])}.",
        [number(result["result"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_weekly(ctx: Context) -> Dialogue:
    frm, to = ctx.choose((("mi", "km"), ("km", "mi")))
    value = ctx.rng.randint(2, 15)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_WEEKLY, value=value, frm=UNIT_WORDS[frm], to=UNIT_WORDS[to]))
    (daily,) = dialogue.call(
        f"First I convert the daily {value} {frm} to {to}; then I multiply by 7.", _convert(value, frm, to)
    )
    (week,) = dialogue.call(
        f"One day is {number(daily['value'])} {to}; a week is {number(daily['value'])} × 7, so I multiply.",
        ToolCall("calculate", {"operation": "multiply", "a": daily["value"], "b": 7}),
    )
    dialogue.answer(
        f"calculate gives {number(week['result'])} {to} for 7 days of {number(daily['value'])} {to}; I report "
        "the daily and the weekly distance.",
        f"{value} {UNIT_WORDS[frm]} a day is {number(daily['value'])} {UNIT_WORDS[to]}, so "
        f"{number(week['result'])} {UNIT_WORDS[to]} a week.",
        [number(week["result"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_split_bill(ctx: Context) -> Dialogue:
    a, b = ctx.rng.sample(CURRENCIES, 2)
    amount, n = ctx.rng.randint(40, 600), ctx.rng.randint(2, 6)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_SPLIT, amount=amount, a=a, b=b, n=n))
    (converted,) = dialogue.call(
        f"I first convert the whole bill, {amount} {a}, to {b}; then I divide by {n}.",
        ToolCall("convert_currency", {"amount": amount, "from_currency": a, "to_currency": b}),
    )
    (share,) = dialogue.call(
        f"The bill is {number(converted['amount'])} {b}; each of the {n} people pays that divided by {n}.",
        ToolCall("calculate", {"operation": "divide", "a": converted["amount"], "b": n}),
    )
    each = f"{share['result']:.2f}"
    dialogue.answer(
        f"The share is {number(share['result'])} {b}; I round it to cents.",
        f"The bill is {number(converted['amount'])} {b}, so each of the {n} of you pays {each} {b}.",
        [each],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_two_values(ctx: Context) -> Dialogue:
    frm, to = ctx.choose(PAIRS)
    v1, v2 = _value(ctx, frm), _value(ctx, frm)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_TWO, v1=v1, v2=v2, frm=UNIT_WORDS[frm], to=UNIT_WORDS[to]))
    first, second = dialogue.call(
        f"Two independent conversions from '{frm}' to '{to}'; I make both calls at once.",
        _convert(v1, frm, to),
        _convert(v2, frm, to),
    )
    dialogue.answer(
        f"convert_units returned {number(first['value'])} and {number(second['value'])} {to}; I report each "
        "next to its original value.",
        f"{v1} {UNIT_WORDS[frm]} is {number(first['value'])} {UNIT_WORDS[to]} and {v2} {UNIT_WORDS[frm]} is "
        f"{number(second['value'])} {UNIT_WORDS[to]}.",
        [number(first["value"]), number(second["value"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_vague_degrees(ctx: Context) -> Dialogue:
    frm, to = ctx.choose((("C", "F"), ("F", "C")))
    value = _value(ctx, frm)
    names = {"C": "Celsius", "F": "Fahrenheit"}
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_VAGUE, value=value))
    dialogue.ask(
        "Degrees could be Celsius or Fahrenheit, and convert_units needs both units; I ask which way.",
        "From Celsius to Fahrenheit, or the other way round?",
    )
    dialogue.user(ctx.say(GIVE_SCALE, bare=True, frm=names[frm], to=names[to]))
    (result,) = dialogue.call(
        f"The user means {names[frm]} to {names[to]}: from_unit {frm}, to_unit {to}.",
        _convert(value, frm, to),
    )
    dialogue.answer(
        f"convert_units returned {number(result['value'])} {to}; I give the temperature in the scale the user "
        "asked for.",
        f"{value} °{frm} is {number(result['value'])} °{to}.",
        [number(result["value"])],
    )
    return dialogue


def write_follow_up(ctx: Context) -> Dialogue:
    frm, to = ctx.choose(PAIRS)
    v1, v2 = _value(ctx, frm), _value(ctx, frm)
    dialogue = Dialogue(ctx, DOMAIN, default_state())
    dialogue.user(ctx.say(ASK_CONVERT, value=v1, frm=UNIT_WORDS[frm], to=UNIT_WORDS[to]))
    (first,) = dialogue.call(_unit_reason(v1, frm, to), _convert(v1, frm, to))
    dialogue.answer(
        f"convert_units returned {number(first['value'])} {to} for {v1} {frm}; I report it.",
        f"{v1} {UNIT_WORDS[frm]} is {number(first['value'])} {UNIT_WORDS[to]}.",
        [number(first["value"])],
    )
    dialogue.user(ctx.say(ASK_AGAIN, bare=True, value=v2, frm=UNIT_WORDS[frm]))
    (second,) = dialogue.call(f"Same conversion, '{frm}' to '{to}', now for {v2}.", _convert(v2, frm, to))
    dialogue.answer(
        f"convert_units returned {number(second['value'])} {to} for {v2} {frm}; I report it.",
        f"{v2} {UNIT_WORDS[frm]} is {number(second['value'])} {UNIT_WORDS[to]}.",
        [number(second["value"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, default_state(), CHATS)


SCENARIOS = (
    Scenario("convert", write_convert, 2.0),
    Scenario("currency", write_currency),
    Scenario("percent", write_percent),
    Scenario("weekly", write_weekly),
    Scenario("split_bill", write_split_bill),
    Scenario("two_values", write_two_values),
    Scenario("vague_degrees", write_vague_degrees),
    Scenario("follow_up", write_follow_up),
    Scenario("chat", write_chat, 0.8),
)

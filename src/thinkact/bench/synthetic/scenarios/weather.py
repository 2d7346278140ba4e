"""Weather conversations: forecasts on relative days, unit choice, city comparisons, air quality, follow-ups.

Left out: chained calls (no weather tool needs another's output); the other domains cover them.
"""

from __future__ import annotations

from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import CITIES
from thinkact.bench.synthetic.phrasing import Phrases, RelativeDay, upper_first
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.parse import ToolCall

DOMAIN = "weather"

ASK_FORECAST = Phrases(
    seen=(
        "What's the weather in {city} {when}?",
        "How will the weather be in {city} {when}?",
        "Can you check the forecast for {city} {when}?",
        "I'm going to be in {city} {when}. What will the weather be like?",
        "What's the forecast {when} for {city}?",
    ),
    held_out=(
        "Forecast for {city} {when}, please.",
        "Tell me what the weather looks like in {city} {when}.",
        "Need the weather {when} in {city}.",
    ),
)
ASK_FAHRENHEIT = Phrases(
    seen=(
        "How warm will it be in {city} {when}, in Fahrenheit?",
        "What's the high in {city} {when}? Give it to me in degrees Fahrenheit.",
        "I only understand Fahrenheit. What temperatures should I expect in {city} {when}?",
    ),
    held_out=(
        "Temperatures in {city} {when} in °F, please.",
        "I'm American, so Fahrenheit please: how hot does it get in {city} {when}?",
    ),
)
ASK_COMPARE = Phrases(
    seen=(
        "Which will be warmer {when}, {a} or {b}?",
        "Compare the weather in {a} and {b} {when}.",
        "I can't decide between {a} and {b} for a trip {when}. Where is it warmer?",
    ),
    held_out=(
        "{a} vs {b} {when}: which one has the higher temperature?",
        "Is {a} or {b} the warmer place {when}?",
    ),
)
ASK_WEATHER_AND_AIR = Phrases(
    seen=(
        "How's the weather in {city} today, and how is the air quality?",
        "I want to go running in {city} today. What's the weather and the air quality like?",
    ),
    held_out=("Give me today's weather plus the air quality index for {city}.",),
)
ASK_RANGE = Phrases(
    seen=(
        "How big is the gap between the high and the low in {city} {when}?",
        "By how many degrees will the temperature swing in {city} {when}?",
    ),
    held_out=("What's the difference between the day's max and min in {city} {when}?",),
)
ASK_NO_CITY = Phrases(
    seen=("What's the weather going to be like {when}?", "Can you tell me the forecast for {when}?"),
    held_out=("Weather {when}?",),
)
GIVE_CITY = Phrases(
    seen=("{city}.", "In {city}, please.", "I mean {city}."),
    held_out=("For {city}.", "{city}, thanks."),
)
ASK_AGAIN = Phrases(
    seen=("And in {city}?", "What about {city}?", "How about {city} on the same day?"),
    held_out=("Same for {city}?", "And {city}, then?"),
)
CHATS = (
    Chat(
        Phrases(seen=("What does AQI stand for?", "What is the AQI?"), held_out=("AQI means what exactly?",)),
        "The user asks what AQI stands for; that is a definition I know, so I answer directly without a tool.",
        "AQI stands for Air Quality Index: a number where higher means more polluted air; up to 50 is good.",
        ("Air Quality Index",),
    ),
    Chat(
        Phrases(
            seen=(
                "How do I convert Celsius to Fahrenheit?",
                "What's the formula from Celsius to Fahrenheit?",
            ),
            held_out=("Celsius into Fahrenheit: how does the maths go?",),
        ),
        "The user asks for a formula, not a forecast, so I answer directly without a tool.",
        "Multiply the Celsius value by 9/5 and add 32. For example, 20 °C is 68 °F.",
        ("32",),
    ),
    Chat(
        Phrases(
            seen=("Thanks, that's all I needed!", "Great, thank you!"), held_out=("Cheers, all good now.",)
        ),
        "The user is only thanking me and asks for nothing new, so there is nothing to look up; I reply politely.",
        "You're welcome! Ask me any time you need a forecast.",
        bare=True,
    ),
)


def sample_state(ctx: Context, cities: list[tuple[str, str, int]]) -> dict[str, Any]:
    """The cities the weather service knows in this conversation: the ones used plus a few others."""
    chosen = list(cities)
    for city in ctx.sample(CITIES, 4):
        if city not in chosen and len(chosen) < 5:
            chosen.append(city)
    ctx.rng.shuffle(chosen)
    return {"cities": {name: {"country": country, "mean_c": mean_c} for name, country, mean_c in chosen}}


def _forecast_call(city: str, day: RelativeDay, unit: str = "celsius") -> ToolCall:
    arguments: dict[str, Any] = {"city": city, "date": day.day.isoformat()}
    if unit != "celsius":
        arguments["unit"] = unit
    return ToolCall("get_weather", arguments)


def _describe(result: dict[str, Any]) -> str:
    sign = "°F" if result["unit"] == "fahrenheit" else "°C"
    return (
        f"{result['condition']}, with a high of {result['high']} {sign} and a low of {result['low']} {sign}"
    )


def _report(result: dict[str, Any]) -> str:
    return (
        f"get_weather gives {result['city']} {result['condition']}, a high of {result['high']} and a low of "
        f"{result['low']} on {result['date']}; I report that forecast."
    )


def _forecast_facts(result: dict[str, Any]) -> list[str]:
    return [result["condition"], str(result["high"]), str(result["low"])]


def _mark_day(dialogue: Dialogue, day: RelativeDay) -> None:
    if day.phrase != "today":
        dialogue.mark("reasoning_args")


def write_forecast_day(ctx: Context) -> Dialogue:
    city = ctx.pick(CITIES)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [city]))
    dialogue.user(ctx.say(ASK_FORECAST, city=city[0], when=day.phrase))
    (result,) = dialogue.call(
        f"The user wants the forecast for {city[0]} {day.phrase}; {day.explanation}. I call get_weather.",
        _forecast_call(city[0], day),
    )
    dialogue.answer(
        _report(result),
        f"{upper_first(day.phrase)} ({day.day.isoformat()}) {city[0]} can expect {_describe(result)}.",
        _forecast_facts(result),
    )
    _mark_day(dialogue, day)
    return dialogue


def write_forecast_fahrenheit(ctx: Context) -> Dialogue:
    city = ctx.pick(CITIES)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [city]))
    dialogue.user(ctx.say(ASK_FAHRENHEIT, city=city[0], when=day.phrase))
    (result,) = dialogue.call(
        f"The user wants temperatures in Fahrenheit, so I set unit to fahrenheit; {day.explanation}.",
        _forecast_call(city[0], day, "fahrenheit"),
    )
    dialogue.answer(
        "The forecast came back in Fahrenheit as asked; I give the high and the low.",
        f"In {city[0]} on {day.day.isoformat()} expect {_describe(result)}.",
        _forecast_facts(result),
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_compare_cities(ctx: Context) -> Dialogue:
    first, second = ctx.sample(CITIES, 2)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [first, second]))
    dialogue.user(ctx.say(ASK_COMPARE, a=first[0], b=second[0], when=day.phrase))
    a, b = dialogue.call(
        f"I need both forecasts for {day.day.isoformat()} ({day.explanation}); the two calls are independent, "
        "so I make them together.",
        _forecast_call(first[0], day),
        _forecast_call(second[0], day),
    )
    highs = f"a high of {a['high']} °C in {first[0]} against {b['high']} °C in {second[0]}"
    if a["high"] == b["high"]:
        verdict, reason = f"Both will be equally warm, {highs}.", "The highs are equal, so neither is warmer."
    else:
        warmer = first[0] if a["high"] > b["high"] else second[0]
        verdict = f"{warmer} will be warmer: {highs}."
        reason = f"{warmer} has the higher maximum ({max(a['high'], b['high'])} °C), so it is warmer."
    dialogue.answer(reason, verdict, [str(a["high"]), str(b["high"])])
    _mark_day(dialogue, day)
    return dialogue


def write_weather_and_air(ctx: Context) -> Dialogue:
    city = ctx.pick(CITIES)
    day = ctx.day(("today",))
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [city]))
    dialogue.user(ctx.say(ASK_WEATHER_AND_AIR, city=city[0]))
    weather, air = dialogue.call(
        f"The user wants today's weather ({ctx.today.isoformat()}) and the air quality in {city[0]}; "
        "I call both tools at once.",
        _forecast_call(city[0], day),
        ToolCall("get_air_quality", {"city": city[0]}),
    )
    dialogue.answer(
        f"I combine both results: the forecast and an AQI of {air['aqi']} ({air['level']}).",
        f"Today {city[0]} can expect {_describe(weather)}. The air quality index is {air['aqi']}, which is "
        f"{air['level']}.",
        [*_forecast_facts(weather), str(air["aqi"])],
    )
    return dialogue


def write_temperature_range(ctx: Context) -> Dialogue:
    city = ctx.pick(CITIES)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [city]))
    dialogue.user(ctx.say(ASK_RANGE, city=city[0], when=day.phrase))
    (result,) = dialogue.call(
        f"To find the swing I need the high and low in {city[0]}; {day.explanation}. I call get_weather.",
        _forecast_call(city[0], day),
    )
    gap = result["high"] - result["low"]
    dialogue.answer(
        f"The high is {result['high']} and the low {result['low']}, so the swing is {result['high']} - "
        f"{result['low']} = {gap} degrees.",
        f"In {city[0]} on {day.day.isoformat()} the high is {result['high']} °C and the low {result['low']} °C, "
        f"a swing of {gap} degrees.",
        [str(gap)],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_missing_city(ctx: Context) -> Dialogue:
    city = ctx.pick(CITIES)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [city]))
    dialogue.user(ctx.say(ASK_NO_CITY, when=day.phrase))
    dialogue.ask(
        "The user wants a forecast but did not say for which city, and get_weather needs one; I ask.",
        "Sure! Which city should I check?",
    )
    dialogue.user(ctx.say(GIVE_CITY, bare=True, city=city[0]))
    (result,) = dialogue.call(
        f"The city is {city[0]} and {day.explanation}. I call get_weather.", _forecast_call(city[0], day)
    )
    dialogue.answer(
        _report(result),
        f"On {day.day.isoformat()} {city[0]} can expect {_describe(result)}.",
        _forecast_facts(result),
    )
    _mark_day(dialogue, day)
    return dialogue


def write_follow_up_city(ctx: Context) -> Dialogue:
    first, second = ctx.sample(CITIES, 2)
    day = ctx.day()
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [first, second]))
    dialogue.user(ctx.say(ASK_FORECAST, city=first[0], when=day.phrase))
    (result,) = dialogue.call(
        f"{upper_first(day.explanation)}. I call get_weather for {first[0]}.", _forecast_call(first[0], day)
    )
    dialogue.answer(
        _report(result),
        f"{first[0]} on {day.day.isoformat()}: {_describe(result)}.",
        _forecast_facts(result),
    )
    dialogue.user(ctx.say(ASK_AGAIN, bare=True, city=second[0]))
    (result,) = dialogue.call(
        f"The user asks for the same day, {day.day.isoformat()}, now in {second[0]}. I call get_weather again.",
        _forecast_call(second[0], day),
    )
    dialogue.answer(
        _report(result),
        f"{second[0]} on {day.day.isoformat()}: {_describe(result)}.",
        _forecast_facts(result),
    )
    _mark_day(dialogue, day)
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, sample_state(ctx, []), CHATS)


SCENARIOS = (
    Scenario("forecast_day", write_forecast_day, 2.0),
    Scenario("forecast_fahrenheit", write_forecast_fahrenheit),
    Scenario("compare_cities", write_compare_cities),
    Scenario("weather_and_air", write_weather_and_air),
    Scenario("temperature_range", write_temperature_range),
    Scenario("missing_city", write_missing_city),
    Scenario("follow_up_city", write_follow_up_city),
    Scenario("chat", write_chat, 0.8),
)

"""Surface forms: user templates with paraphrase slots, seen and held-out phrasings, relative dates, amounts.

Every template list comes as a `Phrases` pair: `seen` forms are used by `train` and `test_id`; `held_out`
forms only by `test_ood`, so that split tests phrasings the policy never trained on. Openers, closers and
relative-date expressions are split the same way. Left out: spelling noise and other languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Phrases:
    """Templates for one intent (`str.format` fields), split into seen and held-out forms."""

    seen: tuple[str, ...]
    held_out: tuple[str, ...]

    def forms(self, held_out: bool) -> tuple[str, ...]:
        return self.held_out if held_out else self.seen


OPENERS = Phrases(
    seen=("", "", "", "Hi! ", "Hello. ", "Hey! ", "Quick question: ", "Hi there. "),
    held_out=("", "Good morning! ", "Excuse me. ", "Yo! ", "Sorry to bother you. "),
)
CLOSERS = Phrases(
    seen=("", "", "", " Thanks!", " Thank you.", " Thanks a lot."),
    held_out=("", " Cheers.", " Much appreciated!", " Ta."),
)


def describe_day(day: date) -> str:
    """'Saturday 2026-03-14'."""
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def system_prompt(today: date, role: str) -> str:
    """The system message: today's date, then the domain's one-line role."""
    return f"Today is {today.isoformat()} ({WEEKDAYS[today.weekday()]}). {role}"


@dataclass(frozen=True)
class RelativeDay:
    """A day named relative to today: how the user says it, the date, and how reasoning resolves it."""

    phrase: str
    day: date
    explanation: str


def resolve_day(kind: str, today: date, amount: int, held_out: bool) -> RelativeDay:
    """A relative day of `kind` (today, tomorrow, day_after, weekday, in_days); `amount` picks the weekday
    (0-6, never today's) or the number of days.

    >>> resolve_day("weekday", date(2026, 3, 14), 4, False).explanation
    'today is Saturday 2026-03-14, so Friday is 2026-03-20'
    """
    stamp = describe_day(today)
    if kind == "today":
        return RelativeDay("today", today, f"today is {stamp}")
    if kind == "tomorrow":
        day = today + timedelta(days=1)
        return RelativeDay("tomorrow", day, f"today is {stamp}, so tomorrow is {day.isoformat()}")
    if kind == "day_after":
        day = today + timedelta(days=2)
        phrase = "two days from now" if held_out else "the day after tomorrow"
        return RelativeDay(phrase, day, f"today is {stamp}, so {phrase} is {day.isoformat()}")
    if kind == "weekday":
        ahead = (amount - today.weekday()) % 7 or 7
        day = today + timedelta(days=ahead)
        name = WEEKDAYS[day.weekday()]
        phrase = f"this coming {name}" if held_out else f"on {name}"
        return RelativeDay(phrase, day, f"today is {stamp}, so {name} is {day.isoformat()}")
    if kind == "in_days":
        day = today + timedelta(days=amount)
        phrase = f"{amount} days from today" if held_out else f"in {amount} days"
        return RelativeDay(
            phrase, day, f"today is {today.isoformat()}, and {amount} days later is {day.isoformat()}"
        )
    raise ValueError(f"unknown relative day kind {kind!r}")


def money(amount: float) -> str:
    """An amount with two decimals, as answers write it: '1520.35'."""
    return f"{amount:.2f}"


def clock(hour: int, minute: int = 0) -> str:
    """'15:00' from (15, 0)."""
    return f"{hour:02d}:{minute:02d}"


def spoken_clock(hour: int, minute: int = 0) -> str:
    """How a user says a time: '3 pm', '9:30 am', 'noon'."""
    if (hour, minute) == (12, 0):
        return "noon"
    suffix = "am" if hour < 12 else "pm"
    shown = hour % 12 or 12
    return f"{shown}:{minute:02d} {suffix}" if minute else f"{shown} {suffix}"


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def upper_first(text: str) -> str:
    """Capitalise only the first letter ('on Friday' → 'On Friday', unlike `str.capitalize`)."""
    return text[:1].upper() + text[1:]

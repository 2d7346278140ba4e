"""What every domain's scenarios share: the `Scenario` record and the no-tool conversation.

Left out: anything domain-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.phrasing import Phrases


@dataclass(frozen=True)
class Scenario:
    """A named way to write a conversation in one domain, and how often to draw it relative to the others."""

    name: str
    build: Callable[[Context], Dialogue]
    weight: float = 1.0


@dataclass(frozen=True)
class Chat:
    """A question the assistant answers without tools: reference reasoning, answer and the facts it must hold."""

    question: Phrases
    reasoning: str
    answer: str
    facts: tuple[str, ...] = ()
    bare: bool = False
    """Say the question without opener and closer (a closing "thanks" reads oddly with "Thanks!" after it)."""


def build_no_tool(ctx: Context, domain: str, state: dict[str, Any], chats: tuple[Chat, ...]) -> Dialogue:
    """A one-question conversation whose answer needs no tool."""
    chat = ctx.choose(chats)
    dialogue = Dialogue(ctx, domain, state)
    dialogue.user(ctx.say(chat.question, bare=chat.bare))
    dialogue.answer(chat.reasoning, chat.answer, list(chat.facts))
    return dialogue

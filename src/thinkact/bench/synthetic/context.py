"""The generation context of one conversation: its RNG, split, phrasing and entity pools, and today's date.

Each conversation gets its own `random.Random` seeded from (seed, split, index), so conversations are
independent of one another and a seed gives byte-identical files. Entities (cities, people, products) are split
into a seen part (train) and an unseen part (valid and both test splits); phrasings into seen and held-out forms
(`test_ood` only). Left out: the conversation itself (`dialogue.Dialogue`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from thinkact.bench.synthetic.phrasing import CLOSERS, OPENERS, Phrases, RelativeDay, resolve_day

T = TypeVar("T")
SEEN_DAY_KINDS = ("today", "tomorrow", "day_after", "weekday", "in_days")


def seen_part(pool: Sequence[T], unseen: bool) -> list[T]:
    """Every fourth entity is reserved for valid and the test splits; the rest are for train.

    >>> seen_part("abcdefgh", False), seen_part("abcdefgh", True)
    (['a', 'b', 'c', 'e', 'f', 'g'], ['d', 'h'])
    """
    return [item for index, item in enumerate(pool) if (index % 4 == 3) == unseen]


@dataclass
class Context:
    """What a scenario needs to write one conversation."""

    rng: random.Random
    split: str
    held_out_phrasing: bool
    unseen_entities: bool
    today: date

    @classmethod
    def create(
        cls, seed: int, split: str, index: int, *, held_out_phrasing: bool, unseen_entities: bool
    ) -> Context:
        rng = random.Random(f"thinkact-bench|{seed}|{split}|{index}")
        today = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        return cls(rng, split, held_out_phrasing, unseen_entities, today)

    def pick(self, pool: Sequence[T]) -> T:
        """One entity from this split's part of the pool."""
        return self.rng.choice(seen_part(pool, self.unseen_entities))

    def sample(self, pool: Sequence[T], k: int) -> list[T]:
        """`k` distinct entities from this split's part of the pool."""
        return self.rng.sample(seen_part(pool, self.unseen_entities), k)

    def say(self, phrases: Phrases, *, bare: bool = False, **values: object) -> str:
        """A user message: a template of this split's phrasing, filled, with an opener and closer unless `bare`."""
        template = self.rng.choice(phrases.forms(self.held_out_phrasing))
        text = template.format(**values)
        if bare:
            return text
        opener = self.rng.choice(OPENERS.forms(self.held_out_phrasing))
        closer = self.rng.choice(CLOSERS.forms(self.held_out_phrasing))
        return f"{opener}{text}{closer}"

    def choose(self, options: Sequence[T]) -> T:
        return self.rng.choice(options)

    def day(self, kinds: Sequence[str] = SEEN_DAY_KINDS) -> RelativeDay:
        """A day relative to today, of one of `kinds`, in this split's phrasing."""
        kind = self.rng.choice(kinds)
        weekday = self.rng.choice([d for d in range(7) if d != self.today.weekday()])
        amount = weekday if kind == "weekday" else self.rng.randint(3, 9)
        return resolve_day(kind, self.today, amount, self.held_out_phrasing)

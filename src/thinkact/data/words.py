"""Words for invented entities and tool names: pseudo-words, English-like names, the corpus's ordinary words.

The pretraining corpus (`train/corpus/`) fills its requests with these entities, and `data.rename` respells the
benchmark's entities with them, so both draw from one place. `spelled_name` follows the letters of the corpus's own
lower-case words, stored in `words.json` beside this module with the words of the benchmark's entity pools (which
it never spells); tests/test_pretrain.py checks that the stored lists are the ones the corpus and the benchmark
give today. Left out: any natural-language vocabulary beyond those lists.
"""

from __future__ import annotations

import functools
import json
import random
from collections import Counter, defaultdict
from importlib import resources

WORDS_FILE = "words.json"
"""Package file (under thinkact/data): {"corpus": the corpus's own lower-case words of three letters or more
(its templates, seed 0), "entities": the other words of the benchmark's entity pools}, each sorted."""

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
"""Verbs of invented tool names (`fetch_height`, `rating_check`)."""

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "gl", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "x", "nd")


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


def load_word_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(the corpus's own lower-case words, the other words of the benchmark's entity pools), as stored."""
    stored = json.loads(resources.files("thinkact.data").joinpath(WORDS_FILE).read_text(encoding="utf-8"))
    return frozenset(stored["corpus"]), frozenset(stored["entities"])


@functools.cache
def _spelling_model() -> tuple[
    dict[str, tuple[list[str], list[int]]], tuple[list[str], list[int]], frozenset[str], frozenset[str]
]:
    """(next-letter counts after each two letters, letter counts, the words, the words never to spell) from the
    corpus's own lower-case words (`^` starts a word, `$` ends it). The words never to spell are those, and every
    word of the benchmark's entity pools, so that no corpus entity is a benchmark city, person or product ('Rome',
    'Kettle')."""
    words, entities = load_word_lists()
    following: dict[str, Counter[str]] = defaultdict(Counter)
    for word in sorted(words):
        marked = f"^^{word}$"
        for i in range(2, len(marked)):
            following[marked[i - 2 : i]][marked[i]] += 1
    counts = Counter("".join(sorted(words)))
    return (
        {context: (list(c), list(c.values())) for context, c in following.items()},
        (sorted(counts), [counts[letter] for letter in sorted(counts)]),
        words,
        words | entities,
    )

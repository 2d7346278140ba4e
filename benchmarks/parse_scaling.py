"""How `parse_action`'s time grows with the input on hostile shapes (not a test: tests never assert times).

For each shape that once made a parser quadratic (runs of special tokens, unclosed tags, thousands of calls,
one huge argument, whitespace), parses 64 KiB and 1 MiB of it and prints the time ratio. A linear parser gives
about 16; a quadratic one 256. Exits 1 if a ratio reaches 64, so it can guard a change by hand.

    .venv/bin/python benchmarks/parse_scaling.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from thinkact.parse import parse_action

SMALL, LARGE = 65_536, 1_048_576
BOUND = 64

SHAPES: dict[str, Callable[[int], str]] = {
    "trailing specials": lambda n: "<think>t</think>ok" + "<|im_end|>" * (n // 10),
    "open tags": lambda n: "<tool_call>" * (n // 11),
    "calls": lambda n: '<tool_call>{"name": "w", "arguments": {}}</tool_call>' * (n // 52),
    "think opens": lambda n: "<think>" * (n // 7),
    "closes": lambda n: "</tool_call></think>" * (n // 20),
    "big call": lambda n: '<tool_call>{"name": "w", "arguments": {"x": "' + "a" * n + '"}}</tool_call>',
    "whitespace": lambda n: " \n" * (n // 2) + "<|im_end|>",
}


def parse_seconds(text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        parse_action(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    worst = 0.0
    print(f"{'shape':<20} {'64 KiB (ms)':>12} {'1 MiB (ms)':>12} {'ratio':>7}")
    for name, make in SHAPES.items():
        small, large = parse_seconds(make(SMALL), 5), parse_seconds(make(LARGE), 3)
        ratio = large / max(small, 1e-6)
        worst = max(worst, ratio)
        print(f"{name:<20} {small * 1e3:>12.1f} {large * 1e3:>12.1f} {ratio:>7.1f}")
    print(f"worst ratio {worst:.1f} (linear: ~16, quadratic: ~256, bound {BOUND})")
    return 0 if worst < BOUND else 1


if __name__ == "__main__":
    sys.exit(main())

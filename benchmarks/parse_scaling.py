"""How `parse_action`'s time grows with the input on hostile shapes (not a test: tests never assert times).

For each shape that once made a parser quadratic (runs of special tokens, unclosed tags, thousands of calls,
one huge argument, whitespace), parses 64 KiB and 1 MiB of it and prints the time ratio. A linear parser gives
about 16; a quadratic one 256. Exits 1 if a ratio reaches 4 times the linear one (64), so it can guard a
change by hand; not with `--toy`, whose 4 KiB and 64 KiB take too little time for a ratio to mean anything.

    .venv/bin/python benchmarks/parse_scaling.py [--small 65536] [--large 1048576] [--toy]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from workspace import parse_toy_args

from thinkact.parse import parse_action

SMALL, LARGE = 65_536, 1_048_576
BOUND = 4
"""How many times the linear ratio a shape may reach before the run fails."""

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=SMALL, help="bytes of the smaller input")
    parser.add_argument("--large", type=int, default=LARGE, help="bytes of the larger input")
    args = parse_toy_args(parser, {"small": 4096, "large": 65_536})
    growth = args.large / args.small
    worst = 0.0
    print(f"{'shape':<20} {f'{args.small} B (ms)':>14} {f'{args.large} B (ms)':>14} {'ratio':>7}")
    for name, make in SHAPES.items():
        small, large = parse_seconds(make(args.small), 5), parse_seconds(make(args.large), 3)
        ratio = large / max(small, 1e-6)
        worst = max(worst, ratio)
        print(f"{name:<20} {small * 1e3:>14.1f} {large * 1e3:>14.1f} {ratio:>7.1f}")
    bound = BOUND * growth
    print(f"worst ratio {worst:.1f} (linear: ~{growth:.0f}, quadratic: ~{growth**2:.0f}, bound {bound:.0f})")
    return 0 if worst < bound or args.toy else 1


if __name__ == "__main__":
    sys.exit(main())

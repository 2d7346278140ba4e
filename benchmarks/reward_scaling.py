"""How long the answer reward takes on hostile answers, against the reference's length (not a test: tests never
assert times).

`score_answer` reads at most `answer_read_limit(reference)` characters of an answer (four times the reference plus
1,000, at most 20,000), so a megabyte should cost what its first part costs. For references of 25, 190 (an
API-Bank reply), 3,800 (the longest answer among the public samples) and 10,000 characters (past the ceiling),
scores 64 KiB and 1 MiB of each hostile shape with each text metric through `score_action`, best of 3, and prints
the times and the 1 MiB / 64 KiB ratio: about 1 when the limit holds, 16 when the answer is read whole. Exits 1 if
a ratio reaches 8, so it can guard a change by hand (not with `--toy`, whose inputs are too small for a ratio).

    .venv/bin/python benchmarks/reward_scaling.py [--toy]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from thinkact.parse import Action
from thinkact.rewards.combine import RewardConfig, score_action
from thinkact.rewards.components import TEXT_METRICS, answer_read_limit

SMALL, LARGE = 65_536, 1_048_576
BOUND = 8.0
"""The 1 MiB / 64 KiB time ratio past which the answer is evidently read whole."""
SENTENCE = "The meeting with Anna is booked for 14:30 on Friday in room 4B, and the reminder is set. "
REFERENCES = {
    "25 chars": "It is 14 degrees in Oslo.",
    "190 chars": (SENTENCE * 3)[:190],
    "3,800 chars": (SENTENCE * 44)[:3800],
    "10,000 chars": (SENTENCE * 112)[:10_000],
}
SHAPES: dict[str, Callable[[str, int], str]] = {
    "reference repeated": lambda reference, n: (reference + " ") * max(1, n // (len(reference) + 1)),
    "one-letter words": lambda reference, n: "a " * (n // 2),
    "one long word": lambda reference, n: "x" * n,
}


def score_seconds(answer: Action, reference: Action, metric: str, repeats: int) -> float:
    config = RewardConfig()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        score_action(answer, reference, [], config, answer_metric=metric)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--toy",
        action="store_true",
        default=os.environ.get("THINKACT_BENCH_TOY") == "1",
        help="4 KiB and 64 KiB, one run each: the code path only (also THINKACT_BENCH_TOY=1)",
    )
    args = parser.parse_args()
    small, large, repeats = (4096, 65_536, 1) if args.toy else (SMALL, LARGE, 3)
    worst_ratio, slowest = 0.0, 0.0
    print(
        f"{'reference':<12} {'read':>5} {'shape':<19} {'metric':<7} {'small (ms)':>10} {'large (ms)':>10} {'ratio':>6}"
    )
    for label, text in REFERENCES.items():
        reference = Action(content=text, facts=["14"])
        for shape, make in SHAPES.items():
            answers = [Action(think="t", content=make(text, size)) for size in (small, large)]
            for metric in TEXT_METRICS:
                seconds = [score_seconds(answer, reference, metric, repeats) for answer in answers]
                ratio = seconds[1] / max(seconds[0], 1e-6)
                worst_ratio, slowest = max(worst_ratio, ratio), max(slowest, seconds[1])
                print(
                    f"{label:<12} {answer_read_limit(text):>5} {shape:<19} {metric:<7} "
                    f"{seconds[0] * 1e3:>10.1f} {seconds[1] * 1e3:>10.1f} {ratio:>6.1f}"
                )
    print(
        f"slowest {slowest * 1e3:.0f} ms, worst ratio {worst_ratio:.1f} (read to the limit: ~1, read whole: ~16)"
    )
    return 0 if worst_ratio < BOUND or args.toy else 1


if __name__ == "__main__":
    sys.exit(main())

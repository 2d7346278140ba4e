"""Thinking analysis: how often a model thinks, how long, and whether its turns with thinking are more accurate.

For one model on one split (turn view): the share of turns with a non-empty think block, the mean thinking
length in words over the turns that think, and each accuracy metric (`ACCURACY_METRICS`) over the turns with
thinking and over those without, with the difference (with − without) and its two-sample bootstrap interval.
This is the paper's question (do reasoning and action help each other?) asked of the data, but observationally:
a model may think on the turns that are easy for it, so the difference is a correlation, not an effect of
thinking. Left out: matched comparisons (the same turn with thinking forced on and off).
"""

from __future__ import annotations

from typing import Any

from thinkact.eval.bootstrap import RESAMPLES, SEED, bootstrap_two_sample_difference
from thinkact.eval.metrics import aggregate_turns

ACCURACY_METRICS = ("correct", "action_type", "exact_call", "answer", "reward")


def analyse_thinking(
    turns: list[dict[str, float]], *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Any]:
    """The analysis over per-turn metric values (each with `thinking`, and `think_words` when it thought).

    >>> turns = [{"thinking": 1.0, "think_words": 4.0, "correct": 1.0}, {"thinking": 0.0, "correct": 0.0}]
    >>> result = analyse_thinking(turns, resamples=0)
    >>> result["share"]["value"], result["mean_words"]["value"], result["with"]["correct"]["value"]
    (0.5, 4.0, 1.0)
    >>> result["difference"]["correct"]["diff"]
    1.0
    """
    overall = aggregate_turns(turns, resamples=resamples, seed=seed)
    with_thinking = [turn for turn in turns if turn.get("thinking")]
    without = [turn for turn in turns if not turn.get("thinking")]
    result: dict[str, Any] = {
        "share": overall["thinking"].to_json() if "thinking" in overall else None,
        "mean_words": overall["think_words"].to_json() if "think_words" in overall else None,
        "with": _accuracy(with_thinking, resamples, seed),
        "without": _accuracy(without, resamples, seed),
        "difference": {},
    }
    for name in ACCURACY_METRICS:
        first = [turn[name] for turn in without if name in turn]
        second = [turn[name] for turn in with_thinking if name in turn]
        if not first or not second:
            continue
        value, interval = bootstrap_two_sample_difference(
            first, second, resamples=max(resamples, 1), seed=seed
        )
        result["difference"][name] = {
            "diff": value,
            "ci_low": interval.low if resamples else None,
            "ci_high": interval.high if resamples else None,
            "beyond_noise": interval.excludes_zero() if resamples else None,
        }
    return result


def _accuracy(turns: list[dict[str, float]], resamples: int, seed: int) -> dict[str, Any]:
    metrics = aggregate_turns(turns, resamples=resamples, seed=seed)
    block: dict[str, Any] = {"n": len(turns)}
    block.update({name: metrics[name].to_json() for name in ACCURACY_METRICS if name in metrics})
    return block

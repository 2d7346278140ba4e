"""The evaluation's per-turn metrics (DESIGN.md, "Metrics") with their bootstrap intervals.

The metrics themselves, one turn's record and their means are defined once in `rewards/turn_metrics.py`, where
the held-out evaluation during training scores with them too; their names are importable from here as well.
`aggregate_turns` adds to each mean its 95% percentile-bootstrap interval (`eval/bootstrap.py`). Left out: episode
metrics (`eval/episodes.py`) and breakdowns (`eval/breakdown.py`).
"""

from __future__ import annotations

from thinkact.eval.bootstrap import RESAMPLES, SEED, bootstrap_f1, bootstrap_mean
from thinkact.rewards.turn_metrics import (
    ANSWER_THRESHOLD,
    ARG_COUNTS,
    RATE_METRICS,
    TURN_METRICS,
    Metric,
    argument_counts,
    collect_argument_counts,
    compute_micro_f1,
    mean_turns,
    score_turn,
    score_turn_and_reward,
)

__all__ = [
    "ANSWER_THRESHOLD",
    "ARG_COUNTS",
    "RATE_METRICS",
    "TURN_METRICS",
    "Metric",
    "aggregate_turns",
    "argument_counts",
    "collect_argument_counts",
    "compute_micro_f1",
    "score_turn",
    "score_turn_and_reward",
]


def aggregate_turns(
    turns: list[dict[str, float]], *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Metric]:
    """Mean of each metric over the turns it applies to (`mean_turns`), with its bootstrap interval (none when
    `resamples` is 0); argument F1 is micro-averaged over arguments.

    >>> m = aggregate_turns([{"format": 1.0, "arg_correct": 1.0, "arg_predicted": 2.0, "arg_expected": 1.0},
    ...                      {"format": 0.0, "arg_correct": 1.0, "arg_predicted": 1.0, "arg_expected": 2.0}])
    >>> m["format"].value, m["format"].n, round(m["arg_f1"].value, 4), m["arg_f1"].n
    (0.5, 2, 0.6667, 2)
    >>> m["format"].ci_low, m["format"].ci_high
    (0.0, 1.0)
    """
    metrics = mean_turns(turns)
    if not resamples:
        return metrics
    counts = collect_argument_counts(turns)
    for name, metric in metrics.items():
        if name == "arg_f1" and counts:  # micro-averaged over arguments, so resampled as counts
            interval = bootstrap_f1(counts, resamples=resamples, seed=seed)
        else:
            values = [turn[name] for turn in turns if name in turn]
            interval = bootstrap_mean(values, resamples=resamples, seed=seed)
        metric.ci_low, metric.ci_high = interval.low, interval.high
    return metrics

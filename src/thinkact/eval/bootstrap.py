"""Bootstrap confidence intervals: one sample's statistic, and the paired difference of two models.

Every interval is a percentile bootstrap: draw `RESAMPLES` (1,000) samples of the same size with replacement,
compute the statistic on each, and take the 2.5th and 97.5th percentiles. The generator is seeded (`SEED` by
default), so the same numbers always give the same interval. The interval is widened, if need be, to contain the
point estimate: for ratio statistics (micro-averaged argument F1) on a handful of turns the percentiles can
otherwise fall beside it.

A difference between two models is *beyond noise* when the 95% interval of the paired bootstrap excludes 0:
both models' values are resampled with the same indices (the same turns or episodes), so the turn-to-turn
variation they share cancels. Left out: BCa and studentised intervals, and corrections for testing many metrics
at once (a table of 20 metrics at 95% shows about one false alarm by chance; the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RESAMPLES = 1000
"""Bootstrap resamples per interval."""
CONFIDENCE = 0.95
SEED = 0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def draw_resamples(n: int, *, resamples: int = RESAMPLES, seed: int = SEED) -> npt.NDArray[np.int64]:
    """A (resamples, n) matrix of indices drawn with replacement."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n))


def take_percentile_interval(estimates: FloatArray, point: float) -> Interval:
    """The central `CONFIDENCE` percentile interval of bootstrap estimates, widened to contain `point`."""
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return Interval(min(float(low), point), max(float(high), point))


def bootstrap_mean(values: list[float], *, resamples: int = RESAMPLES, seed: int = SEED) -> Interval:
    """95% interval of the mean of `values`.

    >>> bootstrap_mean([1.0, 1.0, 1.0])
    Interval(low=1.0, high=1.0)
    >>> interval = bootstrap_mean([0.0, 1.0] * 50)
    >>> 0.39 < interval.low < 0.5 < interval.high < 0.61
    True
    """
    if not values:
        return Interval(float("nan"), float("nan"))
    array = np.asarray(values, dtype=np.float64)
    means = array[draw_resamples(len(array), resamples=resamples, seed=seed)].mean(axis=1)
    return take_percentile_interval(means, float(array.mean()))


def compute_f1(correct: FloatArray, predicted: FloatArray, expected: FloatArray) -> FloatArray:
    """Micro F1 per row of summed counts (vectorised over resamples).

    Precision is 1 when nothing was predicted and nothing expected, 0 when something was expected; recall is 1
    when nothing was expected.
    """
    precision = np.where(predicted > 0, correct / np.maximum(predicted, 1e-12), (expected == 0).astype(float))
    recall = np.where(expected > 0, correct / np.maximum(expected, 1e-12), 1.0)
    total = precision + recall
    return np.where(total > 0, 2 * precision * recall / np.maximum(total, 1e-12), 0.0)


def bootstrap_f1(
    counts: list[tuple[float, float, float]], *, resamples: int = RESAMPLES, seed: int = SEED
) -> Interval:
    """95% interval of micro F1 over turns, each given as (correct, predicted, expected) argument counts."""
    if not counts:
        return Interval(float("nan"), float("nan"))
    array = np.asarray(counts, dtype=np.float64)
    sums = array[draw_resamples(len(array), resamples=resamples, seed=seed)].sum(axis=1)
    estimates = compute_f1(sums[:, 0], sums[:, 1], sums[:, 2])
    totals = array.sum(axis=0)
    point = float(compute_f1(totals[:1], totals[1:2], totals[2:3])[0])
    return take_percentile_interval(estimates, point)


def bootstrap_paired_difference(
    first: list[float], second: list[float], *, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, Interval]:
    """mean(second) − mean(first) over paired values, and its paired-bootstrap 95% interval.

    >>> diff, interval = bootstrap_paired_difference([0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0])
    >>> diff, interval, interval.excludes_zero()
    (0.0, Interval(low=0.0, high=0.0), False)
    >>> diff, interval = bootstrap_paired_difference([0.0] * 40, [1.0] * 30 + [0.0] * 10)
    >>> diff, interval.excludes_zero()
    (0.75, True)
    """
    if len(first) != len(second):
        raise ValueError("paired values need equal lengths")
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    difference = b - a
    point = float(difference.mean())
    means = difference[draw_resamples(len(difference), resamples=resamples, seed=seed)].mean(axis=1)
    return point, take_percentile_interval(means, point)


def bootstrap_paired_f1_difference(
    first: list[tuple[float, float, float]],
    second: list[tuple[float, float, float]],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, Interval]:
    """Micro F1(second) − micro F1(first) over the same turns, and its paired-bootstrap 95% interval."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    indices = draw_resamples(len(a), resamples=resamples, seed=seed)
    sums_a, sums_b = a[indices].sum(axis=1), b[indices].sum(axis=1)
    estimates = compute_f1(sums_b[:, 0], sums_b[:, 1], sums_b[:, 2]) - compute_f1(
        sums_a[:, 0], sums_a[:, 1], sums_a[:, 2]
    )
    total_a, total_b = a.sum(axis=0), b.sum(axis=0)
    point = float(
        compute_f1(total_b[:1], total_b[1:2], total_b[2:3])[0]
        - compute_f1(total_a[:1], total_a[1:2], total_a[2:3])[0]
    )
    return point, take_percentile_interval(estimates, point)


def bootstrap_two_sample_difference(
    first: list[float], second: list[float], *, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, Interval]:
    """mean(second) − mean(first) for two independent samples (each resampled on its own), with its interval.

    Used where the samples are different turns, e.g. turns with thinking against turns without.
    """
    if not first or not second:
        return float("nan"), Interval(float("nan"), float("nan"))
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    means_a = a[draw_resamples(len(a), resamples=resamples, seed=seed)].mean(axis=1)
    means_b = b[draw_resamples(len(b), resamples=resamples, seed=seed + 1)].mean(axis=1)
    point = float(b.mean() - a.mean())
    return point, take_percentile_interval(means_b - means_a, point)


def bootstrap_seeds_and_turns_difference(
    first: list[list[float]], second: list[list[float]], *, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, Interval]:
    """mean(second) − mean(first) over training runs (rows: one per training seed) scored on the same turns
    (columns), with an interval that holds both kinds of noise: each resample draws the seeds and the turns
    with replacement, on their own, and averages the paired differences of the drawn cells (a crossed
    bootstrap). A lead that one lucky seed makes stays inside the noise; with one seed it is
    `bootstrap_paired_difference`, draw for draw.

    >>> diff, interval = bootstrap_seeds_and_turns_difference([[0.0, 0.0]] * 2, [[1.0, 0.0], [1.0, 0.0]])
    >>> diff, interval.excludes_zero()
    (0.5, False)
    """
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or not a.size:
        raise ValueError("need one row of paired values per seed, the same turns in every row")
    difference = b - a
    seeds, turns = difference.shape
    point = float(difference.mean())
    turn_draws = draw_resamples(turns, resamples=resamples, seed=seed)  # the paired bootstrap's own draws
    seed_draws = draw_resamples(seeds, resamples=resamples, seed=seed + 1)
    per_seed = difference[:, turn_draws].mean(axis=2).T  # (resamples, seeds): each seed's mean, drawn turns
    estimates = np.take_along_axis(per_seed, seed_draws, axis=1).mean(axis=1)
    return point, take_percentile_interval(estimates, point)

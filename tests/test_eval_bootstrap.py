"""Bootstrap intervals: they contain the point estimate, shrink with more samples, repeat exactly, and the paired
test calls a real difference beyond noise and a tie not."""

from __future__ import annotations

import random

import pytest

from thinkact.eval.bootstrap import (
    bootstrap_f1,
    bootstrap_mean,
    bootstrap_paired_difference,
    bootstrap_paired_f1_difference,
    bootstrap_seeds_and_turns_difference,
    bootstrap_two_sample_difference,
)
from thinkact.eval.metrics import aggregate_turns, compute_micro_f1


def _binary(n: int, rate: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < rate) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 30, 200])
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.97, 1.0])
def test_mean_interval_contains_the_point_estimate(n: int, rate: float) -> None:
    values = _binary(n, rate, seed=n)
    interval = bootstrap_mean(values)
    assert interval.low <= sum(values) / n <= interval.high
    assert interval.low >= 0.0 and interval.high <= 1.0


@pytest.mark.parametrize("n", [1, 3, 10, 50])
def test_f1_interval_contains_the_point_estimate(n: int) -> None:
    rng = random.Random(n)
    counts = []
    for _ in range(n):
        expected = float(rng.randint(0, 3))
        predicted = float(rng.randint(0, 3))
        counts.append((float(rng.randint(0, int(min(expected, predicted)))), predicted, expected))
    interval = bootstrap_f1(counts)
    assert interval.low <= compute_micro_f1(counts) <= interval.high


def test_intervals_shrink_with_more_samples() -> None:
    widths = []
    for n in (20, 80, 320, 1280):
        interval = bootstrap_mean([1.0, 0.0] * (n // 2))
        widths.append(interval.high - interval.low)
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0] / 4
    # about 1.96 standard errors either side: 2 * 1.96 * sqrt(0.25 / n)
    assert widths[-1] == pytest.approx(2 * 1.96 * (0.25 / 1280) ** 0.5, rel=0.15)


def test_intervals_are_deterministic_and_seeded() -> None:
    values = _binary(40, 0.4, seed=1)
    assert bootstrap_mean(values) == bootstrap_mean(values)
    assert bootstrap_mean(values, seed=1) != bootstrap_mean(values, seed=2)


def test_aggregates_carry_intervals_unless_turned_off() -> None:
    turns = [{"correct": value} for value in _binary(50, 0.6, seed=3)]
    with_intervals = aggregate_turns(turns)["correct"]
    assert with_intervals.ci_low is not None and with_intervals.ci_high is not None
    assert with_intervals.ci_low < with_intervals.value < with_intervals.ci_high
    without = aggregate_turns(turns, resamples=0)["correct"]
    assert (without.ci_low, without.ci_high, without.value) == (None, None, with_intervals.value)


def test_paired_difference_separates_a_real_gain_from_a_tie() -> None:
    base = _binary(60, 0.5, seed=4)
    better = [1.0 if i % 3 else value for i, value in enumerate(base)]  # fixes most of base's misses
    diff, interval = bootstrap_paired_difference(base, better)
    assert diff > 0 and interval.excludes_zero() and interval.low <= diff <= interval.high
    tie, tie_interval = bootstrap_paired_difference(base, list(base))
    assert tie == 0.0 and not tie_interval.excludes_zero()
    # equal means on different turns (a swap of successes): a paired difference of 0, within noise
    swap, swap_interval = bootstrap_paired_difference([1.0, 0.0] * 20, [0.0, 1.0] * 20)
    assert swap == 0.0 and not swap_interval.excludes_zero()


def test_paired_f1_difference_and_two_sample_difference() -> None:
    first = [(0.0, 1.0, 1.0)] * 20
    second = [(1.0, 1.0, 1.0)] * 20
    diff, interval = bootstrap_paired_f1_difference(first, second)
    assert diff == 1.0 and interval.excludes_zero()
    diff, interval = bootstrap_two_sample_difference([0.0] * 10, [1.0] * 10)
    assert diff == 1.0 and interval.excludes_zero()
    diff, interval = bootstrap_two_sample_difference([0.0, 1.0] * 5, [1.0, 0.0] * 5)
    assert diff == 0.0 and not interval.excludes_zero()


def test_over_seeds_one_lucky_seed_stays_inside_the_noise() -> None:
    """Four training seeds on the same 60 turns: one seed gains 30 turns, three gain none. On its own the lucky
    seed's lead is far beyond noise; over the seeds the mean lead (30 of 240 cells) is not."""
    zeros = [[0.0] * 60 for _ in range(4)]
    lucky = [[1.0] * 30 + [0.0] * 30] + [[0.0] * 60 for _ in range(3)]
    assert bootstrap_paired_difference(zeros[0], lucky[0])[1].excludes_zero()
    diff, interval = bootstrap_seeds_and_turns_difference(zeros, lucky)
    assert diff == pytest.approx(30 / 240)
    assert interval.low == 0.0 and not interval.excludes_zero()


def test_over_seeds_a_lead_every_seed_shares_is_beyond_noise() -> None:
    first = [_binary(80, 0.3, seed=s) for s in range(4)]
    second = [[1.0 if i < 30 else value for i, value in enumerate(row)] for row in first]  # +1 where it was 0
    diff, interval = bootstrap_seeds_and_turns_difference(first, second)
    gained = sum(1.0 - value for row in first for value in row[:30])
    assert diff == pytest.approx(gained / (4 * 80))
    assert interval.excludes_zero() and interval.low <= diff <= interval.high


def test_over_seeds_a_constant_difference_has_no_width_and_one_seed_is_the_paired_case() -> None:
    diff, interval = bootstrap_seeds_and_turns_difference([[0.2, 0.4]] * 3, [[0.7, 0.9]] * 3)
    assert diff == pytest.approx(0.5) and (interval.low, interval.high) == pytest.approx((0.5, 0.5))
    first, second = _binary(200, 0.3, seed=1), _binary(200, 0.6, seed=2)
    pooled, pooled_interval = bootstrap_seeds_and_turns_difference([first], [second])
    paired, paired_interval = bootstrap_paired_difference(first, second)
    assert pooled == pytest.approx(paired)
    assert pooled_interval.low == pytest.approx(paired_interval.low)
    assert pooled_interval.high == pytest.approx(paired_interval.high)
    assert bootstrap_seeds_and_turns_difference([first], [second]) == (pooled, pooled_interval)  # seeded


def test_over_seeds_refuses_rows_of_other_turns() -> None:
    with pytest.raises(ValueError, match="the same turns in every row"):
        bootstrap_seeds_and_turns_difference([[0.0, 1.0]], [[0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="one row of paired values per seed"):
        bootstrap_seeds_and_turns_difference([], [])

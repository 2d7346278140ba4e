"""Breakdowns: the same metrics over subsets of a split's turns or episodes, by domain, phenomenon and action type.

A record (a turn or an episode of the results document) falls in the group of its `domain`, in one group per
entry of its `phenomena` (a conversation with parallel calls that also needs reasoning counts in both), and, for
turns, in the group of its reference's action type: `call` (one call), `parallel_calls` (several) or `answer`.
Each group's metrics carry their own counts and bootstrap intervals, so a small group shows a wide interval
rather than a confident number. Left out: crossed breakdowns (domain × phenomenon).
"""

from __future__ import annotations

from typing import Any

from thinkact.eval.bootstrap import RESAMPLES, SEED
from thinkact.eval.metrics import aggregate_turns

BREAKDOWNS = ("domain", "phenomenon", "action")


def classify_reference(reference: dict[str, Any]) -> str:
    """The action type of a reference message.

    >>> classify_reference({"role": "assistant", "content": "Hi"}), classify_reference({"tool_calls": [{}, {}]})
    ('answer', 'parallel_calls')
    """
    calls = reference.get("tool_calls") or []
    return "answer" if not calls else "call" if len(calls) == 1 else "parallel_calls"


def group_record(record: dict[str, Any], by: str) -> list[str]:
    """The groups of `record` under breakdown `by` (a record may be in several phenomena, or in none)."""
    if by == "domain":
        return [str(record.get("domain") or "unknown")]
    if by == "phenomenon":
        return [str(name) for name in record.get("phenomena") or []]
    if by == "action":
        return [classify_reference(record["reference"])] if "reference" in record else []
    raise ValueError(f"unknown breakdown {by!r}")


def break_down(
    records: list[dict[str, Any]], *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, dict[str, dict[str, Any]]]:
    """{breakdown: {group: {metric: {value, n, ci_low, ci_high}}}} over the records' `metrics`.

    >>> records = [{"domain": "a", "phenomena": ["x"], "metrics": {"m": 1.0}},
    ...            {"domain": "b", "phenomena": ["x", "y"], "metrics": {"m": 0.0}}]
    >>> table = break_down(records, resamples=0)
    >>> table["domain"]["a"]["m"]["value"], table["phenomenon"]["x"]["m"]["n"], table["action"]
    (1.0, 2, {})
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for by in BREAKDOWNS:
        groups: dict[str, list[dict[str, float]]] = {}
        for record in records:
            for group in group_record(record, by):
                groups.setdefault(group, []).append(record["metrics"])
        table[by] = {
            group: {
                name: metric.to_json()
                for name, metric in aggregate_turns(values, resamples=resamples, seed=seed).items()
            }
            for group, values in sorted(groups.items())
        }
    return table

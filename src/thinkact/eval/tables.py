"""The comparison as tables: markdown for `report.md`, rich tables for the terminal, cells for the HTML report.

A metric cell reads `value [low, high] (n)`: the mean over the n turns (or episodes) it applies to and its 95%
bootstrap interval. A difference cell reads `+diff [low, high]`, marked ✱ when the paired interval excludes 0
(beyond noise). Left out: styling (the HTML report has its own).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from thinkact.eval.metrics import TURN_METRICS

EPISODE_METRICS = (
    "success",
    "calls_made",
    "call_recall",
    "answer_correct",
    "state_match",
    "answer",
    "extra_calls",
    "steps",
    "truncated",
    "failed",
    "thinking",
)
"""Every per-episode metric, in the order tables show them."""
HEADLINE = ("correct", "reward", "action_type", "exact_call", "arg_f1", "answer", "format", "thinking")
"""The turn metrics of the terminal's compact table."""
VIEW_METRICS = {"turn": TURN_METRICS, "episode": EPISODE_METRICS}
BEYOND_NOISE = "✱"


def format_metric(metric: dict[str, Any] | None, *, interval: bool = True) -> str:
    """`value [low, high] (n)`, or — when the metric does not apply.

    >>> format_metric({"value": 0.5, "n": 8, "ci_low": 0.25, "ci_high": 0.75})
    '0.500 [0.250, 0.750] (8)'
    >>> format_metric(None), format_metric({"value": 1.0, "n": 2, "ci_low": None, "ci_high": None})
    ('—', '1.000 (2)')
    """
    if metric is None:
        return "—"
    text = f"{metric['value']:.3f}"
    if interval and metric.get("ci_low") is not None:
        text += f" [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"
    return f"{text} ({metric['n']})"


def format_difference(row: dict[str, Any] | None) -> str:
    """`+diff [low, high]`, with ✱ when beyond noise.

    >>> format_difference({"diff": 0.25, "ci_low": 0.1, "ci_high": 0.4, "beyond_noise": True})
    '+0.250 [+0.100, +0.400] ✱'
    """
    if row is None:
        return "—"
    text = f"{row['diff']:+.3f}"
    if row.get("ci_low") is not None:
        text += f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    return f"{text} {BEYOND_NOISE}" if row.get("beyond_noise") else text


def list_shown_metrics(comparison: dict[str, Any], view: str) -> list[str]:
    """The metrics of `view` that some model has, in table order."""
    present = {
        name
        for splits in comparison["metrics"].values()
        for block in splits.values()
        for name in block.get(view, {})
    }
    return [name for name in VIEW_METRICS[view] if name in present]


def find_difference(
    comparison: dict[str, Any], split: str, view: str, metric: str, first: str, second: str
) -> dict[str, Any] | None:
    for row in comparison["differences"]:
        if (row["split"], row["view"], row["metric"], row["a"], row["b"]) == (
            split,
            view,
            metric,
            first,
            second,
        ):
            return row
    return None


def render_markdown(comparison: dict[str, Any]) -> str:
    """The whole comparison as a markdown document."""
    models, baseline = comparison["models"], comparison["baseline"]
    resamples = comparison["bootstrap"]["resamples"]
    lines = [f"# Comparison: {', '.join(models)}", *_lead_section(comparison)]
    lines += [
        "",
        f"Splits: {', '.join(comparison['splits'])}. Each cell is `value [95% interval] (n)`: the mean over the n "
        f"turns or episodes the metric applies to; intervals are percentile bootstraps ({resamples} resamples).",
        f"Differences are `model − {baseline}` on the same turns (paired bootstrap); {BEYOND_NOISE} marks an "
        "interval that excludes 0. At 95%, about 1 in 20 differences is marked by chance alone.",
    ]
    note = scoring_note(comparison)
    if note:
        lines.append(note)
    for view, title in (("turn", "Turn view"), ("episode", "Episode view")):
        names = list_shown_metrics(comparison, view)
        if not names:
            continue
        lines += ["", f"## {title}", "", _row(["model", "split", *names]), _rule(2 + len(names))]
        for model in models:
            for split in comparison["splits"]:
                block = comparison["metrics"][model][split].get(view, {})
                lines.append(_row([model, split, *[format_metric(block.get(name)) for name in names]]))
    lines += _difference_section(comparison)
    lines += _pairs_section(comparison)
    lines += _thinking_section(comparison)
    lines += _breakdown_section(comparison)
    return "\n".join(lines) + "\n"


CLAIMS_NOTE = (
    "Each claim as measured here (turn view), its figure and whether it holds: a value against its threshold, or a "
    "difference `b − a [95% interval] (n)` on the turns both models were scored on, which holds when the whole "
    "interval lies above 0."
)
HELDOUT = ("heldout_reward", "heldout_exact_call", "heldout_format")
"""The held-out metrics of a training run (`grpo.eval_steps`: greedy, on held-out turns) the reports show."""


def format_claim(claim: dict[str, Any]) -> list[str]:
    """The cells of a claim's row in report.md and report.html: the claim, its figure and whether it holds.

    >>> format_claim({"claim": "B beats A", "diff": 0.1, "ci_low": 0.02, "ci_high": 0.18, "n": 40, "holds": True})
    ['B beats A', '+0.100 [+0.020, +0.180] (n=40)', 'yes']
    >>> format_claim({"claim": "B >= 0.30", "value": 0.25, "holds": False})
    ['B >= 0.30', '0.250', 'no']
    >>> format_claim({"claim": "C beats A", "holds": False})[1]  # C was not compared
    '—'
    """
    if "diff" in claim:
        figure = f"{claim['diff']:+.3f} [{claim['ci_low']:+.3f}, {claim['ci_high']:+.3f}] (n={claim['n']})"
    else:
        figure = "—" if claim.get("value") is None else f"{claim['value']:.3f}"
    return [claim["claim"], figure, "yes" if claim["holds"] else "no"]


def select_heldout(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """The held-out rows among a training run's logged steps: the step and its `heldout_*` metrics."""
    return [
        {"step": row["step"], **{k: v for k, v in row.items() if k.startswith("heldout_")}}
        for row in rows
        if "step" in row and any(key.startswith("heldout_") for key in row)
    ]


def list_heldout(comparison: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    """Each training run's held-out rows, for the runs that logged any (`comparison["training"]`)."""
    found = {run: select_heldout(rows) for run, rows in comparison.get("training", {}).items()}
    return {run: rows for run, rows in found.items() if rows}


def format_heldout(rows: list[dict[str, float]]) -> tuple[list[str], list[list[str]]]:
    """The held-out table of one run: its metric columns (those of `HELDOUT` it logged) and a row per step.

    >>> format_heldout([{"step": 0, "heldout_reward": 0.25}, {"step": 10, "heldout_reward": 0.5}])
    (['heldout_reward'], [['0', '0.250'], ['10', '0.500']])
    """
    names = [name for name in HELDOUT if any(name in row for row in rows)]
    cells = [
        [str(row["step"]), *(f"{row[name]:.3f}" if name in row else "—" for name in names)] for row in rows
    ]
    return names, cells


def _lead_section(comparison: dict[str, Any]) -> list[str]:
    """What a reader looks for first: the claims and the held-out curve during training, when there are any."""
    lines = []
    if comparison.get("claims"):
        lines += ["", "## Claims", "", CLAIMS_NOTE, "", _row(["claim", "figure", "holds"]), _rule(3)]
        lines += [_row(format_claim(claim)) for claim in comparison["claims"]]
    for run, rows in list_heldout(comparison).items():
        names, cells = format_heldout(rows)
        lines += ["", f"Held-out turns during training, {run} (greedy):", "", _row(["step", *names])]
        lines += [_rule(1 + len(names)), *(_row(row) for row in cells)]
    return lines


def scoring_note(comparison: dict[str, Any]) -> str:
    """Which models were scored without requiring a think block (`compare --no-think`), or "" when none was."""
    scoring = comparison.get("scoring", {})
    plain = [model for model in comparison["models"] if not scoring.get(model, {}).get("require_think", True)]
    if not plain:
        return ""
    return (
        f"{', '.join(plain)}: scored without requiring a think block (`rewards.require_think` off, as for a "
        "model trained to answer without thinking), so their `format` and `reward` ask for a complete, "
        "well-formed action only; the other models' ask for a think block first."
    )


def _difference_section(comparison: dict[str, Any]) -> list[str]:
    others = [model for model in comparison["models"] if model != comparison["baseline"]]
    lines = [
        "",
        f"## Differences from {comparison['baseline']}",
        "",
        _row(["split", "view", "metric", *others]),
    ]
    lines.append(_rule(3 + len(others)))
    for split in comparison["splits"]:
        for view in ("turn", "episode"):
            for metric in list_shown_metrics(comparison, view):
                cells = [
                    format_difference(
                        find_difference(comparison, split, view, metric, comparison["baseline"], other)
                    )
                    for other in others
                ]
                if any(cell != "—" for cell in cells):
                    lines.append(_row([split, view, metric, *cells]))
    return lines


def _pairs_section(comparison: dict[str, Any]) -> list[str]:
    rows = [
        row
        for row in comparison["differences"]
        if row["a"] != comparison["baseline"] and row.get("beyond_noise")
    ]
    if len(comparison["models"]) < 3:
        return []
    lines = ["", "## Other pairs: differences beyond noise", ""]
    for row in rows:
        lines.append(
            f"- {row['split']}, {row['view']}, {row['metric']}: {row['b']} − {row['a']} = {format_difference(row)}"
        )
    return lines + (["- none"] if not rows else [])


def _thinking_section(comparison: dict[str, Any]) -> list[str]:
    header = ["model", "split", "thinking share", "mean words", "correct with", "correct without", "Δ"]
    lines = ["", "## Thinking", "", _row(header), _rule(len(header))]
    for model in comparison["models"]:
        for split, analysis in comparison["thinking"].get(model, {}).items():
            lines.append(_row([model, split, *format_thinking(analysis)]))
    return lines


def format_thinking(analysis: dict[str, Any]) -> list[str]:
    """Share of turns with thinking, mean words, accuracy with and without thinking, and their difference."""
    return [
        format_metric(analysis.get("share")),
        format_metric(analysis.get("mean_words"), interval=False),
        format_metric(analysis["with"].get("correct")),
        format_metric(analysis["without"].get("correct")),
        format_difference(analysis["difference"].get("correct")),
    ]


def _breakdown_section(comparison: dict[str, Any]) -> list[str]:
    lines = ["", "## Breakdowns (turn view: `correct`; episode view: `success`)"]
    for split in comparison["splits"]:
        for view, metric in (("turn", "correct"), ("episode", "success")):
            groups = list_breakdown_groups(comparison, split, view)
            if not groups:
                continue
            lines += ["", f"### {split}, {view} view", "", _row(["group", *comparison["models"]])]
            lines.append(_rule(1 + len(comparison["models"])))
            for by, group in groups:
                cells = [
                    format_metric(
                        comparison["breakdown"][model][split][view].get(by, {}).get(group, {}).get(metric),
                        interval=False,
                    )
                    for model in comparison["models"]
                ]
                lines.append(_row([f"{by}: {group}", *cells]))
    return lines


def list_breakdown_groups(comparison: dict[str, Any], split: str, view: str) -> list[tuple[str, str]]:
    """Every (breakdown, group) some model has for this split and view, in a stable order."""
    found = {
        (by, group)
        for model in comparison["models"]
        for by, groups in comparison["breakdown"][model][split].get(view, {}).items()
        for group in groups
    }
    order = {"domain": 0, "phenomenon": 1, "action": 2}
    return sorted(found, key=lambda item: (order.get(item[0], 3), item[1]))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _rule(columns: int) -> str:
    return "|" + "---|" * columns


def build_summary_table(comparison: dict[str, Any]) -> Table:
    """A compact terminal table: per split, the headline turn metrics and episode success, one column per model;
    ✱ marks a difference from the baseline beyond noise."""
    rows = [("turn", name) for name in HEADLINE if name in list_shown_metrics(comparison, "turn")]
    rows += [("episode", "success")] if "success" in list_shown_metrics(comparison, "episode") else []
    table = Table(title=f"comparison (value (n); ✱ beyond noise vs {comparison['baseline']})")
    table.add_column("split")
    table.add_column("metric")
    for model in comparison["models"]:
        table.add_column(model, justify="right")
    for split in comparison["splits"]:
        for view, name in rows:
            cells = [
                _cell(
                    comparison, model, split, view, name, comparison["metrics"][model][split][view].get(name)
                )
                for model in comparison["models"]
            ]
            table.add_row(split, name if view == "turn" else f"episode {name}", *cells)
        table.add_section()
    return table


def _cell(
    comparison: dict[str, Any], model: str, split: str, view: str, metric: str, value: dict[str, Any] | None
) -> str:
    text = format_metric(value, interval=False)
    row = find_difference(comparison, split, view, metric, comparison["baseline"], model)
    return f"{text} {BEYOND_NOISE}" if row and row.get("beyond_noise") else text

"""The report's plots as PNG bytes, drawn with matplotlib's object API (Agg, no pyplot state, no display).

- `plot_metrics`: one figure per split, the rates of each model as grouped bars with their 95% intervals (turn
  view above, episode view below when there is one);
- `plot_thinking`: per split, the share of turns with thinking and the accuracy (`correct`) with and without it;
- `plot_training`: reward and KL over the training steps of the runs that logged them (`metrics.jsonl`);
- `plot_heldout`: the held-out metrics over the steps (`grpo.eval_steps`), shown beside the claims.
Left out: interactive plots (the report is static and offline).
"""

from __future__ import annotations

import io
import math
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from thinkact.eval.tables import EPISODE_METRICS, HELDOUT, list_shown_metrics

RATES = {
    "turn": (
        "correct",
        "reward",
        "action_type",
        "tool_name",
        "exact_call",
        "arg_f1",
        "answer",
        "no_call",
        "format",
        "thinking",
    ),
    "episode": tuple(name for name in EPISODE_METRICS if name not in ("extra_calls", "steps")),
}
"""The metrics in [0, 1] that share one axis."""
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def render_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_metrics(comparison: dict[str, Any], split: str) -> bytes:
    """Grouped bars: each rate of each model on `split`, with its bootstrap interval as an error bar."""
    views = [view for view in ("turn", "episode") if _rates(comparison, view)]
    figure = Figure(figsize=(11, 3.6 * len(views)), layout="constrained")
    axes = figure.subplots(len(views), 1, squeeze=False)[:, 0]
    for ax, view in zip(axes, views, strict=True):
        names = _rates(comparison, view)
        blocks = {model: comparison["metrics"][model][split][view] for model in comparison["models"]}
        _grouped_bars(ax, names, blocks, comparison["models"])
        ax.set_title(f"{split}: {view} view (95% bootstrap intervals)", fontsize=10)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return render_png(figure)


def _rates(comparison: dict[str, Any], view: str) -> list[str]:
    return [name for name in list_shown_metrics(comparison, view) if name in RATES[view]]


def _grouped_bars(ax: Axes, names: list[str], blocks: dict[str, dict[str, Any]], models: list[str]) -> None:
    width = 0.8 / max(len(models), 1)
    for index, model in enumerate(models):
        values, low, high = [], [], []
        for name in names:
            metric = blocks[model].get(name)
            value = metric["value"] if metric else math.nan
            values.append(value)
            has_interval = metric is not None and metric.get("ci_low") is not None
            low.append(value - metric["ci_low"] if has_interval and metric else 0.0)
            high.append(metric["ci_high"] - value if has_interval and metric else 0.0)
        positions = [i + (index - (len(models) - 1) / 2) * width for i in range(len(names))]
        colour = COLOURS[index % len(COLOURS)]
        ax.bar(
            positions, values, width, label=model, color=colour, yerr=[low, high], capsize=2, ecolor="#333"
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


def plot_thinking(comparison: dict[str, Any]) -> bytes | None:
    """Per split: share of turns with thinking per model, and `correct` with vs without thinking."""
    thinking = comparison["thinking"]
    splits = [s for s in comparison["splits"] if any(s in thinking.get(m, {}) for m in comparison["models"])]
    if not splits:
        return None
    figure = Figure(figsize=(11, 3.2 * len(splits)), layout="constrained")
    axes = figure.subplots(len(splits), 2, squeeze=False)
    for row, split in enumerate(splits):
        analyses = {m: comparison["thinking"].get(m, {}).get(split) for m in comparison["models"]}
        share = {m: (a or {}).get("share") for m, a in analyses.items()}
        _model_bars(axes[row][0], share, comparison["models"])
        axes[row][0].set_title(f"{split}: share of turns with thinking", fontsize=10)
        blocks = {
            m: {
                "with thinking": (a or {}).get("with", {}).get("correct"),
                "without": (a or {}).get("without", {}).get("correct"),
            }
            for m, a in analyses.items()
        }
        _grouped_bars(axes[row][1], ["with thinking", "without"], blocks, comparison["models"])
        axes[row][1].set_title(f"{split}: accuracy (correct) with vs without thinking", fontsize=10)
    axes[0][1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return render_png(figure)


def _model_bars(ax: Axes, metrics: dict[str, dict[str, Any] | None], models: list[str]) -> None:
    values = [(metrics[m] or {}).get("value", math.nan) for m in models]
    ax.bar(range(len(models)), values, color=[COLOURS[i % len(COLOURS)] for i in range(len(models))])
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels(models, rotation=15, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


PANELS = (("training reward per step", "reward"), ("KL to the reference policy", "kl"))
"""(title, metric) of each training panel; a panel is drawn when some run logged its metric."""


def plot_training(training: dict[str, list[dict[str, float]]]) -> bytes | None:
    """Training reward and KL against the step, one colour per run; None when no run logged either."""
    panels = [
        (title, key) for title, key in PANELS if any(key in row for rows in training.values() for row in rows)
    ]
    if not panels:
        return None
    figure = Figure(figsize=(5.5 * len(panels), 3.4), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, key) in zip(axes, panels, strict=True):
        for index, (run, rows) in enumerate(training.items()):
            points = [(row["step"], row[key]) for row in rows if key in row and "step" in row]
            if points:
                colour = COLOURS[index % len(COLOURS)]
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=run, color=colour)
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    return render_png(figure)


def plot_heldout(heldout: dict[str, list[dict[str, float]]]) -> bytes | None:
    """Each run's held-out metrics (`tables.list_heldout`) against the step: one colour per run, one line style
    per metric; None when no run logged any."""
    if not heldout:
        return None
    figure = Figure(figsize=(6.2, 3.6), layout="constrained")
    ax = figure.subplots()
    alone = len(heldout) == 1  # one run: a colour per metric; several: a colour per run
    for index, (run, rows) in enumerate(heldout.items()):
        for number, (style, key) in enumerate(zip(("-", "--", ":"), HELDOUT, strict=True)):
            points = [(row["step"], row[key]) for row in rows if key in row]
            if not points:
                continue
            name = key.removeprefix("heldout_")
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                marker="o",
                label=name if alone else f"{run} {name}",
                color=COLOURS[(number if alone else index) % len(COLOURS)],
            )
    ax.set_xlabel("training step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 1.05)
    ax.set_title("held-out turns during training (greedy)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return render_png(figure)

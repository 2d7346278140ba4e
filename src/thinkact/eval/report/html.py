"""`report.html`: the claims, the comparison table, the plots and a browsable list of sample conversations, in
one file. The page leads with what a reader looks for: the claims (when the comparison holds any) with their
figures and verdicts, cell for cell as report.md has them (`tables.format_claim`), beside the held-out curve of
the training runs that logged one.

Everything is inline: the style and script (`page.py`) and the plots as base64 PNGs, so the file opens offline
and can be mailed or attached to a run. Every piece of text from data or models is HTML-escaped. Left out:
templates engines (the page is built from small functions) and client-side charts.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from pathlib import Path
from typing import Any

from thinkact.eval.report.page import SCRIPT, STYLE
from thinkact.eval.report.plots import plot_heldout, plot_metrics, plot_thinking, plot_training
from thinkact.eval.report.samples import select_episode_samples, select_turn_samples
from thinkact.eval.tables import (
    BEYOND_NOISE,
    CLAIMS_NOTE,
    find_difference,
    format_claim,
    format_difference,
    format_heldout,
    format_thinking,
    list_breakdown_groups,
    list_heldout,
    list_shown_metrics,
    scoring_note,
)
from thinkact.files import atomic_write_text

HELDOUT_PLOT = "heldout"
"""The plot shown beside the claims rather than among the other plots."""


def write_report(
    comparison: dict[str, Any], results: dict[str, dict[str, Any]], out: Path, *, samples: int = 40
) -> Path:
    """Write `out/report.html` and `out/plots/*.png`; returns the HTML's path."""
    plots: dict[str, bytes] = {}
    for split in comparison["splits"]:
        plots[f"metrics_{split}"] = plot_metrics(comparison, split)
    for name, png in (
        ("thinking", plot_thinking(comparison)),
        ("training", plot_training(comparison["training"])),
        (HELDOUT_PLOT, plot_heldout(list_heldout(comparison))),
    ):
        if png is not None:
            plots[name] = png
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for name, png in plots.items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    chosen = []
    for split in comparison["splits"]:
        chosen += select_turn_samples(results, split, samples)
        chosen += select_episode_samples(results, split, samples)
    path = out / "report.html"
    atomic_write_text(path, render_page(comparison, plots, chosen))
    return path


def render_page(comparison: dict[str, Any], plots: dict[str, bytes], samples: list[dict[str, Any]]) -> str:
    models = ", ".join(comparison["models"])
    lead = _lead_section(comparison, plots.get(HELDOUT_PLOT))
    lead_name = "Claims" if comparison.get("claims") else "Held-out"
    lead_link = f'<a href="#claims">{lead_name}</a>' if lead else ""
    body = [
        f"<header><h1>thinkact comparison</h1><p>{escape(models)} on {escape(', '.join(comparison['splits']))}"
        f" · baseline {escape(comparison['baseline'])}</p></header>",
        f'<nav>{lead_link}<a href="#table">Table</a>'
        '<a href="#plots">Plots</a><a href="#thinking">Thinking</a><a href="#breakdowns">Breakdowns</a>'
        '<a href="#samples">Conversations</a></nav>',
        "<main>",
        lead,
        _metrics_section(comparison),
        _plots_section({name: png for name, png in plots.items() if name != HELDOUT_PLOT}),
        _thinking_section(comparison),
        _breakdown_section(comparison),
        _samples_section(comparison, samples),
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>thinkact comparison: {escape(models)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}<script>{SCRIPT}</script></body></html>\n"
    )


def _lead_section(comparison: dict[str, Any], heldout_png: bytes | None) -> str:
    """The claims, each with its figure and verdict, beside the held-out curve; empty when there is neither."""
    claims = comparison.get("claims") or []
    heldout = list_heldout(comparison)
    if not claims and not heldout:
        return ""
    parts = []
    if claims:
        rows = "".join(
            f'<tr><td class="label">{escape(text)}</td><td>{escape(figure)}</td>'
            f'<td class="{"ok" if verdict == "yes" else "fail"}">{verdict}</td></tr>'
            for text, figure, verdict in map(format_claim, claims)
        )
        parts.append(
            f'<div class="claims"><h2>Claims</h2><p class="note">{_code_spans(CLAIMS_NOTE)}</p><table class="claims">'
            f'<tr><th class="label">claim</th><th>figure</th><th>holds</th></tr>{rows}</table></div>'
        )
    curve = []
    if heldout_png is not None:
        data = base64.b64encode(heldout_png).decode("ascii")
        curve.append(f'<img alt="{HELDOUT_PLOT}" src="data:image/png;base64,{data}">')
    for run, rows_of_run in heldout.items():
        names, cells = format_heldout(rows_of_run)
        head = "".join(f"<th>{escape(name)}</th>" for name in ["step", *names])
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in cells
        )
        curve.append(f'<table class="heldout" data-run="{escape(run)}"><tr>{head}</tr>{body}</table>')
    if curve:
        parts.append(
            '<div class="curve"><h2>Held-out turns during training</h2><p class="note">Greedy, every '
            f"<code>eval_steps</code> steps, on turns the run does not train on.</p>{''.join(curve)}</div>"
        )
    return f'<section id="claims" class="lead">{"".join(parts)}</section>'


def _code_spans(text: str) -> str:
    """The text escaped, with markdown's backtick code spans as `<code>` elements (one note serves both reports)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _metric_cell(metric: dict[str, Any] | None) -> str:
    if metric is None:
        return "<td>—</td>"
    interval = ""
    if metric.get("ci_low") is not None:
        interval = f' <span class="ci">[{metric["ci_low"]:.3f}, {metric["ci_high"]:.3f}]</span>'
    return f'<td>{metric["value"]:.3f}{interval} <span class="n">n={metric["n"]}</span></td>'


def _labels(*cells: str) -> str:
    return "".join(f'<td class="label">{escape(cell)}</td>' for cell in cells)


def _metrics_section(comparison: dict[str, Any]) -> str:
    baseline = comparison["baseline"]
    others = [model for model in comparison["models"] if model != baseline]
    parts = [
        '<section id="table"><h2>Metrics</h2>',
        "<p class='note'>Each cell: the mean over the n turns (or episodes) the metric applies to, and its 95% "
        f"percentile-bootstrap interval ({comparison['bootstrap']['resamples']} resamples). The Δ columns are "
        f"each model − {escape(baseline)} on the turns both were scored on (paired bootstrap); {BEYOND_NOISE} and "
        "colour mark a 95% interval that excludes 0, beyond noise. About 1 in 20 differences is marked by "
        "chance alone.</p>",
    ]
    note = scoring_note(comparison)
    if note:
        parts.append(f"<p class='note'>{escape(note)}</p>")
    head = "".join(f"<th>{escape(model)}</th>" for model in comparison["models"])
    head += "".join(f"<th>Δ {escape(model)}</th>" for model in others)
    for split in comparison["splits"]:
        for view in ("turn", "episode"):
            names = list_shown_metrics(comparison, view)
            if not names:
                continue
            rows = []
            for name in names:
                values = "".join(
                    _metric_cell(comparison["metrics"][model][split].get(view, {}).get(name))
                    for model in comparison["models"]
                )
                differences = "".join(
                    _difference_cell(find_difference(comparison, split, view, name, baseline, other))
                    for other in others
                )
                rows.append(f"<tr>{_labels(name)}{values}{differences}</tr>")
            parts.append(
                f"<h3>{escape(split)}: {view} view</h3><div class='scroll'><table class='metrics' "
                f'data-split="{escape(split)}" data-view="{view}"><tr><th class="label">metric</th>{head}</tr>'
                f"{''.join(rows)}</table></div>"
            )
    return "".join(parts) + _other_pairs(comparison) + "</section>"


LOWER_IS_BETTER = frozenset({"extra_calls", "truncated"})
"""Metrics where a rise is bad news (coloured red when it is beyond noise)."""
NEITHER = frozenset({"steps", "completion_tokens", "think_words", "thinking"})
"""Metrics that describe behaviour rather than quality (coloured neutrally)."""


def _difference_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "<td>—</td>"
    if not row.get("beyond_noise"):
        kind = "noise"
    elif row["metric"] in NEITHER:
        kind = "changed"
    else:
        kind = "up" if (row["diff"] > 0) != (row["metric"] in LOWER_IS_BETTER) else "down"
    return f'<td class="{kind}">{escape(format_difference(row))}</td>'


def _other_pairs(comparison: dict[str, Any]) -> str:
    if len(comparison["models"]) < 3:
        return ""
    rows = [
        f"<li>{escape(row['split'])}, {row['view']}, {escape(row['metric'])}: {escape(row['b'])} − "
        f"{escape(row['a'])} = {escape(format_difference(row))}</li>"
        for row in comparison["differences"]
        if row["a"] != comparison["baseline"] and row.get("beyond_noise")
    ]
    return f"<h3>Other pairs: differences beyond noise</h3><ul>{''.join(rows) or '<li>none</li>'}</ul>"


def _plots_section(plots: dict[str, bytes]) -> str:
    figures = []
    for name, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        figures.append(
            f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(name)}.png</figcaption></figure>"
        )
    return f'<section id="plots"><h2>Plots</h2><div class="plots">{"".join(figures)}</div></section>'


def _thinking_section(comparison: dict[str, Any]) -> str:
    head = "".join(
        f"<th>{name}</th>"
        for name in ("thinking share", "mean words", "correct with", "correct without", "Δ (with − without)")
    )
    rows = []
    for model in comparison["models"]:
        for split, analysis in comparison["thinking"].get(model, {}).items():
            cells = "".join(f"<td>{escape(cell)}</td>" for cell in format_thinking(analysis))
            rows.append(f"<tr>{_labels(model, split)}{cells}</tr>")
    return (
        '<section id="thinking"><h2>Thinking</h2><p class="note">Share of turns with a non-empty think block, '
        "mean thinking length in words, and accuracy (<code>correct</code>) on turns with and without thinking. "
        "The difference is observational: a model may think more on turns it finds easy.</p>"
        f'<div class="scroll"><table class="thinking"><tr><th class="label">model</th><th class="label">split</th>'
        f"{head}</tr>{''.join(rows)}</table></div></section>"
    )


def _breakdown_section(comparison: dict[str, Any]) -> str:
    parts = ['<section id="breakdowns"><h2>Breakdowns</h2>']
    head = "".join(f"<th>{escape(model)}</th>" for model in comparison["models"])
    for split in comparison["splits"]:
        for view, metric in (("turn", "correct"), ("episode", "success")):
            groups = list_breakdown_groups(comparison, split, view)
            if not groups:
                continue
            rows = []
            for by, group in groups:
                cells = "".join(
                    _metric_cell(
                        comparison["breakdown"][model][split][view].get(by, {}).get(group, {}).get(metric)
                    )
                    for model in comparison["models"]
                )
                rows.append(f'<tr><td class="label">{escape(by)}: {escape(group)}</td>{cells}</tr>')
            parts.append(
                f"<h3>{escape(split)}, {view} view: <code>{metric}</code></h3><div class='scroll'>"
                f'<table class="breakdown"><tr><th class="label">group</th>{head}</tr>{"".join(rows)}</table></div>'
            )
    return "".join(parts) + "</section>"


def _samples_section(comparison: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    options = "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in comparison["splits"])
    filters = (
        '<div class="filters"><label>split <select id="filter-split"><option value="">all</option>'
        f"{options}</select></label>"
        '<label>view <select id="filter-view"><option value="">all</option><option value="turn">turn</option>'
        '<option value="episode">episode</option></select></label>'
        '<label><input type="checkbox" id="filter-differ"> only where models differ</label>'
        '<input type="search" id="filter-text" placeholder="search text, tool, domain">'
        '<button type="button" id="expand-all">expand all</button>'
        '<button type="button" id="collapse-all">collapse all</button><span id="filter-count"></span></div>'
    )
    items = "".join(
        _render_sample(sample, comparison["models"], opened=index == 0)
        for index, sample in enumerate(samples)
    )
    return (
        '<section id="samples"><h2>Conversations where the models differ</h2><p class="note">Turns first rank '
        "by disagreement on <code>correct</code>, then by the spread of rewards; episodes by disagreement on "
        "<code>success</code>. Open one to see the history, each model's thinking, calls, tool results and "
        f"answer, the reference, and each reward component.</p>{filters}{items}</section>"
    )


def _render_sample(sample: dict[str, Any], models: list[str], *, opened: bool) -> str:
    view = sample["view"]
    key = "reward" if view == "turn" else "success"
    scores = " ".join(
        f"{escape(name)} {sample['models'][name]['metrics'].get(key, float('nan')):.2f}" for name in models
    )
    tags = "".join(
        f'<span class="tag">{escape(str(t))}</span>' for t in [sample["domain"], *sample["phenomena"]]
    )
    summary = (
        f'<summary><span class="tag">{escape(sample["split"])} · {view}</span><span class="sid">'
        f'{escape(sample["id"])}</span>{tags}<span class="score">{key}: {scores}</span>'
        f"{'' if sample['differs'] else '<span class=tag>models agree</span>'}</summary>"
    )
    history = "".join(_render_message(message) for message in sample["history"])
    if view == "turn":
        columns = [_render_turn_action(name, sample["models"][name]) for name in models]
        columns.append(_render_reference_turn(sample["reference"]))
    else:
        columns = [_render_episode(name, sample["models"][name]) for name in models]
        reference = "".join(_render_message(message) for message in sample["reference_messages"])
        columns.append(f'<div class="action reference"><h4>reference</h4>{reference}</div>')
    return (
        f'<details class="sample" data-split="{escape(sample["split"])}" data-view="{view}" '
        f'data-differs="{int(sample["differs"])}"{" open" if opened else ""}>{summary}<div class="body">'
        f'<div class="history">{history}</div><div class="grid">{"".join(columns)}</div></div></details>'
    )


def _render_message(message: dict[str, Any]) -> str:
    role = str(message.get("role", ""))
    label = f"tool {message.get('name', '')}" if role == "tool" else role
    parts = []
    if message.get("reasoning_content"):
        parts.append(f'<div class="think">{escape(str(message["reasoning_content"]))}</div>')
    for call in message.get("tool_calls") or []:
        function = call.get("function", call)
        parts.append(_render_call(str(function.get("name", "")), function.get("arguments", {})))
    if message.get("content"):
        parts.append(f'<span class="answer">{escape(str(message["content"]))}</span>')
    return (
        f'<div class="msg {escape(role)}"><span class="role">{escape(label)}</span>'
        f'<span class="text">{"".join(parts)}</span></div>'
    )


def _render_call(name: str, arguments: Any) -> str:
    return f'<div class="call">{escape(name)}({escape(json.dumps(arguments, ensure_ascii=False))})</div>'


def _render_turn_action(name: str, action: dict[str, Any]) -> str:
    parts = [f"<h4><span>{escape(name)}</span>{_verdict(action['metrics'].get('correct'))}</h4>"]
    if action["think"]:
        parts.append(f'<div class="think">{escape(action["think"])}</div>')
    parts += [_render_call(call["name"], call["arguments"]) for call in action["calls"]]
    if action["answer"]:
        parts.append(f'<div class="answer">{escape(action["answer"])}</div>')
    if not action["calls"] and not action["answer"] and not action["think"]:
        parts.append('<div class="problems">(empty completion)</div>')
    if action["problems"]:
        parts.append(f'<div class="problems">{escape("; ".join(action["problems"]))}</div>')
    parts.append(_components_table(action["components"], action["metrics"].get("reward")))
    return f'<div class="action">{"".join(parts)}</div>'


def _components_table(components: dict[str, float], reward: float | None) -> str:
    rows = "".join(
        f"<tr><td class='label'>{escape(k)}</td><td>{v:.2f}</td></tr>" for k, v in components.items()
    )
    total = f"<tr><th class='label'>reward</th><th>{reward:.2f}</th></tr>" if reward is not None else ""
    return f'<table class="components">{rows}{total}</table>'


def _render_reference_turn(reference: dict[str, Any]) -> str:
    return f'<div class="action reference"><h4>reference</h4>{_render_message(reference)}</div>'


def _render_episode(name: str, episode: dict[str, Any]) -> str:
    metrics = episode["metrics"]
    checks = " ".join(
        f'<span class="{"ok" if metrics.get(key) else "fail"}">{key}</span>'
        for key in ("calls_made", "answer_correct", "state_match")
    )
    transcript = "".join(_render_message(message) for message in episode["messages"])
    diff = ""
    if episode["state_diff"]:
        diff = f'<pre class="problems">{escape(chr(10).join(episode["state_diff"]))}</pre>'
    return (
        f'<div class="action"><h4><span>{escape(name)}</span>{_verdict(metrics.get("success"))}</h4>'
        f'<div class="components">{checks}</div>{transcript}{diff}</div>'
    )


def _verdict(value: float | None) -> str:
    if value is None:
        return ""
    return '<span class="ok">✓ correct</span>' if value >= 1.0 else '<span class="fail">✗ wrong</span>'

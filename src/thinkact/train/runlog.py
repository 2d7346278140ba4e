"""The per-step logs of a training run: metrics.jsonl, samples.jsonl and the trackers (`report_to`),
each step exactly once.

`RunLog(out, done)` opens the logs of a run that has `done` steps behind it: on a resume it first cuts
metrics.jsonl and samples.jsonl back to those steps (a torn last line from a kill is dropped) and tells
TensorBoard to purge events after them, so a resumed run's logs hold every step once, as an uninterrupted run's
would. It also says out loud what would otherwise pass silently: prompts dropped for length, steps whose
completions were all cut at `max_new_tokens` (masked, so the step learned nothing), and runs where a large share
of completions was cut. Left out: log rotation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from thinkact.jsonsafe import dump_json, read_jsonl_lines
from thinkact.train.checkpoints import truncate_steps
from thinkact.train.tracking import Tracker

log = logging.getLogger("thinkact.train")


class RunLog:
    """Appends one line per step to metrics.jsonl (and samples.jsonl every `sample_steps`), and to the run's
    trackers (opened with the same `done`, so TensorBoard purges what a resumed run rewrites)."""

    def __init__(self, out: Path, done: int, sample_steps: int, tracker: Tracker) -> None:
        self.metrics_path = out / "metrics.jsonl"
        self.samples_path = out / "samples.jsonl"
        self.sample_steps = sample_steps
        truncate_steps(self.metrics_path, done)
        truncate_steps(self.samples_path, done)
        if not done:  # a fresh run starts fresh files
            self.metrics_path.write_text("", encoding="utf-8")
            self.samples_path.unlink(missing_ok=True)
        self.tracker = tracker

    def write(self, step: int, metrics: dict[str, float], samples: list[dict[str, Any]]) -> None:
        """Log step `step` (1-based): its metrics and, on sample steps, `samples`."""
        with self.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(dump_json({"step": step, **metrics}) + "\n")
        self.tracker.log(metrics, step)
        if self.sample_steps and step % self.sample_steps == 0:
            with self.samples_path.open("a", encoding="utf-8") as handle:
                for sample in samples:
                    handle.write(dump_json({"step": step, **sample}) + "\n")

    def truncated_shares(self) -> list[float]:
        """Each logged step's share of completions cut at `max_new_tokens` (`warn_often_truncated`), read back
        from metrics.jsonl, which holds every step once: a resumed run's steps before the resume count too."""
        records = (json.loads(line) for _, line in read_jsonl_lines(self.metrics_path))
        return [float(r["truncated"]) for r in records if isinstance(r.get("truncated"), int | float)]

    def close(self) -> None:
        self.tracker.close()


def warn_dropped_prompts(dropped: int, total: int, limit: int, path: str) -> None:
    """Say how many prompts were left out for exceeding `max_prompt_tokens` (nothing when none were)."""
    if dropped:
        log.warning(
            "%s: %d of %d prompts exceed max_prompt_tokens=%d and were left out; raise it to train on them",
            path,
            dropped,
            total,
            limit,
        )


def warn_all_truncated(step: int, truncated: float, masked: bool, max_new_tokens: int) -> None:
    """Say so when every completion of a step hit `max_new_tokens`: with masking, the step's loss is 0."""
    if truncated >= 1.0:
        consequence = (
            "all are masked, so this step learned nothing" if masked else "all are scored as cut off"
        )
        log.warning(
            "step %d: every completion reached max_new_tokens=%d (%s); raise max_new_tokens",
            step,
            max_new_tokens,
            consequence,
        )


OFTEN_TRUNCATED = 0.1
"""The share of a run's completions cut at `max_new_tokens` from which `warn_often_truncated` speaks."""


def warn_often_truncated(truncated: list[float], masked: bool, max_new_tokens: int) -> None:
    """Say so when, over a run's steps, at least `OFTEN_TRUNCATED` of the completions (the mean of the steps'
    `truncated` shares) reached `max_new_tokens`: masked, that share of the sampling taught nothing."""
    if not truncated:
        return
    share = sum(truncated) / len(truncated)
    if share >= OFTEN_TRUNCATED:
        consequence = "carried no loss" if masked else "were scored as cut off"
        log.warning(
            "%.0f%% of this run's completions reached max_new_tokens=%d and %s; raise max_new_tokens "
            "(a think block and a call need room)",
            100 * share,
            max_new_tokens,
            consequence,
        )

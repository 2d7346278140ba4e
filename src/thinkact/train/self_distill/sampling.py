"""Sampling a round: each turn's samples drawn through the turn view (`rollout/turns.py`), judged, and kept.

`sampler` draws from a local model; `distill_turns` samples every turn and, with `hint`, the turns with nothing
kept once more with the reference in the prompt. Left out: the round's training data (`data.py`) and the run
(`run.py`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thinkact.data.prompts import Prompt
from thinkact.parse import Action, parse_action
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import run_turns
from thinkact.train.self_distill.judging import hinted_messages, judge_sample
from thinkact.train.self_distill.options import SelfDistillOptions


@dataclass
class Kept:
    think: str
    action: Action
    hint: bool
    score: float


@dataclass
class TurnOutcome:
    """One reference turn's samples in a round: what was kept, and how many samples were rejected and why."""

    prompt: Prompt
    kept: list[Kept] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    sampled: int = 0
    hinted: bool = False
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Every sample as written to round-K.samples.jsonl: its text, tokens, whether hinted, and its fate."""


Generate = Callable[[list[Prompt], int, int], list[list[tuple[str, int, bool]]]]
"""(prompts, samples, pass seed) → per prompt, `samples` (completion text, tokens, truncated)."""


def sampler(
    model: Any,
    tokenizer: Any,
    options: SelfDistillOptions,
    seed: int,
    *,
    chunk: int = 64,
    say: Callable[[str], None] | None = None,
) -> Generate:
    """Sampling through the turn view (`run_turns`: the episode loop with one step, no environment, no user),
    `chunk` turns at a time; `say` hears how far a pass is, about every tenth of it."""

    def generate(prompts: list[Prompt], samples: int, pass_seed: int) -> list[list[tuple[str, int, bool]]]:
        results: list[list[tuple[str, int, bool]]] = []
        for start in range(0, len(prompts), chunk):
            if (
                say is not None
                and start
                and (start * 10) // len(prompts) > ((start - chunk) * 10) // len(prompts)
            ):
                say(f"  {start} of {len(prompts)} turns sampled")
            sampling = Sampling(
                max_new_tokens=options.max_new_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                batch_size=options.batch_size,
                seed=seed,
                step=pass_seed * 100_000 + start // chunk,
            )
            steps = run_turns(model, tokenizer, prompts[start : start + chunk], sampling, samples=samples)
            results += [[(step.text, step.tokens, step.truncated) for step in group] for group in steps]
        return results

    return generate


def distill_turns(
    prompts: list[Prompt],
    generate: Generate,
    options: SelfDistillOptions,
    round_number: int,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[list[TurnOutcome], int]:
    """Sample every turn and keep what is right, then (with `hint`) sample the turns with nothing kept once more
    with the hint; the outcomes, in prompt order, and the tokens generated."""
    outcomes = [TurnOutcome(prompt) for prompt in prompts]
    tokens = _sample_pass(outcomes, generate, options, round_number, hinted=False, on_progress=on_progress)
    if options.hint:
        unkept = [outcome for outcome in outcomes if not outcome.kept]
        tokens += _sample_pass(unkept, generate, options, round_number, hinted=True, on_progress=on_progress)
    return outcomes, tokens


def _sample_pass(
    outcomes: list[TurnOutcome],
    generate: Generate,
    options: SelfDistillOptions,
    round_number: int,
    *,
    hinted: bool,
    on_progress: Callable[[str], None] | None,
) -> int:
    """Sample `options.samples` per turn (with the hint in the prompt when `hinted`) and judge each sample."""
    if not outcomes:
        return 0
    if on_progress is not None:
        source = "with the reference as a hint" if hinted else "from the policy"
        on_progress(
            f"round {round_number}: sampling {options.samples} per turn for {len(outcomes)} turns {source}"
        )
    prompts = [
        dataclasses.replace(o.prompt, messages=hinted_messages(o.prompt.messages, o.prompt.action))
        if hinted
        else o.prompt
        for o in outcomes
    ]
    tokens = 0
    generated = generate(prompts, options.samples, round_number * 2 + int(hinted))  # a seed per (round, pass)
    for outcome, samples in zip(outcomes, generated, strict=True):
        outcome.hinted = outcome.hinted or hinted
        for text, count, truncated in samples:
            tokens += count
            outcome.sampled += 1
            action = parse_action(text)
            verdict = judge_sample(
                action,
                truncated,
                outcome.prompt.action,
                outcome.prompt.tools,
                metric=outcome.prompt.answer_metric,
                threshold=options.answer_threshold,
            )
            think = (action.think or "").strip()
            reason = verdict.reason
            if not verdict.kept:
                outcome.rejected[reason] += 1
            elif len(outcome.kept) < options.max_per_turn and think not in {k.think for k in outcome.kept}:
                outcome.kept.append(Kept(think, action, hinted, verdict.score))
            else:
                reason = "surplus"
                outcome.rejected[reason] += 1
            outcome.samples.append(
                {
                    "turn": outcome.prompt.id,
                    "hint": hinted,
                    "completion": text,
                    "tokens": count,
                    "result": reason,
                    "score": round(verdict.score, 4),
                }
            )
    return tokens

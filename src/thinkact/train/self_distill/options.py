"""Self-distillation's settings (`sft.self_distill`) and the checks that refuse settings that cannot run.

Left out: what the settings do (`sampling.py`, `judging.py`, `data.py`, `run.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thinkact.errors import UserError, check_choice
from thinkact.rewards.components import TEXT_METRICS

UNKEPT = ("drop", "no_think")
ACTIONS = ("reference", "sampled")


@dataclass
class SelfDistillOptions:
    enabled: bool = False
    """Sample thinking from the policy, keep the samples whose action is right, and train on those (STaR);
    for data with actions but no reasoning (docs/self-distillation.md)."""
    rounds: int = 1
    """Sample-then-train rounds; each samples from the model the previous round trained."""
    samples: int = 4
    """Completions sampled per reference turn and round."""
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 160
    """Tokens per sampled completion; a sample cut here is rejected."""
    batch_size: int = 16
    """Sequences generated together."""
    answer_threshold: float = 0.8
    """An answer turn keeps a sample whose answer score (answer_metric, with fact recall) is at least this."""
    answer_metric: str = "f1"
    """Answer score: exact, f1 or rougeL (a conversation's meta.answer_metric overrides it)."""
    hint: bool = True
    """Sample turns with nothing kept once more with the reference action in the prompt; train without it."""
    max_per_turn: int = 1
    """Kept samples per turn that train (distinct thinking); more than 1 repeats the conversation."""
    unkept: str = "drop"
    """Turns with no kept sample: drop (left out of the loss) or no_think (trained with an empty think block)."""
    action: str = "reference"
    """The action a kept turn trains on: reference (the data's) or sampled (the sample's own)."""
    from_base: bool = True
    """Each round fine-tunes `model` afresh on its data (STaR); false continues from the previous round's."""


def check_options(options: SelfDistillOptions, think: bool) -> None:
    """Refuse settings that cannot run, naming the field (called from SFTRunConfig's checks)."""
    if not options.enabled:
        return
    where = "sft.self_distill"
    if not think:
        raise UserError(f"{where}: trains on the sampled thinking; leave sft.think true")
    for name in ("rounds", "samples", "max_new_tokens", "batch_size", "max_per_turn"):
        if getattr(options, name) < 1:
            raise UserError(f"{where}.{name}: must be at least 1")
    if not math.isfinite(options.temperature) or options.temperature <= 0:
        raise UserError(f"{where}.temperature: must be > 0 (rejection sampling needs varied samples)")
    if not 0 < options.top_p <= 1:
        raise UserError(f"{where}.top_p: must be in (0, 1]")
    if not 0 <= options.answer_threshold <= 1:
        raise UserError(f"{where}.answer_threshold: must be in [0, 1] (answer scores are)")
    check_choice(f"{where}.answer_metric", options.answer_metric, TEXT_METRICS)
    check_choice(f"{where}.unkept", options.unkept, UNKEPT)
    check_choice(f"{where}.action", options.action, ACTIONS)

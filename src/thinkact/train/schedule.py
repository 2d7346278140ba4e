"""What a GRPO step trains on and against: deficiency-focused prompt sampling and the compute budget.

Deficiency-focused sampling (iTool-style) keeps a running score per prompt, the exponential moving average of its
groups' mean reward (rewards lie in [0, 1], `rewards/combine.py`; they are clamped there), and draws each step's
prompts with weight `floor + (1 - floor) * (1 - score)`: the worse the policy did on a prompt recently, the more
often it comes back, and the floor keeps every prompt drawable. A prompt never drawn yet has deficiency 1 (the
highest weight), so the first steps try prompts the policy has not seen before returning to its weak ones.
Draws are without replacement within a step (with replacement when a step asks for more prompts than there are),
from a generator seeded by (seed, step), so every process draws the same indices from the same scores, and a
resumed run, whose scores come back from the checkpoint, draws what the uninterrupted run drew.

The budget counts the tokens the policy sampled (`sampled_tokens`); the run stops after the step where the total
reaches `max_generated_tokens`. Left out: the engine's loop itself (`train/grpo.py`), the reference resets (there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from thinkact.errors import UserError, check_choice
from thinkact.rollout.records import Rollout

SAMPLING_KINDS = ("uniform", "deficiency")


@dataclass
class PromptSampling:
    kind: str = "uniform"
    """uniform (a seeded permutation per epoch) or deficiency (prompts the policy did badly on recently come back
    more often: weight floor + (1 - floor) * (1 - running score); unseen prompts weigh 1)."""
    floor: float = 0.1
    """Deficiency sampling: the least weight a prompt keeps however well the policy does on it (0 < floor <= 1)."""
    decay: float = 0.5
    """Deficiency sampling: weight of the old running score in its update, score = decay * score + (1 - decay) *
    the group's mean reward (0: only the latest group counts)."""

    def __post_init__(self) -> None:
        check_choice("grpo.sampling.kind", self.kind, SAMPLING_KINDS)
        if not 0 < self.floor <= 1:
            raise UserError(
                f"grpo.sampling.floor: {self.floor}; give 0 < floor <= 1 (0 would starve prompts)"
            )
        if not 0 <= self.decay < 1:
            raise UserError(f"grpo.sampling.decay: {self.decay}; give 0 <= decay < 1")


def sampling_weights(scores: list[float | None], floor: float) -> list[float]:
    """Each prompt's weight from its running score (None: never drawn, deficiency 1).

    >>> sampling_weights([1.0, 0.0, 0.5, None], 0.1)
    [0.1, 1.0, 0.55, 1.0]
    """
    return [floor + (1 - floor) * (1.0 if s is None else 1.0 - s) for s in scores]


def update_scores(
    scores: list[float | None], group_means: list[tuple[int, float]], decay: float
) -> list[float | None]:
    """The running scores after a step: each (prompt index, its group's mean reward) in turn, rewards clamped to
    [0, 1]; a prompt's first score is its first mean.

    >>> update_scores([None, 0.5], [(0, 0.8), (1, 1.0)], 0.5)
    [0.8, 0.75]
    """
    updated = list(scores)
    for index, value in group_means:
        value = min(max(value, 0.0), 1.0)
        old = updated[index]
        updated[index] = value if old is None else decay * old + (1 - decay) * value
    return updated


def draw_prompts(weights: list[float], size: int, seed: int, step: int) -> list[int]:
    """`size` prompt indices drawn in proportion to `weights` from a generator seeded by (seed, step).

    >>> draw_prompts([1.0, 1.0, 1.0], 3, seed=0, step=0) == draw_prompts([1.0, 1.0, 1.0], 3, seed=0, step=0)
    True
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + 500_009 * step + 17)
    probabilities = torch.tensor(weights, dtype=torch.float64)
    replacement = size > len(weights)
    drawn = torch.multinomial(probabilities, size, replacement=replacement, generator=generator)
    return [int(i) for i in drawn]


def sampling_metrics(weights: list[float], seen: int) -> dict[str, float]:
    """The spread of the weights: entropy of the draw's distribution over log(prompts) (1: uniform), the least
    and largest weight, and the share of prompts drawn at least once.

    >>> sampling_metrics([1.0, 1.0], 1)["sampling_entropy"]
    1.0
    """
    total = sum(weights)
    entropy = -sum(w / total * math.log(w / total) for w in weights if w > 0)
    return {
        "sampling_entropy": entropy / math.log(len(weights)) if len(weights) > 1 else 1.0,
        "sampling_min_weight": min(weights),
        "sampling_max_weight": max(weights),
        "sampling_seen": seen / len(weights),
    }


def group_means(indices: list[int], rollouts: list[Rollout], group_size: int) -> list[tuple[int, float]]:
    """(prompt index, mean reward of its group) for a step's rollouts, laid out group after group."""
    return [
        (index, sum(r.reward for r in rollouts[g * group_size : (g + 1) * group_size]) / group_size)
        for g, index in enumerate(indices)
    ]


def sampled_tokens(rollouts: list[Rollout]) -> int:
    """Tokens the policy sampled in these rollouts (a truncated completion whose loss is masked: its length)."""
    return sum(r.sampled_tokens() for r in rollouts)


def check_schedule(
    sampling: PromptSampling,
    reference_reset_steps: int,
    reset_optimizer: bool,
    max_generated_tokens: int,
    kl_coef: float,
    lora: bool,
) -> None:
    """The checks of the sampling, reset and budget fields of a GRPO config (called from its __post_init__)."""
    if reference_reset_steps < 0:
        raise UserError("grpo.reference_reset_steps: must be >= 0 (0: the reference is never reset)")
    if max_generated_tokens < 0:
        raise UserError("grpo.max_generated_tokens: must be >= 0 (0: no budget, the run takes `steps` steps)")
    if reset_optimizer and not reference_reset_steps:
        raise UserError(
            "grpo.reset_optimizer: resets AdamW's state at each reference reset; set reference_reset_steps > 0"
        )
    if reference_reset_steps and kl_coef <= 0:
        raise UserError(
            "grpo.reference_reset_steps: with kl_coef 0 there is no KL reference to reset; set kl_coef > 0 "
            "(e.g. 0.001) or reference_reset_steps: 0"
        )
    if reference_reset_steps and lora:
        raise UserError(
            "grpo.reference_reset_steps: with LoRA the reference is the base model with the adapter disabled, "
            "which a reset would have to rewrite; train all weights (lora.enabled: false) to use resets"
        )

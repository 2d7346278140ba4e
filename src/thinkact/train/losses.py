"""GRPO's advantages and policy loss as pure tensor functions.

Shapes are in the names: `_B` one value per sample (B = groups × group size), `_G` per group, `_BT` per sample and
completion token. `mask_BT` is the loss mask: 1 only on tokens the policy sampled (never prompt, padding or tool
results), kept apart from any attention mask.

Advantages (`scale`): "group" divides each group's centred rewards by the group's standard deviation (GRPO,
DeepSeekMath), "batch" by the batch's standard deviation of centred rewards, "none" leaves them centred
(Dr. GRPO). Loss aggregation: "grpo" averages tokens within each sequence, then sequences; "dapo" averages over
all tokens of the batch (token-level, DAPO); "dr_grpo" sums tokens and divides by a constant (batch size ×
maximum completion length), which removes the length bias (Dr. GRPO). The surrogate is PPO's clipped one with
separate low/high bounds (DAPO's clip-higher); the KL penalty is the k3 estimator to a reference policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import torch


class AdvantageScale(StrEnum):
    GROUP = "group"
    BATCH = "batch"
    NONE = "none"


class LossAggregation(StrEnum):
    GRPO = "grpo"
    DR_GRPO = "dr_grpo"
    DAPO = "dapo"


def group_advantages(
    rewards_B: torch.Tensor,
    group_size: int,
    scale: AdvantageScale | str = AdvantageScale.GROUP,
    eps: float = 1e-4,
) -> torch.Tensor:
    """Rewards centred on their group's mean, scaled as `scale` says.

    >>> [round(a, 4) for a in group_advantages(torch.tensor([1.0, 0.0, 0.5, 0.5]), 2).tolist()]  # 0.5 / std 0.7071
    [0.707, -0.707, 0.0, 0.0]
    """
    rewards_GS = rewards_B.view(-1, group_size)
    centred_GS = rewards_GS - rewards_GS.mean(dim=1, keepdim=True)
    scale = AdvantageScale(scale)
    if scale is AdvantageScale.GROUP:
        std_G1 = (
            rewards_GS.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(centred_GS[:, :1])
        )
        centred_GS = centred_GS / (std_G1 + eps)
    elif scale is AdvantageScale.BATCH:
        centred_GS = centred_GS / (centred_GS.std() + eps) if centred_GS.numel() > 1 else centred_GS
    return centred_GS.reshape(-1)


def varied_groups(rewards_B: torch.Tensor, group_size: int, tolerance: float = 1e-6) -> torch.Tensor:
    """Per group, True when its rewards are not all equal (DAPO's dynamic sampling keeps only these).

    >>> varied_groups(torch.tensor([1.0, 1.0, 0.0, 1.0]), 2).tolist()
    [False, True]
    """
    rewards_GS = rewards_B.view(-1, group_size)
    return (rewards_GS.max(dim=1).values - rewards_GS.min(dim=1).values) > tolerance


@dataclass
class LossParts:
    loss: torch.Tensor
    """The scalar to minimise."""
    clip_fraction: float
    """Share of loss tokens whose ratio was clipped."""
    kl: float
    """Mean k3 KL estimate over loss tokens (0 without a reference)."""


def policy_loss(
    logp_BT: torch.Tensor,
    old_logp_BT: torch.Tensor,
    advantages_B: torch.Tensor,
    mask_BT: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    aggregation: LossAggregation | str = LossAggregation.GRPO,
    ref_logp_BT: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    max_completion_length: int | None = None,
) -> LossParts:
    """Clipped surrogate (+ k3 KL) over the masked tokens, aggregated as `aggregation` says.

    With ratio 1 (on-policy, first pass) the loss is minus the mean advantage:

    >>> lp = torch.zeros(2, 3)
    >>> policy_loss(lp, lp, torch.tensor([1.0, -3.0]), torch.ones(2, 3)).loss.item()
    1.0
    """
    mask_BT = mask_BT.to(logp_BT.dtype)
    ratio_BT = torch.exp(logp_BT - old_logp_BT)
    advantages_B1 = advantages_B.unsqueeze(1)
    unclipped_BT = ratio_BT * advantages_B1
    clipped_BT = torch.clamp(ratio_BT, 1.0 - clip_low, 1.0 + clip_high) * advantages_B1
    per_token_BT = -torch.minimum(unclipped_BT, clipped_BT)
    kl_value = 0.0
    if ref_logp_BT is not None and kl_coef > 0:
        delta_BT = ref_logp_BT - logp_BT
        kl_BT = torch.exp(delta_BT) - delta_BT - 1.0
        per_token_BT = per_token_BT + kl_coef * kl_BT
        kl_value = float((kl_BT.detach() * mask_BT).sum() / mask_BT.sum().clamp(min=1.0))
    loss = aggregate(per_token_BT, mask_BT, aggregation, max_completion_length)
    was_clipped_BT = (unclipped_BT != clipped_BT).to(mask_BT.dtype)
    clip_fraction = float((was_clipped_BT * mask_BT).sum().detach() / mask_BT.sum().clamp(min=1.0))
    return LossParts(loss=loss, clip_fraction=clip_fraction, kl=kl_value)


def aggregate(
    per_token_BT: torch.Tensor,
    mask_BT: torch.Tensor,
    aggregation: LossAggregation | str,
    max_completion_length: int | None = None,
) -> torch.Tensor:
    """Reduce per-token losses to a scalar.

    >>> x, m = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    >>> [round(aggregate(x, m, a, 3).item(), 4) for a in ("grpo", "dapo", "dr_grpo")]  # 2.5, 7/4, 7/6
    [2.5, 1.75, 1.1667]
    """
    aggregation = LossAggregation(aggregation)
    masked_BT = per_token_BT * mask_BT
    if aggregation is LossAggregation.GRPO:
        return (masked_BT.sum(dim=1) / mask_BT.sum(dim=1).clamp(min=1.0)).mean()
    if aggregation is LossAggregation.DAPO:
        return masked_BT.sum() / mask_BT.sum().clamp(min=1.0)
    length = max_completion_length or per_token_BT.shape[1]
    return masked_BT.sum() / (per_token_BT.shape[0] * length)


def token_logprobs(
    logits_BTV: torch.Tensor, targets_BT: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Log-probability of each target token under the logits (already shifted so that position t predicts t).

    >>> logits = torch.log(torch.tensor([[[0.25, 0.75]]]))
    >>> round(token_logprobs(logits, torch.tensor([[1]])).exp().item(), 4)
    0.75
    """
    logits_BTV = logits_BTV.float() / temperature
    return torch.gather(logits_BTV.log_softmax(dim=-1), 2, targets_BT.unsqueeze(-1)).squeeze(-1)


def nll_loss(logp_BT: torch.Tensor, mask_BT: torch.Tensor) -> torch.Tensor:
    """Summed negative log-likelihood of the masked tokens (the caller divides by the batch's token count, so that
    micro-batches add up to the token-level mean SFT takes).

    >>> round(nll_loss(torch.log(torch.tensor([[0.5, 0.25]])), torch.tensor([[1.0, 1.0]])).item(), 4)  # ln 2 + ln 4
    2.0794
    """
    return -(logp_BT * mask_BT.to(logp_BT.dtype)).sum()


def action_mask(ids_T: list[int], mask_T: list[int], think_open: int, think_close: int) -> list[int]:
    """`mask_T` with every token of a think block (from `<think>` through `</think>`) set to 0, so the loss falls
    on the action alone; a block that never closes masks everything after its `<think>`.

    >>> action_mask([5, 1, 7, 8, 2, 9, 3], [1, 1, 1, 1, 1, 1, 0], think_open=1, think_close=2)
    [1, 0, 0, 0, 0, 1, 0]
    """
    kept, inside = [], False
    for token, bit in zip(ids_T, mask_T, strict=True):
        if token == think_open:
            inside = True
        kept.append(0 if inside else bit)
        if token == think_close:
            inside = False
    return kept

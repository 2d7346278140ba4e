"""Rollouts as tensors for the loss, and the metrics of a step.

`layout` puts each rollout as [left-padded prompt | right-padded completion] so every completion starts at the same
column (only the completion's logits are then computed); `micro_weight` scales micro-batch losses so that their
summed gradient is the full batch's for every aggregation; `step_metrics` summarises a step's rollouts.
"""

from __future__ import annotations

import torch

from thinkact.rollout.records import Rollout
from thinkact.train.grpo_config import GRPORunConfig
from thinkact.train.losses import LossAggregation


def layout(rollouts: list[Rollout], pad: int) -> dict[str, torch.Tensor]:
    """[left-padded prompt | right-padded completion] ids with attention, loss and SFT masks, and which distinct
    prompt each row has (rows of one group share theirs: `train/shared_prompt.py` computes it once)."""
    prompt_width = max(len(r.prompt_ids) for r in rollouts)
    completion_width = max(len(r.completion_ids) for r in rollouts)
    ids, attention, completions, masks, sft_masks, prompts = [], [], [], [], [], []
    distinct: dict[tuple[int, ...], int] = {}
    for r in rollouts:
        prompts.append(distinct.setdefault(tuple(r.prompt_ids), len(distinct)))
        left = prompt_width - len(r.prompt_ids)
        right = completion_width - len(r.completion_ids)
        ids.append([pad] * left + r.prompt_ids + r.completion_ids + [pad] * right)
        attention.append([0] * left + [1] * (len(r.prompt_ids) + len(r.completion_ids)) + [0] * right)
        completions.append(r.completion_ids + [pad] * right)
        masks.append(r.loss_mask + [0] * right)
        sft_masks.append((r.sft_mask or [0] * len(r.completion_ids)) + [0] * right)
    return {
        "input_ids_BL": torch.tensor(ids),
        "attention_BL": torch.tensor(attention),
        "completion_ids_BC": torch.tensor(completions),
        "mask_BC": torch.tensor(masks, dtype=torch.float32),
        "sft_mask_BC": torch.tensor(sft_masks, dtype=torch.float32),
        "prompt_index_B": torch.tensor(prompts),
    }


def micro_weight(aggregation: str, mask_BC: torch.Tensor, total_tokens: float, batch_size: int) -> float:
    """Scale of a micro-batch's loss so that the summed gradient equals the full batch's."""
    if LossAggregation(aggregation) is LossAggregation.DAPO:
        return float(mask_BC.sum()) / total_tokens
    return mask_BC.shape[0] / batch_size


def step_metrics(rollouts: list[Rollout], keep_B: torch.Tensor, config: GRPORunConfig) -> dict[str, float]:
    metrics = {
        "reward": mean([r.reward for r in rollouts]),
        "reward_std": float(torch.tensor([r.reward for r in rollouts]).std()) if len(rollouts) > 1 else 0.0,
        "completion_tokens": mean([_sampled(r) for r in rollouts]),
        "truncated": mean([float(r.truncated) for r in rollouts]),
        "kept_groups": float(keep_B.sum()) / config.group_size,
        "parse_problems": mean([float(bool(r.action.problems)) for r in rollouts]),
    }
    for name in sorted({name for r in rollouts for name in r.components}):
        metrics[f"reward/{name}"] = mean([r.components[name] for r in rollouts if name in r.components])
    if config.prefix.enabled:
        metrics.update(prefix_metrics(rollouts, config.group_size, config.prefix.members))
    return metrics


def prefix_metrics(rollouts: list[Rollout], group_size: int, members: int) -> dict[str, float]:
    """Prefix-guided groups: the first `members` of each group were prefixed, the rest free; each side's
    reward and sampled tokens, and the forced prefix's length.

    >>> from thinkact.parse import Action
    >>> r = [Rollout("a", [1], [5, 6, 7], [0, 0, 1], "", Action(), False, reward=1.0, prefix_tokens=2),
    ...      Rollout("a", [1], [8], [1], "", Action(), False, reward=0.0)]
    >>> prefix_metrics(r, 2, 1)["reward_prefixed"], prefix_metrics(r, 2, 1)["prefix_tokens"]
    (1.0, 2.0)
    """
    prefixed = [r for index, r in enumerate(rollouts) if index % group_size < members]
    free = [r for index, r in enumerate(rollouts) if index % group_size >= members]
    return {
        "reward_prefixed": mean([r.reward for r in prefixed]),
        "reward_free": mean([r.reward for r in free]),
        "prefix_tokens": mean([float(r.prefix_tokens) for r in prefixed]),
        "completion_tokens_prefixed": mean([float(_sampled(r)) for r in prefixed]),
        "completion_tokens_free": mean([float(_sampled(r)) for r in free]),
        "truncated_prefixed": mean([float(r.truncated) for r in prefixed]),
    }


def _sampled(r: Rollout) -> int:
    """Tokens the policy sampled (the loss mask, or when truncation masked it, the completion less the prefix)."""
    return r.sampled_tokens()


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0

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
    """[left-padded prompt | right-padded completion] ids with attention and loss masks, and which distinct prompt
    each row has (rows of one group share theirs: `train/shared_prompt.py` computes it once)."""
    prompt_width = max(len(r.prompt_ids) for r in rollouts)
    completion_width = max(len(r.completion_ids) for r in rollouts)
    ids, attention, completions, masks, prompts = [], [], [], [], []
    distinct: dict[tuple[int, ...], int] = {}
    for r in rollouts:
        prompts.append(distinct.setdefault(tuple(r.prompt_ids), len(distinct)))
        left = prompt_width - len(r.prompt_ids)
        right = completion_width - len(r.completion_ids)
        ids.append([pad] * left + r.prompt_ids + r.completion_ids + [pad] * right)
        attention.append([0] * left + [1] * (len(r.prompt_ids) + len(r.completion_ids)) + [0] * right)
        completions.append(r.completion_ids + [pad] * right)
        masks.append(r.loss_mask + [0] * right)
    return {
        "input_ids_BL": torch.tensor(ids),
        "attention_BL": torch.tensor(attention),
        "completion_ids_BC": torch.tensor(completions),
        "mask_BC": torch.tensor(masks, dtype=torch.float32),
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
        "completion_tokens": mean([sum(r.loss_mask) or len(r.completion_ids) for r in rollouts]),
        "truncated": mean([float(r.truncated) for r in rollouts]),
        "kept_groups": float(keep_B.sum()) / config.group_size,
        "parse_problems": mean([float(bool(r.action.problems)) for r in rollouts]),
    }
    for name in sorted({name for r in rollouts for name in r.components}):
        metrics[f"reward/{name}"] = mean([r.components[name] for r in rollouts if name in r.components])
    return metrics


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0

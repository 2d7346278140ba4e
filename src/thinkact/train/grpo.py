"""GRPO in turn mode on accelerate: sample a group per prompt, score it, normalise, take clipped policy steps.

A prompt is a conversation up to one assistant turn (its reference is that turn's action). Each step takes
`prompts_per_step` prompts in a seeded order, samples `group_size` completions for each, parses them, scores them
with the combined reward (every component logged), turns rewards into group-normalised advantages, optionally
drops groups whose rewards are all equal (they carry no signal), and minimises the clipped surrogate (+ KL to a
frozen reference) for `passes` optimisation passes. Each process of an `accelerate launch` takes its share of
the step's prompts; gradients are averaged by accelerate.

Sequences are laid out as [left-padded prompt | right-padded completion], so every completion starts at the same
column and only the completion's logits are computed (`logits_to_keep`), with position ids from the attention
mask as `generate` uses them. Left out here: multi-turn episodes with tools executed, checkpoint resume, the TRL
engine (see the issue tracker).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.tensorboard import SummaryWriter
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.config import save_config
from thinkact.data.conversations import TurnExample, read_conversations, turn_examples
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_policy
from thinkact.parse import action_from_message, parse_action
from thinkact.rewards.combine import RewardConfig, score_action
from thinkact.rollout.generation import decode, sample
from thinkact.rollout.records import Rollout
from thinkact.train.losses import (
    AdvantageScale,
    LossAggregation,
    group_advantages,
    policy_loss,
    token_logprobs,
    varied_groups,
)


@dataclass
class GRPORunConfig:
    model: str = "runs/sft-think/model"
    """Starting policy: a model directory (usually the think-SFT warm-up)."""
    data: str = "runs/data/train.jsonl"
    """Training conversations; every scored assistant turn is a prompt."""
    out: str = "runs/grpo"
    steps: int = 30
    prompts_per_step: int = 8
    group_size: int = 4
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    kl_coef: float = 0.0
    """Weight of the k3 KL penalty to the starting policy (0: no reference model is kept)."""
    clip_low: float = 0.2
    clip_high: float = 0.2
    """Upper clip bound (DAPO's clip-higher uses 0.28)."""
    loss: str = "grpo"
    """Loss aggregation: grpo (per-sequence mean), dr_grpo (constant normaliser) or dapo (token-level)."""
    advantage_scale: str = "group"
    """Advantage scaling: group (GRPO), batch, or none (Dr. GRPO)."""
    drop_equal_groups: bool = True
    """Leave out groups whose rewards are all equal (DAPO's dynamic sampling)."""
    passes: int = 1
    """Optimisation passes over each rollout batch (importance ratios against the sampling policy)."""
    mask_truncated: bool = True
    """Completions cut by max_new_tokens carry no loss."""
    micro_batch: int = 8
    """Sequences per forward/backward pass (memory knob; the result does not depend on it)."""
    max_prompt_tokens: int = 2048
    """Prompts longer than this are reported and left out."""
    seed: int = 0
    log_steps: int = 1
    sample_steps: int = 10
    """Write a few sample rollouts to samples.jsonl every N steps (0: never)."""
    rewards: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "prompts_per_step": self.prompts_per_step >= 1,
            "group_size": self.group_size >= 2,
            "max_new_tokens": self.max_new_tokens >= 1,
            "passes": self.passes >= 1,
            "micro_batch": self.micro_batch >= 1,
            "learning_rate": self.learning_rate > 0,
            "temperature": self.temperature > 0,
            "kl_coef": self.kl_coef >= 0,
            "clip_low": 0 <= self.clip_low < 1,
            "clip_high": self.clip_high >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise UserError(f"grpo.{bad[0]}: out of range (group_size >= 2, temperature > 0, counts >= 1)")
        if self.loss not in {a.value for a in LossAggregation}:
            raise UserError(f"grpo.loss: {self.loss!r}; choose one of {[a.value for a in LossAggregation]}")
        if self.advantage_scale not in {a.value for a in AdvantageScale}:
            raise UserError(
                f"grpo.advantage_scale: {self.advantage_scale!r}; choose one of {[a.value for a in AdvantageScale]}"
            )


StepCallback = Callable[[int, dict[str, float]], None]


class GRPOTrainer:
    """The turn-mode engine; `train()` runs `config.steps` steps and saves the final model."""

    def __init__(
        self, config: GRPORunConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        self.reference = _frozen_copy(model) if config.kl_coef > 0 else None
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
        )
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.examples: list[TurnExample] = []
        self.prompt_ids: list[list[int]] = []

    def load_data(self, path: str | Path) -> int:
        """Encode every scored turn of `path` as a prompt; returns how many were too long to keep."""
        too_long = 0
        for turn in turn_examples(read_conversations(path)):
            if turn.reference.get("score") is False:
                continue
            ids = encode_prompt(self.tokenizer, turn.messages, turn.tools)
            if len(ids) > self.config.max_prompt_tokens:
                too_long += 1
                continue
            self.examples.append(turn)
            self.prompt_ids.append(ids)
        if not self.examples:
            raise UserError(
                f"{path}: no prompt fits in grpo.max_prompt_tokens={self.config.max_prompt_tokens}"
            )
        return too_long

    def prompts_for_step(self, step: int) -> list[int]:
        """Indices of this process's prompts at `step`: a seeded permutation per epoch, then a slice."""
        size = self.config.prompts_per_step
        count = len(self.examples)
        indices = []
        for position in range(step * size, (step + 1) * size):
            epoch, offset = divmod(position, count)
            generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
            indices.append(int(torch.randperm(count, generator=generator)[offset]))
        return indices[self.accelerator.process_index :: self.accelerator.num_processes]

    def rollout(self, step: int, indices: list[int]) -> list[Rollout]:
        """Sample and score a group for each prompt."""
        config = self.config
        policy = self.accelerator.unwrap_model(self.model)
        groups = sample(
            policy,
            self.tokenizer,
            [self.prompt_ids[i] for i in indices],
            num_samples=config.group_size,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            batch_size=config.micro_batch * 2,
            seed=config.seed * 7919 + self.accelerator.process_index,
            step=step,
        )
        rollouts = []
        for index, group in zip(indices, groups, strict=True):
            example = self.examples[index]
            reference = action_from_message(example.reference)
            metric = example.meta.get("answer_metric")
            for completion in group:
                text = decode(self.tokenizer, completion.completion_ids)
                action = parse_action(text)
                reward = score_action(action, reference, example.tools, config.rewards, answer_metric=metric)
                mask = [0 if (completion.truncated and config.mask_truncated) else 1] * len(
                    completion.completion_ids
                )
                rollouts.append(
                    Rollout(
                        example_id=example.id,
                        prompt_ids=completion.prompt_ids,
                        completion_ids=completion.completion_ids,
                        loss_mask=mask,
                        text=text,
                        action=action,
                        truncated=completion.truncated,
                        reward=reward.total,
                        components=reward.components,
                    )
                )
        return rollouts

    def step(self, step: int) -> tuple[dict[str, float], list[Rollout]]:
        """One GRPO step: rollouts, then `learn`. Returns the metrics and the rollouts."""
        started = time.perf_counter()
        rollouts = self.rollout(step, self.prompts_for_step(step))
        generated_at = time.perf_counter()
        metrics = self.learn(rollouts)
        elapsed = time.perf_counter() - started
        metrics.update(
            step_seconds=elapsed,
            generate_seconds=generated_at - started,
            tokens_per_second=sum(len(r.completion_ids) for r in rollouts) / max(elapsed, 1e-9),
        )
        return metrics, rollouts

    def learn(self, rollouts: list[Rollout]) -> dict[str, float]:
        """Advantages from the rollouts' rewards, then `passes` optimiser steps; returns the step's metrics."""
        config = self.config
        rewards_B = torch.tensor([r.reward for r in rollouts], dtype=torch.float32)
        advantages_B = group_advantages(rewards_B, config.group_size, config.advantage_scale)
        keep_B = torch.ones_like(rewards_B, dtype=torch.bool)
        if config.drop_equal_groups:
            keep_B = varied_groups(rewards_B, config.group_size).repeat_interleave(config.group_size)
        kept = [i for i in range(len(rollouts)) if keep_B[i]]
        losses: list[float] = []
        kls: list[float] = []
        clips: list[float] = []
        if kept:
            batch = _layout([rollouts[i] for i in kept], self.tokenizer.pad_token_id)
            batch["advantages_B"] = advantages_B[keep_B]
            old_logp_BT = self._logprobs(batch, self.model) if config.passes > 1 else None
            ref_logp_BT = self._logprobs(batch, self.reference) if self.reference is not None else None
            for _ in range(config.passes):
                loss, kl, clip = self._optimise(batch, old_logp_BT, ref_logp_BT)
                losses.append(loss)
                kls.append(kl)
                clips.append(clip)
        metrics = _step_metrics(rollouts, keep_B, config)
        metrics.update(loss=_mean(losses), kl=_mean(kls), clip_fraction=_mean(clips))
        return metrics

    def _optimise(
        self,
        batch: dict[str, torch.Tensor],
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
    ) -> tuple[float, float, float]:
        config = self.config
        self.model.train()
        size = batch["input_ids_BL"].shape[0]
        total_tokens = float(batch["mask_BC"].sum().clamp(min=1.0))
        loss_sum = kl_sum = clip_sum = 0.0
        self.optimizer.zero_grad()
        for start in range(0, size, config.micro_batch):
            part = slice(start, min(start + config.micro_batch, size))
            micro = {key: value[part] for key, value in batch.items()}
            logp_BT = self._forward_logprobs(self.model, micro)
            parts = policy_loss(
                logp_BT,
                old_logp_BT[part] if old_logp_BT is not None else logp_BT.detach(),
                micro["advantages_B"],
                micro["mask_BC"],
                clip_low=config.clip_low,
                clip_high=config.clip_high,
                aggregation=config.loss,
                ref_logp_BT=ref_logp_BT[part] if ref_logp_BT is not None else None,
                kl_coef=config.kl_coef,
                max_completion_length=config.max_new_tokens,
            )
            weight = _micro_weight(config.loss, micro["mask_BC"], total_tokens, size)
            self.accelerator.backward(parts.loss * weight)
            loss_sum += float(parts.loss) * weight
            kl_sum += parts.kl * weight
            clip_sum += parts.clip_fraction * weight
        self.accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss_sum, kl_sum, clip_sum

    @torch.no_grad()
    def _logprobs(self, batch: dict[str, torch.Tensor], model: Any) -> torch.Tensor:
        size = batch["input_ids_BL"].shape[0]
        parts = []
        for start in range(0, size, self.config.micro_batch):
            part = slice(start, min(start + self.config.micro_batch, size))
            parts.append(self._forward_logprobs(model, {key: value[part] for key, value in batch.items()}))
        return torch.cat(parts)

    def _forward_logprobs(self, model: Any, micro: dict[str, torch.Tensor]) -> torch.Tensor:
        width = micro["completion_ids_BC"].shape[1]
        device = self.accelerator.device
        attention_BL = micro["attention_BL"].to(device)
        positions_BL = (attention_BL.cumsum(dim=1) - 1).clamp(min=0)
        logits_BCV = model(
            input_ids=micro["input_ids_BL"].to(device),
            attention_mask=attention_BL,
            position_ids=positions_BL,
            logits_to_keep=width + 1,
        ).logits[:, :-1]
        return token_logprobs(
            logits_BCV, micro["completion_ids_BC"].to(device), self.config.temperature
        ).cpu()

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            self.accelerator.unwrap_model(self.model).save_pretrained(directory)
            self.tokenizer.save_pretrained(directory)
        return directory


def _layout(rollouts: list[Rollout], pad: int) -> dict[str, torch.Tensor]:
    """[left-padded prompt | right-padded completion] ids with attention and loss masks."""
    prompt_width = max(len(r.prompt_ids) for r in rollouts)
    completion_width = max(len(r.completion_ids) for r in rollouts)
    ids, attention, completions, masks = [], [], [], []
    for r in rollouts:
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
    }


def _micro_weight(aggregation: str, mask_BC: torch.Tensor, total_tokens: float, batch_size: int) -> float:
    """Scale of a micro-batch's loss so that the summed gradient equals the full batch's."""
    if LossAggregation(aggregation) is LossAggregation.DAPO:
        return float(mask_BC.sum()) / total_tokens
    return mask_BC.shape[0] / batch_size


def _step_metrics(rollouts: list[Rollout], keep_B: torch.Tensor, config: GRPORunConfig) -> dict[str, float]:
    metrics = {
        "reward": _mean([r.reward for r in rollouts]),
        "completion_tokens": _mean([len(r.completion_ids) for r in rollouts]),
        "truncated": _mean([float(r.truncated) for r in rollouts]),
        "kept_groups": float(keep_B.sum()) / config.group_size,
        "parse_problems": _mean([float(bool(r.action.problems)) for r in rollouts]),
    }
    names = sorted({name for r in rollouts for name in r.components})
    for name in names:
        values = [r.components[name] for r in rollouts if name in r.components]
        metrics[f"reward/{name}"] = _mean(values)
    return metrics


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
    reference = copy.deepcopy(model)
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def run_grpo(config: GRPORunConfig, on_step: StepCallback | None = None) -> Path:
    """Train with GRPO from `config.model`; writes config, metrics.jsonl, TensorBoard, samples and the model."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    model, tokenizer = load_policy(config.model)
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(config.data)
    writer = SummaryWriter(str(out / "tensorboard")) if trainer.accelerator.is_main_process else None
    with (out / "metrics.jsonl").open("w", encoding="utf-8") as metrics_file:
        for step in range(config.steps):
            metrics, rollouts = trainer.step(step)
            if not trainer.accelerator.is_main_process:
                continue
            metrics_file.write(json.dumps({"step": step + 1, **metrics}) + "\n")
            metrics_file.flush()
            if writer is not None:
                for name, value in metrics.items():
                    if math.isfinite(value):
                        writer.add_scalar(name, value, step + 1)
            if config.sample_steps and (step + 1) % config.sample_steps == 0:
                _write_samples(out / "samples.jsonl", step + 1, rollouts[: config.group_size])
            if on_step is not None:
                on_step(step + 1, metrics)
    if writer is not None:
        writer.close()
    return trainer.save(out / "model")


def _write_samples(path: Path, step: int, rollouts: list[Rollout]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for rollout in rollouts:
            handle.write(json.dumps({"step": step, **rollout.summary()}, ensure_ascii=False) + "\n")

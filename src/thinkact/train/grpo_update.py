"""GRPO's update: rewards → group advantages → clipped surrogate (+KL, +SFT) → backward → AdamW step.

`PolicyUpdate` holds what the update changes or reads: the policy (LoRA-wrapped when `lora.enabled`), AdamW, the
KL reference and the accelerator. `learn` turns a step's rollouts into advantages, drops equal-reward groups
(`drop_equal_groups`), computes the sampling and reference log-probs once, and takes `passes` optimiser steps;
each pass does one synchronised backward per process (`accumulate`), gradients clipped and the step's learning
rate set before AdamW steps. The processes' losses are scaled so that their averaged gradient is one big batch's.
With LoRA the KL reference is the policy with its adapter disabled; otherwise a frozen copy (made only with
`kl_coef` > 0). Left out: the rollouts and their rewards (`grpo_rollouts.py`), and the schedule state and
checkpoints (`grpo_state.py`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, gather_object
from peft import get_peft_model
from transformers import PreTrainedModel

from thinkact.errors import UserError
from thinkact.models.lora import lora_config
from thinkact.rollout.records import Rollout
from thinkact.train.batches import layout, mean, micro_weight, step_metrics
from thinkact.train.grpo_config import GRPORunConfig, HybridRule, Mode, hybrid_weight, learning_rate_at
from thinkact.train.losses import group_advantages, nll_loss, policy_loss, varied_groups
from thinkact.train.shared_prompt import completion_logprobs

Batch = dict[str, torch.Tensor]
"""A laid-out batch (`train/batches.py`): `input_ids_BL`, `mask_BC`, … plus the update's `advantages_B`,
`weight_B` and `rank_scale`."""

Losses = tuple[float, float, float, dict[str, float]]
"""(loss, kl, clip fraction, mix metrics) of one optimiser step."""


def make_accelerator(config: GRPORunConfig) -> Accelerator:
    """The run's accelerator (CPU without CUDA), once the config is checked against the launch it runs under.

    Refused: `prompts_per_step` that does not split over the processes, `hybrid.rule: grad_norm` under DeepSpeed,
    `reference_reset_steps` with sharded weights. Left out: the model (`PolicyUpdate` prepares it).
    """
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    processes = accelerator.num_processes
    if config.prompts_per_step % processes:
        raise UserError(
            f"grpo.prompts_per_step: {config.prompts_per_step} does not split evenly over {processes} processes; "
            f"use a multiple of {processes}"
        )
    deepspeed = accelerator.state.deepspeed_plugin
    if deepspeed is not None and config.hybrid.rule == HybridRule.GRAD_NORM:
        raise UserError(
            "grpo.hybrid.rule: grad_norm reads each loss's gradients, which DeepSpeed keeps to itself; "
            "use rule fixed or linear under DeepSpeed"
        )
    if deepspeed is not None:  # accelerate needs it without a dataloader; one micro-batch per backward
        deepspeed.deepspeed_config["train_micro_batch_size_per_gpu"] = config.micro_batch
    sharded = accelerator.distributed_type == DistributedType.FSDP or (
        deepspeed is not None and deepspeed.zero_stage == 3
    )
    if config.reference_reset_steps and sharded:
        raise UserError(
            "grpo.reference_reset_steps: not under FSDP or DeepSpeed ZeRO-3 (the policy's weights are sharded, "
            "the reference is a whole copy); use DDP or ZeRO-2, or reference_reset_steps: 0"
        )
    return accelerator


def make_optimizer(parameters: list[torch.nn.Parameter], config: GRPORunConfig) -> torch.optim.Optimizer:
    """GRPO's optimiser: AdamW at the first step's rate (`learning_rate_at` sets each step's before it steps)."""
    return torch.optim.AdamW(parameters, lr=learning_rate_at(config, 0), weight_decay=config.weight_decay)


class PolicyUpdate:
    """The policy, its optimiser and KL reference, and the steps that train them. Left out: generation."""

    def __init__(
        self, config: GRPORunConfig, model: PreTrainedModel, accelerator: Accelerator, pad_id: int
    ) -> None:
        """Wrap `model` for training (gradient checkpointing, LoRA), make the KL reference and AdamW, and prepare
        both with `accelerator`; `pad_id` pads the laid-out batches."""
        self.config = config
        self.accelerator = accelerator
        self.pad_id = pad_id
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        if config.lora.enabled:
            model = get_peft_model(model, lora_config(config.lora, model))  # type: ignore[assignment]
        # With LoRA the reference is the base model: the adapter disabled, no copy.
        self.reference = _frozen_copy(model) if config.kl_coef > 0 and not config.lora.enabled else None
        if self.reference is not None:  # prepare() moves the policy to the device, not this copy
            self.reference.to(accelerator.device)
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)

    def learn(
        self, rollouts: list[Rollout], step: int = 0, sft_batch: Batch | None = None
    ) -> dict[str, float]:
        """Advantages from the rollouts' rewards, then `passes` optimiser steps; returns the step's metrics,
        averaged over the processes. `sft_batch` (`hybrid`) is the step's reference turns.

        Prefixed members are ordinary group members here: their rewards enter the group's mean and standard
        deviation like the free members' (Prefix-RFT, LUFFY), and only the tokens they sampled carry the loss.
        """
        config = self.config
        rewards_B = torch.tensor([r.reward for r in rollouts], dtype=torch.float32)
        advantages_B = group_advantages(rewards_B, config.group_size, config.advantage_scale)
        keep_B = torch.ones_like(rewards_B, dtype=torch.bool)
        if config.drop_equal_groups:
            keep_B = varied_groups(rewards_B, config.group_size).repeat_interleave(config.group_size)
        kept_everywhere = int(self.accelerator.reduce(torch.tensor(int(keep_B.sum())), reduction="sum"))
        losses: list[float] = []
        kls: list[float] = []
        clips: list[float] = []
        mixes: list[dict[str, float]] = []
        if kept_everywhere:  # every process steps together, or none does
            batch = self._kept_batch(rollouts, advantages_B, keep_B)
            old_logp_BT = self.logprobs(batch, self.model) if config.passes > 1 else None
            ref_logp_BT = self.reference_logprobs(batch)
            for _ in range(config.passes):
                loss, kl, clip, mix = self._optimise(batch, old_logp_BT, ref_logp_BT, step, sft_batch)
                losses.append(loss)
                kls.append(kl)
                clips.append(clip)
                mixes.append(mix)
        metrics = step_metrics(rollouts, keep_B, config)
        metrics.update(loss=mean(losses), kl=mean(kls), clip_fraction=mean(clips))
        for name in sorted({name for mix in mixes for name in mix}):
            metrics[name] = mean([mix[name] for mix in mixes if name in mix])
        if config.hybrid.enabled and not mixes:  # no group kept anywhere: no step, and no gradient to weigh
            metrics["sft_weight"] = hybrid_weight(config, step, 1.0, 0.0)
        return self._mean_over_processes(metrics)

    def _kept_batch(self, rollouts: list[Rollout], advantages_B: torch.Tensor, keep_B: torch.Tensor) -> Batch:
        """The kept rollouts laid out, with their advantages, weights and this process's loss scale (a collective).

        A process whose groups were all dropped still joins the gradient sync, with one zero-weight row.
        """
        chosen = keep_B if keep_B.any() else torch.zeros_like(keep_B).index_fill_(0, torch.tensor([0]), True)
        batch = layout([r for r, k in zip(rollouts, chosen.tolist(), strict=True) if k], self.pad_id)
        batch["advantages_B"] = advantages_B[chosen] if keep_B.any() else torch.zeros(1)
        batch["weight_B"] = torch.full((int(chosen.sum()),), 1.0 if keep_B.any() else 0.0)
        local = float(batch["mask_BC"].sum() if self.config.loss == "dapo" else batch["mask_BC"].shape[0])
        scale = self._rank_scale(local if keep_B.any() else 0.0)  # a collective: every process calls it
        batch["rank_scale"] = torch.full((int(chosen.sum()),), scale)
        return batch

    def _rank_scale(self, local: float) -> float:
        """Scale of this process's loss so that the processes' averaged gradient equals one big batch's.

        Each process normalises over its own kept sequences (grpo, dr_grpo) or tokens (dapo) and DDP averages
        the processes, so a process holding a share `local / total` of the batch is scaled by
        `processes * local / total`.
        """
        if self.accelerator.num_processes == 1:
            return 1.0 if local else 0.0
        total = float(self.accelerator.reduce(torch.tensor(local), reduction="sum"))
        return self.accelerator.num_processes * local / total if total else 0.0

    def _mean_over_processes(self, metrics: dict[str, float]) -> dict[str, float]:
        """Each metric averaged over the processes that report it (a collective; alone, unchanged)."""
        if self.accelerator.num_processes == 1:
            return metrics
        everyone = gather_object([metrics])
        names = sorted({name for entry in everyone for name in entry})
        return {name: mean([entry[name] for entry in everyone if name in entry]) for name in names}

    def _optimise(
        self,
        batch: Batch,
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
        step: int = 0,
        sft_batch: Batch | None = None,
    ) -> Losses:
        """One optimiser step: the gradients of the GRPO loss (and the SFT loss, `hybrid`), clipped, applied."""
        losses = self.accumulate(batch, old_logp_BT, ref_logp_BT, step, sft_batch)
        self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        for group in self.optimizer.param_groups:  # warm-up and schedule: a pure function of the step
            group["lr"] = learning_rate_at(self.config, step)
        self.optimizer.step()
        self.optimizer.zero_grad()
        return losses

    def accumulate(
        self,
        batch: Batch,
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
        step: int = 0,
        sft_batch: Batch | None = None,
    ) -> Losses:
        """Leave the step's gradient in the parameters' `.grad`; returns (loss, kl, clip fraction, mix metrics).

        Without `sft_batch` it is the GRPO loss's. With it (`hybrid`) the loss is (1 - w) * GRPO + w * SFT: for
        rules fixed and linear each loss is backpropagated with its weight and the gradients add up; for rule
        grad_norm the SFT gradient is computed first and set aside, then GRPO's, and w is read from their norms
        before they are combined, so the optimiser sees exactly the gradient of the weighted sum either way.
        Left out: clipping and the optimiser step.
        """
        mix: dict[str, float] = {}
        if sft_batch is None:
            loss, kl, clip, prefix_sft = self._grpo_backward(batch, old_logp_BT, ref_logp_BT)
            if self.config.prefix.sft_weight > 0:
                mix["prefix_sft_loss"] = prefix_sft
            return loss, kl, clip, mix
        if HybridRule(self.config.hybrid.rule) is not HybridRule.GRAD_NORM:
            w = hybrid_weight(self.config, step)
            sft = self._sft_backward(sft_batch, w)
            grpo, kl, clip, prefix_sft = self._grpo_backward(batch, old_logp_BT, ref_logp_BT, 1.0 - w)
        else:
            parameters = [p for p in self.model.parameters() if p.requires_grad]
            sft = self._sft_backward(sft_batch, 1.0, sync=True)
            sft_grads = [p.grad.detach().clone() if p.grad is not None else None for p in parameters]
            self.optimizer.zero_grad()
            grpo, kl, clip, prefix_sft = self._grpo_backward(batch, old_logp_BT, ref_logp_BT)
            sft_norm, grpo_norm = _grad_norm(sft_grads), _grad_norm([p.grad for p in parameters])
            w = hybrid_weight(self.config, step, sft_norm, grpo_norm)
            for parameter, sft_grad in zip(parameters, sft_grads, strict=True):
                if parameter.grad is not None:
                    parameter.grad.mul_(1.0 - w)
                if sft_grad is not None:
                    parameter.grad = (
                        sft_grad.mul_(w) if parameter.grad is None else parameter.grad.add_(sft_grad, alpha=w)
                    )
            mix.update(sft_grad_norm=sft_norm, grpo_grad_norm=grpo_norm)
        mix.update(sft_weight=w, sft_loss=sft, grpo_loss=grpo)
        if self.config.prefix.sft_weight > 0:
            mix["prefix_sft_loss"] = prefix_sft
        return (1.0 - w) * grpo + w * sft, kl, clip, mix

    def _sft_backward(self, sft_batch: Batch, scale: float, *, sync: bool = False) -> float:
        """Backpropagate `scale` times the token-mean NLL of the reference completions (SFT's loss, at
        temperature 1); returns the NLL. Gradients stay local unless `sync` (the GRPO pass that follows syncs)."""
        self.model.train()
        size = sft_batch["input_ids_BL"].shape[0]
        total_tokens = float(sft_batch["mask_BC"].sum().clamp(min=1.0))
        loss_sum = 0.0
        starts = list(range(0, size, self.config.micro_batch))
        for number, start in enumerate(starts):
            part = slice(start, min(start + self.config.micro_batch, size))
            micro = {key: value[part] for key, value in sft_batch.items()}
            last = sync and number == len(starts) - 1
            with contextlib.nullcontext() if last else self.accelerator.no_sync(self.model):
                logp_BT = self.forward_logprobs(self.model, micro, temperature=1.0)
                loss = nll_loss(logp_BT, micro["mask_BC"]) / total_tokens
                self.accelerator.backward(loss * scale)
            loss_sum += float(loss.detach())
        return loss_sum

    def _grpo_backward(
        self,
        batch: Batch,
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
        scale: float = 1.0,
    ) -> tuple[float, float, float, float]:
        """Backpropagate `scale` times the GRPO loss (with `prefix.sft_weight` times the NLL of the SFT-marked
        prefix tokens); returns (loss, kl, clip fraction, prefix NLL), the loss unscaled."""
        config = self.config
        self.model.train()
        size = batch["input_ids_BL"].shape[0]
        total_tokens = float(batch["mask_BC"].sum().clamp(min=1.0))
        prefix_tokens = float(batch["sft_mask_BC"].sum().clamp(min=1.0))
        prefix_weight = config.prefix.sft_weight
        loss_sum = kl_sum = clip_sum = prefix_sum = 0.0
        starts = list(range(0, size, config.micro_batch))
        for number, start in enumerate(starts):
            part = slice(start, min(start + config.micro_batch, size))
            micro = {key: value[part] for key, value in batch.items()}
            # Sync gradients across processes once per pass, on the last micro-batch.
            last = number == len(starts) - 1
            with contextlib.nullcontext() if last else self.accelerator.no_sync(self.model):
                logp_BT = self.forward_logprobs(self.model, micro)
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
                    max_completion_length=Mode(config.mode).completion_budget(config),
                )
                weight = (
                    micro_weight(config.loss, micro["mask_BC"], total_tokens, size)
                    * float(micro["weight_B"][0])
                    * float(micro["rank_scale"][0])
                )
                total = parts.loss * weight
                if (
                    prefix_weight > 0
                ):  # the forced reference prefix's NLL, a token mean over the batch's prefixes
                    prefix_nll = (
                        nll_loss(logp_BT, micro["sft_mask_BC"]) / prefix_tokens * float(micro["weight_B"][0])
                    )
                    total = total + prefix_weight * prefix_nll
                    prefix_sum += float(prefix_nll.detach())
                self.accelerator.backward(total * scale)
            loss_sum += float(total.detach())
            kl_sum += parts.kl * weight
            clip_sum += parts.clip_fraction * weight
        return loss_sum, kl_sum, clip_sum, prefix_sum

    def reference_logprobs(self, batch: Batch) -> torch.Tensor | None:
        """The KL reference's log-probs of the batch's completions (None without KL): with LoRA the policy with
        its adapter disabled, otherwise the frozen reference."""
        if self.config.kl_coef <= 0:
            return None
        if self.config.lora.enabled:
            with _adapter_disabled(self.accelerator.unwrap_model(self.model)):
                return self.logprobs(batch, self.model)
        return self.logprobs(batch, self.reference)

    @torch.no_grad()
    def logprobs(self, batch: Batch, model: Any) -> torch.Tensor:
        """`model`'s log-probs of the batch's completion tokens, micro-batch by micro-batch, without gradients."""
        size = batch["input_ids_BL"].shape[0]
        parts = []
        for start in range(0, size, self.config.micro_batch):
            part = slice(start, min(start + self.config.micro_batch, size))
            parts.append(self.forward_logprobs(model, {key: value[part] for key, value in batch.items()}))
        return torch.cat(parts)

    def forward_logprobs(self, model: Any, micro: Batch, temperature: float | None = None) -> torch.Tensor:
        """One micro-batch's completion log-probs under `model` (at the run's temperature unless given), each
        distinct prompt computed once (`share_prompt`). Left out: the loss."""
        # Gradient checkpointing recomputes layers, which would append to a shared prompt's cache twice.
        bf16 = self.config.update_dtype == "bfloat16"
        with torch.autocast(self.accelerator.device.type, dtype=torch.bfloat16, enabled=bf16):
            return completion_logprobs(
                model,
                micro,
                temperature=self.config.temperature if temperature is None else temperature,
                device=self.accelerator.device,
                prompt_model=self.accelerator.unwrap_model(model),
                per_sample=not self.config.share_prompt or self.config.gradient_checkpointing,
            )

    def reset_reference(self) -> None:
        """The KL reference becomes the current policy (ProRL), and AdamW's moments are cleared when
        `reset_optimizer`. Left out: recording the step (`GRPOTrainer.last_reset`)."""
        if self.reference is None:
            raise AssertionError("reference_reset_steps needs kl_coef > 0 and full weights (checked on load)")
        policy = self.accelerator.unwrap_model(self.model)
        self.reference.load_state_dict(policy.state_dict())
        if self.config.reset_optimizer:
            self.optimizer.state.clear()


def _grad_norm(grads: list[torch.Tensor | None]) -> float:
    """The L2 norm of a list of gradients (None: no gradient), as one vector."""
    present = [grad.detach().float() for grad in grads if grad is not None]
    return (
        float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in present])))
        if present
        else 0.0
    )


@contextlib.contextmanager
def _adapter_disabled(model: Any) -> Iterator[None]:
    """peft's `disable_adapter()` as a typed context manager."""
    with model.disable_adapter():
        yield


def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
    """A copy of `model` in eval mode with no parameter requiring gradients (the full-weight KL reference)."""
    reference = copy.deepcopy(model)
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference

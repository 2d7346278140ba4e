"""GRPO on accelerate: sample a group per prompt, score it, normalise, take clipped policy steps.

Two modes (`Mode`), one rollout: both play the episode loop (`rollout/loop.py`) on prompts built once
(`data/prompts.py`). In *turn* mode a prompt is a conversation up to one assistant turn, the loop takes one step
with no tools, and the completion is scored against that turn's reference action. In *episode* mode a prompt is a
conversation up to a user message; the policy acts, its calls run in the conversation's environment and the
results come back as tool messages until it answers (or reaches `max_turns`); with a simulated user (`user.kind`)
the user then answers and the episode runs to the end of the conversation. The episode is scored on its calls,
answer and final environment state (`rewards/episode.py`). Either way each step takes `prompts_per_step`
prompts in a seeded order, samples `group_size` rollouts for each, turns rewards into advantages
(`train/losses.py`), optionally drops groups whose rewards are all equal, and minimises the clipped surrogate
(+ KL to the starting policy) for `passes` optimisation passes, with importance ratios against the sampling policy.

Sequences are laid out as [left-padded prompt | right-padded completion], so every completion starts at the same
column and only the completion's logits are computed; position ids come from the attention mask as `generate` computes
them. Each distinct prompt of a micro-batch is computed once and its group's completions run against its KV cache
(`train/shared_prompt.py`), gradients flowing back through the shared prompt. The loss mask covers only tokens the
policy sampled. Under `accelerate launch` each process takes its share of the step's prompts and does exactly one
synchronised backward per pass. With LoRA the KL reference is the same model with its adapter disabled, so no second
copy is held. Runs checkpoint every `save_steps` atomically and `resume` continues from the last checkpoint with the
same data order and sampling seeds (both derive from (seed, step)), so a resumed run ends where an uninterrupted one
would; they also checkpoint their last step (unless the token budget ended them), so `resume` with a larger
`steps` extends a finished run.
The reference turns can also guide the run (docs/grpo-mix.md): `prefix` starts some members of each group
from a decaying prefix of the reference (forced tokens with loss mask 0), and `hybrid` mixes an SFT loss on the
step's reference turns into the loss, (1 - w) GRPO + w SFT.

Three schedule options (`train/schedule.py`): `sampling.kind: deficiency` draws each step's prompts weighted towards
those the policy did badly on recently (running scores gathered from every process, saved in the checkpoint);
`reference_reset_steps: N` makes the KL reference the current policy every N steps (and clears AdamW's moments
with `reset_optimizer`), the reset reference saved beside the checkpoint; `max_generated_tokens` ends the run after
the step where the tokens sampled by all processes reach it (`generated_tokens` in the metrics).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, gather_object
from peft import PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.config import save_config
from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt
from thinkact.data.rename import augment
from thinkact.envs import diff_states
from thinkact.envs.registry import bind_tools
from thinkact.errors import UserError
from thinkact.files import check_output_dir, replace_dir
from thinkact.models.chat import encode_prompt, render_completion
from thinkact.models.load import load_policy
from thinkact.models.lora import lora_config
from thinkact.parse import Action
from thinkact.rewards.combine import Reward, score_action
from thinkact.rewards.episode import score_episode
from thinkact.rollout.episodes import final_state, run_episodes
from thinkact.rollout.loop import Episode, Sampling
from thinkact.rollout.records import Rollout
from thinkact.rollout.users import UserConfig
from thinkact.threads import apply_threads
from thinkact.train.batches import layout, mean, micro_weight, step_metrics
from thinkact.train.checkpoints import (
    RunInterrupted,
    StopOnInterrupt,
    check_resume,
    finished_step,
    latest_checkpoint,
    load_optimizer,
    load_state,
    save_checkpoint,
    save_model,
    write_finished,
)
from thinkact.train.grpo_config import (
    GRPORunConfig,
    HybridRule,
    Mode,
    PrefixSource,
    hybrid_weight,
    learning_rate_at,
    prefix_length,
    scheduled_episode_rewards,
    scheduled_rewards,
)
from thinkact.train.heldout import HeldOut
from thinkact.train.losses import action_mask, group_advantages, nll_loss, policy_loss, varied_groups
from thinkact.train.runlog import RunLog, warn_all_truncated, warn_dropped_prompts
from thinkact.train.schedule import (
    draw_prompts,
    group_means,
    sampled_tokens,
    sampling_metrics,
    sampling_weights,
    update_scores,
)
from thinkact.train.shared_prompt import completion_logprobs
from thinkact.train.tracking import Tracker, check_report_to

__all__ = [
    "GRPORunConfig",
    "GRPOTrainer",
    "StepCallback",
    "make_optimizer",
    "run_grpo",
    "scheduled_rewards",
    "score_rollout",
]


StepCallback = Callable[[int, dict[str, float]], None]

REFERENCE_FILE = "reference.safetensors"
"""The KL reference in a checkpoint written after a reference reset."""


class GRPOTrainer:
    """The engine; `step(n)` runs one GRPO step. `run_grpo` drives it with logging and checkpoints."""

    def __init__(
        self, config: GRPORunConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        processes = self.accelerator.num_processes
        if config.prompts_per_step % processes:
            raise UserError(
                f"grpo.prompts_per_step: {config.prompts_per_step} does not split evenly over {processes} processes; "
                f"use a multiple of {processes}"
            )
        deepspeed = self.accelerator.state.deepspeed_plugin
        if deepspeed is not None and config.hybrid.rule == HybridRule.GRAD_NORM:
            raise UserError(
                "grpo.hybrid.rule: grad_norm reads each loss's gradients, which DeepSpeed keeps to itself; "
                "use rule fixed or linear under DeepSpeed"
            )
        if deepspeed is not None:  # accelerate needs it without a dataloader; one micro-batch per backward
            deepspeed.deepspeed_config["train_micro_batch_size_per_gpu"] = config.micro_batch
        sharded = self.accelerator.distributed_type == DistributedType.FSDP or (
            deepspeed is not None and deepspeed.zero_stage == 3
        )
        if config.reference_reset_steps and sharded:
            raise UserError(
                "grpo.reference_reset_steps: not under FSDP or DeepSpeed ZeRO-3 (the policy's weights are sharded, "
                "the reference is a whole copy); use DDP or ZeRO-2, or reference_reset_steps: 0"
            )
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        if config.lora.enabled:
            model = get_peft_model(model, lora_config(config.lora))  # type: ignore[assignment]
        # With LoRA the reference is the base model: the adapter disabled, no copy.
        self.reference = _frozen_copy(model) if config.kl_coef > 0 and not config.lora.enabled else None
        if self.reference is not None:  # prepare() moves the policy to the device, not this copy
            self.reference.to(self.accelerator.device)
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.think_ids = _think_ids(tokenizer) if config.loss_tokens == "action" else None
        """`<think>` and `</think>` ids when the loss falls on action tokens alone (`loss_tokens: action`)."""
        self.mode = Mode(config.mode)
        self.prompts: list[Prompt] = []
        self.prompt_ids: list[list[int]] = []
        self._references: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
        self.scores: list[float | None] = []
        """Deficiency sampling: each prompt's running score (None: never drawn), the same on every process."""
        self.generated_tokens = 0
        """Tokens sampled so far by all processes (the compute budget's count)."""
        self.last_reset = 0
        """The step after which the KL reference last became the policy (0: it is the starting policy)."""

    def load_data(self, path: str | Path) -> int:
        """Encode the prompts of `path` for this mode; returns how many were too long to keep."""
        config = self.config
        conversations = list(
            augment(
                read_conversations(path),
                config.seed,
                tool_share=config.rename_tools,
                entity_share=config.fresh_entities,
                argument_share=config.rename_arguments,
            )
        )
        prompts = self.mode.prompts(bind_tools(conversations), config)
        for prompt in prompts:
            ids = encode_prompt(self.tokenizer, prompt.messages, prompt.tools)
            if len(ids) <= config.max_prompt_tokens:
                self.prompts.append(prompt)
                self.prompt_ids.append(ids)
        if not self.prompts:
            raise UserError(f"{path}: no prompt fits in grpo.max_prompt_tokens={config.max_prompt_tokens}")
        self.scores = [None] * len(self.prompts)
        return len(prompts) - len(self.prompts)

    def prompts_for_step(self, step: int) -> list[int]:
        """Indices of this process's prompts at `step`: a seeded permutation per epoch (or a draw weighted by the
        running scores, `sampling.kind: deficiency`), then a slice."""
        size = self.config.prompts_per_step
        count = len(self.prompt_ids)
        if self.config.sampling.kind == "deficiency":
            weights = sampling_weights(self.scores, self.config.sampling.floor)
            drawn = draw_prompts(weights, size, self.config.seed, step)
            return drawn[self.accelerator.process_index :: self.accelerator.num_processes]
        indices = []
        for position in range(step * size, (step + 1) * size):
            epoch, offset = divmod(position, count)
            generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
            indices.append(int(torch.randperm(count, generator=generator)[offset]))
        return indices[self.accelerator.process_index :: self.accelerator.num_processes]

    def rollout(self, step: int, indices: list[int]) -> list[Rollout]:
        """Play a group of episodes per prompt through the episode loop and score each (turn mode: one step, no
        tools, no user)."""
        config = self.config
        prefixes = self._prefixes(step, indices) if config.prefix.enabled else None
        episodes = run_episodes(
            self.accelerator.unwrap_model(self.model),
            self.tokenizer,
            [self.prompts[i] for i in indices],
            group_size=config.group_size,
            max_turns=self.mode.max_steps(config),
            sampling=self._sampling(step),
            user=config.user if self.mode is Mode.EPISODE else UserConfig(),
            execute=self.mode is Mode.EPISODE,
            prefixes=prefixes,
        )
        rollouts = []
        for episode in episodes:
            reward = score_rollout(episode, config, step)
            keep = 0 if episode.truncated and config.mask_truncated else 1
            mask = episode.loss_mask
            if self.think_ids is not None:  # loss_tokens: action
                mask = action_mask(episode.stream_ids, mask, *self.think_ids)
            forced = len(episode.prefix_ids)
            marked = forced if config.prefix.sft_weight > 0 else 0
            rollouts.append(
                Rollout(
                    example_id=episode.prompt.id,
                    prompt_ids=episode.prompt_ids,
                    completion_ids=episode.stream_ids,
                    loss_mask=[bit * keep for bit in mask],
                    text="".join(episode.texts),
                    action=episode.steps[-1],
                    truncated=episode.truncated,
                    reward=reward.total,
                    components=reward.components,
                    tool_trace=episode.tool_trace,
                    prefix_tokens=forced,
                    sft_mask=[1] * marked + [0] * (len(episode.stream_ids) - marked) if forced else [],
                    sampled=sum(episode.loss_mask),
                )
            )
        return rollouts

    def _prefixes(self, step: int, indices: list[int]) -> list[list[int]]:
        """One forced prefix per episode, in rollout order: the first `prefix.members` of each group get
        `prefix_length` tokens of the reference (`prefix.source`), the others none."""
        prefix = self.config.prefix
        prefixes = []
        for index in indices:
            source = self._reference(self.prompts[index], prefix.source)[1]
            length = prefix_length(self.config, step, len(source))
            for member in range(self.config.group_size):
                prefixes.append(source[:length] if member < prefix.members else [])
        return prefixes

    def _reference(self, prompt: Prompt, source: str) -> tuple[list[int], list[int]]:
        """(prompt ids, completion ids) of a prompt's reference turn as `thinkact sft` renders it, cached.

        Sources: `sft` and `sft-nothink` are the whole completions the hybrid SFT loss trains on (with and without
        the reasoning); the prefix sources (`PrefixSource`) end before the end-of-turn token, so that a member
        forced the whole source still closes its own turn.
        """
        key = (prompt.id, source)
        if key not in self._references:
            think = source not in (PrefixSource.ACTION, "sft-nothink")
            prompt_text, completion = render_completion(self.tokenizer, prompt, think=think)
            if source not in ("sft", "sft-nothink"):
                eos = self.tokenizer.eos_token or ""
                if eos and completion.endswith(eos):
                    completion = completion[: -len(eos)]
                if source == PrefixSource.REASONING:
                    end = completion.find("</think>")
                    completion = completion[: end + len("</think>")] if end >= 0 else ""
            encode = self.tokenizer
            self._references[key] = (
                list(encode(prompt_text, add_special_tokens=False)["input_ids"]),
                list(encode(completion, add_special_tokens=False)["input_ids"]),
            )
        return self._references[key]

    def reference_batch(self, rollouts: list[Rollout]) -> dict[str, torch.Tensor]:
        """The hybrid SFT loss's batch: each distinct prompt of the rollouts once, with its reference turn as the
        completion (all of it under the mask), laid out as the rollouts are."""
        by_id = {prompt.id: prompt for prompt in self.prompts}
        source = "sft" if self.config.hybrid.think else "sft-nothink"
        references = []
        for example_id in dict.fromkeys(r.example_id for r in rollouts):
            prompt_ids, completion_ids = self._reference(by_id[example_id], source)
            references.append(
                Rollout(
                    example_id, prompt_ids, completion_ids, [1] * len(completion_ids), "", Action(), False
                )
            )
        return layout(references, self.tokenizer.pad_token_id)

    def _sampling(self, step: int) -> Sampling:
        """Generation settings; seeds derive from (seed, process, step, round)."""
        config = self.config
        return Sampling(
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            batch_size=config.micro_batch * 2,
            seed=config.seed * 7919 + self.accelerator.process_index,
            step=step,
        )

    def step(self, step: int) -> tuple[dict[str, float], list[Rollout]]:
        """One GRPO step: rollouts, then `learn`. Returns the metrics and the rollouts."""
        started = time.perf_counter()
        indices = self.prompts_for_step(step)
        rollouts = self.rollout(step, indices)
        generated_at = time.perf_counter()
        schedule = self._update_scores(indices, rollouts)
        metrics = self.learn(rollouts, step)
        elapsed = time.perf_counter() - started
        sampled = sampled_tokens(rollouts)
        metrics.update(
            step_seconds=elapsed,
            generate_seconds=generated_at - started,
            tokens_per_second=sampled / max(elapsed, 1e-9),
        )
        self.generated_tokens += self._sum_over_processes(sampled)
        metrics.update(schedule, generated_tokens=float(self.generated_tokens))
        if self.config.reference_reset_steps and (step + 1) % self.config.reference_reset_steps == 0:
            self.reset_reference(step + 1)
            metrics["reference_reset"] = 1.0
        return metrics, rollouts

    def _update_scores(self, indices: list[int], rollouts: list[Rollout]) -> dict[str, float]:
        """Deficiency sampling: fold every process's group means into the running scores; returns the spread of
        the weights this step was drawn with."""
        sampling = self.config.sampling
        if sampling.kind != "deficiency":
            return {}
        seen = sum(score is not None for score in self.scores)
        spread = sampling_metrics(sampling_weights(self.scores, sampling.floor), seen)
        means = group_means(indices, rollouts, self.config.group_size)
        everyone = gather_object([means]) if self.accelerator.num_processes > 1 else [means]
        self.scores = update_scores(self.scores, [m for part in everyone for m in part], sampling.decay)
        return spread

    def _sum_over_processes(self, count: int) -> int:
        if self.accelerator.num_processes == 1:
            return count
        total = torch.tensor(count, device=self.accelerator.device)
        return int(self.accelerator.reduce(total, reduction="sum"))

    def reset_reference(self, done: int) -> None:
        """The KL reference becomes the current policy (ProRL), and AdamW's moments are cleared when
        `reset_optimizer`; `done` is the number of steps taken."""
        if self.reference is None:
            raise AssertionError("reference_reset_steps needs kl_coef > 0 and full weights (checked on load)")
        policy = self.accelerator.unwrap_model(self.model)
        self.reference.load_state_dict(policy.state_dict())
        if self.config.reset_optimizer:
            self.optimizer.state.clear()
        self.last_reset = done

    def budget_spent(self) -> bool:
        """Whether the sampled tokens reached `max_generated_tokens` (the same answer on every process)."""
        budget = self.config.max_generated_tokens
        return bool(budget) and self.generated_tokens >= budget

    def learn(self, rollouts: list[Rollout], step: int = 0) -> dict[str, float]:
        """Advantages from the rollouts' rewards, then `passes` optimiser steps; returns the step's metrics.

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
            chosen = (
                keep_B if keep_B.any() else torch.zeros_like(keep_B).index_fill_(0, torch.tensor([0]), True)
            )
            batch = layout(
                [r for r, k in zip(rollouts, chosen.tolist(), strict=True) if k], self.tokenizer.pad_token_id
            )
            # A process whose groups were all dropped still joins the gradient sync, with a zero-weight loss.
            batch["advantages_B"] = advantages_B[chosen] if keep_B.any() else torch.zeros(1)
            batch["weight_B"] = torch.full((int(chosen.sum()),), 1.0 if keep_B.any() else 0.0)
            local = float(batch["mask_BC"].sum() if config.loss == "dapo" else batch["mask_BC"].shape[0])
            scale = self._rank_scale(local if keep_B.any() else 0.0)  # a collective: every process calls it
            batch["rank_scale"] = torch.full((int(chosen.sum()),), scale)
            old_logp_BT = self._logprobs(batch, self.model) if config.passes > 1 else None
            ref_logp_BT = self._reference_logprobs(batch)
            sft_batch = self.reference_batch(rollouts) if config.hybrid.enabled else None
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
        if self.accelerator.num_processes == 1:
            return metrics
        everyone = gather_object([metrics])
        names = sorted({name for entry in everyone for name in entry})
        return {name: mean([entry[name] for entry in everyone if name in entry]) for name in names}

    def _optimise(
        self,
        batch: dict[str, torch.Tensor],
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
        step: int = 0,
        sft_batch: dict[str, torch.Tensor] | None = None,
    ) -> tuple[float, float, float, dict[str, float]]:
        """One optimiser step: the gradients of the GRPO loss (and the SFT loss, `hybrid`), clipped, applied."""
        loss, kl, clip, mix = self.accumulate(batch, old_logp_BT, ref_logp_BT, step, sft_batch)
        self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        for group in self.optimizer.param_groups:  # warm-up and schedule: a pure function of the step
            group["lr"] = learning_rate_at(self.config, step)
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss, kl, clip, mix

    def accumulate(
        self,
        batch: dict[str, torch.Tensor],
        old_logp_BT: torch.Tensor | None,
        ref_logp_BT: torch.Tensor | None,
        step: int = 0,
        sft_batch: dict[str, torch.Tensor] | None = None,
    ) -> tuple[float, float, float, dict[str, float]]:
        """Leave the step's gradient in the parameters' `.grad`; returns (loss, kl, clip fraction, mix metrics).

        Without `sft_batch` it is the GRPO loss's. With it (`hybrid`) the loss is (1 - w) * GRPO + w * SFT: for
        rules fixed and linear each loss is backpropagated with its weight and the gradients add up; for rule
        grad_norm the SFT gradient is computed first and set aside, then GRPO's, and w is read from their norms
        before they are combined, so the optimiser sees exactly the gradient of the weighted sum either way.
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

    def _sft_backward(self, sft_batch: dict[str, torch.Tensor], scale: float, *, sync: bool = False) -> float:
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
                logp_BT = self._forward_logprobs(self.model, micro, temperature=1.0)
                loss = nll_loss(logp_BT, micro["mask_BC"]) / total_tokens
                self.accelerator.backward(loss * scale)
            loss_sum += float(loss.detach())
        return loss_sum

    def _grpo_backward(
        self,
        batch: dict[str, torch.Tensor],
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
            sync = (
                contextlib.nullcontext()
                if number == len(starts) - 1
                else self.accelerator.no_sync(self.model)
            )
            with sync:
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
                    max_completion_length=self.mode.completion_budget(config),
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

    def _reference_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.config.kl_coef <= 0:
            return None
        if self.config.lora.enabled:
            with _adapter_disabled(self.accelerator.unwrap_model(self.model)):
                return self._logprobs(batch, self.model)
        return self._logprobs(batch, self.reference)

    @torch.no_grad()
    def _logprobs(self, batch: dict[str, torch.Tensor], model: Any) -> torch.Tensor:
        size = batch["input_ids_BL"].shape[0]
        parts = []
        for start in range(0, size, self.config.micro_batch):
            part = slice(start, min(start + self.config.micro_batch, size))
            parts.append(self._forward_logprobs(model, {key: value[part] for key, value in batch.items()}))
        return torch.cat(parts)

    def _forward_logprobs(
        self, model: Any, micro: dict[str, torch.Tensor], temperature: float | None = None
    ) -> torch.Tensor:
        # Gradient checkpointing recomputes layers, which would append to a shared prompt's cache twice.
        return completion_logprobs(
            model,
            micro,
            temperature=self.config.temperature if temperature is None else temperature,
            device=self.accelerator.device,
            prompt_model=self.accelerator.unwrap_model(model),
            per_sample=not self.config.share_prompt or self.config.gradient_checkpointing,
        )

    def policy(self) -> PreTrainedModel:
        """The trained policy as a plain model (LoRA merged into a copy of the weights)."""
        model = self.accelerator.unwrap_model(self.model)
        if isinstance(model, PeftModel):
            return copy.deepcopy(model).merge_and_unload()  # type: ignore[no-any-return]
        return model  # type: ignore[no-any-return]

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_model(self.policy(), self.tokenizer, directory)
        return directory

    def checkpoint(self, run_dir: Path, step: int) -> None:
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(self.model)
            state = {
                "steps": self.config.steps,
                "generated_tokens": self.generated_tokens,
                "last_reset": self.last_reset,
                "sampling_scores": self.scores,
            }
            save_checkpoint(
                run_dir,
                step,
                model,
                self.optimizer,
                state,
                tokenizer=self.tokenizer,
                extra=self._save_reference,
            )

    def _save_reference(self, directory: Path) -> None:
        """After a reset the reference is no longer the starting policy: keep it beside the checkpoint."""
        if self.last_reset and self.reference is not None:
            save_safetensors_model(self.reference, str(directory / REFERENCE_FILE))

    def stop_requested(self, interrupt: StopOnInterrupt) -> bool:
        """Whether any process was asked to stop (a collective: every process calls it each step)."""
        if self.accelerator.num_processes == 1:
            return interrupt.requested
        flag = torch.tensor(int(interrupt.requested), device=self.accelerator.device)
        return bool(self.accelerator.reduce(flag, reduction="sum"))

    def restore(self, run_dir: Path) -> int:
        """Load the latest checkpoint of `run_dir`; returns the number of steps already done (0 if none)."""
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            return 0
        model = self.accelerator.unwrap_model(self.model)
        if isinstance(model, PeftModel):
            set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
        else:
            missing, unexpected = model.load_state_dict(
                load_file(str(checkpoint / "model.safetensors")), strict=False
            )
            tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
            if set(missing) - tied or unexpected:
                raise UserError(
                    f"{checkpoint}: does not match the model (missing {missing}, unexpected {unexpected})"
                )
        load_optimizer(checkpoint, self.optimizer)
        state = load_state(checkpoint)
        self._restore_schedule(checkpoint, state)
        return int(state["step"])

    def _restore_schedule(self, checkpoint: Path, state: dict[str, Any]) -> None:
        """The running scores, the token count and the reset reference, exactly as the checkpoint left them."""
        scores = state.get("sampling_scores", self.scores)
        if len(scores) != len(self.scores):
            raise UserError(
                f"{checkpoint}: holds running scores of {len(scores)} prompts, but the data has {len(self.scores)}; "
                "resume with the data the run was started with"
            )
        self.scores = [None if score is None else float(score) for score in scores]
        self.generated_tokens = int(state.get("generated_tokens", 0))
        self.last_reset = int(state.get("last_reset", 0))
        if self.last_reset and self.reference is not None:
            if not (checkpoint / REFERENCE_FILE).is_file():
                raise UserError(
                    f"{checkpoint}: the reference was reset after step {self.last_reset} but "
                    f"{REFERENCE_FILE} is missing, so the run cannot continue as it was; use --overwrite"
                )
            load_safetensors_model(self.reference, str(checkpoint / REFERENCE_FILE))


def make_optimizer(parameters: list[torch.nn.Parameter], config: GRPORunConfig) -> torch.optim.Optimizer:
    """GRPO's optimiser: AdamW at the first step's rate (`learning_rate_at` sets each step's before it steps)."""
    return torch.optim.AdamW(parameters, lr=learning_rate_at(config, 0), weight_decay=config.weight_decay)


def _think_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """The ids of `<think>` and `</think>`, each of which must be one token for `loss_tokens: action`."""
    ids = []
    for marker in ("<think>", "</think>"):
        encoded = tokenizer.encode(marker, add_special_tokens=False)
        if len(encoded) != 1:
            raise UserError(
                f"grpo.loss_tokens: action needs {marker} as one token, but this tokenizer splits it into "
                f"{len(encoded)}; add it as a special token (init-model does) or use loss_tokens: all"
            )
        ids.append(encoded[0])
    return ids[0], ids[1]


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
    with model.disable_adapter():
        yield


def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
    reference = copy.deepcopy(model)
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def score_rollout(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """The episode's reward in the run's mode; an episode that ended as a failure (`Episode.failure`: the chat
    template rendered what followed a step in a way its token stream could not hold) scores 0 on every component,
    since the policy would otherwise be trained on a conversation it never saw."""
    mode = Mode(config.mode)
    reward = (
        _score_episode(episode, config, step) if mode is Mode.EPISODE else _score_turn(episode, config, step)
    )
    if episode.failure is not None:
        return Reward(total=0.0, components=dict.fromkeys(reward.components, 0.0))
    return reward


def _score_turn(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """Turn mode: the one step against the turn's reference action."""
    prompt = episode.prompt
    return score_action(
        episode.steps[0],
        prompt.action,
        prompt.tools,
        scheduled_rewards(config, step),
        answer_metric=prompt.answer_metric,
        truncated=episode.truncated,
    )


def _score_episode(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """Episode mode: every step, call and answer of the episode, and the state it left, against the reference
    segment (or the whole conversation, with a simulated user)."""
    prompt = episode.prompt
    return score_episode(
        episode.steps,
        prompt.reference_calls,
        prompt.reference_answer,
        not diff_states(final_state(episode), prompt.final_state),
        prompt.tools,
        scheduled_episode_rewards(config, step),
        require_think=config.rewards.require_think,
        answer_metric=prompt.answer_metric,
    )


def run_grpo(
    config: GRPORunConfig,
    on_step: StepCallback | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    on_resume: Callable[[int, int], None] | None = None,
) -> Path:
    """Train with GRPO; writes config, metrics.jsonl, TensorBoard, samples, checkpoints and the final model.

    An existing run directory is refused unless `resume` (continue its latest checkpoint, same config) or
    `overwrite` (replace it); nothing is written before the model and data have loaded. `on_resume(done, steps)`
    hears where a resumed run starts. The first Ctrl-C finishes the step, checkpoints and raises `RunInterrupted`.
    """
    if config.eval_steps and not config.eval_data:
        raise UserError("grpo.eval_steps: set grpo.eval_data to the held-out conversations to evaluate on")
    out = Path(config.out)
    trainer, done = _start_run(config, out, resume=resume, overwrite=overwrite, on_resume=on_resume)
    tokenizer = trainer.tokenizer
    main = trainer.accelerator.is_main_process
    log = RunLog(out, done, config.sample_steps, open_tracker(config, out, done)) if main else None
    heldout = _heldout(config) if main else None
    if log is not None and heldout is not None and done == 0:  # where the run starts from, as step 0
        _log_heldout_start(heldout, trainer, log, on_step)
    last = done  # the last step taken, which the final checkpoint and model/ hold
    with StopOnInterrupt().installed() as interrupt:
        for step in range(done, config.steps):
            metrics, rollouts = trainer.step(step)
            last = step + 1
            if heldout is not None and (step + 1) % config.eval_steps == 0:
                metrics.update(heldout.evaluate(trainer.accelerator.unwrap_model(trainer.model), tokenizer))
            if log is not None:
                log.write(step + 1, metrics, [r.summary() for r in rollouts[: config.group_size]])
                warn_all_truncated(
                    step + 1, metrics["truncated"], config.mask_truncated, config.max_new_tokens
                )
                if on_step is not None:
                    on_step(step + 1, metrics)
            if trainer.budget_spent():  # the same on every process: the count is summed over them
                break
            stopping = trainer.stop_requested(interrupt) and step + 1 < config.steps
            if stopping or (
                config.save_steps and (step + 1) % config.save_steps == 0 and step + 1 < config.steps
            ):
                trainer.checkpoint(out, step + 1)
            if stopping:
                if log is not None:
                    log.close()
                raise RunInterrupted(
                    f"interrupted after step {step + 1} of {config.steps}; the checkpoint is in {out}/checkpoints. "
                    f"Continue with: thinkact grpo --out {out} --resume (and the same config)"
                )
    if log is not None:
        log.close()
    final = _finish(trainer, out, done, last)
    trainer.accelerator.end_training()  # destroys the process group under `accelerate launch`; a no-op alone
    return final


def _start_run(
    config: GRPORunConfig,
    out: Path,
    *,
    resume: bool,
    overwrite: bool,
    on_resume: Callable[[int, int], None] | None,
) -> tuple[GRPOTrainer, int]:
    """Check the run directory, load model and data, then write the config; returns the trainer and the steps
    already done."""
    check_output_dir(out, overwrite=overwrite, resume=resume)
    apply_threads(config.threads)
    if resume:
        check_resume(out, config, config.steps, _checkpoint_step(out), "grpo", finished=finished_step(out))
    model, tokenizer = load_policy(config.model, dtype=torch.bfloat16 if config.bf16 else torch.float32)
    trainer = GRPOTrainer(config, model, tokenizer)
    dropped = trainer.load_data(config.data)
    main = trainer.accelerator.is_main_process
    if main:
        warn_dropped_prompts(
            dropped, dropped + len(trainer.prompt_ids), config.max_prompt_tokens, config.data
        )
        if overwrite:
            replace_dir(out)
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.yaml")
    done = trainer.restore(out) if resume else 0
    if resume and on_resume is not None:
        on_resume(done, config.steps)
    return trainer, done


def open_tracker(config: GRPORunConfig, out: Path, done: int = 0) -> Tracker:
    """The run's experiment trackers (`report_to`), shared by thinkact's engine and the TRL adapter."""
    names = check_report_to(config.report_to, "grpo.report_to")
    return Tracker(
        names, out, run_name=out.name, config=asdict(config), offline=config.report_offline, done=done
    )


def _finish(trainer: GRPOTrainer, out: Path, done: int, last: int) -> Path:
    """Checkpoint the last step (a `--resume` with more steps continues from it; not when the token budget ended
    the run, which has none left for more), put the model in place of any earlier one, then record its step."""
    if trainer.config.save_steps and last > done and not trainer.budget_spent():
        trainer.checkpoint(out, last)
    final = trainer.save(out / "model")
    if trainer.accelerator.is_main_process:
        write_finished(out, last)
    return final


def _checkpoint_step(out: Path) -> int | None:
    checkpoint = latest_checkpoint(out) if out.is_dir() else None
    return None if checkpoint is None else int(load_state(checkpoint)["step"])


def _log_heldout_start(
    heldout: HeldOut, trainer: GRPOTrainer, log: RunLog, on_step: StepCallback | None
) -> None:
    start = heldout.evaluate(trainer.accelerator.unwrap_model(trainer.model), trainer.tokenizer)
    log.write(0, start, [])
    if on_step is not None:
        on_step(0, start)


def _heldout(config: GRPORunConfig) -> HeldOut | None:
    if not config.eval_steps:
        return None
    return HeldOut(
        config.eval_data,
        limit=config.eval_limit,
        max_new_tokens=config.max_new_tokens,
        rewards=config.rewards,
        batch_size=config.micro_batch * 4,
    )

"""GRPO on accelerate: sample a group per prompt, score it, normalise, take clipped policy steps.

Two modes (`Mode`), one rollout: both play the episode loop (`rollout/loop.py`) on prompts built once
(`data/prompts.py`). In *turn* mode a prompt is a conversation up to one assistant turn, the loop takes one step
with no tools, and the completion is scored against that turn's reference action. In *episode* mode a prompt is a
conversation up to a user message; the policy acts, its calls run in the conversation's environment and the
results come back as tool messages until it answers (or reaches `max_actions`); with a simulated user (`user.kind`)
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

The code reads in the algorithm's order: `run_grpo` drives `GRPOTrainer.step` and decides logging, held-out
evaluation and checkpoints; the trainer composes `grpo_rollouts.py` (which prompts, the scored rollouts, reference
turns), `grpo_update.py` (advantages, losses, backward, optimiser step, reference log-probs) and `grpo_state.py`
(running scores, token count, reference resets, checkpoints and the final model).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.config import save_config
from thinkact.data.prompts import Prompt
from thinkact.errors import UserError
from thinkact.files import check_output_dir, replace_dir
from thinkact.models.load import load_policy
from thinkact.rollout.records import Rollout
from thinkact.threads import apply_threads
from thinkact.train.checkpoints import (
    RunInterrupted,
    StopOnInterrupt,
    check_resume,
    finished_step,
    latest_checkpoint,
)
from thinkact.train.grpo_config import GRPORunConfig, Mode, scheduled_rewards
from thinkact.train.grpo_rollouts import (
    ReferenceTurns,
    load_prompts,
    play_rollouts,
    prompts_for_step,
    score_rollout,
    think_ids,
)
from thinkact.train.grpo_state import (
    checkpoint_step,
    fold_scores,
    merged_policy,
    restore_checkpoint,
    restore_schedule,
    save_final,
    save_policy,
    stop_requested,
    sum_over_processes,
    write_checkpoint,
)
from thinkact.train.grpo_update import Batch, PolicyUpdate, make_accelerator, make_optimizer
from thinkact.train.heldout import HeldOut
from thinkact.train.runlog import RunLog, warn_all_truncated, warn_dropped_prompts, warn_often_truncated
from thinkact.train.sample_copy import SamplingCopy
from thinkact.train.schedule import sampled_tokens
from thinkact.train.tracking import Tracker, check_report_to

__all__ = [
    "GRPORunConfig",
    "GRPOTrainer",
    "StepCallback",
    "make_optimizer",
    "open_tracker",
    "run_grpo",
    "scheduled_rewards",
    "score_rollout",
]


StepCallback = Callable[[int, dict[str, float]], None]


class GRPOTrainer:
    """The engine: the run's prompts, its `PolicyUpdate` and its schedule state; `step(n)` runs one GRPO step.

    It composes `grpo_rollouts` (prompts and scored rollouts), `grpo_update` (the optimiser steps) and
    `grpo_state` (the schedule state and checkpoints). Left out: logging, held-out evaluation and when to
    checkpoint, which `run_grpo` decides.
    """

    def __init__(
        self, config: GRPORunConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.update = PolicyUpdate(config, model, make_accelerator(config), tokenizer.pad_token_id)
        self.think_ids = think_ids(tokenizer) if config.loss_tokens == "action" else None
        """`<think>` and `</think>` ids when the loss falls on action tokens alone (`loss_tokens: action`)."""
        self.mode = Mode(config.mode)
        self.references = ReferenceTurns(tokenizer)
        self.prompts: list[Prompt] = []
        self.prompt_ids: list[list[int]] = []
        self.scores: list[float | None] = []
        """Deficiency sampling: each prompt's running score (None: never drawn), the same on every process."""
        self.generated_tokens = 0
        """Tokens sampled so far by all processes (the compute budget's count)."""
        self.last_reset = 0
        """The step after which the KL reference last became the policy (0: it is the starting policy)."""
        self.sampler = (
            SamplingCopy(self.accelerator.unwrap_model(self.model))
            if config.sample_dtype == "bfloat16"
            else None
        )
        """The bfloat16 copy that samples under `sample_dtype: bfloat16` (None: the policy samples)."""

    @property
    def accelerator(self) -> Accelerator:
        """The run's accelerator (its processes, device and collectives)."""
        return self.update.accelerator

    @property
    def model(self) -> torch.nn.Module:
        """The policy as prepared for training (wrapped under DDP, with its adapter under LoRA)."""
        return self.update.model  # type: ignore[no-any-return]

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """AdamW over the trainable parameters, as prepared by the accelerator."""
        return self.update.optimizer  # type: ignore[no-any-return]

    @property
    def reference(self) -> PreTrainedModel | None:
        """The frozen KL reference (None with LoRA, whose reference is the adapter disabled, or without KL)."""
        return self.update.reference

    def load_data(self, path: str | Path) -> int:
        """Encode the prompts of `path` for this mode; returns how many were too long to keep."""
        self.prompts, self.prompt_ids, dropped = load_prompts(path, self.config, self.tokenizer)
        self.scores = [None] * len(self.prompts)
        return dropped

    def prompts_for_step(self, step: int) -> list[int]:
        """Indices of this process's prompts at `step` (`grpo_rollouts.prompts_for_step`)."""
        accelerator = self.accelerator
        return prompts_for_step(
            self.config,
            step,
            len(self.prompt_ids),
            self.scores,
            process=accelerator.process_index,
            processes=accelerator.num_processes,
        )

    def rollout(self, step: int, indices: list[int]) -> list[Rollout]:
        """A scored group of episodes per prompt, the first `prefix.members` of each forced a reference prefix."""
        prompts = [self.prompts[i] for i in indices]
        prefixes = (
            self.references.prefixes(prompts, self.config, step) if self.config.prefix.enabled else None
        )
        policy = self.sampler.refresh() if self.sampler else self.accelerator.unwrap_model(self.model)
        return play_rollouts(
            policy,
            self.tokenizer,
            prompts,
            self.config,
            step,
            process=self.accelerator.process_index,
            think_ids=self.think_ids,
            prefixes=prefixes,
        )

    def reference_batch(self, rollouts: list[Rollout]) -> Batch:
        """The hybrid SFT loss's batch: the rollouts' prompts once each, their reference turns as completions."""
        return self.references.sft_batch(rollouts, self.prompts, self.config.hybrid.think)

    def learn(self, rollouts: list[Rollout], step: int = 0) -> dict[str, float]:
        """Advantages from the rollouts' rewards, then `passes` optimiser steps; returns the step's metrics."""
        sft_batch = self.reference_batch(rollouts) if self.config.hybrid.enabled else None
        return self.update.learn(rollouts, step, sft_batch)

    def step(self, step: int) -> tuple[dict[str, float], list[Rollout]]:
        """One GRPO step: draw prompts, play and score rollouts, fold the scores, learn, count tokens, and reset the
        reference when due. Returns the metrics and the rollouts."""
        started = time.perf_counter()
        indices = self.prompts_for_step(step)
        rollouts = self.rollout(step, indices)
        generated_at = time.perf_counter()
        config = self.config
        self.scores, schedule = fold_scores(
            config.sampling, config.group_size, self.accelerator, self.scores, indices, rollouts
        )
        metrics = self.learn(rollouts, step)
        elapsed = time.perf_counter() - started
        sampled = sampled_tokens(rollouts)
        metrics.update(
            step_seconds=elapsed,
            generate_seconds=generated_at - started,
            tokens_per_second=sampled / max(elapsed, 1e-9),
        )
        self.generated_tokens += sum_over_processes(self.accelerator, sampled)
        metrics.update(schedule, generated_tokens=float(self.generated_tokens))
        if config.reference_reset_steps and (step + 1) % config.reference_reset_steps == 0:
            self.reset_reference(step + 1)
            metrics["reference_reset"] = 1.0
        return metrics, rollouts

    def reset_reference(self, done: int) -> None:
        """The KL reference becomes the current policy (ProRL), and AdamW's moments are cleared when
        `reset_optimizer`; `done` is the number of steps taken."""
        self.update.reset_reference()
        self.last_reset = done

    def budget_spent(self) -> bool:
        """Whether the sampled tokens reached `max_generated_tokens` (the same answer on every process)."""
        budget = self.config.max_generated_tokens
        return bool(budget) and self.generated_tokens >= budget

    def stop_requested(self, interrupt: StopOnInterrupt) -> bool:
        """Whether any process was asked to stop (a collective: every process calls it each step)."""
        return stop_requested(self.accelerator, interrupt)

    def policy(self) -> PreTrainedModel:
        """The trained policy as a plain model (LoRA merged into a copy of the weights)."""
        return merged_policy(self.update)

    def save(self, directory: str | Path) -> Path:
        """Write the policy (LoRA merged) and tokenizer to `directory`."""
        return save_policy(self.update, self.tokenizer, directory)

    def checkpoint(self, run_dir: Path, step: int) -> None:
        """Checkpoint `step`: weights, AdamW, the schedule state and any reset reference."""
        state = {
            "steps": self.config.steps,
            "generated_tokens": self.generated_tokens,
            "last_reset": self.last_reset,
            "sampling_scores": self.scores,
        }
        write_checkpoint(run_dir, step, self.update, self.tokenizer, state, self.last_reset)

    def restore(self, run_dir: Path) -> int:
        """Load the latest checkpoint of `run_dir`; returns the number of steps already done (0 if none)."""
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            return 0
        state = restore_checkpoint(checkpoint, self.update)
        if self.sampler:
            self.sampler.touch_all()
        self.scores, self.generated_tokens, self.last_reset = restore_schedule(
            checkpoint, state, self.scores, self.reference
        )
        return int(state["step"])


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
            metrics, rollouts = trainer.step(step)  # draw prompts, roll out, score, learn
            last = step + 1
            if heldout is not None and last % config.eval_steps == 0:
                metrics.update(heldout.evaluate(trainer.accelerator.unwrap_model(trainer.model), tokenizer))
            if log is not None:
                _report(log, last, metrics, rollouts, config, on_step)
            if trainer.budget_spent():  # the same on every process: the count is summed over them
                break
            stopping = trainer.stop_requested(interrupt) and last < config.steps
            if stopping or (config.save_steps and last % config.save_steps == 0 and last < config.steps):
                trainer.checkpoint(out, last)
            if stopping:
                if log is not None:
                    log.close()
                raise RunInterrupted(
                    f"interrupted after step {last} of {config.steps}; the checkpoint is in {out}/checkpoints. "
                    f"Continue with: thinkact grpo --out {out} --resume (and the same config)"
                )
    if log is not None:
        log.close()
        warn_often_truncated(log.truncated_shares(), config.mask_truncated, config.max_new_tokens)
    final = _finish(trainer, out, done, last)
    trainer.accelerator.end_training()  # destroys the process group under `accelerate launch`; a no-op alone
    return final


def _report(
    log: RunLog,
    done: int,
    metrics: dict[str, float],
    rollouts: list[Rollout],
    config: GRPORunConfig,
    on_step: StepCallback | None,
) -> None:
    """Log step `done`'s metrics and its first group's rollouts, warn if every completion was cut, tell `on_step`."""
    log.write(done, metrics, [r.summary() for r in rollouts[: config.group_size]])
    warn_all_truncated(done, metrics["truncated"], config.mask_truncated, config.max_new_tokens)
    if on_step is not None:
        on_step(done, metrics)


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
        check_resume(out, config, config.steps, checkpoint_step(out), "grpo", finished=finished_step(out))
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
    return save_final(trainer.update, trainer.tokenizer, out, last)


def _log_heldout_start(
    heldout: HeldOut, trainer: GRPOTrainer, log: RunLog, on_step: StepCallback | None
) -> None:
    """Evaluate the starting policy on the held-out data and log it as step 0."""
    start = heldout.evaluate(trainer.accelerator.unwrap_model(trainer.model), trainer.tokenizer)
    log.write(0, start, [])
    if on_step is not None:
        on_step(0, start)


def _heldout(config: GRPORunConfig) -> HeldOut | None:
    """The held-out evaluation run every `eval_steps` (None: none)."""
    if not config.eval_steps:
        return None
    return HeldOut(
        config.eval_data,
        limit=config.eval_limit,
        max_new_tokens=config.max_new_tokens,
        rewards=config.rewards,
        batch_size=config.micro_batch * 4,
    )

"""GRPO's run state: what a step carries to the next, and what a checkpoint keeps of it for `resume`.

The schedule state is three values the trainer holds: the running score of every prompt (`sampling.kind:
deficiency`, folded in from every process after each step), the tokens sampled so far by all processes
(`max_generated_tokens`), and the step after which the KL reference last became the policy (`last_reset`). A
checkpoint (`train/checkpoints.py`) holds the weights (or the LoRA adapter), AdamW's state, those three values and,
after a reference reset, the reference itself (`reference.safetensors`); `restore_checkpoint` and
`restore_schedule` put them all back exactly. At the end the policy, LoRA merged, goes to `model/` and
finished.json records its step. Left out: when to checkpoint (`run_grpo`) and the update itself
(`grpo_update.py`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.errors import UserError
from thinkact.rollout.records import Rollout
from thinkact.train.checkpoints import (
    StopOnInterrupt,
    latest_checkpoint,
    load_optimizer,
    load_state,
    save_checkpoint,
    save_model,
    write_finished,
)
from thinkact.train.grpo_config import PromptSampling
from thinkact.train.grpo_update import PolicyUpdate
from thinkact.train.schedule import group_means, sampling_metrics, sampling_weights, update_scores

REFERENCE_FILE = "reference.safetensors"
"""The KL reference in a checkpoint written after a reference reset."""


def fold_scores(
    sampling: PromptSampling,
    group_size: int,
    accelerator: Accelerator,
    scores: list[float | None],
    indices: list[int],
    rollouts: list[Rollout],
) -> tuple[list[float | None], dict[str, float]]:
    """Deficiency sampling: every process's group means folded into the running `scores` (a collective); returns
    the new scores and the spread of the weights this step was drawn with. Other sampling: unchanged, no metrics.
    """
    if sampling.kind != "deficiency":
        return scores, {}
    seen = sum(score is not None for score in scores)
    spread = sampling_metrics(sampling_weights(scores, sampling.floor), seen)
    means = group_means(indices, rollouts, group_size)
    everyone = gather_object([means]) if accelerator.num_processes > 1 else [means]
    return update_scores(scores, [m for part in everyone for m in part], sampling.decay), spread


def sum_over_processes(accelerator: Accelerator, count: int) -> int:
    """`count` summed over the processes (a collective; alone, `count`)."""
    if accelerator.num_processes == 1:
        return count
    total = torch.tensor(count, device=accelerator.device)
    return int(accelerator.reduce(total, reduction="sum"))


def stop_requested(accelerator: Accelerator, interrupt: StopOnInterrupt) -> bool:
    """Whether any process was asked to stop (a collective: every process calls it each step)."""
    if accelerator.num_processes == 1:
        return interrupt.requested
    flag = torch.tensor(int(interrupt.requested), device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="sum"))


def merged_policy(update: PolicyUpdate) -> PreTrainedModel:
    """The trained policy as a plain model (LoRA merged into a copy of the weights; the policy itself otherwise)."""
    model = update.accelerator.unwrap_model(update.model)
    if isinstance(model, PeftModel):
        return copy.deepcopy(model).merge_and_unload()  # type: ignore[no-any-return]
    return model  # type: ignore[no-any-return]


def save_policy(update: PolicyUpdate, tokenizer: PreTrainedTokenizerBase, directory: str | Path) -> Path:
    """Write the merged policy and its tokenizer to `directory` (the main process; every process waits)."""
    directory = Path(directory)
    update.accelerator.wait_for_everyone()
    if update.accelerator.is_main_process:
        save_model(merged_policy(update), tokenizer, directory)
    return directory


def write_checkpoint(
    run_dir: Path,
    step: int,
    update: PolicyUpdate,
    tokenizer: PreTrainedTokenizerBase,
    state: dict[str, Any],
    last_reset: int,
) -> None:
    """Checkpoint `step` under `run_dir`: weights or adapter, AdamW, the schedule `state` and, after a reference
    reset (`last_reset` > 0), the reference. Left out: the final model (`save_policy`)."""
    accelerator = update.accelerator
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    reference = update.reference

    def save_reference(directory: Path) -> None:
        """After a reset the reference is no longer the starting policy: keep it beside the checkpoint."""
        if last_reset and reference is not None:
            save_safetensors_model(reference, str(directory / REFERENCE_FILE))

    model = accelerator.unwrap_model(update.model)
    save_checkpoint(run_dir, step, model, update.optimizer, state, tokenizer=tokenizer, extra=save_reference)


def restore_checkpoint(checkpoint: Path, update: PolicyUpdate) -> dict[str, Any]:
    """Load `checkpoint`'s weights (or adapter) and AdamW state into `update`; returns its saved state.

    Left out: the schedule state and the reference (`restore_schedule`)."""
    model = update.accelerator.unwrap_model(update.model)
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
    load_optimizer(checkpoint, update.optimizer)
    return load_state(checkpoint)


def restore_schedule(
    checkpoint: Path, state: dict[str, Any], scores: list[float | None], reference: torch.nn.Module | None
) -> tuple[list[float | None], int, int]:
    """The running scores, the token count and the last reset exactly as the checkpoint left them, the reset
    reference loaded into `reference`; `scores` are the fresh run's (their count must match the checkpoint's)."""
    saved = state.get("sampling_scores", scores)
    if len(saved) != len(scores):
        raise UserError(
            f"{checkpoint}: holds running scores of {len(saved)} prompts, but the data has {len(scores)}; "
            "resume with the data the run was started with"
        )
    last_reset = int(state.get("last_reset", 0))
    if last_reset and reference is not None:
        if not (checkpoint / REFERENCE_FILE).is_file():
            raise UserError(
                f"{checkpoint}: the reference was reset after step {last_reset} but "
                f"{REFERENCE_FILE} is missing, so the run cannot continue as it was; use --overwrite"
            )
        load_safetensors_model(reference, str(checkpoint / REFERENCE_FILE))
    restored = [None if score is None else float(score) for score in saved]
    return restored, int(state.get("generated_tokens", 0)), last_reset


def checkpoint_step(out: Path) -> int | None:
    """The step of the run's latest checkpoint (None: no run directory, or no checkpoint in it)."""
    checkpoint = latest_checkpoint(out) if out.is_dir() else None
    return None if checkpoint is None else int(load_state(checkpoint)["step"])


def save_final(update: PolicyUpdate, tokenizer: PreTrainedTokenizerBase, out: Path, last: int) -> Path:
    """Put the policy in `out/model` in place of any earlier one, then record its step (`last`) in finished.json.

    Left out: the last step's checkpoint, which `run_grpo` writes first."""
    final = save_policy(update, tokenizer, out / "model")
    if update.accelerator.is_main_process:
        write_finished(out, last)
    return final

"""Supervised fine-tuning on reference turns, with or without the reference reasoning, on TRL's SFTTrainer.

Each assistant turn of the training conversations becomes one example: the rendered history is the prompt and
the reference action is the completion, which alone carries loss (TRL's completion mask). With `think` the
completion is `<think>reference reasoning</think>` then the action (think-SFT, the warm-up before GRPO); without,
the think block is empty (the paper's "SFT without explicit thinking" baseline, Qwen3's no-think rendering).
We tokenise ourselves (`models/chat.py`) so that the completion boundary is exact for any template, and hand
TRL the ids. On CPUs TRL's fused LM head is narrowed to the positions that carry a label (train/label_head.py:
the same loss; the demo's 400 no-thinking steps take 212 s instead of 533 s). LoRA comes through peft. Runs
checkpoint every `save_steps`, on Ctrl-C and at the last step, and `resume` continues the last complete checkpoint
through the Trainer's `resume_from_checkpoint`; with a larger `max_steps` a finished run is extended, its
learning-rate schedule recomputed for the new total. The final model is written to a temporary directory and
swapped in for any earlier one.
`padding_free` joins a batch into one unpadded row (TRL's collator; exact, since attention stays within each
sequence). Left out: packing several examples into fixed-length rows, which changes what a step holds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerate.utils import is_peft_model
from datasets import Dataset
from torch.optim.lr_scheduler import LambdaLR
from transformers import PreTrainedTokenizerBase, PrinterCallback, TrainerCallback
from trl import SFTConfig, SFTTrainer

from thinkact.config import save_config
from thinkact.data.conversations import read_conversations, split_turns
from thinkact.data.rename import augment
from thinkact.errors import UserError, check_choice
from thinkact.files import atomic_write_text, check_output_dir, fsync_tree, replace_dir
from thinkact.models.chat import render_completion
from thinkact.models.load import load_policy
from thinkact.models.lora import LoraOptions, lora_config
from thinkact.threads import apply_threads
from thinkact.train.checkpoints import RunInterrupted, StopOnInterrupt, check_resume, save_model
from thinkact.train.label_head import label_head
from thinkact.train.self_distill import SelfDistillOptions, check_options, run_self_distill
from thinkact.train.tracking import check_report_to, prepare_trainer_reporting

SCHEDULERS = {
    "cosine": "cosine",
    "linear": "linear",
    "constant": "constant_with_warmup",
    "wsd": "warmup_stable_decay",
}
"""`sft.lr_scheduler` → transformers' `lr_scheduler_type`."""


@dataclass
class SFTRunConfig:
    model: str = "runs/tiny-model"
    """Model directory (or a hub id already in the local cache)."""
    data: str = "runs/data/train.jsonl"
    """Training conversations (chat-format JSONL)."""
    out: str = "runs/sft"
    """Run directory: config.yaml, checkpoints, the final model."""
    think: bool = True
    """Train on the reference reasoning; false trains the no-thinking baseline."""
    max_steps: int = 200
    """Optimiser steps (-1: use `epochs`)."""
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    learning_rate: float = 2e-3
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    """How the learning rate falls after warm-up: cosine (to 0), linear (to 0), constant, or wsd
    (warm-up, stable, then a cosine decay over the last fifth of the steps: warmup-stable-decay)."""
    weight_decay: float = 0.0
    max_length: int = 1536
    """Examples longer than this (prompt + completion tokens) are reported and left out of training."""
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 50
    """Checkpoint every N steps for `--resume` (0: only the final model; Ctrl-C still checkpoints)."""
    bf16: bool = False
    gradient_checkpointing: bool = False
    threads: int = 0
    """torch CPU threads (0: one per core this process may run on; 1 on a machine shared with busy processes)."""
    padding_free: bool = False
    """Concatenate a batch's sequences into one row without padding (TRL's padding-free collator); the loss is
    the padded batch's (attention stays within each sequence). Pays on GPUs with varlen attention kernels; on CPUs
    attention over the joined row costs more than the padding it saves (docs/benchmarks.md)."""
    rename_tools: float = 0.0
    """Share of the training conversations whose tools get fresh names (the same in the tool list, the calls and
    the text: `data/rename.py`), so the model learns to read names from the tool list rather than recall the
    training domains' (0: none; the data file is never changed)."""
    fresh_entities: float = 0.0
    """Share of the training conversations whose copied entities (cities, names, titles) become invented words,
    the same in every message (`data/rename.py`), so the model learns to copy values from the conversation
    rather than recall the training split's (0: none; the data file is never changed)."""
    rename_arguments: float = 0.0
    """Share of the training conversations whose tools' parameters get fresh names (the same in the schema and
    in every call's arguments: `data/rename.py`), so the model learns to read argument keys from the schema
    rather than recall the training domains' (0: none; the data file is never changed)."""
    lora: LoraOptions = field(default_factory=LoraOptions)
    report_to: str = "tensorboard"
    """Experiment trackers, comma-separated: tensorboard, trackio, wandb (optional extras), or none."""
    report_offline: bool = True
    """wandb: log offline under the run directory (`wandb sync` uploads later); false uploads as it runs."""
    self_distill: SelfDistillOptions = field(default_factory=SelfDistillOptions)
    """Self-distilled reasoning (STaR): rounds of sampling thinking from the policy, keeping the samples whose
    action is right, and SFT on them (train/self_distill/)."""

    def __post_init__(self) -> None:
        check_report_to(self.report_to, "sft.report_to")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise UserError("sft: batch_size and grad_accum must be >= 1")
        if self.max_steps == 0 or (self.max_steps < 0 and self.epochs <= 0):
            raise UserError("sft: set max_steps > 0, or max_steps: -1 with epochs > 0")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise UserError("sft.learning_rate: must be a positive number")
        if self.threads < 0:
            raise UserError("sft.threads: must be >= 0 (0: one per available core)")
        check_options(self.self_distill, self.think)
        check_choice("sft.lr_scheduler", self.lr_scheduler, tuple(SCHEDULERS))
        if self.lr_scheduler == "wsd" and self.max_steps < 0:
            raise UserError(
                "sft.lr_scheduler: wsd decays over the last fifth of max_steps; set max_steps > 0"
            )
        for name in ("rename_tools", "fresh_entities", "rename_arguments"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise UserError(f"sft.{name}: {share} is not a share; give a number from 0 to 1")


def build_dataset(
    tokenizer: PreTrainedTokenizerBase,
    data: str | Path,
    *,
    think: bool,
    max_length: int,
    share_prefixes: bool = True,
    rename_share: float = 0.0,
    entity_share: float = 0.0,
    seed: int = 0,
    argument_share: float = 0.0,
) -> tuple[Dataset, int]:
    """Tokenised training sequences (`input_ids`, `completion_mask`) and how many turns were too long to keep.

    With `share_prefixes`, consecutive turns of a conversation share one sequence whenever the later turn's
    prompt is exactly the earlier sequence plus new history (as Qwen3 renders the steps after the last user
    message): the loss on every completion token is then the one its own per-turn example would give, since
    attention is causal, and the shared history is computed once instead of once per turn.
    `rename_share` of the conversations (drawn with `seed`) are trained with fresh tool names, and
    `entity_share` with fresh entities and `argument_share` with fresh parameter names (`data/rename.py`).
    """
    rows: dict[str, list[list[int]]] = {"input_ids": [], "completion_mask": []}
    too_long = 0
    turns = 0
    for conversation in augment(
        read_conversations(data),
        seed,
        tool_share=rename_share,
        entity_share=entity_share,
        argument_share=argument_share,
    ):
        text = ""
        ids: list[int] = []
        mask: list[int] = []
        for turn in split_turns(conversation):
            if not turn.scored:
                continue
            turns += 1
            prompt, completion = render_completion(tokenizer, turn, think=think)
            completion_ids = _encode(tokenizer, completion)
            history = (
                _encode(tokenizer, prompt[len(text) :])
                if share_prefixes and text and prompt.startswith(text)
                else None
            )
            if history is not None and len(ids) + len(history) + len(completion_ids) <= max_length:
                ids, mask = ids + history, mask + [0] * len(history)
            else:
                _append_row(rows, ids, mask)
                ids = _encode(tokenizer, prompt)
                mask = [0] * len(ids)
            if len(ids) + len(completion_ids) > max_length:
                too_long += 1
                text, ids, mask = "", [], []
                continue
            ids, mask = ids + completion_ids, mask + [1] * len(completion_ids)
            text = prompt + completion
        _append_row(rows, ids, mask)
    if not turns:
        raise UserError(
            f"{data}: no assistant turn to train on (SFT learns the assistant messages, and turns marked "
            '"score": false are left out); check that the file holds assistant replies'
        )
    if not rows["input_ids"]:
        raise UserError(f"{data}: no turn fits in max_length={max_length} tokens; raise sft.max_length")
    return Dataset.from_dict(rows), too_long


def _scheduler_kwargs(config: SFTRunConfig) -> dict[str, Any]:
    """wsd decays over the last fifth of the steps (transformers wants the count); the others take nothing."""
    if config.lr_scheduler != "wsd":
        return {}
    return {"num_decay_steps": max(config.max_steps // 5, 1)}


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _append_row(rows: dict[str, list[list[int]]], ids: list[int], mask: list[int]) -> None:
    if any(mask):
        rows["input_ids"].append(ids)
        rows["completion_mask"].append(mask)


def run_sft(
    config: SFTRunConfig,
    callbacks: list[TrainerCallback] | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    on_resume: Callable[[int, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """Fine-tune `config.model` on `config.data`; the final model (merged if LoRA) lands in `config.out`.

    An existing run directory is refused unless `resume` (continue its last checkpoint with the same config,
    through the Trainer's `resume_from_checkpoint`) or `overwrite`; nothing is written before the model and data
    have loaded. The first Ctrl-C finishes the step, checkpoints and raises `RunInterrupted`. With
    `self_distill.enabled`, the rounds of `train/self_distill/` run instead, each round's SFT through this same
    trainer; `say` hears their progress lines.
    """
    if config.self_distill.enabled:

        def train(round_config: SFTRunConfig, round_resume: bool, round_overwrite: bool) -> Path:
            return _train(round_config, callbacks, round_resume, round_overwrite, on_resume)

        return run_self_distill(config, train, resume=resume, overwrite=overwrite, say=say)
    return _train(config, callbacks, resume, overwrite, on_resume)


def _train(
    config: SFTRunConfig,
    callbacks: list[TrainerCallback] | None,
    resume: bool,
    overwrite: bool,
    on_resume: Callable[[int, int], None] | None,
) -> Path:
    """One SFT run: check the run directory, load, write the config, train, then save the final model.

    Left out: the self-distillation rounds (`run_sft` runs this once per round)."""
    out = Path(config.out)
    check_output_dir(out, overwrite=overwrite, resume=resume)
    apply_threads(config.threads)
    checkpoint = _resume_checkpoint(config, out) if resume else None
    model, tokenizer = load_policy(config.model)
    dataset = _load_dataset(config, tokenizer)
    if overwrite:
        replace_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    interrupt = StopOnInterrupt()
    trainer = SFTTrainer(
        model=model,
        args=_sft_arguments(config, out),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.lora, model) if config.lora.enabled else None,
        callbacks=[*(callbacks or []), _SaveOnInterrupt(interrupt), _ResumedLearningRate()],
    )
    trained: Any = trainer.model
    label_head(trained.get_base_model() if is_peft_model(trained) else trained)
    if callbacks:  # the caller reports progress; TRL's printer would repeat every log line as a dict
        trainer.remove_callback(PrinterCallback)
    if checkpoint is not None and on_resume is not None:
        on_resume(int(checkpoint.name.split("-")[1]), config.max_steps)
    with interrupt.installed():
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    if interrupt.requested and trainer.state.global_step < trainer.state.max_steps:
        raise RunInterrupted(
            f"interrupted after step {trainer.state.global_step} of {trainer.state.max_steps}; the checkpoint is "
            f"in {out}/checkpoints. Continue with: thinkact sft --out {out} --resume (and the same config)"
        )
    return _save_final(trainer, config, tokenizer, out)


def _resume_checkpoint(config: SFTRunConfig, out: Path) -> Path | None:
    """The checkpoint a `resume` continues (None: the run has none yet), once `check_resume` accepts the run.

    Left out: loading it (the Trainer's `resume_from_checkpoint` does)."""
    checkpoint = last_trainer_checkpoint(out / "checkpoints")
    done = None if checkpoint is None else int(checkpoint.name.split("-")[1])
    steps = config.max_steps if config.max_steps > 0 else None
    check_resume(out, config, steps, done, "sft", finished=_finished_step(out), steps_field="max_steps")
    return checkpoint


def _load_dataset(config: SFTRunConfig, tokenizer: PreTrainedTokenizerBase) -> Dataset:
    """The run's training sequences (`build_dataset` with the config's settings), warning of turns left out.

    Left out: the model, which the caller loads first."""
    dataset, too_long = build_dataset(
        tokenizer,
        config.data,
        think=config.think,
        max_length=config.max_length,
        rename_share=config.rename_tools,
        entity_share=config.fresh_entities,
        argument_share=config.rename_arguments,
        seed=config.seed,
    )
    if too_long:
        logging.getLogger(__name__).warning(
            "%d of %d turns exceed max_length=%d and were left out",
            too_long,
            too_long + len(dataset),
            config.max_length,
        )
    return dataset


def _sft_arguments(config: SFTRunConfig, out: Path) -> SFTConfig:
    """TRL's `SFTConfig` for the run: thinkact's fields mapped onto the Trainer's, checkpoints under `out`.

    Left out: LoRA (the Trainer takes it as `peft_config`) and callbacks."""
    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        warmup_steps=max(int(config.warmup_ratio * max(config.max_steps, 1)), 0),
        weight_decay=config.weight_decay,
        lr_scheduler_type=SCHEDULERS[config.lr_scheduler],
        lr_scheduler_kwargs=_scheduler_kwargs(config),
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps or 10**9,  # 0: only the checkpoint a Ctrl-C asks for
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        bf16=config.bf16,
        activation_checkpointing=config.gradient_checkpointing,  # the name transformers 5 keeps (the old one warns)
        use_cpu=not _has_accelerator(),
        completion_only_loss=True,
        padding_free=config.padding_free,
        max_length=config.max_length,
        report_to=prepare_trainer_reporting(
            check_report_to(config.report_to, "sft.report_to"), out, config.report_offline
        ),
        run_name=out.name,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def _save_final(
    trainer: SFTTrainer, config: SFTRunConfig, tokenizer: PreTrainedTokenizerBase, out: Path
) -> Path:
    """Write the trained model (a LoRA adapter merged in) to `out/model`, then the Trainer state that marks the run
    finished; returns the model's directory. Left out: checkpoints, which the Trainer writes."""
    final: Any = trainer.model
    if config.lora.enabled:
        final = final.merge_and_unload()  # fold the adapter in, so the result loads like any model
    save_model(final, tokenizer, out / "model")
    atomic_write_text(
        out / "trainer_state.json",
        json.dumps(dataclasses.asdict(trainer.state), indent=2, sort_keys=True) + "\n",
    )
    return out / "model"


def _finished_step(out: Path) -> int | None:
    """The step a finished run's model/ holds: the Trainer state written after it (None: not there)."""
    path = out / "trainer_state.json"
    return int(json.loads(path.read_text(encoding="utf-8"))["global_step"]) if path.is_file() else None


def last_trainer_checkpoint(directory: Path) -> Path | None:
    """The Trainer's newest complete checkpoint (`checkpoint-N` whose trainer_state.json, written last, is there)."""
    if not directory.is_dir():
        return None
    complete = [path for path in directory.glob("checkpoint-*") if (path / "trainer_state.json").is_file()]
    return max(complete, key=lambda path: int(path.name.split("-")[1]), default=None)


class _SaveOnInterrupt(TrainerCallback):
    """Turns a Ctrl-C into "save after this step and stop", and makes each checkpoint durable."""

    def __init__(self, interrupt: StopOnInterrupt) -> None:
        self.interrupt = interrupt

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.interrupt.requested and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        fsync_tree(Path(args.output_dir) / f"checkpoint-{state.global_step}")


class _ResumedLearningRate(TrainerCallback):
    """A resumed run's first step takes this run's scheduled learning rate, not the one in the optimizer state.

    The Trainer restores the optimizer's rate from the checkpoint and recomputes it only after the next step. With
    the same `max_steps` the two agree; an extended run would take its first added step at the rate the shorter
    run ended on (0 under cosine or linear decay). transformers' schedules are `LambdaLR`s: a rate per step.
    """

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        scheduler = kwargs.get("lr_scheduler")
        if not state.global_step or not isinstance(scheduler, LambdaLR):
            return
        schedules = zip(scheduler.base_lrs, scheduler.lr_lambdas, strict=True)
        rates = [base * rate(scheduler.last_epoch) for base, rate in schedules]
        for group, rate in zip(kwargs["optimizer"].param_groups, rates, strict=True):
            group["lr"] = rate
        # What the Trainer logs as this step's learning_rate is `get_last_lr()`, which reads this private field;
        # torch has no public setter, and `scheduler.step()`, the only public way to refresh it, advances the
        # schedule a step.
        scheduler._last_lr = rates


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()

"""`thinkact grpo --engine trl`: the same GRPO run on TRL's GRPOTrainer, with thinkact's data and rewards.

`run_trl_grpo` loads the policy as thinkact's engine does, builds the turn dataset (`trl_data`), maps the config
field by field onto `trl.GRPOConfig` (`trl_settings`, which refuses what TRL lacks), passes thinkact's combined
reward as TRL's reward function (`trl_rewards`) and, with `environments=True`, each conversation's domain as a TRL
environment (`trl_envs`), so TRL's tool loop executes the calls. The run directory looks like the engine's:
`config.yaml`, `metrics.jsonl` (TRL's logged metrics plus thinkact's names: reward, loss, kl, reward/<component>,
step_seconds, tokens_per_second), `tensorboard/`, `samples.jsonl` and the final model in `model/`. What TRL brings
that the engine does not: vLLM generation (`trl_args={"use_vllm": True}`, or `--set trl.use_vllm=true`) and the
rest of TRL's options. LoRA (`lora.enabled`) becomes TRL's `peft_config`. Left out: checkpoints and resume (TRL
saves none here; `save_strategy="no"`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import PeftModel
from transformers import PrinterCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from trl import GRPOConfig, GRPOTrainer
from trl.import_utils import is_vllm_available

from thinkact.config import save_config
from thinkact.errors import UserError
from thinkact.integrations.trl_data import dataset_rows
from thinkact.integrations.trl_envs import environment_factories
from thinkact.integrations.trl_rewards import make_reward_function
from thinkact.integrations.trl_settings import ADAPTER_SETTINGS, trl_arguments
from thinkact.jsonsafe import dump_json
from thinkact.models.load import load_policy
from thinkact.models.lora import lora_config
from thinkact.rollout.generation import stop_token_ids
from thinkact.train.grpo import StepCallback, open_tracker
from thinkact.train.grpo_config import GRPORunConfig, scheduled_rewards
from thinkact.train.tracking import Tracker

# TRL's metric names → thinkact's (the rest are kept under TRL's names).
_RENAMED = {"completions/mean_length": "completion_tokens", "completions/clipped_ratio": "truncated"}


class MetricsCallback(TrainerCallback):
    """Writes TRL's logs to metrics.jsonl and the `report_to` trackers under thinkact's names; reports each step."""

    def __init__(
        self,
        out: Path,
        completions_per_step: int,
        passes: int,
        on_step: StepCallback | None,
        config: GRPORunConfig | None = None,
    ) -> None:
        self.out = out
        self.config = config or GRPORunConfig(out=str(out))
        self.completions_per_step = completions_per_step
        self.passes = passes
        self.on_step = on_step
        self.started = 0.0
        self.step_seconds = 0.0
        self.tracker: Tracker | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            (self.out / "metrics.jsonl").write_text("", encoding="utf-8")
            self.tracker = open_tracker(self.config, self.out)

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.started = time.perf_counter()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.step_seconds = time.perf_counter() - self.started

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return  # the final train summary has no loss key
        metrics = thinkact_metrics(logs, self.step_seconds, self.completions_per_step)
        step = math.ceil(state.global_step / self.passes)
        with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(dump_json({"step": step, "optimizer_step": state.global_step, **metrics}) + "\n")
        if self.tracker is not None:
            self.tracker.log(metrics, step)
        if self.on_step is not None:
            self.on_step(step, metrics)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.tracker is not None:
            self.tracker.close()


def thinkact_metrics(
    logs: dict[str, Any], step_seconds: float, completions_per_step: int
) -> dict[str, float]:
    """TRL's logged values (numbers only) with thinkact's names added.

    >>> m = thinkact_metrics({"loss": 0.5, "reward": 0.25, "completions/mean_length": 10.0}, 2.0, 8)
    >>> m["kl"], m["completion_tokens"], m["tokens_per_second"]
    (0.0, 10.0, 40.0)
    """
    metrics = {name: float(value) for name, value in logs.items() if isinstance(value, int | float)}
    for trl_name, name in _RENAMED.items():
        if trl_name in metrics:
            metrics[name] = metrics[trl_name]
    metrics.setdefault("kl", 0.0)
    metrics["step_seconds"] = step_seconds
    tokens = metrics.get("completion_tokens", 0.0) * completions_per_step
    metrics["tokens_per_second"] = tokens / step_seconds if step_seconds > 0 else 0.0
    return metrics


def make_grpo_config(
    config: GRPORunConfig, extra: dict[str, Any], *, environments: bool = False
) -> GRPOConfig:
    """TRL's config for `config` plus the `extra` GRPOConfig fields; a `UserError` for anything TRL cannot do."""
    check_trl_fields(extra)
    if extra.get("use_vllm") and not is_vllm_available():
        raise UserError(
            "--set trl.use_vllm=true: vLLM is not installed; on a CUDA machine `pip install vllm` "
            "(TRL 1.16 supports vLLM 0.22-0.31), or leave use_vllm off to generate with transformers"
        )
    arguments = trl_arguments(
        config,
        num_processes=int(os.environ.get("WORLD_SIZE", "1")),
        cuda=torch.cuda.is_available(),
        environments=environments,
        extra=extra,
    )
    try:
        return GRPOConfig(**arguments)
    except ValueError as error:
        raise UserError(f"--engine trl: TRL refuses the settings: {error}") from None


def check_trl_fields(extra: dict[str, Any]) -> None:
    """Refuse trl.* settings that are not GRPOConfig fields."""
    known = {field.name for field in dataclasses.fields(GRPOConfig)}
    for key in extra:
        if key not in known:
            raise UserError(
                f"--set trl.{key}: not a field of trl.GRPOConfig (TRL 1.16) nor an adapter option "
                f"({', '.join(ADAPTER_SETTINGS)})"
            )


def build_trainer(
    config: GRPORunConfig,
    grpo_config: GRPOConfig,
    *,
    environments: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> GRPOTrainer:
    """TRL's GRPOTrainer for `config`: thinkact's policy, turn dataset, reward and (optionally) environments."""
    model, tokenizer = load_policy(config.model, dtype=torch.bfloat16 if config.bf16 else torch.float32)
    rows, _ = dataset_rows(
        tokenizer,
        config.data,
        max_prompt_tokens=config.max_prompt_tokens,
        environments=environments,
        answer_metric=config.rewards.answer_metric,
    )
    if len(rows) < config.prompts_per_step:
        raise UserError(
            f"{config.data}: {len(rows)} prompts, fewer than grpo.prompts_per_step={config.prompts_per_step}"
        )
    reward = make_reward_function(
        tokenizer,
        lambda step: scheduled_rewards(config, step),
        stop_token_ids(model, tokenizer),
        passes=config.passes,
        samples=Path(config.out) / "samples.jsonl",
        sample_steps=config.sample_steps,
        group_size=config.group_size,
    )
    factories = environment_factories([row["environment"] for row in rows]) if environments else None
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=grpo_config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=callbacks,
        environment_factory=factories,  # type: ignore[arg-type]
        # With an adapter, TRL's KL reference is the model with the adapter disabled.
        peft_config=lora_config(config.lora, model) if config.lora.enabled else None,
    )
    trainer.remove_callback(PrinterCallback)  # MetricsCallback reports each step
    return trainer


def run_trl_grpo(
    config: GRPORunConfig,
    *,
    trl_args: dict[str, Any] | None = None,
    on_step: StepCallback | None = None,
) -> Path:
    """Train with TRL's GRPOTrainer from `config.model`; writes the run directory and returns `<out>/model`.

    `trl_args` holds extra GRPOConfig fields (e.g. `use_vllm`), and `environments=True` to run TRL's tool loop.
    """
    extra = dict(trl_args or {})
    environments = bool(extra.pop("environments", False))
    grpo_config = make_grpo_config(config, extra, environments=environments)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if grpo_config.process_index == 0:
        save_config(config, out / "config.yaml")
        if trl_args:
            (out / "trl_args.json").write_text(json.dumps(trl_args, indent=2), encoding="utf-8")
    callback = MetricsCallback(
        out, config.prompts_per_step * config.group_size, config.passes, on_step, config
    )
    trainer = build_trainer(config, grpo_config, environments=environments, callbacks=[callback])
    trainer.train()
    return save_policy(trainer, out / "model")


def save_policy(trainer: GRPOTrainer, directory: Path) -> Path:
    """The trained policy as a plain model (a LoRA adapter merged into a copy), as thinkact's engine saves it."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel):
        trainer.save_model(str(directory))  # gathers ZeRO-3/FSDP shards when needed
        return directory
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        copy.deepcopy(model).merge_and_unload().save_pretrained(directory)
        trainer.processing_class.save_pretrained(directory)  # type: ignore[union-attr]
    return directory

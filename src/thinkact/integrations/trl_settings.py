"""How a thinkact GRPO config maps onto TRL's `GRPOConfig`, and what the TRL engine refuses.

`trl_arguments` turns a `GRPORunConfig` into the keyword arguments of `trl.GRPOConfig`, field by field, so that one
TRL step is one thinkact step: `prompts_per_step × group_size` completions are generated at once, then `passes`
optimiser steps are taken over them (TRL's `num_iterations`), in micro-batches of at most `micro_batch`
completions per process. `unsupported` names every field set to something TRL cannot reproduce, with the reason;
`split_engine_settings` separates `--set trl.<field>=<value>` overrides (extra GRPOConfig fields, e.g.
`use_vllm`) from thinkact's own. The mapping is plain data and a pure function, checked without building TRL's
config or trainer.

Decisions (read from TRL 1.16's `GRPOConfig`/`GRPOTrainer` source):
- `loss` grpo/dr_grpo/dapo and `advantage_scale` group/none have the same definitions in TRL. TRL's "batch"
  scaling divides by the standard deviation of the raw rewards over the batch; thinkact's divides by that of the
  group-centred rewards, so `advantage_scale: batch` is refused rather than silently changed.
- `drop_equal_groups` (DAPO's dynamic sampling) has no TRL equivalent: TRL keeps equal-reward groups with zero
  advantage, which still count in the loss normaliser and the KL term.
- TRL multiplies the KL term by the importance ratio by default (`use_bias_correction_kl`); thinkact does not, so
  the adapter turns it off. The learning rate is constant in thinkact, so the scheduler is "constant".
- With `weight_decay > 0` TRL (through transformers' Trainer) leaves biases and norm weights undecayed;
  thinkact's engine decays every parameter. With the default 0 the optimisers are the same AdamW.
- TRL has no prompt-length limit; prompts over `max_prompt_tokens` are left out of the dataset, as thinkact does.
- `reference_reset_steps: N` becomes TRL's `sync_ref_model` with `ref_model_mixup_alpha: 1` every N × `passes`
  optimiser steps (the reference is then the policy, as after thinkact's reset); `reset_optimizer`, deficiency
  `sampling` and `max_generated_tokens` are refused (TRL keeps no per-prompt score and no token count).
- `mode: episode` and `save_steps` are refused (TRL's tool loop is reachable with `trl.environments=true`, scored
  per turn); `lora` becomes TRL's `peft_config`, `weight_schedule` is applied by the reward function.
- `prefix` (prefix-guided groups) and `hybrid` (an SFT loss in the GRPO step) are refused: TRL's generation cannot
  force a reference prefix on some members of a group, and its GRPO loss has no SFT term.
Left out: building the `GRPOConfig` itself and running TRL (`integrations.trl`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from thinkact.errors import UserError
from thinkact.train.grpo_config import GRPORunConfig
from thinkact.train.schedule import PromptSampling

ENGINES = ("thinkact", "trl")

# thinkact fields → the GRPOConfig fields that carry them (a user may not set those through trl.*).
MAPPED: dict[str, tuple[str, ...]] = {
    "model": ("model_init_kwargs",),
    "data": (),
    "out": ("output_dir",),
    "max_actions": ("max_tool_calling_iterations",),  # with trl.environments=true
    "steps": ("max_steps",),
    "prompts_per_step": ("per_device_train_batch_size", "generation_batch_size", "steps_per_generation"),
    "group_size": ("num_generations",),
    "max_new_tokens": ("max_completion_length",),
    "temperature": ("temperature",),
    "top_p": ("top_p",),
    "learning_rate": ("learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio"),
    "weight_decay": ("weight_decay",),
    "max_grad_norm": ("max_grad_norm",),
    "kl_coef": ("beta", "use_bias_correction_kl"),
    "clip_low": ("epsilon",),
    "clip_high": ("epsilon_high",),
    "loss": ("loss_type",),
    "advantage_scale": ("scale_rewards",),
    "passes": ("num_iterations",),
    "mask_truncated": ("mask_truncated_completions",),
    "micro_batch": ("gradient_accumulation_steps",),
    "max_prompt_tokens": (),
    "seed": ("seed", "data_seed"),
    "sample_steps": (),
    "rewards": ("reward_weights",),
    "episode_rewards": (),  # episode mode only, which the TRL engine refuses; ignored in turn mode as by the engine
    "weight_schedule": (),  # applied by the reward function at each step
    "lora": (),  # passed to GRPOTrainer as peft_config
    "gradient_checkpointing": ("gradient_checkpointing",),
    "bf16": ("bf16", "fp16"),
    "report_to": ("report_to", "run_name"),  # the adapter's callback logs to the same trackers as the engine
    "report_offline": (),
    # Prompt sampling, reference resets, compute budget
    "reference_reset_steps": ("sync_ref_model", "ref_model_mixup_alpha", "ref_model_sync_steps"),
}
"""Every GRPORunConfig field the TRL engine honours; any other field must keep its default."""

REFUSED: dict[str, tuple[Any, str]] = {
    "drop_equal_groups": (
        False,
        "TRL has no dynamic sampling: it keeps groups whose rewards are all equal (advantage 0), and they still "
        "count in the loss normaliser and the KL term; set drop_equal_groups=false to use --engine trl",
    ),
    "mode": (
        "turn",
        "the TRL engine trains turns (trl.environments=true executes tools in TRL's loop, but scores the turn's "
        "first action); episode rewards need --engine thinkact",
    ),
    "save_steps": (
        GRPORunConfig.save_steps,
        "the TRL engine saves only the final model (TRL's checkpoints are not thinkact's and cannot be resumed "
        "by thinkact); leave save_steps at its default (which the TRL engine ignores) or use --engine thinkact",
    ),
    # Prefix-guided groups and the hybrid SFT loss
    "prefix": (
        GRPORunConfig().prefix,
        "TRL has no prefix-guided groups: its generation cannot force a reference prefix on some members of a "
        "group, nor mask or SFT-train those tokens; leave grpo.prefix at its default or use --engine thinkact",
    ),
    "hybrid": (
        GRPORunConfig().hybrid,
        "TRL's GRPO has no hybrid SFT loss on the reference turns in the same step; leave grpo.hybrid at its "
        "default or use --engine thinkact",
    ),
    # Prompt sampling, reference resets, compute budget
    "sampling": (
        PromptSampling(),
        "TRL draws prompts with its own sampler and keeps no running score per prompt; leave sampling at "
        "kind: uniform or use --engine thinkact",
    ),
    "reset_optimizer": (
        False,
        "TRL's reference sync (reference_reset_steps) keeps the optimiser state; set reset_optimizer: false or use "
        "--engine thinkact",
    ),
    "update_dtype": (
        "float32",
        "TRL's trainer has no autocast of the update alone (its bf16 trains and samples in bf16); set "
        "update_dtype: float32 (or bf16: true) or use --engine thinkact",
    ),
    "max_generated_tokens": (
        0,
        "TRL stops at max_steps and does not count sampled tokens; set max_generated_tokens: 0 and choose steps, "
        "or use --engine thinkact",
    ),
}
"""Fields TRL cannot reproduce: the one value TRL's behaviour matches, and why any other is refused."""

ADAPTER_SETTINGS = ("environments",)
"""trl.* keys that are options of the adapter, not GRPOConfig fields: environments=true runs TRL's tool loop
with each conversation's domain as its environment (see integrations.trl_envs)."""


def unsupported(config: GRPORunConfig) -> list[str]:
    """One 'grpo.<field>: why' line per field the TRL engine cannot honour; empty when it can run `config`.

    >>> unsupported(GRPORunConfig(drop_equal_groups=False))
    []
    >>> unsupported(GRPORunConfig(drop_equal_groups=False, advantage_scale="batch"))[0][:39]
    'grpo.advantage_scale: TRL scales "batch'
    """
    problems = []
    defaults = GRPORunConfig()
    for field in dataclasses.fields(GRPORunConfig):
        value = getattr(config, field.name)
        if field.name in REFUSED:
            matching, why = REFUSED[field.name]
            if value != matching and not (field.name == "save_steps" and value == 0):
                problems.append(f"grpo.{field.name}: {why}")
        elif field.name not in MAPPED and value != getattr(defaults, field.name):
            problems.append(
                f"grpo.{field.name}: not supported by the TRL engine; leave it at its default "
                f"({getattr(defaults, field.name)!r}) or use --engine thinkact"
            )
    if config.advantage_scale == "batch":
        problems.append(
            'grpo.advantage_scale: TRL scales "batch" advantages by the standard deviation of the raw rewards, '
            "thinkact by that of the group-centred rewards; use group or none with --engine trl"
        )
    return problems


def micro_batch_size(completions_per_process: int, micro_batch: int) -> int:
    """The largest divisor of a process's completions that is at most `micro_batch` (TRL needs equal slices).

    >>> micro_batch_size(12, 8), micro_batch_size(16, 8), micro_batch_size(7, 4)
    (6, 8, 1)
    """
    return max(
        d for d in range(1, min(micro_batch, completions_per_process) + 1) if completions_per_process % d == 0
    )


def trl_arguments(
    config: GRPORunConfig,
    *,
    num_processes: int = 1,
    cuda: bool = False,
    environments: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of `trl.GRPOConfig` equivalent to `config` (raises `UserError` for what TRL lacks).

    >>> args = trl_arguments(GRPORunConfig(drop_equal_groups=False, prompts_per_step=4, group_size=4, micro_batch=8))
    >>> args["num_generations"], args["per_device_train_batch_size"], args["gradient_accumulation_steps"]
    (4, 8, 2)
    """
    problems = unsupported(config)
    completions = config.prompts_per_step * config.group_size
    if completions % num_processes:
        problems.append(
            f"grpo.prompts_per_step: {config.prompts_per_step} prompts × group_size {config.group_size} = "
            f"{completions} completions do not split evenly over {num_processes} processes"
        )
    if problems:
        raise UserError("--engine trl cannot run this config:\n  " + "\n  ".join(problems))
    per_process = completions // num_processes
    micro = micro_batch_size(per_process, config.micro_batch)
    accumulation = per_process // micro
    arguments: dict[str, Any] = {
        "output_dir": f"{config.out}/trl",
        "max_steps": config.steps
        * config.passes,  # TRL counts optimiser steps; thinkact counts rollout batches
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": accumulation,
        "steps_per_generation": accumulation,  # one generation of prompts_per_step × group_size per step
        "num_generations": config.group_size,
        "max_completion_length": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": 0,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "beta": config.kl_coef,
        "use_bias_correction_kl": False,
        "epsilon": config.clip_low,
        "epsilon_high": config.clip_high,
        "loss_type": config.loss,
        "scale_rewards": config.advantage_scale,
        "num_iterations": config.passes,
        "mask_truncated_completions": config.mask_truncated,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": 1,  # thinkact logs every step
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": not cuda,
        "bf16": config.bf16,  # the policy is also loaded in bfloat16 then, as by thinkact's engine
        "fp16": False,
        "gradient_checkpointing": config.gradient_checkpointing,
    }
    if config.reference_reset_steps:  # TRL's sync with mixing weight 1 copies the policy into the reference
        arguments.update(
            sync_ref_model=True,
            ref_model_mixup_alpha=1.0,
            ref_model_sync_steps=config.reference_reset_steps * config.passes,  # TRL counts optimiser steps
        )
    if environments:
        arguments["max_tool_calling_iterations"] = (
            config.max_actions - 1
        )  # max_actions generations per episode
    for key, value in (extra or {}).items():
        owner = next((name for name, keys in MAPPED.items() if key in keys), None)
        if owner is not None:
            raise UserError(f"--set trl.{key}: thinkact sets it from grpo.{owner}; set grpo.{owner} instead")
        arguments[key] = value
    return arguments


def split_engine_settings(
    engine: str, sets: list[str] | None, *, resume: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """(thinkact overrides, trl.* settings with YAML-parsed values) from `--set` values; checks the engine.

    >>> split_engine_settings("trl", ["steps=3", "trl.use_vllm=true"])
    (['steps=3'], {'use_vllm': True})
    """
    if engine not in ENGINES:
        raise UserError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if resume and engine == "trl":
        raise UserError("--resume: the TRL engine keeps no checkpoints to resume from; use --engine thinkact")
    own: list[str] = []
    trl: dict[str, Any] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not key.startswith("trl."):
            own.append(item)
            continue
        if not sep or key == "trl.":
            raise UserError(f"--set {item!r}: write TRL settings as trl.<GRPOConfig field>=<value>")
        trl[key.removeprefix("trl.")] = yaml.safe_load(value) if value.strip() else ""
    if trl and engine != "trl":
        raise UserError(f"--set trl.{next(iter(trl))}: TRL settings only apply with --engine trl")
    return own, trl

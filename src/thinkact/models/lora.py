"""LoRA: the options every trainer reads (`lora:` in the SFT and GRPO configs) and the peft config they become.

SFT (TRL's SFTTrainer), thinkact's GRPO engine and the TRL GRPO adapter all train the same adapter from the same
options through `lora_config`. Left out: wrapping the model (each trainer does it its own way: TRL takes the
config, the engine calls `get_peft_model`) and merging the adapter into the weights when a run ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peft import LoraConfig


@dataclass
class LoraOptions:
    enabled: bool = False
    """Train a LoRA adapter instead of all weights."""
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    """Module names the adapter wraps (Qwen3's attention and MLP projections by default)."""


def lora_config(options: LoraOptions) -> LoraConfig:
    """peft's config for a causal LM adapter with these options (whether it is `enabled` is the caller's test).

    >>> lora_config(LoraOptions(rank=4, alpha=8)).r
    4
    """
    return LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        task_type="CAUSAL_LM",
    )

"""LoRA: the options every trainer reads (`lora:` in the SFT and GRPO configs) and the peft config they become.

SFT (TRL's SFTTrainer), thinkact's GRPO engine and the TRL GRPO adapter all train the same adapter from the same
options through `lora_config`. Left out: wrapping the model (each trainer does it its own way: TRL takes the
config, the engine calls `get_peft_model`) and merging the adapter into the weights when a run ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from peft import LoraConfig

from thinkact.errors import UserError


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
    top_layers: int = 0
    """Only the last N transformer layers get the adapter (0: every layer). Below them nothing is trained, so
    backward stops at the first adapted layer: on a 30-layer model, 6 layers make a training step's backward
    about a fifth as long (docs/real-models.md)."""

    def __post_init__(self) -> None:
        if self.top_layers < 0:
            raise UserError(f"lora.top_layers: {self.top_layers}; give 0 (every layer) or a positive count")


def lora_config(options: LoraOptions, model: Any = None) -> LoraConfig:
    """peft's config for a causal LM adapter with these options (whether it is `enabled` is the caller's test);
    `model`, the one it will wrap, places `top_layers` (its `num_hidden_layers`).

    >>> from types import SimpleNamespace
    >>> lora_config(LoraOptions(rank=4, alpha=8)).r
    4
    >>> thirty = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=30))
    >>> lora_config(LoraOptions(top_layers=2), thirty).layers_to_transform
    [28, 29]
    """
    layers: dict[str, Any] = {}
    if options.top_layers:
        num_layers = model_layers(model) if model is not None else None
        if num_layers is None:
            raise ValueError(
                "lora_config: top_layers needs the model, whose config says how many layers it has"
            )
        if options.top_layers > num_layers:
            raise UserError(
                f"lora.top_layers: {options.top_layers}, but the model has {num_layers} layers; give at most "
                f"{num_layers} (or 0 for every layer)"
            )
        layers = {
            "layers_to_transform": list(range(num_layers - options.top_layers, num_layers)),
            "layers_pattern": "layers",
        }
    return LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        task_type="CAUSAL_LM",
        **layers,
    )


def model_layers(model: Any) -> int | None:
    """The model's number of transformer layers (`num_hidden_layers` of its text config), None when unknown."""
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    value = getattr(text, "num_hidden_layers", None)
    return int(value) if value is not None else None

"""SFT's LM head over the labelled positions alone, on CPUs as TRL already does on GPUs.

TRL's SFTTrainer scores tokens through a fused LM head (`trl.trainer.utils.add_fused_lm_head`): the backbone runs
on the whole sequence, then the vocabulary projection and the log-softmax. On Triton devices TRL first gathers the
positions whose next-token label is not -100; everywhere else it projects *every* position, prompt and padding
included, and masks afterwards (a fixed tile shape spares Neuron a recompilation per batch). In thinkact's SFT
only the completion carries a label (a tenth of the demo's tokens), so on a CPU that head was most of a step:
the demo's 400 no-thinking SFT steps took 533 s with it and 212 s with the head on the labelled positions alone
(docs/benchmarks.md). `label_head` re-patches the model TRL patched so that, for inputs
on the CPU, the head sees only those positions; the loss, its gradient and TRL's metrics (entropy, token
accuracy) are the same numbers (tests/test_label_head.py compares them). Other devices, context-parallel
`shift_labels`, MoE router logits, and logits that a config scales or soft-caps keep TRL's own path. The
labelled positions' logits are materialised whole (tokens × vocabulary), which is what a CPU batch of completions
can afford and what TRL's Triton path avoids.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import torch
from transformers import PreTrainedModel
from trl.trainer.utils import FusedCausalLMOutput


def label_head(model: PreTrainedModel) -> None:
    """Make `model(..., labels=labels, fused_lm_head=True)` project only labelled positions when run on a CPU.

    `model` is the one TRL's `add_fused_lm_head` patched (under PEFT, the base model); calls without
    `fused_lm_head` and the cases named in the module's docstring go to TRL's forward unchanged.
    """
    fused_forward = model.forward
    config = model.config.get_text_config()
    plain_logits = not any(
        getattr(config, name, None) not in (None, 1.0)
        for name in ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier")
    ) and getattr(config, "logits_scaling", None) in (None, 1.0)

    @functools.wraps(type(model).forward)
    def forward(self: PreTrainedModel, *args: Any, **kwargs: Any) -> Any:
        labels = kwargs.get("labels")
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if not (
            plain_logits
            and kwargs.get("fused_lm_head")
            and labels is not None
            and kwargs.get("shift_labels") is None
            and not kwargs.get("output_router_logits")
            and not getattr(config, "output_router_logits", False)
            and isinstance(input_ids, torch.Tensor)
            and input_ids.device.type == "cpu"
        ):
            return fused_forward(*args, **kwargs)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("labels", "fused_lm_head")}
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        hidden_BTH = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        next_BT = labels[:, 1:]
        mask_BT = next_BT != -100
        head = self.get_output_embeddings()
        logits_NV = head(hidden_BTH[mask_BT]).float()
        logp_NV = logits_NV.log_softmax(dim=-1)
        target_N = next_BT[mask_BT]
        logp_N = logp_NV.gather(1, target_N[:, None]).squeeze(1)
        with torch.no_grad():
            entropy_N = -(logp_NV.exp() * logp_NV).sum(dim=-1)
            top1_N = logits_NV.argmax(dim=-1) == target_N
        log_probs = logp_N.new_zeros(mask_BT.shape).masked_scatter(mask_BT, logp_N)
        count = mask_BT.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(
            loss=-log_probs.sum() / count,
            log_probs=log_probs,
            entropy=entropy_N.new_zeros(mask_BT.shape).masked_scatter(mask_BT, entropy_N),
            is_top1=mask_BT.new_zeros(mask_BT.shape).masked_scatter(mask_BT, top1_N),
            label_mask=mask_BT,
        )

    model.forward = types.MethodType(forward, model)  # type: ignore[method-assign]

"""The policy's sampling copy under `grpo.sample_dtype: bfloat16`: the rollouts come from a bfloat16 copy of it.

Decoding 16 streams of SmolLM2-135M on a CPU with AVX-512 BF16 runs about twice as fast in bfloat16 as in
float32 (docs/benchmarks.md). The policy, its gradients and AdamW stay float32; before each step's rollouts the
copy takes the policy's current weights, rounded. Only the parameters that train are copied after the first time
(under LoRA, the adapter: a few hundred thousand numbers), since the frozen ones never change.

What it costs in exactness, and why the update does not mind: the copy's next-token distributions differ from the
policy's by the rounding of its weights and activations, so the samples are very slightly off-policy. The update
never reads the sampler's log-probabilities: it recomputes every completion's log-probabilities with the float32
policy (its `old_logp` is that forward, detached, with one pass), so the ratio and the KL are the policy's own.
This is the arrangement of every trainer that samples with a bf16 inference engine (vLLM) and trains in float32.
Greedy completions in bf16 differ from float32 ones on many turns (44% of 48 SmolLM2 turns, benchmarks/precision.py),
which is why it is an option and never the default.
"""

from __future__ import annotations

import copy

import torch
from transformers import PreTrainedModel


class SamplingCopy:
    """A bfloat16 copy of `policy` that `refresh()` brings up to date before each step's rollouts."""

    def __init__(self, policy: PreTrainedModel) -> None:
        """`policy`: the unwrapped model the update trains (a peft model under LoRA)."""
        self.policy = policy
        self.copy: PreTrainedModel = copy.deepcopy(policy).eval()
        self.copy.requires_grad_(False)
        for parameter in self.copy.parameters():  # buffers (rotary frequencies) keep their float32
            parameter.data = parameter.data.to(torch.bfloat16)
        self._pairs = list(zip(policy.parameters(), self.copy.parameters(), strict=True))
        """(policy parameter, copy parameter), in module order; deepcopy keeps the order."""
        self._fresh = True

    @torch.no_grad()
    def refresh(self) -> PreTrainedModel:
        """Copy the policy's trainable parameters (all of them the first time and after `touch_all`) into the
        copy; returns the copy, ready to sample."""
        for source, target in self._pairs:
            if self._fresh or source.requires_grad:
                target.copy_(source)
        self._fresh = False
        return self.copy

    def touch_all(self) -> None:
        """The next `refresh` copies every parameter (after a checkpoint load replaced frozen weights too)."""
        self._fresh = True

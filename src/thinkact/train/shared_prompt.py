"""Completion log-probabilities with each distinct prompt computed once: the prompt's KV cache serves its group.

A GRPO micro-batch holds whole or partial groups whose rows share one prompt. `completion_logprobs` runs the
forward over each distinct prompt of the micro-batch once (keeping its KV cache and the logits of its last
position, which predict the first completion token), gathers the cache out to the rows that share it, and runs
the completions against it. Gathering is differentiable, so one backward through the completions reaches the
prompt's activations too: the gradient is the per-sample computation's, summed over the group at the prompt.
`per_sample=True` runs the plain forward over every full row (prompt + completion), the reference for tests and
the path under gradient checkpointing (whose recomputation would append to the cache twice).

Left out: sharing across micro-batches (each micro-batch computes its own prompts, so the cache is never reused
after a backward has freed its graph) and prefixes shared only in part.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache

from thinkact.train.losses import token_logprobs


def completion_logprobs(
    model: Any,
    micro: dict[str, torch.Tensor],
    *,
    temperature: float = 1.0,
    device: torch.device | str = "cpu",
    prompt_model: Any = None,
    per_sample: bool = False,
) -> torch.Tensor:
    """Log-probabilities [B, C] of the micro-batch's completion tokens (a `layout` slice).

    `prompt_model` runs the prompt pass (the module inside a DDP wrapper, so that the wrapper sees one forward
    per backward); it defaults to `model`.
    """
    width = micro["completion_ids_BC"].shape[1]
    input_ids_BL = micro["input_ids_BL"].to(device)
    attention_BL = micro["attention_BL"].to(device)
    positions_BL = (attention_BL.cumsum(dim=1) - 1).clamp(min=0)
    targets_BC = micro["completion_ids_BC"].to(device)
    if per_sample or width == 0:
        logits_BCV = model(
            input_ids=input_ids_BL,
            attention_mask=attention_BL,
            position_ids=positions_BL,
            logits_to_keep=width + 1,
        ).logits[:, :-1]
        return token_logprobs(logits_BCV, targets_BC, temperature).cpu()
    prompt_width = input_ids_BL.shape[1] - width
    firsts_U, rows_B = _distinct_prompts(micro["prompt_index_B"])
    firsts_U, rows_B = firsts_U.to(device), rows_B.to(device)
    # Columns that are padding in every distinct prompt carry nothing: drop them from both passes.
    start = int((attention_BL[firsts_U, :prompt_width].sum(dim=0) > 0).nonzero()[0])
    prompt = (prompt_model or model)(
        input_ids=input_ids_BL[firsts_U, start:prompt_width],
        attention_mask=attention_BL[firsts_U, start:prompt_width],
        position_ids=positions_BL[firsts_U, start:prompt_width],
        use_cache=True,
        logits_to_keep=1,
    )
    first_BV = prompt.logits[rows_B]  # the prompt's last position predicts the first completion token
    if width == 1:
        return token_logprobs(first_BV, targets_BC, temperature).cpu()
    cache: DynamicCache = prompt.cache
    cache.batch_select_indices(rows_B)  # each row gets its prompt's keys and values (a differentiable gather)
    # Completion position t predicts t + 1, so the last completion token is not fed.
    rest_BCV = model(
        input_ids=input_ids_BL[:, prompt_width:-1],
        attention_mask=attention_BL[:, start:-1],
        position_ids=positions_BL[:, prompt_width:-1],
        cache=cache,
        use_cache=True,
    ).logits
    logits_BCV = torch.cat([first_BV, rest_BCV], dim=1)
    return token_logprobs(logits_BCV, targets_BC, temperature).cpu()


def _distinct_prompts(prompt_index_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(first row of each distinct prompt, each row's position among the distinct prompts).

    >>> [t.tolist() for t in _distinct_prompts(torch.tensor([3, 3, 5, 5, 5]))]
    [[0, 2], [0, 0, 1, 1, 1]]
    """
    distinct_U, rows_B = torch.unique(prompt_index_B, sorted=True, return_inverse=True)
    firsts = [int((prompt_index_B == value).nonzero()[0]) for value in distinct_U]
    return torch.tensor(firsts, dtype=torch.long), rows_B

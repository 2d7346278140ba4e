"""Batched generation with HF `generate`: left padding, KV cache, seeds derived from (seed, step, batch).

`sample` takes tokenised prompts and returns, per prompt, `num_samples` completions as token ids cut after the
first end-of-turn token (which is kept: the policy sampled it, so it carries loss) and flagged when they hit
`max_new_tokens` without ending. `generate_completions` is the text-in, text-out convenience for evaluation.
Greedy decoding (temperature 0) is deterministic. Left out: vLLM (the TRL engine brings it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.generation.streamers import BaseStreamer

from thinkact.models.chat import encode_prompt


@dataclass
class Completion:
    prompt_ids: list[int]
    completion_ids: list[int]
    truncated: bool
    """True when generation stopped at max_new_tokens before an end-of-turn token."""


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from its parts, stable across processes and Python versions.

    >>> derive_seed(0, 1, 2) == derive_seed(0, 1, 2) != derive_seed(0, 2, 1)
    True
    """
    digest = hashlib.sha256("/".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured] if configured is not None else []
    if tokenizer.eos_token_id is not None:
        ids = [*ids, tokenizer.eos_token_id]
    return sorted(set(ids))


@torch.no_grad()
def sample(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    *,
    num_samples: int = 1,
    max_new_tokens: int = 128,
    temperature: float = 1.0,
    top_p: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
    step: int = 0,
    streamer: BaseStreamer | None = None,
) -> list[list[Completion]]:
    """`num_samples` completions for each prompt, in prompt order.

    `streamer` (one prompt, one sample) receives the prompt and then each new token as `generate` makes it.
    """
    was_training = model.training
    model.eval()
    stops = stop_token_ids(model, tokenizer)
    per_batch = max(batch_size // num_samples, 1)
    results: list[list[Completion]] = []
    for start in range(0, len(prompts), per_batch):
        chunk = prompts[start : start + per_batch]
        torch.manual_seed(derive_seed(seed, step, start))
        generated = _generate_chunk(
            model, tokenizer, chunk, num_samples, max_new_tokens, temperature, top_p, stops, streamer
        )
        for index, prompt in enumerate(chunk):
            rows = generated[index * num_samples : (index + 1) * num_samples]
            results.append([_cut(prompt, row, stops, tokenizer.pad_token_id, max_new_tokens) for row in rows])
    model.train(was_training)
    return results


def _generate_chunk(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    num_samples: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    stops: list[int],
    streamer: BaseStreamer | None = None,
) -> list[list[int]]:
    width = max(len(prompt) for prompt in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=model.device)
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device)
    options: dict[str, Any] = {"do_sample": temperature > 0, "max_new_tokens": max_new_tokens}
    if temperature > 0:
        options.update(temperature=temperature, top_p=top_p, top_k=0)
    output = model.generate(  # type: ignore[operator]
        input_ids=input_ids,
        attention_mask=attention,
        num_return_sequences=num_samples,
        eos_token_id=stops,
        pad_token_id=pad,
        streamer=streamer,
        **options,
    )
    return [row[width:].tolist() for row in output]


def _cut(prompt: list[int], row: list[int], stops: list[int], pad: int, max_new_tokens: int) -> Completion:
    for index, token in enumerate(row):
        if token in stops:
            return Completion(prompt, row[: index + 1], truncated=False)
    while row and row[-1] == pad:
        row = row[:-1]
    return Completion(prompt, row, truncated=len(row) >= max_new_tokens)


def generate_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[dict[str, Any]]],
    tools: list[list[dict[str, Any]]],
    *,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
) -> list[str]:
    """One completion text per chat prompt (greedy by default), special tokens kept for the parser."""
    outputs = generate_with_lengths(
        model,
        tokenizer,
        prompts,
        tools,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        seed=seed,
    )
    return [text for text, _ in outputs]


def generate_with_lengths(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[dict[str, Any]]],
    tools: list[list[dict[str, Any]]],
    *,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
) -> list[tuple[str, int]]:
    """(completion text, completion tokens) per chat prompt, in order."""
    encoded = [
        encode_prompt(tokenizer, messages, specs) for messages, specs in zip(prompts, tools, strict=True)
    ]
    # Sort by length so that batches pad little; results go back in the callers' order.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    sampled = sample(
        model,
        tokenizer,
        [encoded[i] for i in order],
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        seed=seed,
    )
    outputs: list[tuple[str, int]] = [("", 0)] * len(encoded)
    for position, index in enumerate(order):
        ids = sampled[position][0].completion_ids
        outputs[index] = (decode(tokenizer, ids), len(ids))
    return outputs


def decode(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    return str(tokenizer.decode(ids, skip_special_tokens=False))

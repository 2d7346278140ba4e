"""The in-place KV cache changes nothing but speed: its layer holds what transformers' concatenating layer holds
through every operation generation uses, and sampling through it gives the very tokens, greedy and sampled, that
sampling through a plain `DynamicCache` gives, on the tiny (Qwen3-shaped) model and a converted Llama."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

import thinkact.rollout.generation as generation
from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_policy
from thinkact.rollout.kv_cache import GrowingLayer, growing_cache


def _kv(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2, length, 4, generator=generator), torch.randn(
        batch, 2, length, 4, generator=generator
    )


def test_growing_layer_holds_what_the_concatenating_layer_holds() -> None:
    plain, growing = DynamicLayer(), GrowingLayer()
    steps = [(3, 70)] + [(3, 1)] * 80  # a prefill, then decode steps past the first buffer's spare room
    buffers = set()
    for seed, (batch, length) in enumerate(steps):
        key, value = _kv(batch, length, seed)
        expected = plain.update(key, value)
        got = growing.update(key, value)
        assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
        buffers.add(growing.keys.data_ptr())
    assert growing.keys.shape == (3, 2, 150, 4)
    assert len(buffers) == 2  # 70 positions + 64 spare, then one reallocation: not one copy per step

    # What generation does between rounds: keep some streams, cut tokens, go on.
    index = torch.tensor([2, 0])
    plain.batch_select_indices(index)
    growing.batch_select_indices(index)
    plain.crop(-5)
    growing.crop(-5)
    for seed in range(100, 103):
        key, value = _kv(2, 1, seed)
        expected = plain.update(key, value)
        got = growing.update(key, value)
        assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
    assert growing.get_seq_length() == plain.get_seq_length() == 148


def test_growing_cache_replaces_only_plain_layers(tiny_model_dir: Path) -> None:
    model, _ = load_policy(tiny_model_dir)
    cache = growing_cache(model)
    assert cache.layers and all(type(layer) is GrowingLayer for layer in cache.layers)


def _randomized(model_dir: Path) -> tuple[object, object]:
    model, tokenizer = load_policy(model_dir)
    torch.manual_seed(0)  # larger random weights: what the model samples depends on every cached position
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.2)
    return model, tokenizer


@pytest.mark.parametrize("architecture", ["tiny", "llama"])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_sampling_through_the_growing_cache_gives_the_same_tokens(
    architecture: str,
    temperature: float,
    tiny_model_dir: Path,
    llama_model_dir: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, tokenizer = _randomized(tiny_model_dir if architecture == "tiny" else llama_model_dir)
    turns = turn_examples(read_conversations(data_dir / "train.jsonl"))[:5]
    prompts = [encode_prompt(tokenizer, t.messages, t.tools) for t in turns]

    def run(num_samples: int) -> list[list[list[int]]]:
        groups = generation.sample(
            model,
            tokenizer,
            prompts,
            num_samples=num_samples,
            max_new_tokens=24,
            temperature=temperature,
            seed=3,
        )
        return [[c.completion_ids for c in group] for group in groups]

    # One sample per distinct prompt: `generate` prefills; four: one shared prefill, then the narrowing rounds.
    fast = [run(1), run(4) if temperature > 0 else run(1)]
    monkeypatch.setattr(generation, "growing_cache", lambda m: DynamicCache(config=m.config))
    plain = [run(1), run(4) if temperature > 0 else run(1)]
    assert fast == plain
    assert any(len(c) > 1 for group in fast[-1] for c in group)

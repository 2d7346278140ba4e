"""Shared-prefix sampling gives today's output: a prompt prefilled once and its cache repeated to the group samples
the same tokens as `generate` with `num_return_sequences` (greedy and, from the same generator state, sampled),
and a stream continued from its cache samples what a fresh prefill of the whole stream samples."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LogitsProcessorList

from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_policy
from thinkact.rollout.generation import continue_streams, derive_seed, sample, start_streams, stop_token_ids
from thinkact.rollout.sampling import InverseCdfSampler


def _prompts(model_dir: Path, data: Path, count: int) -> tuple[object, object, list[list[int]]]:
    model, tokenizer = load_policy(model_dir)
    # The untrained model repeats one token whatever the context; larger random weights make what it samples
    # depend on the context, so a cache that went wrong would show in the tokens.
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.2)
    turns = turn_examples(read_conversations(data))[:count]
    return model, tokenizer, [encode_prompt(tokenizer, t.messages, t.tools) for t in turns]


def _plain_generate(model, tokenizer, prompts, num_samples, temperature, seed):  # type: ignore[no-untyped-def]
    """Sampling as it was: the batch expanded to the group before one prefill of every copy."""
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    # thinkact samples inside the greedy loop (rollout/sampling.py), which refuses num_return_sequences > 1:
    # expand the batch by hand, as sampling `generate` would
    ids, attention = ids.repeat_interleave(num_samples, 0), attention.repeat_interleave(num_samples, 0)
    options: dict[str, object] = {"do_sample": False}
    if temperature > 0:
        options["logits_processor"] = LogitsProcessorList([InverseCdfSampler(temperature)])
    torch.manual_seed(derive_seed(seed, 0, 0))
    output = model.generate(
        input_ids=ids,
        attention_mask=attention,
        max_new_tokens=8,
        eos_token_id=stop_token_ids(model, tokenizer),
        pad_token_id=pad,
        **options,
    )
    return [row[width:].tolist() for row in output]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_group_sampling_from_one_prefill_matches_plain_generate(
    tiny_model_dir: Path, data_dir: Path, temperature: float
) -> None:
    model, tokenizer, prompts = _prompts(tiny_model_dir, data_dir / "train.jsonl", 3)
    assert len({len(p) for p in prompts}) > 1  # left padding differs
    groups = sample(
        model, tokenizer, prompts, num_samples=3, max_new_tokens=8, temperature=temperature, seed=4
    )
    expected = _plain_generate(model, tokenizer, prompts, 3, temperature, 4)
    pad = tokenizer.pad_token_id
    got = [c.completion_ids for group in groups for c in group]
    for ours, theirs in zip(got, expected, strict=True):
        while theirs and theirs[-1] == pad and len(theirs) > len(ours):
            theirs = theirs[:-1]
        assert ours == theirs[: len(ours)] and len(ours) >= 1
    if temperature > 0:
        assert len({tuple(ids) for ids in got[:3]}) > 1  # the group's samples differ


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_a_stream_continued_from_its_cache_matches_a_fresh_prefill(
    tiny_model_dir: Path, data_dir: Path, temperature: float
) -> None:
    model, tokenizer, prompts = _prompts(tiny_model_dir, data_dir / "train.jsonl", 2)
    trial, _ = continue_streams(
        model,
        tokenizer,
        start_streams(model, tokenizer, prompts, 2),
        max_new_tokens=6,
        temperature=temperature,
    )
    # Make the untrained model end a turn early in some streams but not all, so the cache holds holes.
    early = next(
        t
        for t in trial[0].completion_ids[1:]
        if t not in [*trial[0].completion_ids[:1], *trial[2].completion_ids]
    )
    model.generation_config.eos_token_id = [*stop_token_ids(model, tokenizer), early]
    streams = start_streams(model, tokenizer, prompts, num_samples=2)
    first, streams = continue_streams(model, tokenizer, streams, max_new_tokens=6, temperature=temperature)
    assert min(len(c.completion_ids) for c in first) < 6 == max(len(c.completion_ids) for c in first)
    assert [c.prompt_ids for c in first] == [prompts[0], prompts[0], prompts[1], prompts[1]]
    # What an episode appends: a tool result and the next turn's header, of different lengths per stream.
    results = [
        tokenizer.encode(
            f"<|im_start|>user\n<tool_response>{n * 'x'}</tool_response><|im_end|>\n<|im_start|>assistant\n"
        )
        for n in range(4)
    ]
    streams = streams.extend(results, tokenizer.pad_token_id)
    histories = [p.prompt_ids + p.completion_ids + r for p, r in zip(first, results, strict=True)]
    assert [streams.stream(n) for n in range(4)] == histories
    assert streams.cache is not None and streams.cache.get_seq_length() < streams.ids_NW.shape[1]
    second, streams = continue_streams(
        model, tokenizer, streams, max_new_tokens=6, temperature=temperature, step=1
    )
    # A fresh prefill of each whole history, one batch, the same generator state.
    fresh, _ = continue_streams(
        model,
        tokenizer,
        start_streams(model, tokenizer, histories),
        max_new_tokens=6,
        temperature=temperature,
        step=1,
    )
    assert [c.completion_ids for c in second] == [c.completion_ids for c in fresh]
    assert [c.prompt_ids for c in second] == histories
    kept = streams.select([3, 0])
    assert kept.stream(0) == histories[3] + second[3].completion_ids
    assert kept.cache is not None and kept.cache.layers[0].keys.shape[0] == 2


def test_equal_prompts_passed_apart_share_one_prefill(tiny_model_dir: Path, data_dir: Path) -> None:
    """An episode's first step passes each stream's prompt on its own: equal ones are still prefilled once."""
    model, tokenizer, prompts = _prompts(tiny_model_dir, data_dir / "train.jsonl", 2)
    rows = [prompts[0], prompts[1], prompts[0]]
    streams = start_streams(model, tokenizer, rows)
    assert streams.cache is not None
    keys = streams.cache.layers[0].keys
    assert torch.equal(keys[0], keys[2]) and not torch.equal(keys[0], keys[1])
    got = [c[0].completion_ids for c in sample(model, tokenizer, rows, max_new_tokens=8, temperature=0.0)]
    assert got == _plain_generate(model, tokenizer, rows, 1, 0.0, 0)


def test_a_batch_narrows_to_the_streams_still_going_and_greedy_tokens_stay_the_same(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    model, tokenizer, prompts = _prompts(tiny_model_dir, data_dir / "train.jsonl", 8)
    pad = tokenizer.pad_token_id
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        free = model.generate(  # no stop token: every row runs 24 tokens
            input_ids=ids, attention_mask=attention, max_new_tokens=24, do_sample=False, pad_token_id=pad
        )[:, width:].tolist()
    # A stop token that most rows sample, at different steps, so rows end apart and most end early.
    counts: dict[int, int] = {}
    for row in free:
        for token in set(row) - {pad}:
            counts[token] = counts.get(token, 0) + 1
    stop = max(counts, key=lambda token: (counts[token], -min(r.index(token) for r in free if token in r)))
    ends = [row.index(stop) for row in free if stop in row]
    assert len(ends) >= 6 and len(set(ends)) > 1 and min(ends) < 20
    model.generation_config.eos_token_id = stop
    rows_per_forward: list[int] = []
    model.register_forward_hook(
        lambda _m, _args, kwargs, _out: rows_per_forward.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    got = [
        group[0]
        for group in sample(model, tokenizer, prompts, max_new_tokens=24, temperature=0.0, batch_size=8)
    ]
    assert min(rows_per_forward) < 8 == max(rows_per_forward)  # the batch was narrowed
    for completion, row in zip(got, free, strict=True):
        expected = row[: row.index(stop) + 1] if stop in row else row
        assert completion.completion_ids == expected
        assert completion.truncated == (stop not in row)

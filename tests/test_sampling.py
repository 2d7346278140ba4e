"""The inverse-CDF sampler (rollout/sampling.py) draws from the distribution transformers' sampling draws from:
frequencies against hand-set probabilities, against the temperature and top-p warpers' distribution, and the
first sampled token of the tiny model against `generate(do_sample=True)`'s."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import TemperatureLogitsWarper, TopPLogitsWarper

from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_policy
from thinkact.rollout.generation import sample, stop_token_ids
from thinkact.rollout.sampling import InverseCdfSampler, draw


def _chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    keep = expected > 0
    return float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())


def test_draw_matches_the_probabilities_and_never_draws_a_zero() -> None:
    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.0, 0.25, 0.125, 0.0, 0.125])
    drawn = draw(probs.repeat(20_000, 1))
    counts = torch.bincount(drawn, minlength=6).double()
    assert counts[1] == 0 and counts[4] == 0
    # 3 degrees of freedom: the 0.999 quantile of chi-square is 16.3
    assert _chi_square(counts, probs.double()) < 16.3
    unnormalised = draw(torch.tensor([[2.0, 0.0, 6.0]]).repeat(20_000, 1))
    assert abs(float((unnormalised == 2).double().mean()) - 0.75) < 0.02


def test_the_sampler_follows_transformers_temperature_and_top_p() -> None:
    torch.manual_seed(1)
    logits = torch.tensor([[2.0, 1.5, 1.0, 0.0, -1.0, -3.0]])
    temperature, top_p = 0.7, 0.8
    expected = TopPLogitsWarper(top_p)(None, TemperatureLogitsWarper(temperature)(None, logits.clone()))
    probs = expected.softmax(-1)[0].double()
    assert (probs == 0).sum() >= 2  # top-p cut the tail
    sampler = InverseCdfSampler(temperature, top_p)
    scores = sampler(None, logits.repeat(20_000, 1))  # type: ignore[arg-type]
    assert torch.isinf(scores).sum(-1).eq(5).all()  # one finite score a row: the drawn token
    counts = torch.bincount(scores.argmax(-1), minlength=6).double()
    assert counts[probs == 0].sum() == 0
    assert _chi_square(counts, probs) < 16.3
    with pytest.raises(ValueError, match="temperature"):
        InverseCdfSampler(0.0)


def test_first_tokens_have_the_distribution_of_transformers_sampling(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    """2,000 first tokens from one prompt, by thinkact's `sample` and by `generate(do_sample=True)`, against the
    model's own next-token probabilities (both must pass; they are independent draws)."""
    model, tokenizer = load_policy(tiny_model_dir)
    torch.manual_seed(0)
    with torch.no_grad():  # weights that spread the next token over many ids
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.1)
    turn = turn_examples(read_conversations(data_dir / "train.jsonl"))[0]
    prompt = encode_prompt(tokenizer, turn.messages, turn.tools)
    with torch.no_grad():
        probs = model(torch.tensor([prompt])).logits[0, -1].double().softmax(-1)
    top = probs.argsort(descending=True)[:8]
    assert float(probs[top].sum()) < 0.95  # the draw is spread
    ours = [
        c.completion_ids[0]
        for c in sample(
            model, tokenizer, [prompt], num_samples=2000, max_new_tokens=1, temperature=1.0, seed=3
        )[0]
    ]
    torch.manual_seed(3)
    theirs = model.generate(  # type: ignore[operator]
        torch.tensor([prompt] * 2000),
        do_sample=True,
        top_k=0,
        max_new_tokens=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=stop_token_ids(model, tokenizer),
    )[:, -1].tolist()
    for tokens in (ours, theirs):
        counts = torch.bincount(torch.tensor(tokens), minlength=len(probs)).double()
        binned = torch.cat([counts[top], (counts.sum() - counts[top].sum()).view(1)])
        expected = torch.cat([probs[top], (1 - probs[top].sum()).view(1)])
        assert _chi_square(binned, expected) < 27.9  # 8 degrees of freedom, the 0.999 quantile

"""Advantages and policy-loss variants against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from thinkact.train.losses import aggregate, group_advantages, policy_loss, token_logprobs, varied_groups


def test_group_scaling_by_hand() -> None:
    # group [1, 0, 0, 1]: mean 0.5, sample std sqrt(1/3); group [0.2, 0.2, 0.2, 0.8]: mean 0.35, std 0.3
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.2, 0.2, 0.2, 0.8])
    advantages = group_advantages(rewards, 4, "group", eps=0.0)
    first = 0.5 / math.sqrt(1 / 3)
    expected = [first, -first, -first, first, -0.5, -0.5, -0.5, 1.5]
    assert advantages.tolist() == pytest.approx(expected, rel=1e-5)


def test_no_scaling_only_centres() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.2, 0.2, 0.2, 0.8])
    expected = [0.5, -0.5, -0.5, 0.5, -0.15, -0.15, -0.15, 0.45]
    assert group_advantages(rewards, 4, "none").tolist() == pytest.approx(expected, rel=1e-5)


def test_batch_scaling_uses_the_batch_std_of_centred_rewards() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.5])
    # centred: [0.5, -0.5, 0, 0]; sample std over 4 values = sqrt(0.5 / 3)
    std = math.sqrt(0.5 / 3)
    expected = [0.5 / std, -0.5 / std, 0.0, 0.0]
    assert group_advantages(rewards, 2, "batch", eps=0.0).tolist() == pytest.approx(expected, rel=1e-5)


def test_equal_group_has_zero_advantage() -> None:
    assert group_advantages(torch.tensor([0.7, 0.7, 0.7]), 3).tolist() == [0.0, 0.0, 0.0]


def test_dynamic_sampling_drops_exactly_the_all_equal_groups() -> None:
    rewards = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.3, 0.3 + 1e-9])
    assert varied_groups(rewards, 2).tolist() == [False, False, True, False]


def test_aggregations_by_hand() -> None:
    per_token = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    # grpo: mean of per-sequence means (2 and 4) = 3; dapo: (1+2+3+4)/4 = 2.5; dr_grpo: 10 / (2 * 5) = 1
    assert aggregate(per_token, mask, "grpo").item() == pytest.approx(3.0)
    assert aggregate(per_token, mask, "dapo").item() == pytest.approx(2.5)
    assert aggregate(per_token, mask, "dr_grpo", max_completion_length=5).item() == pytest.approx(1.0)


def test_clipping_with_separate_bounds_by_hand() -> None:
    # ratios e^{0.5} ≈ 1.6487 (positive advantage, clipped at 1 + 0.28) and e^{-0.5} ≈ 0.6065 (negative
    # advantage, clipped at 1 - 0.2): per-token -min(r*A, clip(r)*A)
    logp = torch.tensor([[0.5], [-0.5]])
    old = torch.zeros(2, 1)
    advantages = torch.tensor([2.0, -1.0])
    parts = policy_loss(
        logp, old, advantages, torch.ones(2, 1), clip_low=0.2, clip_high=0.28, aggregation="dapo"
    )
    first = -min(math.exp(0.5) * 2.0, 1.28 * 2.0)  # -2.56
    second = -min(math.exp(-0.5) * -1.0, 0.8 * -1.0)  # -min(-0.6065, -0.8) = 0.8
    assert parts.loss.item() == pytest.approx((first + second) / 2, rel=1e-5)
    assert parts.clip_fraction == pytest.approx(1.0)


def test_kl_k3_by_hand() -> None:
    logp = torch.tensor([[math.log(0.5)]])
    ref = torch.tensor([[math.log(0.25)]])
    # k3 = exp(ref - logp) - (ref - logp) - 1 = 0.5 + ln 2 - 1
    kl = 0.5 + math.log(2) - 1
    parts = policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 1), ref_logp_BT=ref, kl_coef=0.1)
    assert parts.kl == pytest.approx(kl, rel=1e-5)
    assert parts.loss.item() == pytest.approx(0.1 * kl, rel=1e-5)


def test_masked_tokens_carry_no_loss_or_gradient() -> None:
    logp = torch.tensor([[-1.0, -2.0, -3.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    parts = policy_loss(logp, logp.detach(), torch.tensor([1.0]), mask)
    parts.loss.backward()
    assert logp.grad is not None
    assert logp.grad[0, 1].item() == 0.0
    # on-policy gradient of -ratio*A averaged over the 2 loss tokens: -1/2 on each
    assert logp.grad[0, 0].item() == pytest.approx(-0.5)


def test_token_logprobs_with_temperature() -> None:
    logits = torch.tensor([[[2.0, 0.0]]])
    # temperature 2 → logits [1, 0] → p(0) = e / (e + 1)
    value = token_logprobs(logits, torch.tensor([[0]]), temperature=2.0).exp().item()
    assert value == pytest.approx(math.e / (math.e + 1))

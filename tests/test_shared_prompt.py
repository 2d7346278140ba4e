"""The shared-prompt update gives today's per-sample log-probabilities and gradients, for every loss variant and
micro-batch split, with a KL reference (a frozen copy, or LoRA's disabled adapter) and several passes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from thinkact.models.load import load_policy
from thinkact.parse import parse_action
from thinkact.rollout.records import Rollout
from thinkact.train.batches import layout
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer


def _rollouts(prompts: list[list[int]], group_size: int, vocab: int) -> list[Rollout]:
    """`group_size` rollouts per prompt, completions of different lengths, tokens the policy did not sample
    (masked, as tool results are) in some, rewards that differ within each group."""
    generator = torch.Generator().manual_seed(5)
    rollouts = []
    for p, prompt in enumerate(prompts):
        for s in range(group_size):
            length = 3 + 4 * s + p
            ids = torch.randint(5, vocab, (length,), generator=generator).tolist()
            mask = [0 if 2 <= t < 4 and s % 2 else 1 for t in range(length)]
            rollouts.append(
                Rollout(
                    example_id=str(p),
                    prompt_ids=prompt,
                    completion_ids=ids,
                    loss_mask=mask,
                    text="",
                    action=parse_action(""),
                    truncated=False,
                    reward=float((s * 7 + p) % 3),
                )
            )
    return rollouts


def _gradients(trainer: GRPOTrainer, rollouts: list[Rollout]) -> dict[str, torch.Tensor]:
    """The gradients of the step's last pass, captured just before the optimiser would apply them."""
    captured: dict[str, torch.Tensor] = {}

    def capture() -> None:
        for name, parameter in trainer.accelerator.unwrap_model(trainer.model).named_parameters():
            if parameter.grad is not None:
                captured[name] = parameter.grad.detach().clone()

    trainer.optimizer.step = capture  # type: ignore[method-assign]
    trainer.learn(rollouts)
    return captured


def _trainers(
    model_dir: Path, data: Path, lora: bool = False, **settings: object
) -> tuple[GRPOTrainer, GRPOTrainer]:
    model, tokenizer = load_policy(model_dir)
    pair = []
    for share in (True, False):
        config = GRPORunConfig(group_size=4, prompts_per_step=2, max_grad_norm=1e9, share_prompt=share)
        for name, value in settings.items():
            setattr(config, name, value)  # a test's settings; the config's own loading checks real ones
        config.lora.enabled, config.lora.rank = lora, 4
        torch.manual_seed(0)  # the same adapter initialisation for both
        trainer = GRPOTrainer(config, copy.deepcopy(model), tokenizer)
        trainer.load_data(data)
        pair.append(trainer)
    return pair[0], pair[1]


def _check_step(shared: GRPOTrainer, alone: GRPOTrainer) -> None:
    prompts = [shared.prompt_ids[0], shared.prompt_ids[3]]
    assert len(prompts[0]) != len(prompts[1])  # left padding differs between the groups
    rollouts = _rollouts(prompts, 4, len(shared.tokenizer))
    batch = layout(rollouts, shared.tokenizer.pad_token_id)
    torch.testing.assert_close(
        shared.update.logprobs(batch, shared.model),
        alone.update.logprobs(batch, alone.model),
        atol=1e-5,
        rtol=0,
    )
    reference = shared.update.reference_logprobs(batch)
    assert reference is not None
    torch.testing.assert_close(reference, alone.update.reference_logprobs(batch), atol=1e-5, rtol=0)
    ours, theirs = _gradients(shared, rollouts), _gradients(alone, rollouts)
    assert ours.keys() == theirs.keys() and ours
    assert any(float(g.abs().max()) > 1e-3 for g in theirs.values())  # a real gradient, not zeros
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], atol=1e-4, rtol=1e-4, msg=name)


@pytest.mark.parametrize("loss", ["grpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("micro_batch", [1, 3, 8])
def test_shared_prompt_update_matches_the_per_sample_one(
    tiny_model_dir: Path, data_dir: Path, loss: str, micro_batch: int
) -> None:
    shared, alone = _trainers(
        tiny_model_dir, data_dir / "train.jsonl", loss=loss, micro_batch=micro_batch, kl_coef=0.05, passes=2
    )
    _check_step(shared, alone)


def test_shared_prompt_update_with_lora_matches_the_per_sample_one(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    shared, alone = _trainers(tiny_model_dir, data_dir / "train.jsonl", lora=True, micro_batch=3, kl_coef=0.1)
    assert shared.reference is None  # the reference is the adapter switched off
    _check_step(shared, alone)


def test_one_row_per_prompt_and_one_token_completions(tiny_model_dir: Path, data_dir: Path) -> None:
    shared, alone = _trainers(tiny_model_dir, data_dir / "train.jsonl", micro_batch=4)
    rollouts = _rollouts([shared.prompt_ids[i] for i in range(4)], 1, len(shared.tokenizer))
    rollouts[0].completion_ids, rollouts[0].loss_mask = rollouts[0].completion_ids[:1], [1]
    batch = layout(rollouts, shared.tokenizer.pad_token_id)
    torch.testing.assert_close(
        shared.update.logprobs(batch, shared.model),
        alone.update.logprobs(batch, alone.model),
        atol=1e-5,
        rtol=0,
    )
    single = layout(rollouts[:1], shared.tokenizer.pad_token_id)  # the whole completion is one token
    torch.testing.assert_close(
        shared.update.logprobs(single, shared.model),
        alone.update.logprobs(single, alone.model),
        atol=1e-5,
        rtol=0,
    )

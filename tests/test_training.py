"""SFT and GRPO on the tiny model: masks fall where they should, and a step really moves the parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

from thinkact.models.load import load_policy
from thinkact.parse import parse_action
from thinkact.rewards.combine import RewardConfig
from thinkact.train.batches import layout as _layout
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer, run_grpo
from thinkact.train.sft import SFTRunConfig, build_dataset, run_sft


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> int:
    return sum(not torch.equal(before[name], after[name]) for name in before)


def _completions(dataset: Dataset) -> list[int]:
    return [
        t
        for ids, mask in zip(dataset["input_ids"], dataset["completion_mask"], strict=True)
        for t, m in zip(ids, mask, strict=True)
        if m
    ]


def test_sft_dataset_puts_loss_on_the_completion_only(tiny_model_dir: Path, data_dir: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    dataset, too_long = build_dataset(
        tokenizer, data_dir / "train.jsonl", think=True, max_length=4096, share_prefixes=False
    )
    assert too_long == 0
    row = dataset[0]
    completion = [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
    text = tokenizer.decode(completion, skip_special_tokens=False)
    assert text.startswith("<think>") and text.endswith("<|im_end|>")
    # the mask is one block at the end: the prompt never carries loss
    first = row["completion_mask"].index(1)
    assert all(row["completion_mask"][first:]) and not any(row["completion_mask"][:first])


@pytest.mark.parametrize("think", [True, False])
def test_shared_prefixes_train_the_same_tokens_on_fewer_sequences(
    tiny_model_dir: Path, data_dir: Path, think: bool
) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    per_turn, _ = build_dataset(
        tokenizer, data_dir / "train.jsonl", think=think, max_length=4096, share_prefixes=False
    )
    shared, _ = build_dataset(tokenizer, data_dir / "train.jsonl", think=think, max_length=4096)
    assert _completions(shared) == _completions(per_turn)
    # every shared sequence is a per-turn prompt + completion extended by later turns: its first completion
    # block and what precedes it are exactly some per-turn example
    starts = {tuple(ids) for ids in per_turn["input_ids"]}
    for ids, mask in zip(shared["input_ids"], shared["completion_mask"], strict=True):
        end = mask.index(1) + next(
            (i for i, m in enumerate(mask[mask.index(1) :]) if not m), len(mask) - mask.index(1)
        )
        assert tuple(ids[:end]) in starts
    if think:  # Qwen3 keeps thinking in the history after the last user message: steps share their prefix
        assert len(shared) < len(per_turn)
    else:  # without thinking the history renders differently from the completion: nothing may be shared
        assert len(shared) == len(per_turn)


def test_sft_too_long_turns_are_counted(tiny_model_dir: Path, data_dir: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    dataset, _ = build_dataset(
        tokenizer, data_dir / "train.jsonl", think=True, max_length=100_000, share_prefixes=False
    )
    lengths = sorted(len(ids) for ids in dataset["input_ids"])
    limit = lengths[len(lengths) // 2]
    kept, too_long = build_dataset(
        tokenizer, data_dir / "train.jsonl", think=True, max_length=limit, share_prefixes=False
    )
    assert too_long == sum(length > limit for length in lengths) > 0
    assert len(kept) + too_long == len(dataset)


def test_sft_steps_move_the_parameters(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    config = SFTRunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "sft"),
        max_steps=2,
        batch_size=2,
        logging_steps=1,
    )
    final = run_sft(config)
    assert _changed(_weights(tiny_model_dir), _weights(final)) > 0
    assert (tmp_path / "sft" / "config.yaml").is_file()


def test_layout_masks_prompt_padding_and_truncation(tiny_model_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(group_size=2, prompts_per_step=1, max_new_tokens=4, mask_truncated=True)
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    rollouts = trainer.rollout(0, trainer.prompts_for_step(0))
    batch = _layout(rollouts, tokenizer.pad_token_id)
    for row, rollout in enumerate(rollouts):
        width = len(rollout.completion_ids)
        expected = 0.0 if rollout.truncated else 1.0
        assert batch["mask_BC"][row, :width].tolist() == [expected] * width
        assert batch["mask_BC"][row, width:].sum() == 0
        # completions start at the same column, right after the left-padded prompt
        prompt_width = batch["input_ids_BL"].shape[1] - batch["completion_ids_BC"].shape[1]
        assert (
            batch["input_ids_BL"][row, prompt_width : prompt_width + width].tolist() == rollout.completion_ids
        )


def test_prompt_order_is_seeded_and_covers_the_data(tiny_model_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    trainer = GRPOTrainer(GRPORunConfig(prompts_per_step=5, seed=4), model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    count = len(trainer.prompt_ids)
    steps = -(-count // 5)
    seen = [i for step in range(steps) for i in trainer.prompts_for_step(step)]
    assert sorted(seen[:count]) == list(range(count))
    again = GRPOTrainer(GRPORunConfig(prompts_per_step=5, seed=4), model, tokenizer)
    again.prompt_ids = trainer.prompt_ids
    assert again.prompts_for_step(3) == trainer.prompts_for_step(3)


def test_grpo_update_moves_the_policy_towards_the_better_completion(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(
        group_size=2, prompts_per_step=1, max_new_tokens=6, learning_rate=1e-2, mask_truncated=False
    )
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    rollouts = trainer.rollout(0, [0])
    while rollouts[0].completion_ids == rollouts[1].completion_ids:  # need two different completions
        rollouts = trainer.rollout(len(rollouts[0].completion_ids) + 1, [0])
    rollouts[0].reward, rollouts[1].reward = 1.0, 0.0
    batch = _layout(rollouts, tokenizer.pad_token_id)
    before = trainer.update.logprobs(batch, trainer.model)
    trainer.learn(rollouts)
    after = trainer.update.logprobs(batch, trainer.model)
    good = (after[0] - before[0])[batch["mask_BC"][0] > 0].sum()
    bad = (after[1] - before[1])[batch["mask_BC"][1] > 0].sum()
    assert good > 0 > bad


def test_grpo_run_writes_metrics_samples_and_model(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    config = GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "grpo"),
        steps=2,
        prompts_per_step=2,
        group_size=3,
        max_new_tokens=8,
        learning_rate=1e-3,
        drop_equal_groups=False,
        mask_truncated=False,
        kl_coef=0.01,
        sample_steps=1,
        rewards=RewardConfig(),
    )
    final = run_grpo(config)
    assert (final / "model.safetensors").is_file()
    lines = [json.loads(line) for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    assert {"reward", "loss", "kl", "reward/format"} <= set(lines[0])
    samples = [json.loads(line) for line in (tmp_path / "grpo" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all("components" in sample for sample in samples)


def test_rollout_rewards_match_the_parsed_completion(tiny_model_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    trainer = GRPOTrainer(GRPORunConfig(group_size=2, prompts_per_step=2, max_new_tokens=6), model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    for rollout in trainer.rollout(0, trainer.prompts_for_step(0)):
        assert parse_action(rollout.text).problems == rollout.action.problems
        assert 0.0 <= rollout.reward <= 1.0


def test_grpo_episode_mode_runs_tools_and_masks_results(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(mode="episode", group_size=2, prompts_per_step=2, max_new_tokens=6, max_actions=2)
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    rollouts = trainer.rollout(0, trainer.prompts_for_step(0))
    assert len(rollouts) == 4
    for rollout in rollouts:
        assert set(rollout.components) == {"calls", "answer", "state", "format"}
        assert len(rollout.loss_mask) == len(rollout.completion_ids)
    metrics = trainer.learn(rollouts)
    assert "reward/state" in metrics


def test_grpo_with_lora_keeps_the_base_as_reference(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    config = GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "lora"),
        steps=1,
        group_size=2,
        prompts_per_step=1,
        max_new_tokens=6,
        kl_coef=0.1,
        sample_steps=0,
        drop_equal_groups=False,
        mask_truncated=False,
    )
    config.lora.enabled = True
    config.lora.rank = 4
    model, tokenizer = load_policy(tiny_model_dir)
    trainer = GRPOTrainer(config, model, tokenizer)
    assert trainer.reference is None  # no second copy: the adapter is switched off instead
    trainer.load_data(config.data)
    rollouts = trainer.rollout(0, [0])
    rollouts[0].reward, rollouts[1].reward = 1.0, 0.0
    batch = _layout(rollouts, tokenizer.pad_token_id)
    reference_before = trainer.update.reference_logprobs(batch)
    trainer.learn(rollouts)
    trainer.learn(rollouts)
    assert reference_before is not None
    reference_after = trainer.update.reference_logprobs(batch)
    assert reference_after is not None and torch.equal(
        reference_before, reference_after
    )  # the base never moves
    policy_after = trainer.update.logprobs(batch, trainer.model)
    assert not torch.equal(policy_after, reference_after)  # the adapter did
    saved = trainer.save(tmp_path / "merged")
    assert (saved / "model.safetensors").is_file() and not (saved / "adapter_config.json").exists()


def test_a_bf16_update_samples_the_same_tokens_keeps_float32_weights_and_moves_them_the_same_way(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    """`update_dtype: bfloat16` autocasts the update alone: the rollouts are float32's token for token, the weights
    and AdamW stay float32, and the step moves the weights in nearly the direction the float32 step does."""
    moves, rollouts_of = {}, {}
    for dtype in ("float32", "bfloat16"):
        model, tokenizer = load_policy(tiny_model_dir)
        config = GRPORunConfig(
            group_size=4,
            prompts_per_step=2,
            max_new_tokens=8,
            learning_rate=1e-3,
            mask_truncated=False,
            kl_coef=0.01,
            update_dtype=dtype,
        )
        trainer = GRPOTrainer(config, model, tokenizer)
        trainer.load_data(data_dir / "train.jsonl")
        before = [p.detach().clone() for p in model.parameters()]
        rollouts = trainer.rollout(0, [0, 1])
        for index, rollout in enumerate(rollouts):  # rewards that differ within each group
            rollout.reward = float(index % 2)
        trainer.learn(rollouts)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        moves[dtype] = torch.cat(
            [(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]
        )
        rollouts_of[dtype] = [r.completion_ids for r in rollouts]
    assert rollouts_of["float32"] == rollouts_of["bfloat16"]
    assert moves["bfloat16"].abs().sum() > 0
    assert torch.nn.functional.cosine_similarity(moves["float32"], moves["bfloat16"], dim=0) > 0.9


@pytest.mark.parametrize("lora", [False, True])
def test_bf16_sampling_follows_the_float32_policy_after_each_update(
    tiny_model_dir: Path, data_dir: Path, lora: bool
) -> None:
    """`sample_dtype: bfloat16` samples with a bfloat16 copy that takes the policy's weights before each step's
    rollouts (the adapter alone under LoRA); the policy, which the update trains, stays float32, and the copy's
    next-token distribution stays close to the policy's."""
    model, tokenizer = load_policy(tiny_model_dir)
    config = GRPORunConfig(
        group_size=4,
        prompts_per_step=2,
        max_new_tokens=8,
        learning_rate=1e-2,
        mask_truncated=False,
        sample_dtype="bfloat16",
    )
    config.lora.enabled = lora
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    assert trainer.sampler is not None
    policy = trainer.accelerator.unwrap_model(trainer.model)
    rollouts = trainer.rollout(0, [0, 1])
    assert rollouts and all(r.completion_ids for r in rollouts)
    for index, rollout in enumerate(rollouts):
        rollout.reward = float(index % 2)
    trainer.learn(rollouts)
    stale = trainer.sampler.copy.state_dict()
    moved = [
        name for name, p in policy.named_parameters() if not torch.equal(p.to(torch.bfloat16), stale[name])
    ]
    assert moved  # the update moved the policy away from what the copy holds
    sampler = trainer.sampler.refresh()
    for name, parameter in policy.named_parameters():
        assert parameter.dtype == torch.float32
        assert torch.equal(sampler.state_dict()[name], parameter.detach().to(torch.bfloat16)), name
    ids = torch.tensor([trainer.prompt_ids[0]])
    with torch.no_grad():
        p32 = policy(ids).logits[0, -1].softmax(-1)
        p16 = sampler(ids).logits[0, -1].float().softmax(-1)
    total_variation = 0.5 * (p32 - p16).abs().sum()
    assert 0 < total_variation < 0.01  # rounded, and close (4e-4 on the tiny model)

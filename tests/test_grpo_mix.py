"""Prefix-guided groups and the hybrid SFT + GRPO loss: schedules, masks, forced prefixes, the weighted sum."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app as typer_app
from thinkact.data.conversations import read_conversations
from thinkact.envs.prompts import all_episode_prompts
from thinkact.envs.registry import bind_tools
from thinkact.errors import UserError
from thinkact.integrations.trl_settings import trl_arguments, unsupported
from thinkact.models.chat import encode_turn, render_completion
from thinkact.models.load import load_policy
from thinkact.rollout.episodes import sample_episodes
from thinkact.rollout.loop import Sampling
from thinkact.rollout.records import Rollout
from thinkact.train.batches import layout
from thinkact.train.grpo import GRPOTrainer, run_grpo
from thinkact.train.grpo_config import (
    GRPORunConfig,
    HybridOptions,
    PrefixOptions,
    hybrid_weight,
    prefix_length,
    prefix_share,
)
from thinkact.train.losses import group_advantages, policy_loss
from thinkact.train.sft import build_dataset

# ---- schedules ---------------------------------------------------------------------------------------------


def test_prefix_schedule_lengths_at_given_steps() -> None:
    linear = GRPORunConfig(steps=5, prefix=PrefixOptions(members=1, schedule=[0.8, 0.0]))
    # shares 0.8, 0.6, 0.4, 0.2, 0.0 of a 10-token reference
    assert [prefix_length(linear, step, 10) for step in range(5)] == [8, 6, 4, 2, 0]
    # 0.5 * 7 = 3.5 rounds half up to 4; the share never exceeds the reference
    middle = GRPORunConfig(steps=3, prefix=PrefixOptions(members=1, schedule=[1.0, 0.0]))
    assert [prefix_length(middle, step, 7) for step in range(3)] == [7, 4, 0]
    cosine = GRPORunConfig(steps=5, prefix=PrefixOptions(members=1, schedule=[1.0, 0.0], decay="cosine"))
    # (1 + cos(pi t)) / 2 at t = 0, 1/4, 1/2, 3/4, 1: 1, 0.8536, 0.5, 0.1464, 0
    assert [round(prefix_share(cosine, step), 4) for step in range(5)] == [1.0, 0.8536, 0.5, 0.1464, 0.0]
    assert [prefix_length(cosine, step, 10) for step in range(5)] == [10, 9, 5, 1, 0]
    # steps past the end stay at the end share
    assert prefix_length(linear, 9, 10) == 0


def test_hybrid_weight_rules() -> None:
    fixed = GRPORunConfig(hybrid=HybridOptions(weight=0.3))
    assert hybrid_weight(fixed, 0) == hybrid_weight(fixed, 29) == 0.3
    linear = GRPORunConfig(steps=5, hybrid=HybridOptions(rule="linear", range=[0.8, 0.0]))
    assert [hybrid_weight(linear, step) for step in range(5)] == [0.8, 0.6, 0.4, 0.2, 0.0]
    adaptive = GRPORunConfig(hybrid=HybridOptions(rule="grad_norm", range=[0.2, 0.6]))
    # w = lo + (hi - lo) * |g_sft| / (|g_sft| + |g_grpo|): 0.2 + 0.4 * 1/4, 0.2 + 0.4 * 3/4
    assert hybrid_weight(adaptive, 0, sft_norm=1.0, grpo_norm=3.0) == pytest.approx(0.3)
    assert hybrid_weight(adaptive, 0, sft_norm=3.0, grpo_norm=1.0) == pytest.approx(0.5)
    # no GRPO gradient at all (every group's rewards equal): the SFT side gets the most it may
    assert hybrid_weight(adaptive, 0, sft_norm=2.0, grpo_norm=0.0) == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"prefix": PrefixOptions(members=4)},
            "grpo.prefix.members: 4; give 0 (off) up to group_size - 1 (3)",
        ),
        ({"prefix": PrefixOptions(members=1, source="plan")}, "grpo.prefix.source: 'plan'"),
        ({"prefix": PrefixOptions(members=1, schedule=[1.2, 0.0])}, "grpo.prefix.schedule"),
        ({"prefix": PrefixOptions(members=1, decay="step")}, "grpo.prefix.decay"),
        ({"prefix": PrefixOptions(members=1, sft_weight=-1.0)}, "grpo.prefix.sft_weight"),
        ({"hybrid": HybridOptions(weight=1.5)}, "grpo.hybrid.weight: 1.5"),
        ({"hybrid": HybridOptions(rule="sasr")}, "grpo.hybrid.rule: 'sasr'"),
        ({"hybrid": HybridOptions(rule="grad_norm", range=[0.9, 0.1])}, "needs [lo, hi] with lo <= hi"),
    ],
)
def test_bad_mix_settings_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=re.escape(message)):
        GRPORunConfig(group_size=4, **fields)


# ---- forced prefixes ---------------------------------------------------------------------------------------


def _trainer(tiny_model_dir: Path, data_dir: Path, **fields: Any) -> GRPOTrainer:
    model, tokenizer = load_policy(tiny_model_dir)
    options: dict[str, Any] = {"max_new_tokens": 6, "mask_truncated": False, "prompts_per_step": 1, **fields}
    trainer = GRPOTrainer(GRPORunConfig(**options), model, tokenizer)
    trainer.load_data(data_dir / "train.jsonl")
    return trainer


def _reference_without_eos(trainer: GRPOTrainer, index: int, *, think: bool = True) -> list[int]:
    """The reference completion as `thinkact sft` renders it, less its end-of-turn token, tokenised here."""
    tokenizer = trainer.tokenizer
    _, completion = render_completion(tokenizer, trainer.prompts[index], think=think)
    assert completion.endswith(tokenizer.eos_token)
    return list(tokenizer(completion[: -len(tokenizer.eos_token)], add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("sft_weight", [0.0, 0.5])
def test_prefixed_members_start_with_the_reference_and_carry_no_pg_loss_there(
    tiny_model_dir: Path, data_dir: Path, sft_weight: float
) -> None:
    prefix = PrefixOptions(members=2, schedule=[0.5, 0.5], sft_weight=sft_weight)
    trainer = _trainer(tiny_model_dir, data_dir, group_size=3, prefix=prefix)
    rollouts = trainer.rollout(0, [0, 1])
    batch = layout(rollouts, trainer.tokenizer.pad_token_id)
    for row, rollout in enumerate(rollouts):
        reference = _reference_without_eos(trainer, row // 3)
        forced = (len(reference) + 1) // 2  # half the reference, rounded half up
        width = len(rollout.completion_ids)
        if row % 3 < 2:  # the first two members of each group are prefixed
            assert rollout.prefix_tokens == forced > 0
            assert rollout.completion_ids[:forced] == reference[:forced]
            assert rollout.text.startswith(trainer.tokenizer.decode(reference[:forced]))
            assert width > forced  # and the policy went on from there
        else:
            assert rollout.prefix_tokens == 0
            forced = 0
        assert batch["mask_BC"][row, :forced].sum() == 0
        assert batch["mask_BC"][row, forced:width].tolist() == [1.0] * (width - forced)
        marked = forced if sft_weight > 0 else 0
        assert batch["sft_mask_BC"][row, :width].tolist() == [1.0] * marked + [0.0] * (width - marked)
        assert batch["sft_mask_BC"][row, width:].sum() == 0


@pytest.mark.parametrize("source", ["reasoning", "action"])
def test_prefix_sources_cut_the_reasoning_or_the_no_think_action(
    tiny_model_dir: Path, data_dir: Path, source: str
) -> None:
    prefix = PrefixOptions(members=1, source=source, schedule=[1.0, 1.0])
    trainer = _trainer(tiny_model_dir, data_dir, group_size=2, prefix=prefix)
    (prefixed, free) = trainer.rollout(0, [0])
    forced = trainer.tokenizer.decode(prefixed.completion_ids[: prefixed.prefix_tokens])
    _, think = render_completion(trainer.tokenizer, trainer.prompts[0], think=True)
    _, no_think = render_completion(trainer.tokenizer, trainer.prompts[0], think=False)
    if source == "reasoning":  # the whole think block, and nothing of the action
        assert forced == think[: think.index("</think>") + len("</think>")]
        assert len(forced) < len(think) - len("<|im_end|>")
    else:  # an empty think block, then the whole action
        assert "</think>" in forced and forced == no_think[: -len("<|im_end|>")]
    assert free.prefix_tokens == 0


def test_episode_mode_prefixes_the_first_step_and_the_stream_cache_stays_exact(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    prompts = all_episode_prompts(bind_tools(read_conversations(data_dir / "train.jsonl")))[:2]
    prefixes = []
    for prompt in prompts:
        ids = encode_turn(tokenizer, prompt)[1]
        prefixes += [ids[:5], []]  # the first of each pair forced, the second free

    def play(reuse: bool) -> list[Any]:
        sampling = Sampling(max_new_tokens=6, temperature=0.0, reuse_cache=reuse)
        return sample_episodes(
            model, tokenizer, prompts, group_size=2, max_actions=2, sampling=sampling, prefixes=prefixes
        )

    cached, fresh = play(True), play(False)
    for episode, again, prefix in zip(cached, fresh, prefixes, strict=True):
        assert episode.stream_ids[: len(prefix)] == prefix
        assert episode.loss_mask[: len(prefix)] == [0] * len(prefix)
        assert episode.texts[0].startswith(tokenizer.decode(prefix))
        # greedy: the cache kept across rounds gives the very tokens a fresh prefill gives
        assert episode.stream_ids == again.stream_ids and episode.loss_mask == again.loss_mask


def test_episode_mode_rollouts_prefix_the_segments_first_step(tiny_model_dir: Path, data_dir: Path) -> None:
    prefix = PrefixOptions(members=1, schedule=[0.5, 0.5])
    trainer = _trainer(tiny_model_dir, data_dir, mode="episode", group_size=2, max_actions=2, prefix=prefix)
    prefixed, free = trainer.rollout(0, [0])
    reference = _reference_without_eos(trainer, 0)
    forced = (len(reference) + 1) // 2
    assert prefixed.prefix_tokens == forced and free.prefix_tokens == 0
    assert prefixed.completion_ids[:forced] == reference[:forced]
    assert prefixed.loss_mask[:forced] == [0] * forced and prefixed.loss_mask[forced] == 1


# ---- the hybrid loss ---------------------------------------------------------------------------------------


def _grads(trainer: GRPOTrainer) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]


def _batch(trainer: GRPOTrainer, rollouts: list[Rollout]) -> dict[str, torch.Tensor]:
    """The batch `learn` builds (one process, every group kept)."""
    batch = layout(rollouts, trainer.tokenizer.pad_token_id)
    rewards = torch.tensor([r.reward for r in rollouts])
    batch["advantages_B"] = group_advantages(rewards, trainer.config.group_size)
    batch["weight_B"] = torch.ones(len(rollouts))
    batch["rank_scale"] = torch.ones(len(rollouts))
    return batch


def _sft_nll(trainer: GRPOTrainer) -> torch.Tensor:
    """SFT's loss computed apart: a plain forward over `thinkact sft`'s tokens of prompts 0 and 1, the token-mean
    NLL of their completions."""
    model = trainer.model
    nll, count = torch.zeros(()), 0
    for index in (0, 1):
        prompt_ids, completion_ids = encode_turn(trainer.tokenizer, trainer.prompts[index], think=True)
        ids = torch.tensor([prompt_ids + completion_ids])
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
        nll = nll - logits.log_softmax(-1).gather(1, torch.tensor(completion_ids)[:, None]).sum()
        count += len(completion_ids)
    return nll / count


@pytest.mark.parametrize("rule", ["fixed", "grad_norm"])
def test_hybrid_loss_and_gradient_are_the_weighted_sum(
    tiny_model_dir: Path, data_dir: Path, rule: str
) -> None:
    hybrid = HybridOptions(weight=0.3, rule=rule, range=[0.1, 0.9])
    trainer = _trainer(tiny_model_dir, data_dir, group_size=2, hybrid=hybrid, micro_batch=1)
    rollouts = trainer.rollout(0, [0, 1])
    for rollout, reward in zip(rollouts, [1.0, 0.0, 0.2, 0.7], strict=True):
        rollout.reward = reward
    batch = _batch(trainer, rollouts)
    sft_batch = trainer.reference_batch(rollouts)
    # the reference completions are exactly `thinkact sft`'s tokens of those turns
    dataset, _ = build_dataset(
        trainer.tokenizer, data_dir / "train.jsonl", think=True, max_length=4096, share_prefixes=False
    )
    row = dataset[0]
    first = [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
    assert sft_batch["completion_ids_BC"][0, : len(first)].tolist() == first

    trainer.model.train()
    trainer.optimizer.zero_grad()
    loss, _, _, mix = trainer.update.accumulate(batch, None, None, 0, sft_batch)
    mixed = _grads(trainer)

    trainer.optimizer.zero_grad()
    logp = trainer.update.forward_logprobs(trainer.model, batch)
    grpo = policy_loss(logp, logp.detach(), batch["advantages_B"], batch["mask_BC"]).loss
    grpo.backward()
    grpo_grads = _grads(trainer)
    trainer.optimizer.zero_grad()
    sft = _sft_nll(trainer)
    sft.backward()
    sft_grads = _grads(trainer)
    trainer.optimizer.zero_grad()

    if rule == "fixed":
        w = 0.3
    else:
        norm = lambda grads: float(torch.cat([g.flatten() for g in grads]).norm())  # noqa: E731
        w = 0.1 + 0.8 * norm(sft_grads) / (norm(sft_grads) + norm(grpo_grads))
        assert mix["sft_grad_norm"] == pytest.approx(norm(sft_grads), rel=1e-4)
        assert mix["grpo_grad_norm"] == pytest.approx(norm(grpo_grads), rel=1e-4)
    assert mix["sft_weight"] == pytest.approx(w, rel=1e-5)
    assert mix["sft_loss"] == pytest.approx(float(sft.detach()), rel=1e-5)
    assert mix["grpo_loss"] == pytest.approx(float(grpo.detach()), abs=1e-6)
    assert loss == pytest.approx((1 - w) * float(grpo.detach()) + w * float(sft.detach()), rel=1e-5, abs=1e-6)
    assert len(mixed) == len(grpo_grads) == len(sft_grads)
    for got, g_rl, g_sft in zip(mixed, grpo_grads, sft_grads, strict=True):
        torch.testing.assert_close(got, (1 - w) * g_rl + w * g_sft, rtol=1e-4, atol=1e-6)


def test_prefix_sft_loss_is_the_nll_of_the_prefix_tokens(tiny_model_dir: Path, data_dir: Path) -> None:
    prefix = PrefixOptions(members=1, schedule=[0.6, 0.6], sft_weight=0.5)
    trainer = _trainer(tiny_model_dir, data_dir, group_size=2, prefix=prefix)
    rollouts = trainer.rollout(0, [0, 1])
    for rollout, reward in zip(rollouts, [1.0, 0.0, 0.0, 1.0], strict=True):
        rollout.reward = reward
    batch = _batch(trainer, rollouts)
    trainer.model.train()
    trainer.optimizer.zero_grad()
    loss, _, _, mix = trainer.update.accumulate(batch, None, None)
    with torch.no_grad():
        logp = trainer.update.forward_logprobs(trainer.model, batch)
        pg = policy_loss(logp, logp, batch["advantages_B"], batch["mask_BC"]).loss
        marked = batch["sft_mask_BC"]
        nll = -(logp * marked).sum() / marked.sum()
    assert marked.sum() == sum(r.prefix_tokens for r in rollouts) > 0
    assert mix["prefix_sft_loss"] == pytest.approx(float(nll), rel=1e-5)
    assert loss == pytest.approx(float(pg) + 0.5 * float(nll), rel=1e-5)


# ---- runs, and the TRL engine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        (
            {"prefix": PrefixOptions(members=1, schedule=[0.8, 0.2], sft_weight=0.2)},
            {"reward_prefixed", "reward_free", "prefix_tokens", "prefix_sft_loss", "completion_tokens_free"},
        ),
        (
            {"hybrid": HybridOptions(rule="grad_norm", range=[0.1, 0.9])},
            {"sft_weight", "sft_loss", "grpo_loss", "sft_grad_norm", "grpo_grad_norm"},
        ),
        ({"hybrid": HybridOptions(rule="linear", range=[0.5, 0.1])}, {"sft_weight", "sft_loss"}),
    ],
)
def test_runs_with_each_option_move_the_policy_and_log_it(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, fields: dict[str, Any], names: set[str]
) -> None:
    config = GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "grpo"),
        steps=2,
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=6,
        learning_rate=1e-3,
        mask_truncated=False,
        save_steps=0,
        sample_steps=1,
        report_to="none",
        **fields,
    )
    final = run_grpo(config)
    before, after = (
        load_file(str(tiny_model_dir / "model.safetensors")),
        load_file(str(final / "model.safetensors")),
    )
    assert any(not torch.equal(before[name], after[name]) for name in before)
    lines = [json.loads(line) for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    for line in lines:
        assert names <= set(line)
    if "hybrid" in fields and fields["hybrid"].rule == "linear":
        assert [line["sft_weight"] for line in lines] == pytest.approx([0.5, 0.1])
    if "prefix" in fields:
        samples = [
            json.loads(line) for line in (tmp_path / "grpo" / "samples.jsonl").read_text().splitlines()
        ]
        assert [sample["prefix_tokens"] > 0 for sample in samples[:2]] == [True, False]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prefix": PrefixOptions(members=1)}, "grpo.prefix: TRL has no prefix-guided groups"),
        ({"hybrid": HybridOptions(weight=0.2)}, "grpo.hybrid: TRL's GRPO has no hybrid SFT loss"),
    ],
)
def test_trl_engine_refuses_prefix_groups_and_the_hybrid_loss(fields: dict[str, Any], message: str) -> None:
    config = GRPORunConfig(**fields)
    assert [line for line in unsupported(config) if line.startswith(message)]
    with pytest.raises(UserError, match=re.escape(message)):
        trl_arguments(config, num_processes=1)


def test_cli_refuses_the_mix_options_on_the_trl_engine(tmp_path: Path) -> None:
    args = ["grpo", "--engine", "trl", "--out", str(tmp_path / "run"), "--set", "hybrid.weight=0.3"]
    result = CliRunner().invoke(typer_app, args)
    assert isinstance(result.exception, UserError)
    assert "grpo.hybrid: TRL's GRPO has no hybrid SFT loss" in str(result.exception)
    assert not (tmp_path / "run").exists()

"""Deficiency-focused prompt sampling, reference resets and the generated-token budget of the GRPO engine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import thinkact.train.grpo_rollouts as grpo_rollouts
from thinkact.errors import UserError
from thinkact.integrations.trl_settings import trl_arguments, unsupported
from thinkact.models.load import load_policy
from thinkact.parse import Action
from thinkact.rollout.loop import Episode
from thinkact.rollout.records import Rollout
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer, run_grpo
from thinkact.train.schedule import (
    PromptSampling,
    draw_prompts,
    group_means,
    sampled_tokens,
    sampling_metrics,
    sampling_weights,
    update_scores,
)
from thinkact.train.sft import LoraOptions

DEFICIENCY = PromptSampling(kind="deficiency", floor=0.2, decay=0.5)


def test_weights_grow_with_deficiency_and_keep_the_floor() -> None:
    # floor 0.2: weight = 0.2 + 0.8 * (1 - score); a prompt never drawn counts as deficiency 1
    weights = sampling_weights([1.0, 0.0, 0.25, None], 0.2)
    assert weights == pytest.approx([0.2, 1.0, 0.8, 1.0])


def test_running_score_is_an_average_that_forgets_at_the_decay() -> None:
    scores = update_scores([None, 0.5, 0.2], [(0, 0.8), (1, 1.0), (2, -3.0)], decay=0.5)
    # first sight: the mean itself; then 0.5 * old + 0.5 * new; a reward below 0 counts as 0
    assert scores == pytest.approx([0.8, 0.75, 0.1])
    again = update_scores(scores, [(1, 0.0), (1, 0.0)], decay=0.25)  # the same prompt twice: in turn
    assert again[1] == pytest.approx(0.75 * 0.25 * 0.25)


def test_a_starved_prompt_is_still_drawn_but_least() -> None:
    weights = sampling_weights([1.0, 0.0, 0.0, 0.0], 0.1)  # prompt 0: solved, weight 0.1 against 1.0
    drawn = [i for step in range(400) for i in draw_prompts(weights, 2, seed=3, step=step)]
    counts = [drawn.count(i) for i in range(4)]
    assert 0 < counts[0] < min(counts[1:])
    assert all(len(set(draw_prompts(weights, 2, seed=3, step=s))) == 2 for s in range(20))  # no repeats


def test_draws_are_fixed_by_seed_and_step() -> None:
    weights = [0.3, 1.0, 0.5, 0.9, 0.1, 0.7]
    assert draw_prompts(weights, 3, seed=1, step=5) == draw_prompts(weights, 3, seed=1, step=5)
    assert len({tuple(draw_prompts(weights, 3, seed=1, step=s)) for s in range(10)}) > 1
    assert len(draw_prompts(weights[:2], 5, seed=1, step=0)) == 5  # more than there are: with replacement


def test_sampling_metrics_describe_the_spread() -> None:
    metrics = sampling_metrics([0.2, 1.0, 1.0, 1.0], seen=1)
    probabilities = [0.2 / 3.2, 1 / 3.2, 1 / 3.2, 1 / 3.2]
    entropy = -sum(p * math.log(p) for p in probabilities) / math.log(4)
    assert metrics == pytest.approx(
        {
            "sampling_entropy": entropy,
            "sampling_min_weight": 0.2,
            "sampling_max_weight": 1.0,
            "sampling_seen": 0.25,
        }
    )


def _rollout(reward: float) -> Rollout:
    return Rollout("x", [1], [2, 3], [1, 1], "", Action(), False, reward=reward)


def test_group_means_follow_the_layout() -> None:
    rollouts = [_rollout(r) for r in (1.0, 0.0, 0.5, 0.5)]
    assert group_means([7, 2], rollouts, 2) == [(7, 0.5), (2, 0.5)]


def _trainer(tiny_model_dir: Path, data_dir: Path, **fields: object) -> GRPOTrainer:
    model, tokenizer = load_policy(tiny_model_dir)
    settings: dict[str, object] = {
        "group_size": 2,
        "prompts_per_step": 2,
        "max_new_tokens": 4,
        "learning_rate": 1e-2,
        "mask_truncated": False,
        **fields,
    }
    trainer = GRPOTrainer(GRPORunConfig(**settings), model, tokenizer)  # type: ignore[arg-type]
    trainer.load_data(data_dir / "train.jsonl")
    return trainer


def test_deficiency_step_updates_the_scores_of_the_drawn_prompts(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    trainer = _trainer(tiny_model_dir, data_dir, sampling=DEFICIENCY)
    indices = trainer.prompts_for_step(0)
    metrics, rollouts = trainer.step(0)
    means = [sum(r.reward for r in rollouts[g * 2 : g * 2 + 2]) / 2 for g in range(2)]
    for index, value in zip(indices, means, strict=True):
        assert trainer.scores[index] == pytest.approx(value)
    assert sum(score is not None for score in trainer.scores) == len(set(indices))
    assert metrics["sampling_min_weight"] == metrics["sampling_max_weight"] == 1.0  # all unseen at step 0
    # the next draw weighs the prompts by the scores: the same as drawing from the weights by hand
    expected = draw_prompts(sampling_weights(trainer.scores, 0.2), 2, seed=0, step=1)
    assert trainer.prompts_for_step(1) == expected


def test_reference_becomes_the_policy_at_a_reset_and_the_optimiser_forgets(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    trainer = _trainer(tiny_model_dir, data_dir, kl_coef=0.05, reference_reset_steps=2, reset_optimizer=True)
    start = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    metrics, _ = trainer.step(0)
    assert trainer.reference is not None and "reference_reset" not in metrics
    policy = dict(trainer.model.named_parameters())
    reference = dict(trainer.reference.named_parameters())
    assert all(torch.equal(reference[name], start[name]) for name in start)  # still the starting policy
    assert any(not torch.equal(reference[name], policy[name]) for name in start)
    assert len(trainer.optimizer.state) > 0
    metrics, _ = trainer.step(1)
    assert metrics["reference_reset"] == 1.0 and trainer.last_reset == 2
    assert all(torch.equal(reference[name], policy[name]) for name in start)  # the policy after step 2
    assert len(trainer.optimizer.state) == 0


def test_without_reset_optimizer_adam_keeps_its_moments(tiny_model_dir: Path, data_dir: Path) -> None:
    trainer = _trainer(tiny_model_dir, data_dir, kl_coef=0.05, reference_reset_steps=1)
    trainer.step(0)
    assert trainer.last_reset == 1 and len(trainer.optimizer.state) > 0


def test_checkpoint_restores_scores_tokens_and_the_reset_reference(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    fields = {"sampling": DEFICIENCY, "kl_coef": 0.05, "reference_reset_steps": 1}
    trainer = _trainer(tiny_model_dir, data_dir, **fields)
    trainer.step(0)
    trainer.step(1)
    trainer.checkpoint(tmp_path, 2)
    state = json.loads((tmp_path / "checkpoints" / "step-2" / "state.json").read_text())
    assert state["generated_tokens"] == trainer.generated_tokens > 0 and state["last_reset"] == 2
    again = _trainer(tiny_model_dir, data_dir, **fields)
    assert again.restore(tmp_path) == 2
    assert again.scores == trainer.scores and again.generated_tokens == trainer.generated_tokens
    assert again.reference is not None and trainer.reference is not None
    for (name, ours), theirs in zip(
        trainer.reference.named_parameters(), again.reference.parameters(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    assert again.prompts_for_step(2) == trainer.prompts_for_step(2)


def test_budget_stops_the_run_after_the_step_that_reaches_it(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    config = GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "grpo"),
        steps=50,
        prompts_per_step=1,
        group_size=2,
        max_new_tokens=4,
        mask_truncated=False,
        sample_steps=0,
        save_steps=0,
        report_to="none",
        max_generated_tokens=17,
    )
    run_grpo(config)
    rows = [json.loads(line) for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
    # each step samples 2 completions of 1..4 tokens: completion_tokens is their mean
    cumulative = 0.0
    for row in rows:
        cumulative += row["completion_tokens"] * 2
        assert row["generated_tokens"] == pytest.approx(cumulative)
    assert rows[-1]["generated_tokens"] >= 17 > rows[-2]["generated_tokens"]
    assert 3 <= len(rows) <= 9 and (tmp_path / "grpo" / "model" / "config.json").is_file()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reference_reset_steps": 5}, "kl_coef 0"),
        ({"reset_optimizer": True}, "set reference_reset_steps > 0"),
        ({"reference_reset_steps": 5, "kl_coef": 0.1, "lora": LoraOptions(enabled=True)}, "LoRA"),
        ({"max_generated_tokens": -1}, "grpo.max_generated_tokens"),
    ],
)
def test_schedule_settings_that_cannot_work_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        GRPORunConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "worst"}, "grpo.sampling.kind"),
        ({"floor": 0.0}, "starve"),
        ({"decay": 1.0}, "grpo.sampling.decay"),
    ],
)
def test_bad_sampling_settings_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        PromptSampling(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sampling": DEFICIENCY}, "grpo.sampling:"),
        ({"kl_coef": 0.1, "reference_reset_steps": 2, "reset_optimizer": True}, "grpo.reset_optimizer:"),
        ({"max_generated_tokens": 1000}, "grpo.max_generated_tokens:"),
    ],
)
def test_trl_engine_refuses_what_it_cannot_do(fields: dict[str, object], field: str) -> None:
    problems = unsupported(GRPORunConfig(**fields))  # type: ignore[arg-type]
    assert [line for line in problems if line.startswith(field)], problems
    with pytest.raises(UserError, match=field):
        trl_arguments(GRPORunConfig(**fields))  # type: ignore[arg-type]


def test_trl_engine_maps_reference_resets_to_a_full_sync() -> None:
    config = GRPORunConfig(kl_coef=0.1, reference_reset_steps=3, passes=2, prompts_per_step=2, group_size=2)
    assert unsupported(config) == []
    arguments = trl_arguments(config)
    assert (
        arguments["sync_ref_model"],
        arguments["ref_model_mixup_alpha"],
        arguments["ref_model_sync_steps"],
    ) == (
        True,
        1.0,
        6,
    )


def test_the_engine_warms_its_learning_rate_up_step_by_step(tiny_model_dir: Path, data_dir: Path) -> None:
    """The rate AdamW steps with is the warm-up's: a quarter, a half, then decaying (cosine) from the peak."""
    trainer = _trainer(tiny_model_dir, data_dir, steps=6, warmup_steps=4, lr_schedule="cosine")
    used = []
    for step in range(6):
        trainer.step(step)
        used.append(trainer.optimizer.param_groups[0]["lr"])
    assert used == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2, 1e-2 * (1 + math.cos(math.pi / 2)) / 2])


def test_loss_on_action_tokens_leaves_the_think_block_out_of_the_mask(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each rollout's stream is scripted (x <think> y y </think> z <|im_end|>, all sampled): with loss_tokens
    action the think block, its tags included, carries no loss; with all every sampled token does."""
    trainer = _trainer(tiny_model_dir, data_dir, loss_tokens="action")
    plain = _trainer(tiny_model_dir, data_dir)
    tokenizer = trainer.tokenizer
    open_id, close_id, end_id = (
        tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "</think>", "<|im_end|>")
    )
    x, y, z = tokenizer.encode("a b c", add_special_tokens=False)[:3]
    real = grpo_rollouts.sample_episodes

    def scripted(*args: object, **kwargs: object) -> list[Episode]:
        episodes = real(*args, **kwargs)  # type: ignore[arg-type]
        for episode in episodes:
            episode.stream_ids = [x, open_id, y, y, close_id, z, end_id]
            episode.loss_mask = [1] * 7
        return episodes

    monkeypatch.setattr(grpo_rollouts, "sample_episodes", scripted)
    masked = trainer.rollout(0, [0, 1])
    assert [r.loss_mask for r in masked] == [[1, 0, 0, 0, 0, 1, 1]] * 4
    # the think block carries no loss but was sampled: the token budget and the metrics count it
    assert [r.sampled_tokens() for r in masked] == [7] * 4 and sampled_tokens(masked) == 28
    assert [r.loss_mask for r in plain.rollout(0, [0, 1])] == [[1] * 7] * 4


def test_warm_up_longer_than_the_run_is_refused() -> None:
    with pytest.raises(UserError, match=r"grpo\.warmup_steps: 10; give fewer than steps \(10\)"):
        GRPORunConfig(steps=10, warmup_steps=10)

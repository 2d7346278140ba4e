"""GRPO learns: on a task the tiny model can learn, a few steps move it towards what the reward asks for.

The task: a prompt whose SFT data answered "yes" half the time and "no" the other half, so the policy samples
both; the reward (exact-match answer) wants "yes". After a few GRPO steps the policy must prefer "yes" clearly
more than before, measured exactly with log-probabilities and also in sampled answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from thinkact.models.chat import render_prompt
from thinkact.models.load import load_policy
from thinkact.parse import parse_action
from thinkact.rewards.combine import RewardConfig
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import chat_prompt, run_turns
from thinkact.train.grpo import GRPORunConfig, make_optimizer, run_grpo
from thinkact.train.grpo_config import learning_rate_at
from thinkact.train.losses import group_advantages, policy_loss
from thinkact.train.sft import SFTRunConfig, run_sft

PROMPT = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Is it raining?"}]


def _write(path: Path, answers: list[str]) -> Path:
    with path.open("w") as handle:
        for index, answer in enumerate(answers):
            message = {"role": "assistant", "content": answer, "reasoning_content": "One word."}
            handle.write(json.dumps({"id": f"c{index}", "messages": [*PROMPT, message]}) + "\n")
    return path


def _preference(model_dir: Path) -> float:
    """log P(answer "yes") - log P(answer "no") under the model."""
    model, tokenizer = load_policy(model_dir)
    prompt = tokenizer(render_prompt(tokenizer, PROMPT, []), add_special_tokens=False)["input_ids"]
    scores = []
    for answer in ("yes", "no"):
        completion = tokenizer(
            f"<think>\nOne word.\n</think>\n\n{answer}<|im_end|>", add_special_tokens=False
        )["input_ids"]
        ids = torch.tensor([prompt + completion])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
        scores.append(float(logits.log_softmax(-1).gather(1, torch.tensor(completion)[:, None]).sum()))
    return scores[0] - scores[1]


def _yes_rate(model_dir: Path) -> float:
    model, tokenizer = load_policy(model_dir)
    (steps,) = run_turns(model, tokenizer, [chat_prompt(PROMPT, [])], Sampling(16, 1.0, seed=7), samples=48)
    return sum(parse_action(step.text).content == "yes" for step in steps) / len(steps)


@pytest.mark.slow
def test_grpo_raises_the_reward_on_a_learnable_task(tiny_model_dir: Path, tmp_path: Path) -> None:
    mixed = _write(tmp_path / "mixed.jsonl", ["yes", "no"] * 8)
    sft = run_sft(
        SFTRunConfig(
            model=str(tiny_model_dir),
            data=str(mixed),
            out=str(tmp_path / "sft"),
            max_steps=80,
            batch_size=8,
            learning_rate=1e-2,
            warmup_ratio=0.1,
            logging_steps=80,
        )
    )
    before = _preference(sft)
    assert abs(before) < 2.0  # SFT left both answers likely
    wanted = _write(tmp_path / "yes.jsonl", ["yes"])
    rewards = RewardConfig(weights={"tool_exact": 1.0, "answer": 1.0}, answer_metric="exact")
    grpo = run_grpo(
        GRPORunConfig(
            model=str(sft),
            data=str(wanted),
            out=str(tmp_path / "grpo"),
            steps=6,
            prompts_per_step=2,
            group_size=12,
            max_new_tokens=16,
            learning_rate=2e-3,
            rewards=rewards,
            sample_steps=0,
        )
    )
    rewards_seen = [
        json.loads(line)["reward"] for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()
    ]
    assert any(
        0.0 < reward < 1.0 for reward in rewards_seen
    )  # groups held both answers: a signal to learn from
    after = _preference(grpo)
    assert after > before + 1.0, (before, after)
    assert _yes_rate(grpo) > _yes_rate(sft) + 0.2  # and the sampled policy says "yes" clearly more often


CALL_TURN_REWARDS = torch.tensor([1.0, 0.45, 0.1, 0.1, 0.1])
"""A call turn's rewards by outcome: exact call, right tool with a wrong argument, an answer, a wrong tool, a
malformed call."""


def _train_toy_policy(steps: int, config: GRPORunConfig, seed: int = 0) -> list[tuple[float, float]]:
    """GRPO on a categorical policy over those five outcomes (its logits are the only parameters), through the
    engine's own advantages, loss, optimiser and learning rate; returns (mean reward, p(exact)) per step."""
    logits = torch.nn.Parameter(torch.log(torch.tensor([0.05, 0.35, 0.3, 0.2, 0.1])))
    optimizer = make_optimizer([logits], config)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for step in range(steps):
        probs = logits.detach().softmax(-1).expand(config.prompts_per_step, -1)
        picks_B = torch.multinomial(probs, config.group_size, replacement=True, generator=generator).reshape(
            -1
        )
        rewards_B = CALL_TURN_REWARDS[picks_B]
        advantages_B = group_advantages(rewards_B, config.group_size, config.advantage_scale)
        logp_BT = logits.log_softmax(-1)[picks_B].unsqueeze(1)  # one sampled token per completion
        policy_loss(logp_BT, logp_BT.detach(), advantages_B, torch.ones_like(logp_BT)).loss.backward()
        torch.nn.utils.clip_grad_norm_([logits], config.max_grad_norm)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, step)
        optimizer.step()
        optimizer.zero_grad()
        history.append((float(rewards_B.mean()), float(logits.detach().softmax(-1)[0])))
    return history


def test_the_update_moves_a_toy_policy_to_the_exact_call() -> None:
    """From p(exact) = 0.05, where most groups hold no exact call and the right-tool arm pulls the other way,
    the update must find the exact call: p(exact) above 0.9 within 50 steps, and the reward rising with it."""
    config = GRPORunConfig(steps=50, learning_rate=0.2, group_size=8, prompts_per_step=4)
    history = _train_toy_policy(50, config)
    assert history[0][1] < 0.06
    assert max(p for _, p in history) > 0.9
    early = sum(r for r, _ in history[:10]) / 10
    late = sum(r for r, _ in history[-10:]) / 10
    assert late > early + 0.3


def test_a_warm_up_slows_the_first_updates_of_the_toy_policy() -> None:
    """A warm-up takes the first steps at a fraction of the rate: after 5 steps the policy has moved less than
    without it, and it still reaches the exact call within the 50 steps."""
    plain = _train_toy_policy(
        50, GRPORunConfig(steps=50, learning_rate=0.2, group_size=8, prompts_per_step=4)
    )
    warm = _train_toy_policy(
        50, GRPORunConfig(steps=50, learning_rate=0.2, warmup_steps=10, group_size=8, prompts_per_step=4)
    )
    assert warm[4][1] < plain[4][1]
    assert max(p for _, p in warm) > 0.9

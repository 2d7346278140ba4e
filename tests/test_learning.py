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
from thinkact.rollout.generation import generate_completions
from thinkact.train.grpo import GRPORunConfig, run_grpo
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
    texts = generate_completions(
        model, tokenizer, [PROMPT] * 48, [[]] * 48, max_new_tokens=16, temperature=1.0, seed=7
    )
    return sum(parse_action(text).content == "yes" for text in texts) / len(texts)


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

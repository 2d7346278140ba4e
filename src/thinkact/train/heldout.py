"""Held-out evaluation during training: greedy turns on a small fixed set, every N steps.

The training reward says how the policy does on the prompts it is trained on, sampled at temperature; what a user
wants to watch is how it does on turns it never trains on, the way `thinkact eval` will score it. `HeldOut` takes
the first `limit` scored turns of a file (in file order, so every evaluation sees the same turns), predicts each
greedily with the current weights, and scores them with the evaluation's own metrics (`eval/metrics.py`). The
mean of each metric comes back prefixed `heldout_` (`heldout_exact_call`, `heldout_reward`, ...), ready for
metrics.jsonl, TensorBoard and the progress bar. Left out: intervals (a few dozen turns; the final evaluation
has them) and the episode view.
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt, turn_prompts
from thinkact.errors import UserError
from thinkact.eval.metrics import aggregate_turns
from thinkact.eval.runner import score_record
from thinkact.rewards.combine import RewardConfig
from thinkact.rollout.generation import generate_with_lengths

SHOWN = ("reward", "exact_call", "tool_name", "arg_f1", "action_type", "answer", "format")
"""The metrics logged; the rest of the evaluation's metrics are in `thinkact eval`'s results."""


class HeldOut:
    def __init__(
        self,
        path: str | Path,
        *,
        limit: int,
        max_new_tokens: int,
        rewards: RewardConfig,
        batch_size: int = 32,
    ) -> None:
        turns = turn_prompts(read_conversations(path), answer_metric=rewards.answer_metric)
        if not turns:
            raise UserError(f"{path}: no scored assistant turn to evaluate on (grpo.eval_data)")
        self.turns: list[Prompt] = turns[:limit] if limit > 0 else turns
        self.max_new_tokens = max_new_tokens
        self.rewards = rewards
        self.batch_size = batch_size

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> dict[str, float]:
        """`heldout_<metric>` means over the turns, greedy, with the model's current weights."""
        predictions = generate_with_lengths(
            model,
            tokenizer,
            [turn.messages for turn in self.turns],
            [turn.tools for turn in self.turns],
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
        )
        records = [
            score_record(turn, text, tokens, self.rewards)
            for turn, (text, tokens) in zip(self.turns, predictions, strict=True)
        ]
        metrics = aggregate_turns([record["metrics"] for record in records], resamples=0)
        return {f"heldout_{name}": metrics[name].value for name in SHOWN if name in metrics}

"""Held-out evaluation during training: greedy turns on a small fixed set, every N steps.

The training reward says how the policy does on the prompts it is trained on, sampled at temperature; what a user
wants to watch is how it does on turns it never trains on, the way `thinkact eval` will score it. `HeldOut` takes
the first `limit` scored turns of a file (in file order, so every evaluation sees the same turns), predicts each
greedily with the current weights through the turn view `thinkact eval` uses (`rollout/turns.py`), and scores
them with the evaluation's own function (`rewards/turn_metrics.score_turns`: a completion that used all of
`max_new_tokens` is cut, format 0), so the numbers are what `thinkact eval` reports for the same model and turns.
The mean of each metric comes back prefixed `heldout_` (`heldout_exact_call`, `heldout_reward`, ...), ready for
metrics.jsonl, TensorBoard and the progress bar. Left out: intervals (a few dozen turns; the final evaluation
has them) and the episode view.
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.errors import UserError
from thinkact.rewards.combine import RewardConfig
from thinkact.rewards.turn_metrics import mean_turns, score_turns
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import run_turns

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
        sampling = Sampling(max_new_tokens=self.max_new_tokens, temperature=0.0, batch_size=self.batch_size)
        steps = run_turns(model, tokenizer, self.turns, sampling)
        predictions = [(one.text, one.tokens) for (one,) in steps]
        records = score_turns(self.turns, predictions, self.rewards, max_new_tokens=self.max_new_tokens)
        metrics = mean_turns([record["metrics"] for record in records])
        return {f"heldout_{name}": metrics[name].value for name in SHOWN if name in metrics}

"""The held-out evaluation during training reports what `thinkact eval` reports for the same model and turns.

Both predict each turn through the turn view (`rollout/turns.py`) and score it with one function
(`rewards/turn_metrics.py`), so a completion cut at `max_new_tokens` counts the same in both (format 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkact.eval.runner import EvalConfig, run_eval
from thinkact.models.load import load_policy
from thinkact.models.tiny import pretrained_base
from thinkact.rewards.combine import RewardConfig
from thinkact.train.heldout import SHOWN, HeldOut

TURNS = 12
MAX_NEW_TOKENS = 40  # the shipped base ends some turns within it and runs past it on others


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_heldout_metrics_equal_the_evaluations_turn_view(
    model: str, tiny_model_dir: Path, data_dir: Path
) -> None:
    model_dir = tiny_model_dir if model == "tiny" else pretrained_base()
    path = data_dir / "test_id.jsonl"
    config = EvalConfig(
        model=str(model_dir), data=[str(path)], limit=TURNS, max_new_tokens=MAX_NEW_TOKENS, resamples=0
    )
    split = run_eval(config)["splits"]["test_id"]
    heldout = HeldOut(path, limit=TURNS, max_new_tokens=MAX_NEW_TOKENS, rewards=RewardConfig(), batch_size=5)
    logged = heldout.evaluate(*load_policy(model_dir))

    cut = [turn for turn in split["turns"] if "cut at max_new_tokens" in turn["problems"]]
    assert cut and all(turn["metrics"]["format"] == 0.0 for turn in cut)
    if model == "base":
        assert len(cut) < len(split["turns"])  # and some turns ended before the limit
    assert len(split["turns"]) == len(heldout.turns) == TURNS
    expected = {
        f"heldout_{name}": split["metrics"][name]["value"] for name in SHOWN if name in split["metrics"]
    }
    assert logged == expected

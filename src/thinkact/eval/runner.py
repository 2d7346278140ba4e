"""The evaluation runner (turn view): predict every scored assistant turn from its reference history.

For each data file (a split, named by the file's stem) the runner renders each turn's history, generates one
completion per turn (greedy, batched, left-padded), parses it and scores it with `eval/metrics.py`. `oracle`
replays the reference actions instead of a model: a self-check of the harness that must score 1.0. Results are a
JSON document: per split, the aggregated metrics with sample counts and every turn's prediction and scores.
Left out: the episode view (tools executed over whole conversations) and bootstrap intervals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkact.data.conversations import TurnExample, read_conversations, turn_examples
from thinkact.errors import UserError
from thinkact.eval.metrics import aggregate_turns, score_turn
from thinkact.parse import action_from_message, parse_action, render_action
from thinkact.rewards.combine import RewardConfig


@dataclass
class EvalConfig:
    model: str = ""
    """Model directory to evaluate (ignored with oracle)."""
    data: list[str] = field(default_factory=list)
    """Chat-format JSONL files; each is reported as a split named by its file stem."""
    out: str = ""
    """Where to write the results JSON (empty: do not write)."""
    oracle: bool = False
    """Replay the reference actions instead of generating (must score 1.0)."""
    max_new_tokens: int = 160
    batch_size: int = 16
    limit: int = 0
    """Evaluate at most this many turns per split (0: all)."""
    name: str = ""
    """Label of the model in reports (default: the model path, or "oracle")."""
    rewards: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        if not self.data:
            raise UserError("eval: give at least one data file (--data FILE)")
        if not self.oracle and not self.model:
            raise UserError(
                "eval: give --model DIR, or --oracle to check the harness with the reference actions"
            )


ProgressCallback = Callable[[str, int, int], None]


def run_eval(config: EvalConfig, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Evaluate and return the results document (also written to `config.out` when set)."""
    splits = {}
    for path in config.data:
        name = Path(path).stem
        if name in splits:
            raise UserError(f"eval: two data files are both named {name!r}; give splits distinct file names")
        turns = [
            turn
            for turn in turn_examples(read_conversations(path))
            if turn.reference.get("score") is not False
        ]
        if config.limit:
            turns = turns[: config.limit]
        splits[name] = turns
    predict = _oracle_predictions if config.oracle else _model_predictor(config)
    results: dict[str, Any] = {
        "model": config.name or ("oracle" if config.oracle else config.model),
        "splits": {},
    }
    for name, turns in splits.items():
        predictions = predict(turns, name, progress)
        records = [
            _score_record(turn, text, tokens, config.rewards)
            for turn, (text, tokens) in zip(turns, predictions, strict=True)
        ]
        metrics = aggregate_turns([record["metrics"] for record in records])
        results["splits"][name] = {
            "metrics": {key: metric.to_json() for key, metric in metrics.items()},
            "turns": records,
        }
    if config.out:
        Path(config.out).parent.mkdir(parents=True, exist_ok=True)
        Path(config.out).write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return results


Predictor = Callable[[list[TurnExample], str, ProgressCallback | None], list[tuple[str, int]]]


def _oracle_predictions(
    turns: list[TurnExample], split: str, progress: ProgressCallback | None
) -> list[tuple[str, int]]:
    texts = [render_action(action_from_message(turn.reference)) for turn in turns]
    return [(text, len(text.split())) for text in texts]


def _model_predictor(config: EvalConfig) -> Predictor:
    from thinkact.models.load import load_policy
    from thinkact.rollout.generation import generate_with_lengths

    model, tokenizer = load_policy(config.model)

    def predict(
        turns: list[TurnExample], split: str, progress: ProgressCallback | None
    ) -> list[tuple[str, int]]:
        outputs: list[tuple[str, int]] = []
        step = max(config.batch_size * 4, 1)
        for start in range(0, len(turns), step):
            chunk = turns[start : start + step]
            outputs.extend(
                generate_with_lengths(
                    model,
                    tokenizer,
                    [turn.messages for turn in chunk],
                    [turn.tools for turn in chunk],
                    max_new_tokens=config.max_new_tokens,
                    batch_size=config.batch_size,
                )
            )
            if progress is not None:
                progress(split, len(outputs), len(turns))
        return outputs

    return predict


def _score_record(turn: TurnExample, text: str, tokens: int, rewards: RewardConfig) -> dict[str, Any]:
    action = parse_action(text)
    reference = action_from_message(turn.reference)
    metric = turn.meta.get("answer_metric")
    values = score_turn(
        action, reference, turn.tools, completion_tokens=tokens, rewards=rewards, answer_metric=metric
    )
    return {
        "id": turn.id,
        "domain": turn.meta.get("domain", ""),
        "phenomena": turn.meta.get("phenomena", []),
        "reference": turn.reference,
        "completion": text,
        "problems": action.problems,
        "metrics": values,
    }

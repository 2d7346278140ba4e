"""Sample conversations for the report: the turns and episodes where the compared models differ most.

A turn is a candidate when every model was scored on it; it ranks first when the models disagree on whether it
is `correct`, then by the spread of their rewards. An episode ranks by disagreement on `success`, then by the
spread of its answer scores. When no turn separates the models, the first ones are shown and marked as agreeing,
so a report always has conversations to read. Left out: random sampling (the choice is deterministic).
"""

from __future__ import annotations

from typing import Any

from thinkact.parse import parse_action


def select_turn_samples(results: dict[str, dict[str, Any]], split: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` turns of `split` where the models differ, each with its history and every model's action."""
    names = list(results)
    by_model = {name: {turn["id"]: turn for turn in _turns(results[name], split)} for name in names}
    shared = [turn_id for turn_id in by_model[names[0]] if all(turn_id in by_model[n] for n in names)]
    ranked = sorted(shared, key=lambda turn_id: _turn_rank([by_model[n][turn_id] for n in names]))
    samples = []
    for turn_id in ranked[:limit]:
        records = {name: by_model[name][turn_id] for name in names}
        first = records[names[0]]
        conversations = results[names[0]]["splits"][split].get("conversations") or {}
        history = _history(conversations.get(first.get("conversation_id", "")), first.get("turn_index"))
        samples.append(
            {
                "split": split,
                "view": "turn",
                "id": turn_id,
                "domain": first.get("domain", ""),
                "phenomena": first.get("phenomena", []),
                "differs": _differs([record["metrics"] for record in records.values()], "correct", "reward"),
                "history": history,
                "reference": first["reference"],
                "models": {name: describe_turn(record) for name, record in records.items()},
            }
        )
    return samples


def select_episode_samples(
    results: dict[str, dict[str, Any]], split: str, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` episodes of `split` where the models differ, with each model's transcript."""
    names = list(results)
    by_model = {name: {record["id"]: record for record in _episodes(results[name], split)} for name in names}
    shared = [key for key in by_model[names[0]] if all(key in by_model[n] for n in names)]
    ranked = sorted(shared, key=lambda key: _episode_rank([by_model[n][key] for n in names]))
    conversations = results[names[0]]["splits"][split].get("conversations") or {}
    samples = []
    for key in ranked[:limit]:
        records = {name: by_model[name][key] for name in names}
        first = records[names[0]]
        reference = conversations.get(key) or []
        opening = _opening_length(reference)
        samples.append(
            {
                "split": split,
                "view": "episode",
                "id": key,
                "domain": first.get("domain", ""),
                "phenomena": first.get("phenomena", []),
                "differs": _differs([record["metrics"] for record in records.values()], "success", "answer"),
                "history": reference[:opening],
                "reference_messages": reference[opening:],
                "models": {
                    name: {
                        "messages": record["messages"][opening:],
                        "metrics": record["metrics"],
                        "state_diff": record.get("state_diff", []),
                    }
                    for name, record in records.items()
                },
            }
        )
    return samples


def describe_turn(record: dict[str, Any]) -> dict[str, Any]:
    """A turn's prediction as the report shows it: thinking, calls, answer, problems, metrics, components."""
    action = parse_action(record.get("completion", ""))
    return {
        "think": action.think,
        "calls": [{"name": call.name, "arguments": call.arguments} for call in action.tool_calls],
        "answer": action.content,
        "problems": record.get("problems", action.problems),
        "metrics": record.get("metrics", {}),
        "components": record.get("components", {}),
    }


def _turns(results: dict[str, Any], split: str) -> list[dict[str, Any]]:
    return list(results["splits"][split].get("turns") or [])


def _episodes(results: dict[str, Any], split: str) -> list[dict[str, Any]]:
    return list((results["splits"][split].get("episodes") or {}).get("records") or [])


def _turn_rank(records: list[dict[str, Any]]) -> tuple[int, float]:
    metrics = [record["metrics"] for record in records]
    return (-_distinct(metrics, "correct"), -_spread(metrics, "reward"))


def _episode_rank(records: list[dict[str, Any]]) -> tuple[int, float]:
    metrics = [record["metrics"] for record in records]
    return (-_distinct(metrics, "success"), -_spread(metrics, "answer"))


def _distinct(metrics: list[dict[str, float]], name: str) -> int:
    return len({values.get(name) for values in metrics})


def _spread(metrics: list[dict[str, float]], name: str) -> float:
    values = [values[name] for values in metrics if name in values]
    return max(values) - min(values) if values else 0.0


def _differs(metrics: list[dict[str, float]], flag: str, score: str) -> bool:
    return _distinct(metrics, flag) > 1 or _spread(metrics, score) > 0


def _history(messages: list[dict[str, Any]] | None, turn_index: Any) -> list[dict[str, Any]]:
    if not messages or not isinstance(turn_index, int):
        return []
    return list(messages[:turn_index])


def _opening_length(messages: list[dict[str, Any]]) -> int:
    """How many reference messages open the episode (those before the first assistant message)."""
    return next((i for i, message in enumerate(messages) if message["role"] == "assistant"), len(messages))

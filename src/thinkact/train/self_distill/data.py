"""A round's training data (the conversations with the kept thinking) and its summary.

Left out: sampling (`sampling.py`) and writing the files (`run.py`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.parse import Action
from thinkact.train.self_distill.judging import REASONS
from thinkact.train.self_distill.options import SelfDistillOptions
from thinkact.train.self_distill.sampling import TurnOutcome


def distilled_conversations(
    conversations: list[Conversation],
    outcomes: list[TurnOutcome],
    options: SelfDistillOptions,
    round_number: int,
) -> list[Conversation]:
    """The conversations as round `round_number` trains on them (see the module docstring).

    Copy j (j >= 1, named `ID~j+1`) holds each turn's (j+1)-th kept sample and leaves its other turns out of the
    loss; copies with nothing to train are not written.
    """
    by_turn = {(o.prompt.conversation_id, o.prompt.turn_index): o for o in outcomes}
    copies: Counter[str] = Counter()
    for done in outcomes:
        copies[done.prompt.conversation_id] = max(copies[done.prompt.conversation_id], len(done.kept))
    result = []
    for conversation in conversations:
        for copy in range(max(copies[conversation.id], 1)):
            messages: list[dict[str, Any]] = []
            record: dict[str, Any] = {}
            for index, message in enumerate(conversation.messages):
                outcome = by_turn.get((conversation.id, index))
                if message["role"] != "assistant":
                    messages.append(message)
                    continue
                message = {**message, "reasoning_content": ""}
                if outcome is None:  # a turn marked "score": false in the data: history only
                    messages.append(message)
                    continue
                if copy < len(outcome.kept):
                    kept = outcome.kept[copy]
                    message["reasoning_content"] = kept.think
                    if options.action == "sampled":
                        message = _with_action(message, kept.action)
                    record[str(index)] = {"kept": True, "hint": kept.hint, "score": round(kept.score, 4)}
                elif copy == 0 and options.unkept == "no_think":
                    record[str(index)] = {
                        "kept": False,
                        "trained": "no_think",
                        "rejected": dict(outcome.rejected),
                    }
                else:
                    message["score"] = False
                    if copy == 0:
                        record[str(index)] = {
                            "kept": False,
                            "trained": False,
                            "rejected": dict(outcome.rejected),
                        }
                messages.append(message)
            if copy and not record:
                continue
            meta = {
                **conversation.meta,
                "self_distill": {"round": round_number, "copy": copy + 1, "turns": record},
            }
            name = conversation.id if copy == 0 else f"{conversation.id}~{copy + 1}"
            result.append(Conversation(id=name, messages=messages, tools=conversation.tools, meta=meta))
    return result


def _with_action(message: dict[str, Any], action: Action) -> dict[str, Any]:
    sampled = action.to_message()
    message = {key: value for key, value in message.items() if key not in ("tool_calls", "facts")}
    message["content"] = sampled["content"]
    if "tool_calls" in sampled:
        message["tool_calls"] = sampled["tool_calls"]
    return message


def summarise_round(
    outcomes: list[TurnOutcome], tokens: int, options: SelfDistillOptions, round_number: int, policy: str
) -> dict[str, Any]:
    """The round's entry in self_distill.json."""
    calls = [o for o in outcomes if o.prompt.action.tool_calls]
    kept = [o for o in outcomes if o.kept]
    rejected: Counter[str] = Counter()
    for outcome in outcomes:
        rejected.update(outcome.rejected)
    return {
        "round": round_number,
        "policy": policy,
        "data": f"distilled/round-{round_number}.jsonl",
        "turns": len(outcomes),
        "call_turns": len(calls),
        "answer_turns": len(outcomes) - len(calls),
        "sampled": sum(o.sampled for o in outcomes),
        "hint_turns": sum(o.hinted for o in outcomes),
        "kept_turns": len(kept),
        "kept_call_turns": sum(1 for o in kept if o.prompt.action.tool_calls),
        "kept_answer_turns": sum(1 for o in kept if not o.prompt.action.tool_calls),
        "kept_by_hint": sum(1 for o in kept if o.kept[0].hint),
        "kept_samples": sum(len(o.kept) for o in outcomes),
        "unkept_turns": len(outcomes) - len(kept),
        "unkept": options.unkept,
        "rejected": {reason: rejected[reason] for reason in REASONS if rejected[reason]},
        "generated_tokens": tokens,
        "trained": False,
        "model": None,
    }


def describe_round(entry: dict[str, Any]) -> str:
    """One line of progress output for a sampled round."""
    unkept = "left out" if entry["unkept"] == "drop" else "trained without thinking"
    return (
        f"round {entry['round']}: kept {entry['kept_turns']} of {entry['turns']} turns "
        f"({entry['kept_call_turns']} of {entry['call_turns']} calls, {entry['kept_answer_turns']} of "
        f"{entry['answer_turns']} answers; {entry['kept_by_hint']} by the hint) from {entry['sampled']} samples, "
        f"{entry['generated_tokens']} generated tokens; {entry['unkept_turns']} turns {unkept}"
    )

"""Turn examples as rows of a TRL GRPO dataset: the prompt, and the columns thinkact's reward reads.

Every scored assistant turn becomes one row, as in thinkact's engine. TRL 1.16 renders conversational prompts
with one tool list for the whole run (or one per environment), so in turn mode the prompt is the text thinkact's
engine would feed the policy — the history rendered by the policy's chat template with the conversation's own
tools — and TRL only tokenises it. With environments, the prompt is the history as messages (TRL renders it with
the environment's tools), the row names its domain in `environment` and carries the world state the history left
(`state`). Reward columns are JSON strings (`reference`, `tools`), so rows of different conversations share one
Arrow schema. Prompts longer than `max_prompt_tokens` are counted and left out. Left out: the reward (see
`trl_rewards`) and the TRL trainer itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from thinkact.data.conversations import TurnExample, read_conversations, turn_examples
from thinkact.envs.episodes import reference_calls, tool_messages
from thinkact.envs.registry import make_environment
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt, render_prompt

_ANNOTATIONS = ("facts", "score")  # thinkact's reference annotations, never shown to the policy


def dataset_rows(
    tokenizer: PreTrainedTokenizerBase,
    path: str | Path,
    *,
    max_prompt_tokens: int,
    environments: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """(rows, how many turns were too long) for the conversations in `path`."""
    rows: list[dict[str, Any]] = []
    too_long = 0
    for turn in turn_examples(read_conversations(path)):
        if turn.reference.get("score") is False:
            continue
        if len(encode_prompt(tokenizer, turn.messages, turn.tools)) > max_prompt_tokens:
            too_long += 1
            continue
        row = {
            "turn_id": turn.id,
            "reference": json.dumps(turn.reference, ensure_ascii=False),
            "tools": json.dumps(turn.tools, ensure_ascii=False),
            "answer_metric": str(turn.meta.get("answer_metric") or ""),
        }
        if environments:
            row.update(episode_columns(turn, path))
        else:
            row["prompt"] = render_prompt(tokenizer, turn.messages, turn.tools)
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no prompt fits in grpo.max_prompt_tokens={max_prompt_tokens}")
    return rows, too_long


def episode_columns(turn: TurnExample, path: str | Path) -> dict[str, Any]:
    """`prompt` (messages), `environment` (the domain) and `state` (JSON) of a turn run in TRL's tool loop."""
    domain = turn.meta.get("domain")
    if not domain:
        raise UserError(
            f"{path}: conversation {turn.conversation_id} has no meta.domain; trl.environments=true runs every "
            "turn in its domain's environment (leave it off to train turns without executing tools)"
        )
    env = make_environment(turn.meta, time_limit_s=None)  # reference calls are trusted: no worker thread
    for message in turn.messages:
        if message["role"] == "assistant":
            tool_messages(env, reference_calls(message))
    return {
        "prompt": [prompt_message(message) for message in turn.messages],
        "environment": domain,
        "state": json.dumps(env.snapshot(), ensure_ascii=False),
    }


def prompt_message(message: dict[str, Any]) -> dict[str, Any]:
    """A history message for TRL: annotations dropped, call arguments as JSON text (one Arrow type for all).

    Qwen3's template writes string arguments as they are and objects through `tojson`, so the text is the same.

    >>> message = prompt_message({"role": "assistant", "content": "", "facts": ["4"],
    ...     "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 4}}}]})
    >>> sorted(message), message["tool_calls"][0]["function"]
    (['content', 'role', 'tool_calls'], {'name': 'f', 'arguments': '{"x": 4}'})
    """
    kept = {key: value for key, value in message.items() if key not in _ANNOTATIONS}
    if message.get("tool_calls"):
        kept["tool_calls"] = [_call_as_text(call) for call in message["tool_calls"]]
    return kept


def _call_as_text(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments") or {}
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"type": "function", "function": {"name": function["name"], "arguments": text}}

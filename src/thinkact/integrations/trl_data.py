"""Turn examples as rows of a TRL GRPO dataset: the prompt, and the columns thinkact's reward reads.

Every scored assistant turn becomes one row, from the same turn prompts thinkact's engine trains on
(`envs/prompts.py`: the `score: false` filter, the `meta.answer_metric` override and the world state the history
left are computed there). TRL 1.16 renders conversational prompts
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

from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt, render_prompt

_ANNOTATIONS = ("facts", "score")  # thinkact's reference annotations, never shown to the policy


def dataset_rows(
    tokenizer: PreTrainedTokenizerBase,
    path: str | Path,
    *,
    max_prompt_tokens: int,
    environments: bool = False,
    answer_metric: str = "f1",
) -> tuple[list[dict[str, Any]], int]:
    """(rows, how many turns were too long) for the conversations in `path`, from the engine's turn prompts."""
    conversations = read_conversations(path)
    if environments:
        for conversation in conversations:
            if not conversation.meta.get("domain"):
                raise UserError(
                    f"{path}: conversation {conversation.id} has no meta.domain; trl.environments=true runs "
                    "every turn in its domain's environment (leave it off to train turns without executing tools)"
                )
    rows: list[dict[str, Any]] = []
    too_long = 0
    for prompt in turn_prompts(conversations, answer_metric=answer_metric, states=environments):
        if len(encode_prompt(tokenizer, prompt.messages, prompt.tools)) > max_prompt_tokens:
            too_long += 1
            continue
        row = {
            "turn_id": prompt.id,
            "reference": json.dumps(prompt.reference, ensure_ascii=False),
            "tools": json.dumps(prompt.tools, ensure_ascii=False),
            "answer_metric": prompt.answer_metric,
        }
        if environments:
            row.update(episode_columns(prompt))
        else:
            row["prompt"] = render_prompt(tokenizer, prompt.messages, prompt.tools)
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no prompt fits in grpo.max_prompt_tokens={max_prompt_tokens}")
    return rows, too_long


def episode_columns(prompt: Prompt) -> dict[str, Any]:
    """`prompt` (messages), `environment` (the domain) and `state` (JSON) of a turn run in TRL's tool loop."""
    return {
        "prompt": [prompt_message(message) for message in prompt.messages],
        "environment": prompt.meta["domain"],
        "state": json.dumps(prompt.start_state, ensure_ascii=False),
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

"""What a token stream gains after a policy's step: the rendered text between its end-of-turn and the next step.

An episode of a local model is kept as one token stream (`rollout/loop.py`, `SamplingPolicy`): after each step
the loop appends what the chat template renders for the messages that follow (tool results, a user message) and
the next assistant header. `between_text` finds that text without searching what the policy wrote (stand-in
steps take the assistant messages' place in the render) and checks it against a render of the real history; a
history whose render the stream cannot hold raises `StreamMismatch`, and the loop ends that episode as a failure.
Left out: tokenising the text and keeping the stream (`rollout/loop.py`).
"""

from __future__ import annotations

import json
from typing import Any

from transformers import PreTrainedTokenizerBase

from thinkact.errors import UserError
from thinkact.models.chat import render


class StreamMismatch(Exception):
    """The chat template renders the messages after a step differently once the policy's own steps precede them,
    so the token stream cannot hold them (the episode fails, `STREAM_MISMATCH`)."""


def between_text(
    tokenizer: PreTrainedTokenizerBase,
    history: list[dict[str, Any]],
    new: list[dict[str, Any]],
    tools: list[dict[str, Any]],
) -> str:
    """The rendered text after the last assistant message's end-of-turn token, through the `new` messages, up to
    the next assistant header.

    What the policy wrote may hold anything the template writes itself (an end-of-turn string in a think block, a
    user header, special tokens spelled from ordinary pieces), so no marker is searched for in it: the history is
    rendered with every assistant message replaced by a stand-in (a text found nowhere else, a fixed think block,
    as many placeholder calls), and the text is what follows the last stand-in's end-of-turn token. Earlier turns
    may render differently once a user message follows (Qwen3's template drops the thinking of turns before the
    last user message): those turns stay in the stream as sampled.

    The text is then checked against a render of the real history: it must end that render, and within a user
    turn (tool results only) the render with `new` must be the render without it up to the end-of-turn token,
    then the text. A template that fails the second even with stand-ins is refused (`UserError`); a real history
    that fails either raises `StreamMismatch`. The last step is rendered with a stand-in for an empty think block:
    Qwen3's template renders an empty `reasoning_content` as `<think></think>` on the last turn but drops it on
    earlier ones, and only the text after its end-of-turn token is kept, so the stand-in never enters the stream.
    """
    eos = tokenizer.eos_token or ""
    mark = _unused_mark([*history, *new], tools)
    stand_ins = [
        _stand_in(message, mark) if message["role"] == "assistant" else message for message in history
    ]
    before = render(tokenizer, stand_ins, tools, add_generation_prompt=False)
    after = render(tokenizer, [*stand_ins, *new], tools, add_generation_prompt=True)
    cut_before = _end_of_last_step(before, mark, eos)
    cut_after = _end_of_last_step(after, mark, eos)
    if cut_before is None or cut_after is None:  # a template without end-of-turn text: the whole history
        cut_before = cut_after = len(before)
        if not after.startswith(before):
            raise UserError(_NOT_PREFIX)
    tool_results_only = all(message["role"] == "tool" for message in new)
    if tool_results_only and after[:cut_after] != before[:cut_before]:
        raise UserError(_NOT_PREFIX)
    text = after[cut_after:]
    tail = before[cut_before:]  # what the template writes after a last step's end-of-turn token
    real = [*history[:-1], _with_stand_in_think(history[-1])]
    real_after = render(tokenizer, [*real, *new], tools, add_generation_prompt=True)
    if not real_after.endswith(text):
        raise StreamMismatch(
            f"the chat template renders the {_roles(new)} after this step differently from what the token stream "
            "would hold, so the episode ends here"
        )
    if tool_results_only:
        real_before = render(tokenizer, real, tools, add_generation_prompt=False)
        if not real_before.endswith(tail) or real_after != real_before[: len(real_before) - len(tail)] + text:
            raise StreamMismatch(
                f"the chat template renders this step differently once {_roles(new)} follow, so the token "
                "stream cannot hold them and the episode ends here"
            )
    return text


_NOT_PREFIX = (
    "the chat template renders earlier turns differently once tool results follow, so episodes cannot be kept "
    "as one token stream; use a prefix-preserving template (Qwen3's is)"
)
_STAND_IN_THINK = "(no thinking)"


def _unused_mark(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    """A stand-in text that occurs in no message and no tool, so in a render it is found only where it was put."""
    taken = json.dumps([messages, tools], ensure_ascii=False, default=str)
    mark = "(stand-in step)"
    while mark in taken:
        mark += "~"
    return mark


def _stand_in(message: dict[str, Any], mark: str) -> dict[str, Any]:
    """An assistant message of nothing but `mark`, a fixed think block and as many placeholder calls as it made."""
    stand_in: dict[str, Any] = {"role": "assistant", "content": mark, "reasoning_content": _STAND_IN_THINK}
    if message.get("tool_calls"):
        stand_in["tool_calls"] = [
            {"type": "function", "function": {"name": "stand_in", "arguments": {}}}
            for _ in message["tool_calls"]
        ]
    return stand_in


def _end_of_last_step(text: str, mark: str, eos: str) -> int | None:
    """Where the last stand-in step of a render ends: just after its end-of-turn token (None when it has none)."""
    start = text.rfind(mark)
    end = text.find(eos, start) if eos and start >= 0 else -1
    return end + len(eos) if end >= 0 else None


def _roles(messages: list[dict[str, Any]]) -> str:
    """What the messages are, for a failure's text.

    >>> _roles([{"role": "tool"}, {"role": "tool"}, {"role": "user"}])
    'tool results and user message'
    """
    names = {"tool": "tool results", "user": "user message"}
    return " and ".join(
        dict.fromkeys(names.get(message["role"], f"{message['role']} message") for message in messages)
    )


def _with_stand_in_think(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("role") != "assistant" or (message.get("reasoning_content") or "").strip():
        return message
    return {**message, "reasoning_content": _STAND_IN_THINK}

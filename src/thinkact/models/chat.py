"""Prompts and completions as the policy's chat template renders them.

The template does the rendering (tools in the system prompt, `<think>` blocks, `<tool_call>` calls, tool results
as `<tool_response>`), so a Qwen3 checkpoint and the tiny model see the same text. A turn's completion is the
rendered conversation with the reference message minus the rendered prompt; templates that are not
prefix-preserving for that step are refused, since the loss would then fall on the wrong tokens.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedTokenizerBase

from thinkact.data.conversations import TurnExample
from thinkact.errors import UserError

Messages = list[dict[str, Any]]


def render(
    tokenizer: PreTrainedTokenizerBase,
    messages: Messages,
    tools: list[dict[str, Any]],
    *,
    add_generation_prompt: bool,
) -> str:
    """The template's text for `messages` and `tools` (thinkact's message annotations left out)."""
    specs: list[Any] | None = list(tools) if tools else None
    text = tokenizer.apply_chat_template(
        _template_messages(messages), tools=specs, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    return str(text)


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: Messages, tools: list[dict[str, Any]]) -> str:
    """The prompt text, ending with the assistant header the policy continues from."""
    return render(tokenizer, messages, tools, add_generation_prompt=True)


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase, messages: Messages, tools: list[dict[str, Any]]
) -> list[int]:
    return list(tokenizer(render_prompt(tokenizer, messages, tools), add_special_tokens=False)["input_ids"])


def render_completion(
    tokenizer: PreTrainedTokenizerBase, turn: TurnExample, *, think: bool = True
) -> tuple[str, str]:
    """(prompt, completion) texts for a turn; without `think`, the reference reasoning is left empty."""
    reference = dict(turn.reference)
    reference["reasoning_content"] = (reference.get("reasoning_content") or "") if think else ""
    prompt = render_prompt(tokenizer, turn.messages, turn.tools)
    full = render(tokenizer, [*turn.messages, reference], turn.tools, add_generation_prompt=False)
    if not full.startswith(prompt):
        raise UserError(
            f"turn {turn.id}: the chat template renders the history differently once the reply is appended, so "
            "the completion cannot be located; use a prefix-preserving template (Qwen3's is)"
        )
    completion = full[len(prompt) :]
    eos = tokenizer.eos_token or ""
    if eos and eos in completion:
        completion = completion[: completion.index(eos) + len(eos)]
    return prompt, completion


def encode_turn(
    tokenizer: PreTrainedTokenizerBase, turn: TurnExample, *, think: bool = True
) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) of a turn, tokenised apart so the boundary is exact."""
    prompt, completion = render_completion(tokenizer, turn, think=think)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    return list(prompt_ids), list(completion_ids)


def _template_messages(messages: Messages) -> Messages:
    """Messages as templates expect them: thinkact's annotations (facts, score) stay out of the rendering."""
    return [
        {key: value for key, value in message.items() if key not in ("facts", "score")}
        for message in messages
    ]

"""The turn view: each prompt's next assistant turn, as a one-step episode of the loop with no tools executed.

`run_turns` is what evaluation's turn view, the held-out evaluation during training, BFCL generation and
self-distillation sample through: every prompt becomes `samples` episodes with no environment and no user, and
`run_loop` gives each one step (`max_actions=1`) from a `SamplingPolicy`, greedy or sampled as the `Sampling` says.
The prompts run sorted by token length so that a batch pads little; the steps come back in the caller's order,
each with its text (special tokens kept for the parser), its token count and whether it was cut at
`max_new_tokens`. Left out: scoring (`rewards/turns.py`) and episodes with tools (`rollout/episodes.py`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.prompts import Prompt
from thinkact.models.chat import encode_prompt
from thinkact.parse import Action
from thinkact.rollout.episodes import begin_episodes
from thinkact.rollout.loop import Episode, Sampling, SamplingPolicy, Step, run_loop


def chat_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]], id: str = "") -> Prompt:
    """A prompt from a chat history and its tools alone, with no reference (BFCL's questions, probes)."""
    return Prompt(
        id=id, conversation_id=id, turn_index=len(messages), messages=messages, tools=tools, reference={}
    )


def run_turns(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Prompt],
    sampling: Sampling,
    *,
    samples: int = 1,
) -> list[list[Step]]:
    """Per prompt, in the caller's order, `samples` next turns (one step each, no tools run).

    A one-step episode has no later round to reuse a KV cache in, so the loop runs with `reuse_cache` off: one
    `sample` call per round, which narrows a batch as its rows end and prefills a prompt once for its samples.
    """
    encoded = [encode_prompt(tokenizer, prompt.messages, prompt.tools) for prompt in prompts]
    order = sorted(
        range(len(prompts)), key=lambda i: len(encoded[i])
    )  # stable: equal lengths keep their order
    episodes = begin_episodes([prompts[i] for i in order], group_size=samples, execute=False)
    for episode, index in zip(episodes, [i for i in order for _ in range(samples)], strict=True):
        episode.prompt_ids = encoded[index]  # `SamplingPolicy.begin` keeps ids already set
    steps: dict[int, Step] = {}

    def keep(episode: Episode, step: Step, action: Action, results: list[dict[str, Any]]) -> None:
        steps[id(episode)] = step

    policy = SamplingPolicy(model, tokenizer, dataclasses.replace(sampling, reuse_cache=False))
    run_loop(episodes, policy, max_actions=1, on_action=keep)
    results: list[list[Step]] = [[] for _ in prompts]
    for position, index in enumerate(order):
        group = episodes[position * samples : (position + 1) * samples]
        results[index] = [steps[id(episode)] for episode in group]
    return results

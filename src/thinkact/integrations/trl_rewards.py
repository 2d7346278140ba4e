"""thinkact's combined reward as a TRL reward function, with every component logged by name.

TRL calls a reward function with the prompts, the completions, their token ids and the dataset's other columns,
and sums the functions' outputs with fixed weights. thinkact's total is a weighted mean over the components that
apply to the turn (call turns and answer turns have different components), which a fixed weighted sum cannot
express in general, so the adapter passes one function — the combined reward, exactly `score_action` — and logs
each component through TRL's `log_metric` as `reward/<component>`, as thinkact's engine does.

The function decodes the completion's token ids itself (special tokens kept, so `<think>` and `<tool_call>`
survive whatever TRL's own decoding strips) and cuts them after the first end-of-turn token: in TRL's tool loop
a completion also holds tool results and the policy's next action, and the row's reference describes the first
action; a completion without one was cut at the length limit and scores 0 on format, as on thinkact's engine. A
row's reference action and tool schemas arrive as JSON columns on every call; each distinct pair is parsed once,
on first sight, and kept for the run. Every `sample_steps` steps it appends the step's first group to
`samples.jsonl`. Left out: rewards computed from an environment's final state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase, TrainerState

from thinkact.jsonsafe import dump_json
from thinkact.parse import Action, action_from_message, parse_action
from thinkact.rewards.combine import Reward, RewardConfig, score_action
from thinkact.rollout.generation import decode

RewardFunction = Callable[..., list[float | None]]
"""TRL's reward-function shape: keyword arguments (completions, their ids, dataset columns) → one reward each
(None: not applicable; thinkact's reward always applies)."""


def first_action(ids: list[int], stops: list[int]) -> list[int]:
    """The ids up to and including the first end-of-turn token (all of them when there is none).

    >>> first_action([5, 6, 2, 7, 8, 2], [2]), first_action([5, 6], [2])
    ([5, 6, 2], [5, 6])
    """
    for index, token in enumerate(ids):
        if token in stops:
            return ids[: index + 1]
    return ids


def make_reward_function(
    tokenizer: PreTrainedTokenizerBase,
    rewards_at: Callable[[int], RewardConfig],
    stops: list[int],
    *,
    passes: int = 1,
    samples: Path | None = None,
    sample_steps: int = 0,
    group_size: int = 1,
) -> RewardFunction:
    """TRL's reward function for thinkact's combined reward (named `thinkact` in TRL's logs).

    `rewards_at(step)` is the reward config at thinkact's step `step` (0-based; weights may be scheduled): TRL
    takes `passes` optimiser steps per generation, so its global step divided by `passes` is thinkact's step.
    """
    references: dict[tuple[str, str], tuple[Action, list[dict[str, Any]]]] = {}

    def parsed(reference: str, tools: str) -> tuple[Action, list[dict[str, Any]]]:
        """A row's reference action and tool schemas, parsed the first time the pair is seen (the dataset's
        columns do not change during a run; the scorers only read them)."""
        key = (reference, tools)
        if key not in references:
            references[key] = (action_from_message(json.loads(reference)), json.loads(tools))
        return references[key]

    def thinkact(
        *,
        completion_ids: list[list[int]],
        reference: list[str],
        tools: list[str],
        answer_metric: list[str],
        turn_id: list[str] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        trainer_state: TrainerState | None = None,
        **_: Any,
    ) -> list[float | None]:
        step = trainer_state.global_step // passes if trainer_state is not None else 0
        config = rewards_at(step)
        actions = [first_action(ids, stops) for ids in completion_ids]
        texts = [decode(tokenizer, ids) for ids in actions]
        # No end-of-turn token: TRL cut the completion at its length limit, so format scores 0 (as on thinkact's
        # engine) however the text parses.
        cut = [not ids or ids[-1] not in stops for ids in actions]
        scored = [
            score_action(
                parse_action(text),
                *parsed(ref, specs),
                config,
                answer_metric=metric or None,
                truncated=truncated,
            )
            for text, truncated, ref, specs, metric in zip(
                texts, cut, reference, tools, answer_metric, strict=True
            )
        ]
        if log_metric is not None:
            for name, value in component_means(scored).items():
                log_metric(f"reward/{name}", value)
        main = trainer_state is not None and trainer_state.is_world_process_zero
        if samples is not None and main and sample_steps and (step + 1) % sample_steps == 0:
            ids = turn_id or [""] * len(texts)
            write_samples(samples, step + 1, ids[:group_size], texts[:group_size], scored[:group_size])
        return [reward.total for reward in scored]

    return thinkact


def component_means(scored: list[Reward]) -> dict[str, float]:
    """Mean of each component over the samples it applies to.

    >>> component_means([Reward(1.0, {"format": 1.0}), Reward(0.5, {"format": 0.0, "answer": 0.5})])
    {'answer': 0.5, 'format': 0.5}
    """
    names = sorted({name for reward in scored for name in reward.components})
    means = {}
    for name in names:
        values = [reward.components[name] for reward in scored if name in reward.components]
        means[name] = sum(values) / len(values)
    return means


def write_samples(path: Path, step: int, ids: list[str], texts: list[str], scored: list[Reward]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for example_id, text, reward in zip(ids, texts, scored, strict=True):
            action = parse_action(text)
            record = {
                "step": step,
                "id": example_id,
                "completion": text,
                "think": action.think,
                "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in action.tool_calls],
                "answer": action.content,
                "problems": action.problems,
                "reward": reward.total,
                "components": reward.components,
            }
            handle.write(dump_json(record) + "\n")

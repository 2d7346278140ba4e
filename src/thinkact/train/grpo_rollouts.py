"""GRPO's rollouts: which prompts a step draws, a group of episodes per prompt, each scored into a `Rollout`.

`load_prompts` encodes the training conversations as the mode's prompts (those over `max_prompt_tokens` left out);
`prompts_for_step` picks one process's share of a step's prompts (a seeded permutation per epoch, or a draw
weighted by the running scores); `play_rollouts` runs the episode loop (`rollout/episodes.py`) on them and scores
each episode with `score_rollout`. `ReferenceTurns` renders a prompt's reference turn as `thinkact sft` does, once
per (prompt, source): the forced prefixes of `prefix`-guided members and the batch of the `hybrid` SFT loss come
from it. Left out: advantages and the update (`grpo_update.py`), and keeping the running scores a deficiency draw
is weighted by (`grpo_state.py`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt
from thinkact.data.rename import augment
from thinkact.envs import diff_states
from thinkact.envs.registry import bind_tools
from thinkact.errors import UserError
from thinkact.models.chat import encode_prompt, render_completion
from thinkact.parse import Action
from thinkact.rewards.combine import Reward, score_action
from thinkact.rewards.episode import score_episode
from thinkact.rollout.episodes import final_state, sample_episodes
from thinkact.rollout.loop import Episode, Sampling
from thinkact.rollout.records import Rollout
from thinkact.rollout.users import UserConfig
from thinkact.train.batches import layout
from thinkact.train.grpo_config import (
    GRPORunConfig,
    Mode,
    PrefixSource,
    prefix_length,
    scheduled_episode_rewards,
    scheduled_rewards,
)
from thinkact.train.losses import action_mask
from thinkact.train.schedule import draw_prompts, sampling_weights


def load_prompts(
    path: str | Path, config: GRPORunConfig, tokenizer: PreTrainedTokenizerBase
) -> tuple[list[Prompt], list[list[int]], int]:
    """The prompts of `path` in the run's mode and their token ids, and how many were too long to keep.

    The conversations are augmented first (`rename_tools`, `fresh_entities`, `rename_arguments`, drawn with the
    run's seed). Left out: warning about the dropped prompts (the caller reports them once, on the main process).
    """
    conversations = list(
        augment(
            read_conversations(path),
            config.seed,
            tool_share=config.rename_tools,
            entity_share=config.fresh_entities,
            argument_share=config.rename_arguments,
        )
    )
    prompts = Mode(config.mode).prompts(bind_tools(conversations), config)
    kept: list[Prompt] = []
    kept_ids: list[list[int]] = []
    for prompt in prompts:
        ids = encode_prompt(tokenizer, prompt.messages, prompt.tools)
        if len(ids) <= config.max_prompt_tokens:
            kept.append(prompt)
            kept_ids.append(ids)
    if not kept:
        raise UserError(f"{path}: no prompt fits in grpo.max_prompt_tokens={config.max_prompt_tokens}")
    return kept, kept_ids, len(prompts) - len(kept)


def prompts_for_step(
    config: GRPORunConfig,
    step: int,
    count: int,
    scores: list[float | None],
    *,
    process: int = 0,
    processes: int = 1,
) -> list[int]:
    """Indices (into the `count` prompts) that process `process` of `processes` plays at `step`.

    The step's `prompts_per_step` prompts are a slice of a seeded permutation per epoch, or (`sampling.kind:
    deficiency`) a draw weighted by the running `scores`; each process takes every `processes`-th of them.
    Left out: updating the scores after the step (`grpo_state.fold_scores`).
    """
    size = config.prompts_per_step
    if config.sampling.kind == "deficiency":
        weights = sampling_weights(scores, config.sampling.floor)
        drawn = draw_prompts(weights, size, config.seed, step)
        return drawn[process::processes]
    indices = []
    for position in range(step * size, (step + 1) * size):
        epoch, offset = divmod(position, count)
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        indices.append(int(torch.randperm(count, generator=generator)[offset]))
    return indices[process::processes]


def sampling_for(config: GRPORunConfig, step: int, process: int = 0) -> Sampling:
    """Generation settings at `step`; seeds derive from (seed, process, step, round). Left out: the prefixes."""
    return Sampling(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        batch_size=config.micro_batch * 2,
        seed=config.seed * 7919 + process,
        step=step,
    )


def play_rollouts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Prompt],
    config: GRPORunConfig,
    step: int,
    *,
    process: int = 0,
    think_ids: tuple[int, int] | None = None,
    prefixes: list[list[int]] | None = None,
) -> list[Rollout]:
    """A group of `group_size` episodes per prompt through the episode loop, each scored (turn mode: one step,
    no tools, no user). `prefixes` (one per episode, in rollout order) are forced reference tokens.

    Left out: choosing the prompts and the prefixes (`prompts_for_step`, `ReferenceTurns.prefixes`).
    """
    mode = Mode(config.mode)
    episodes = sample_episodes(
        model,
        tokenizer,
        prompts,
        group_size=config.group_size,
        max_actions=mode.max_actions(config),
        sampling=sampling_for(config, step, process),
        user=config.user if mode is Mode.EPISODE else UserConfig(),
        execute=mode is Mode.EPISODE,
        prefixes=prefixes,
    )
    return [to_rollout(episode, config, step, think_ids) for episode in episodes]


def to_rollout(
    episode: Episode, config: GRPORunConfig, step: int, think_ids: tuple[int, int] | None = None
) -> Rollout:
    """One scored episode as the update reads it: its reward, and a loss mask on the tokens the policy sampled
    (none when truncated under `mask_truncated`; only the action's under `loss_tokens: action`, given
    `think_ids`). Forced prefix tokens are marked for the prefix SFT loss when `prefix.sft_weight` > 0.

    Left out: the advantage, which needs the whole group.
    """
    reward = score_rollout(episode, config, step)
    keep = 0 if episode.truncated and config.mask_truncated else 1
    mask = episode.loss_mask
    if think_ids is not None:  # loss_tokens: action
        mask = action_mask(episode.stream_ids, mask, *think_ids)
    forced = len(episode.prefix_ids)
    marked = forced if config.prefix.sft_weight > 0 else 0
    return Rollout(
        example_id=episode.prompt.id,
        prompt_ids=episode.prompt_ids,
        completion_ids=episode.stream_ids,
        loss_mask=[bit * keep for bit in mask],
        text="".join(episode.texts),
        action=episode.steps[-1],
        truncated=episode.truncated,
        reward=reward.total,
        components=reward.components,
        tool_trace=episode.tool_trace,
        prefix_tokens=forced,
        sft_mask=[1] * marked + [0] * (len(episode.stream_ids) - marked) if forced else [],
        sampled=sum(episode.loss_mask),
    )


def think_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """The ids of `<think>` and `</think>`, each of which must be one token for `loss_tokens: action`."""
    ids = []
    for marker in ("<think>", "</think>"):
        encoded = tokenizer.encode(marker, add_special_tokens=False)
        if len(encoded) != 1:
            raise UserError(
                f"grpo.loss_tokens: action needs {marker} as one token, but this tokenizer splits it into "
                f"{len(encoded)}; add it to the tokenizer as a special token (the tiny and Qwen3 tokenizers have it; a "
                "model converted from GGUF keeps its own vocabulary, docs/real-models.md) or use loss_tokens: all"
            )
        ids.append(encoded[0])
    return ids[0], ids[1]


def score_rollout(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """The episode's reward in the run's mode; an episode that ended as a failure (`Episode.failure`: the chat
    template rendered what followed a step in a way its token stream could not hold) scores 0 on every component,
    since the policy would otherwise be trained on a conversation it never saw."""
    mode = Mode(config.mode)
    reward = (
        _score_episode(episode, config, step) if mode is Mode.EPISODE else _score_turn(episode, config, step)
    )
    if episode.failure is not None:
        return Reward(total=0.0, components=dict.fromkeys(reward.components, 0.0))
    return reward


def _score_turn(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """Turn mode: the one step against the turn's reference action."""
    prompt = episode.prompt
    return score_action(
        episode.steps[0],
        prompt.action,
        prompt.tools,
        scheduled_rewards(config, step),
        answer_metric=prompt.answer_metric,
        truncated=episode.truncated,
    )


def _score_episode(episode: Episode, config: GRPORunConfig, step: int) -> Reward:
    """Episode mode: every step, call and answer of the episode, and the state it left, against the reference
    segment (or the whole conversation, with a simulated user)."""
    prompt = episode.prompt
    return score_episode(
        episode.steps,
        prompt.reference_calls,
        prompt.reference_answer,
        not diff_states(final_state(episode), prompt.final_state),
        prompt.tools,
        scheduled_episode_rewards(config, step),
        require_think=config.rewards.require_think,
        answer_metric=prompt.answer_metric,
    )


class ReferenceTurns:
    """Prompts' reference turns rendered and tokenised as `thinkact sft` renders them, each once per source.

    Left out: which members of a group get a prefix beyond the first `prefix.members`, and the SFT loss itself
    (`grpo_update.py`).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[tuple[str, str], tuple[list[int], list[int]]] = {}

    def ids(self, prompt: Prompt, source: str) -> tuple[list[int], list[int]]:
        """(prompt ids, completion ids) of a prompt's reference turn, cached.

        Sources: `sft` and `sft-nothink` are the whole completions the hybrid SFT loss trains on (with and without
        the reasoning); the prefix sources (`PrefixSource`) end before the end-of-turn token, so that a member
        forced the whole source still closes its own turn.
        """
        key = (prompt.id, source)
        if key not in self._cache:
            think = source not in (PrefixSource.ACTION, "sft-nothink")
            prompt_text, completion = render_completion(self.tokenizer, prompt, think=think)
            if source not in ("sft", "sft-nothink"):
                eos = self.tokenizer.eos_token or ""
                if eos and completion.endswith(eos):
                    completion = completion[: -len(eos)]
                if source == PrefixSource.REASONING:
                    end = completion.find("</think>")
                    completion = completion[: end + len("</think>")] if end >= 0 else ""
            encode = self.tokenizer
            self._cache[key] = (
                list(encode(prompt_text, add_special_tokens=False)["input_ids"]),
                list(encode(completion, add_special_tokens=False)["input_ids"]),
            )
        return self._cache[key]

    def prefixes(self, prompts: list[Prompt], config: GRPORunConfig, step: int) -> list[list[int]]:
        """One forced prefix per episode, in rollout order: the first `prefix.members` of each group get
        `prefix_length` tokens of the reference (`prefix.source`), the others none."""
        prefix = config.prefix
        prefixes = []
        for prompt in prompts:
            source = self.ids(prompt, prefix.source)[1]
            length = prefix_length(config, step, len(source))
            for member in range(config.group_size):
                prefixes.append(source[:length] if member < prefix.members else [])
        return prefixes

    def sft_batch(
        self, rollouts: list[Rollout], prompts: list[Prompt], think: bool
    ) -> dict[str, torch.Tensor]:
        """The hybrid SFT loss's batch: each distinct prompt of the rollouts once (looked up in `prompts` by id),
        with its reference turn (with the reasoning when `think`) as the completion, all of it under the mask,
        laid out as the rollouts are."""
        by_id = {prompt.id: prompt for prompt in prompts}
        source = "sft" if think else "sft-nothink"
        references = []
        for example_id in dict.fromkeys(r.example_id for r in rollouts):
            prompt_ids, completion_ids = self.ids(by_id[example_id], source)
            references.append(
                Rollout(
                    example_id, prompt_ids, completion_ids, [1] * len(completion_ids), "", Action(), False
                )
            )
        return layout(references, self.tokenizer.pad_token_id)

"""Episodes for training and evaluation: prompts become loop episodes, and GRPO's rollouts come back from them.

`begin_episode` is the one place where an episode is begun (the prompt's history copied, its tools or else the
environment's); `begin_episodes` gives each episode its environment (the prompt's `meta`, from the state the
history left) and its user (`rollout/users.py`), and chat gives its own (the terminal's environment and person).
`sample_episodes` plays `group_size` episodes per prompt with a local model through the episode loop
(`rollout/loop.py`), which keeps each as one token stream: the prompt, the sampled steps (loss mask 1), and the
rendered tool results, user turns and headers between them (loss mask 0).
GRPO's turn mode is the same loop with one step, no environment and no user (`execute=False`).

Episode prompts come from reference conversations (`envs/prompts.py`): with no user, each assistant turn that
follows a user message begins a segment that runs to the next user message; with a simulated user, the episode
is the whole conversation. Left out: the rewards (`rewards/episode.py`, `rewards/combine.py`).
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from thinkact.data.prompts import Prompt
from thinkact.envs import Environment, make_environment
from thinkact.rollout.loop import Episode, Policy, Sampling, SamplingPolicy, run_loop
from thinkact.rollout.users import UserConfig, make_user, user_client

__all__ = ["Episode", "begin_episode", "begin_episodes", "sample_episodes"]


def begin_episode(prompt: Prompt, environment: Environment | None, user: Any) -> Episode:
    """A fresh episode from `prompt`, with `environment` (None: calls are not executed) and `user` (None: the
    episode ends with the user turn); it gets a copy of the prompt's history, and the prompt's tools or else the
    environment's."""
    return Episode(
        prompt=prompt,
        messages=[dict(message) for message in prompt.messages],
        environment=environment,
        user=user,
        tools=prompt.tools or (environment.tools if environment is not None else []),
    )


def begin_episodes(
    prompts: list[Prompt],
    *,
    group_size: int = 1,
    user: UserConfig | None = None,
    execute: bool = True,
) -> list[Episode]:
    """`group_size` fresh episodes per prompt, grouped in order, each with its environment and user."""
    user = user or UserConfig()
    client = user_client(user)
    episodes = []
    for prompt in prompts:
        for _ in range(group_size):
            environment = (
                make_environment({**prompt.meta, "initial_state": prompt.start_state}) if execute else None
            )
            episodes.append(begin_episode(prompt, environment, make_user(user, prompt, client)))
    return episodes


def sample_episodes(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Prompt],
    *,
    group_size: int = 1,
    max_actions: int = 4,
    sampling: Sampling | None = None,
    user: UserConfig | None = None,
    execute: bool = True,
    prefixes: list[list[int]] | None = None,
) -> list[Episode]:
    """`group_size` episodes per prompt (grouped in order), each run until it ends (at most `max_actions` steps per user
    turn). `prefixes`, one per episode in that order, are forced tokens each episode's first step continues
    from (`Episode.prefix_ids`)."""
    policy: Policy = SamplingPolicy(model, tokenizer, sampling or Sampling())
    episodes = begin_episodes(prompts, group_size=group_size, user=user, execute=execute)
    for episode, prefix in zip(episodes, prefixes or [], strict=False):
        episode.prefix_ids = list(prefix)
    return run_loop(episodes, policy, max_actions=max_actions)


def final_state(episode: Episode) -> dict[str, Any]:
    return episode.environment.snapshot() if episode.environment is not None else {}

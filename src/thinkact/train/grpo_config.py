"""The GRPO run's config: every field documented under it, checked on load, and reward weight schedules.

Left out: the engine itself (`train/grpo.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from thinkact.data.conversations import Conversation
from thinkact.data.prompts import Prompt, all_episode_prompts, turn_prompts
from thinkact.errors import UserError
from thinkact.rewards.combine import RewardConfig
from thinkact.rewards.episode import EpisodeRewardConfig
from thinkact.rollout.users import UserConfig
from thinkact.train.losses import AdvantageScale, LossAggregation
from thinkact.train.schedule import PromptSampling, check_schedule
from thinkact.train.sft import LoraOptions
from thinkact.train.tracking import check_report_to


class Mode(StrEnum):
    """What a GRPO prompt is and how its rollout runs (see `train/grpo.py`)."""

    TURN = "turn"
    EPISODE = "episode"

    def prompts(self, conversations: list[Conversation], config: GRPORunConfig) -> list[Prompt]:
        metric = config.rewards.answer_metric
        if self is Mode.TURN:
            return turn_prompts(conversations, answer_metric=metric)
        return all_episode_prompts(conversations, whole=config.user.whole, answer_metric=metric)

    def max_steps(self, config: GRPORunConfig) -> int:
        """Loop steps per user turn: one in turn mode."""
        return 1 if self is Mode.TURN else config.max_turns

    def completion_budget(self, config: GRPORunConfig) -> int:
        """The most tokens a rollout samples (Dr. GRPO's constant normaliser)."""
        if self is Mode.TURN:
            return config.max_new_tokens
        turns = 1 + (config.user.max_turns if config.user.whole else 0)
        return config.max_new_tokens * config.max_turns * turns


@dataclass
class GRPORunConfig:
    model: str = "runs/sft-think/model"
    """Starting policy: a model directory (usually the think-SFT warm-up)."""
    data: str = "runs/data/train.jsonl"
    """Training conversations; every scored assistant turn (turn mode) or user message (episode mode) is a prompt."""
    out: str = "runs/grpo"
    mode: str = "turn"
    """turn: score one action against the reference turn; episode: run tools over several steps."""
    max_turns: int = 4
    """Episode mode: steps (generations) per user turn before the turn is cut off."""
    user: UserConfig = field(default_factory=UserConfig)
    """Episode mode: who answers when the policy's turn is over: none (the episode ends: one segment per user
    message), scripted, rule or model (whole conversations; see docs/episodes.md)."""
    steps: int = 30
    prompts_per_step: int = 8
    group_size: int = 4
    max_new_tokens: int = 128
    """Tokens per generation (per step of an episode)."""
    temperature: float = 1.0
    top_p: float = 1.0
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    kl_coef: float = 0.0
    """Weight of the k3 KL penalty to the starting policy (0: no reference is kept)."""
    clip_low: float = 0.2
    clip_high: float = 0.2
    """Upper clip bound (DAPO's clip-higher uses 0.28)."""
    loss: str = "grpo"
    """Loss aggregation: grpo (per-sequence mean), dr_grpo (constant normaliser) or dapo (token-level)."""
    advantage_scale: str = "group"
    """Advantage scaling: group (GRPO), batch, or none (Dr. GRPO)."""
    drop_equal_groups: bool = False
    """Leave out groups whose rewards are all equal (DAPO's dynamic sampling): with group scaling and no KL
    they carry no gradient anyway, so this saves their forward and backward passes."""
    passes: int = 1
    """Optimisation passes over each rollout batch (importance ratios against the sampling policy)."""
    mask_truncated: bool = True
    """Completions cut by max_new_tokens carry no loss."""
    micro_batch: int = 8
    """Sequences per forward/backward pass (memory knob; the result does not depend on it)."""
    share_prompt: bool = True
    """Compute each distinct prompt of a micro-batch once and run its group's completions against its KV cache
    (the same log-probabilities and gradients as one forward per sample, to float rounding); false runs the
    prompt again for every sample. Off under gradient checkpointing."""
    max_prompt_tokens: int = 2048
    """Prompts longer than this are reported and left out."""
    seed: int = 0
    save_steps: int = 10
    """Checkpoint every N steps for `--resume` (0: only the final model; Ctrl-C still checkpoints)."""
    report_to: str = "tensorboard"
    """Experiment trackers, comma-separated: tensorboard, trackio, wandb (optional extras), or none; both engines."""
    report_offline: bool = True
    """wandb: log offline under the run directory (`wandb sync` uploads later); false uploads as it runs."""
    sample_steps: int = 10
    """Write the first group's rollouts to samples.jsonl every N steps (0: never)."""
    eval_data: str = ""
    """Held-out conversations evaluated greedily during training (empty: none), e.g. runs/data/test_id.jsonl."""
    eval_steps: int = 0
    """Evaluate on `eval_data` before the first step and every N steps (0: never); the `heldout_*` metrics go
    to metrics.jsonl, TensorBoard and the progress bar."""
    eval_limit: int = 48
    """The first N scored turns of `eval_data` (0: all)."""
    rewards: RewardConfig = field(default_factory=RewardConfig)
    episode_rewards: EpisodeRewardConfig = field(default_factory=EpisodeRewardConfig)
    weight_schedule: dict[str, list[float]] = field(default_factory=dict)
    """Linear schedules of reward weights over the run, e.g. {format: [0.2, 0.0]} (start, end)."""
    lora: LoraOptions = field(default_factory=LoraOptions)
    gradient_checkpointing: bool = False
    bf16: bool = False
    """Load and train the policy in bfloat16 (GPUs with bf16 support)."""
    threads: int = 0
    """torch CPU threads (0: one per core this process may run on; 1 on a machine shared with busy processes)."""
    # Prompt sampling, reference resets, compute budget
    sampling: PromptSampling = field(default_factory=PromptSampling)
    """Which prompts each step draws: uniform, or deficiency (iTool-style: weighted towards prompts the policy did
    badly on recently, with a floor; see docs/design-notes.md)."""
    reference_reset_steps: int = 0
    """Every N steps the KL reference becomes the current policy (ProRL; 0: never). Needs kl_coef > 0; not with
    LoRA."""
    reset_optimizer: bool = False
    """At each reference reset also clear AdamW's moments."""
    max_generated_tokens: int = 0
    """Compute budget: stop after the step where the tokens the policy sampled reach this (0: none; `steps`
    stays the limit); `generated_tokens` in metrics.jsonl counts them."""

    def __post_init__(self) -> None:
        check_report_to(self.report_to, "grpo.report_to")
        checks = {
            "steps": self.steps >= 1,
            "prompts_per_step": self.prompts_per_step >= 1,
            "group_size": self.group_size >= 2,
            "max_new_tokens": self.max_new_tokens >= 1,
            "max_turns": self.max_turns >= 1,
            "passes": self.passes >= 1,
            "micro_batch": self.micro_batch >= 1,
            "learning_rate": self.learning_rate > 0,
            "temperature": self.temperature > 0,
            "kl_coef": self.kl_coef >= 0,
            "clip_low": 0 <= self.clip_low < 1,
            "clip_high": self.clip_high >= 0,
            "save_steps": self.save_steps >= 0,
            "eval_steps": self.eval_steps >= 0,
            "eval_limit": self.eval_limit >= 0,
            "threads": self.threads >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise UserError(f"grpo.{bad[0]}: out of range (group_size >= 2, temperature > 0, counts >= 1)")
        _check_choice("loss", self.loss, [a.value for a in LossAggregation])
        _check_choice("advantage_scale", self.advantage_scale, [a.value for a in AdvantageScale])
        _check_choice("mode", self.mode, [m.value for m in Mode])
        if self.mode == Mode.TURN and self.user.kind != "none":
            raise UserError(
                f"grpo.user.kind: {self.user.kind!r} needs mode: episode (turn mode has no user turns)"
            )
        for name, bounds in self.weight_schedule.items():
            if name not in self.rewards.weights and name not in self.episode_rewards.weights:
                raise UserError(f"grpo.weight_schedule.{name}: not a reward component with a weight")
            if len(bounds) != 2 or min(bounds) < 0:
                raise UserError(f"grpo.weight_schedule.{name}: give [start, end], both >= 0")
        self._check_schedule()

    def _check_schedule(self) -> None:
        check_schedule(
            self.sampling,
            self.reference_reset_steps,
            self.reset_optimizer,
            self.max_generated_tokens,
            self.kl_coef,
            self.lora.enabled,
        )


def _check_choice(name: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise UserError(f"grpo.{name}: {value!r}; choose one of {choices}")


def scheduled_rewards(config: GRPORunConfig, step: int) -> RewardConfig:
    """The turn reward config at `step`, with scheduled weights interpolated linearly over the run.

    >>> c = GRPORunConfig(steps=11, weight_schedule={"format": [0.2, 0.0]})
    >>> scheduled_rewards(c, 0).weights["format"], scheduled_rewards(c, 5).weights["format"]
    (0.2, 0.1)
    """
    weights = dict(config.rewards.weights)
    weights.update(_scheduled(config, step, weights))
    return RewardConfig(
        weights=weights,
        require_think=config.rewards.require_think,
        answer_metric=config.rewards.answer_metric,
    )


def scheduled_episode_rewards(config: GRPORunConfig, step: int) -> EpisodeRewardConfig:
    weights = dict(config.episode_rewards.weights)
    weights.update(_scheduled(config, step, weights))
    return EpisodeRewardConfig(weights=weights)


def _scheduled(config: GRPORunConfig, step: int, weights: dict[str, float]) -> dict[str, float]:
    fraction = step / max(config.steps - 1, 1)
    return {
        name: round(start + (end - start) * fraction, 10)
        for name, (start, end) in config.weight_schedule.items()
        if name in weights
    }

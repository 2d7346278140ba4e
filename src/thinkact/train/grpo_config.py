"""The GRPO run's config: every field documented under it, checked on load, and reward weight schedules.

Left out: the engine itself (`train/grpo.py`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from thinkact.data.conversations import Conversation
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import all_episode_prompts, turn_prompts
from thinkact.errors import UserError, check_choice
from thinkact.models.load import DTYPES
from thinkact.rewards.combine import RewardConfig
from thinkact.rewards.episode import EpisodeRewardConfig
from thinkact.rollout.users import UserConfig
from thinkact.train.losses import AdvantageScale, LossAggregation
from thinkact.train.schedule import PromptSampling, check_schedule
from thinkact.train.sft import LoraOptions
from thinkact.train.tracking import check_report_to

LR_SCHEDULES = ("constant", "linear", "cosine")
LOSS_TOKENS = ("all", "action")


class Mode(StrEnum):
    """What a GRPO prompt is and how its rollout runs (see `train/grpo.py`)."""

    TURN = "turn"
    EPISODE = "episode"

    def prompts(self, conversations: list[Conversation], config: GRPORunConfig) -> list[Prompt]:
        metric = config.rewards.answer_metric
        if self is Mode.TURN:
            return turn_prompts(conversations, answer_metric=metric)
        return all_episode_prompts(conversations, whole=config.user.whole, answer_metric=metric)

    def max_actions(self, config: GRPORunConfig) -> int:
        """Loop steps per user turn: one in turn mode."""
        return 1 if self is Mode.TURN else config.max_actions

    def completion_budget(self, config: GRPORunConfig) -> int:
        """The most tokens a rollout samples (Dr. GRPO's constant normaliser)."""
        if self is Mode.TURN:
            return config.max_new_tokens
        turns = 1 + (config.user.max_turns if config.user.whole else 0)
        return config.max_new_tokens * config.max_actions * turns


class PrefixSource(StrEnum):
    """Which rendering of the reference turn a prefix-guided member is forced to start with."""

    FULL = "full"
    """`<think>reference reasoning</think>` then the action (the think-SFT rendering, less its end-of-turn)."""
    REASONING = "reasoning"
    """The think block alone, through `</think>`: the member writes the rest of the reasoning and its own action."""
    ACTION = "action"
    """The no-think rendering (an empty think block, then the action): the member gets the action, no reasoning."""


class PrefixDecay(StrEnum):
    LINEAR = "linear"
    COSINE = "cosine"


@dataclass
class PrefixOptions:
    """Prefix-guided groups (Prefix-RFT): some members of each group continue from a prefix of the reference."""

    members: int = 0
    """Members of each group (the first ones) that continue from a prefix of the reference (0: off; fewer than
    group_size)."""
    source: str = "full"
    """What the prefix is cut from: full (`<think>reasoning</think>` + action), reasoning (the think block only)
    or action (the no-think rendering: an empty think block, then the action)."""
    schedule: list[float] = field(default_factory=lambda: [1.0, 0.0])
    """[start, end]: the prefix's share of the source's tokens at the first and the last step, each in [0, 1];
    the share in between follows `decay` and the length is rounded half up to whole tokens."""
    decay: str = "linear"
    """How the share goes from start to end over the run: linear, or cosine (slow at both ends)."""
    sft_weight: float = 0.0
    """Weight of an SFT (NLL) loss on the prefix tokens, added to the GRPO loss (0: the prefix carries no loss)."""

    @property
    def enabled(self) -> bool:
        return self.members > 0


class HybridRule(StrEnum):
    FIXED = "fixed"
    LINEAR = "linear"
    GRAD_NORM = "grad_norm"


@dataclass
class HybridOptions:
    """A hybrid objective: loss = (1 - w) * GRPO loss + w * SFT loss on the step's reference turns."""

    weight: float = 0.0
    """w, the SFT share of the loss, for rule fixed (0 with rule fixed: off)."""
    rule: str = "fixed"
    """How w is set each step: fixed (`weight`), linear (from range[0] at the first step to range[1] at the last)
    or grad_norm (adaptive: w = lo + (hi - lo) * |g_sft| / (|g_sft| + |g_grpo|) from the step's own gradient
    norms, so w grows when GRPO's gradient is small next to SFT's)."""
    range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    """Rule linear: [start, end]; rule grad_norm: [lo, hi], the bounds of w; each in [0, 1]."""
    think: bool = True
    """Render the reference turns with their reasoning (an empty think block when the data has none), as
    `thinkact sft` does; false: always the no-think rendering (`thinkact sft --no-think`)."""

    @property
    def enabled(self) -> bool:
        return self.rule != HybridRule.FIXED or self.weight > 0


@dataclass
class GRPORunConfig:
    RENAMED: ClassVar[dict[str, str]] = {"max_turns": "max_actions"}
    """Old name of `max_actions` (policy steps per user turn), read for one more release with a message."""

    model: str = "runs/sft-think/model"
    """Starting policy: a model directory (usually the think-SFT warm-up)."""
    data: str = "runs/data/train.jsonl"
    """Training conversations; every scored assistant turn (turn mode) or user message (episode mode) is a prompt."""
    out: str = "runs/grpo"
    mode: str = "turn"
    """turn: score one action against the reference turn; episode: run tools over several steps."""
    max_actions: int = 4
    """Episode mode: policy steps (generations) per user turn before the turn is cut off (`user.max_turns` counts
    the user turns)."""
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
    """Peak learning rate (AdamW)."""
    warmup_steps: int = 0
    """Steps over which the learning rate rises linearly to `learning_rate` (step 1 takes 1 / warmup_steps of it;
    0: none). AdamW's first updates move every weight by about the rate whatever its gradient, so a warm-up keeps
    weights the reward does not touch from moving as far as those it does."""
    lr_schedule: str = "constant"
    """After the warm-up: constant, linear or cosine (both decay towards 0 at the last step). The rate is a pure
    function of (step, steps), so a resumed or extended run recomputes it; no scheduler state is saved."""
    loss_tokens: str = "all"
    """Which sampled tokens carry the policy-gradient loss: all, or action (every token outside the think blocks:
    the call or the answer and the end of the turn). The think block varies from sample to sample; with `action`
    a completion's advantage lands on the tokens that decided its reward (the reasoning still conditions them)."""
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
    """Completions cut by max_new_tokens carry no loss (a run warns at its end when a tenth or more were cut)."""
    micro_batch: int = 8
    """Sequences per forward/backward pass (memory knob; the result does not depend on it)."""
    share_prompt: bool = True
    """Compute each distinct prompt of a micro-batch once and run its group's completions against its KV cache
    (the same log-probabilities and gradients as one forward per sample, to float rounding); false runs the
    prompt again for every sample. Off under gradient checkpointing."""
    max_prompt_tokens: int = 2048
    """Prompts longer than this are reported and left out."""
    rename_tools: float = 0.0
    """Share of the training conversations whose tools get fresh names before their prompts are made (as
    `sft.rename_tools`: the tool list, the reference calls and the text, `data/rename.py`), so that a right call
    is only reached by reading the tool list (0: none; the data file is never changed)."""
    fresh_entities: float = 0.0
    """Share of the training conversations whose copied entities become invented words (as
    `sft.fresh_entities`), so that a right argument is only reached by copying it from the conversation."""
    rename_arguments: float = 0.0
    """Share of the training conversations whose tools' parameters get fresh names (as
    `sft.rename_arguments`), so that a right call's keys are only reached by reading the schema."""
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
    update_dtype: str = "float32"
    """float32, or bfloat16: the update's forward and backward run under bf16 autocast while the weights, their
    gradients and AdamW stay float32, and sampling stays float32 (the tokens do not change; the update's
    arithmetic does). About twice as fast a backward on a CPU with AVX-512 BF16 (docs/benchmarks.md)."""
    sample_dtype: str = "float32"
    """float32, or bfloat16: the rollouts are sampled by a bfloat16 copy of the policy, refreshed before each
    step, while the update recomputes every log-probability with the float32 policy. About twice as fast a
    decode on a CPU with AVX-512 BF16; the samples are very slightly off-policy (train/sample_copy.py)."""
    threads: int = 0
    """torch CPU threads (0: one per core this process may run on; 1 on a machine shared with busy processes)."""
    # Prefix-guided groups and the hybrid SFT loss
    prefix: PrefixOptions = field(default_factory=PrefixOptions)
    """Prefix-guided groups (Prefix-RFT): `members` of each group start from a decaying prefix of the reference
    turn, which carries no policy-gradient loss (see docs/grpo-mix.md)."""
    hybrid: HybridOptions = field(default_factory=HybridOptions)
    """Hybrid SFT + RL objective: (1 - w) * GRPO + w * NLL of the step's reference turns, w fixed, scheduled or
    adapted from gradient norms (see docs/grpo-mix.md)."""
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
            "max_actions": self.max_actions >= 1,
            "passes": self.passes >= 1,
            "micro_batch": self.micro_batch >= 1,
            "learning_rate": self.learning_rate > 0,
            "warmup_steps": self.warmup_steps >= 0,
            "temperature": self.temperature > 0,
            "kl_coef": self.kl_coef >= 0,
            "clip_low": 0 <= self.clip_low < 1,
            "clip_high": self.clip_high >= 0,
            "save_steps": self.save_steps >= 0,
            "eval_steps": self.eval_steps >= 0,
            "eval_limit": self.eval_limit >= 0,
            "threads": self.threads >= 0,
            "rename_tools": 0 <= self.rename_tools <= 1,
            "fresh_entities": 0 <= self.fresh_entities <= 1,
            "rename_arguments": 0 <= self.rename_arguments <= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise UserError(
                f"grpo.{bad[0]}: out of range (group_size >= 2, temperature > 0, counts >= 1, shares in [0, 1])"
            )
        check_choice("grpo.loss", self.loss, [a.value for a in LossAggregation])
        check_choice("grpo.advantage_scale", self.advantage_scale, [a.value for a in AdvantageScale])
        check_choice("grpo.update_dtype", self.update_dtype, DTYPES)
        check_choice("grpo.sample_dtype", self.sample_dtype, DTYPES)
        check_choice("grpo.mode", self.mode, [m.value for m in Mode])
        check_choice("grpo.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.warmup_steps >= self.steps:
            raise UserError(
                f"grpo.warmup_steps: {self.warmup_steps}; give fewer than steps ({self.steps}), so that the rate "
                "reaches learning_rate before the run ends"
            )
        check_choice("grpo.loss_tokens", self.loss_tokens, LOSS_TOKENS)
        if self.mode == Mode.TURN and self.user.kind != "none":
            raise UserError(
                f"grpo.user.kind: {self.user.kind!r} needs mode: episode (turn mode has no user turns)"
            )
        if self.mode == Mode.EPISODE and (self.rename_tools or self.fresh_entities or self.rename_arguments):
            raise UserError(
                "grpo.rename_tools / fresh_entities / rename_arguments: need mode: turn (episode mode executes "
                "the tools, which know only their own names and entities); set them to 0 or use mode: turn"
            )
        for name, bounds in self.weight_schedule.items():
            if name not in self.rewards.weights and name not in self.episode_rewards.weights:
                raise UserError(f"grpo.weight_schedule.{name}: not a reward component with a weight")
            if len(bounds) != 2 or min(bounds) < 0:
                raise UserError(f"grpo.weight_schedule.{name}: give [start, end], both >= 0")
        _check_mix(self)
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


def _check_mix(config: GRPORunConfig) -> None:
    """The prefix and hybrid blocks: counts, shares and choices in range."""
    prefix, hybrid = config.prefix, config.hybrid
    if not 0 <= prefix.members < config.group_size:
        raise UserError(
            f"grpo.prefix.members: {prefix.members}; give 0 (off) up to group_size - 1 ({config.group_size - 1}), "
            "so that each group keeps at least one free member"
        )
    check_choice("grpo.prefix.source", prefix.source, [s.value for s in PrefixSource])
    check_choice("grpo.prefix.decay", prefix.decay, [d.value for d in PrefixDecay])
    if len(prefix.schedule) != 2 or not all(0 <= share <= 1 for share in prefix.schedule):
        raise UserError(f"grpo.prefix.schedule: {prefix.schedule}; give [start, end], both in [0, 1]")
    if prefix.sft_weight < 0:
        raise UserError(f"grpo.prefix.sft_weight: {prefix.sft_weight}; give a weight >= 0")
    check_choice("grpo.hybrid.rule", hybrid.rule, [r.value for r in HybridRule])
    if not 0 <= hybrid.weight <= 1:
        raise UserError(
            f"grpo.hybrid.weight: {hybrid.weight}; give w in [0, 1] (loss = (1 - w) GRPO + w SFT)"
        )
    if len(hybrid.range) != 2 or not all(0 <= w <= 1 for w in hybrid.range):
        raise UserError(f"grpo.hybrid.range: {hybrid.range}; give two weights, both in [0, 1]")
    if hybrid.rule == HybridRule.GRAD_NORM and hybrid.range[0] > hybrid.range[1]:
        raise UserError(f"grpo.hybrid.range: {hybrid.range}; rule grad_norm needs [lo, hi] with lo <= hi")


def learning_rate_at(config: GRPORunConfig, step: int) -> float:
    """The learning rate of step `step` (0-based): a linear warm-up over `warmup_steps`, then `lr_schedule`.

    >>> c = GRPORunConfig(steps=6, learning_rate=1.0, warmup_steps=2, lr_schedule="linear")
    >>> [round(learning_rate_at(c, s), 4) for s in range(6)]  # 1/2, 2/2, then 1 - k/4 for k = 0..3
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    >>> c = GRPORunConfig(steps=5, learning_rate=1.0, lr_schedule="cosine")
    >>> [round(learning_rate_at(c, s), 4) for s in range(5)]  # (1 + cos(pi k / 5)) / 2
    [1.0, 0.9045, 0.6545, 0.3455, 0.0955]
    """
    peak = config.learning_rate
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(config.steps - config.warmup_steps, 1)
    if config.lr_schedule == "linear":
        return peak * max(1.0 - progress, 0.0)
    if config.lr_schedule == "cosine":
        return peak * (1 + math.cos(math.pi * min(progress, 1.0))) / 2
    return peak


def run_fraction(config: GRPORunConfig, step: int) -> float:
    """How far `step` is through the run: 0 at the first step, 1 at the last (as `weight_schedule` counts)."""
    return min(max(step / max(config.steps - 1, 1), 0.0), 1.0)


def prefix_share(config: GRPORunConfig, step: int) -> float:
    """The prefix's share of the reference's tokens at `step` (`prefix.schedule`, `prefix.decay`).

    >>> c = GRPORunConfig(steps=5, prefix=PrefixOptions(members=1, schedule=[0.8, 0.0]))
    >>> [round(prefix_share(c, s), 4) for s in range(5)]
    [0.8, 0.6, 0.4, 0.2, 0.0]
    """
    start, end = config.prefix.schedule
    t = run_fraction(config, step)
    if PrefixDecay(config.prefix.decay) is PrefixDecay.COSINE:
        return end + (start - end) * (1 + math.cos(math.pi * t)) / 2
    return start + (end - start) * t


def prefix_length(config: GRPORunConfig, step: int, reference_tokens: int) -> int:
    """Whole tokens of a `reference_tokens`-long source forced at `step`: the share times the length, rounded
    half up (a hair of tolerance absorbs float error, so 0.5 * 7 is 4).

    >>> c = GRPORunConfig(steps=3, prefix=PrefixOptions(members=1, schedule=[1.0, 0.0]))
    >>> [prefix_length(c, s, 7) for s in range(3)]
    [7, 4, 0]
    """
    return min((math.floor(prefix_share(config, step) * reference_tokens + 0.5 + 1e-9)), reference_tokens)


def hybrid_weight(
    config: GRPORunConfig, step: int, sft_norm: float | None = None, grpo_norm: float | None = None
) -> float:
    """w at `step` (`hybrid.rule`); rule grad_norm reads the step's gradient norms of the two losses.

    >>> c = GRPORunConfig(steps=11, hybrid=HybridOptions(rule="linear", range=[0.5, 0.0]))
    >>> hybrid_weight(c, 0), hybrid_weight(c, 5), hybrid_weight(c, 10)
    (0.5, 0.25, 0.0)
    >>> g = GRPORunConfig(hybrid=HybridOptions(rule="grad_norm", range=[0.1, 0.9]))
    >>> round(hybrid_weight(g, 0, sft_norm=3.0, grpo_norm=1.0), 4)  # 0.1 + 0.8 * 3 / 4
    0.7
    """
    hybrid = config.hybrid
    rule = HybridRule(hybrid.rule)
    if rule is HybridRule.FIXED:
        return hybrid.weight
    lo, hi = hybrid.range
    if rule is HybridRule.LINEAR:
        return round(lo + (hi - lo) * run_fraction(config, step), 10)
    if sft_norm is None or grpo_norm is None:
        raise ValueError("rule grad_norm needs both gradient norms")
    total = sft_norm + grpo_norm
    return lo + (hi - lo) * (sft_norm / total if total > 0 else 1.0)


def scheduled_rewards(config: GRPORunConfig, step: int) -> RewardConfig:
    """The turn reward config at `step`, with scheduled weights interpolated linearly over the run; every other
    field (the preset, the answer metric, the think requirement) as configured.

    >>> c = GRPORunConfig(steps=11, weight_schedule={"format": [0.2, 0.0]})
    >>> scheduled_rewards(c, 0).weights["format"], scheduled_rewards(c, 5).weights["format"]
    (0.2, 0.1)
    >>> scheduled_rewards(GRPORunConfig(rewards=RewardConfig(preset="binary")), 0).preset
    'binary'
    """
    weights = dict(config.rewards.weights)
    weights.update(_scheduled(config, step, weights))
    return dataclasses.replace(config.rewards, weights=weights)


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

"""The evaluation runner: a model (or the oracle) on each data file, in the turn view, the episode view or both.

Turn view: every scored assistant turn is predicted from its reference history (greedy, as a one-step episode of
the loop, `rollout/turns.py`), parsed and scored with `rewards/turn_metrics.py` (as the held-out evaluation during
training scores), and aggregated with intervals by `eval/metrics.py`. Turns whose reference message has
`"score": false` are skipped, and a conversation's `meta.answer_metric` overrides the answer metric. Episode view:
whole conversations played with tools executed (`eval/episodes.py`). `oracle` replays the reference actions
instead of a model: a self-check of the harness that must score 1.0 in both views (on references without
reasoning, `format` is 0 unless `rewards.require_think` is off; docs/evaluation.md).

The results document, per split (a data file, named by its stem)::

    {"model", "config", "data": {split: {"path", "sha256", "conversations"}}, "bootstrap": {...},
     "splits": {split: {"metrics": {metric: {"value", "n", "ci_low", "ci_high"}}, "turns": [...],
                        "breakdown": {...}, "thinking": {...}, "conversations": {id: messages},
                        "episodes": {"metrics", "breakdown", "records"}}}}

`config` and the data hashes are the fingerprint `thinkact compare` checks before reusing stored results.
With `endpoint.url` set, every prompt goes to an OpenAI-compatible API instead (`eval/endpoint.py`) and the results
record `"endpoint": {"url", "model"}`. Left out: sampling (evaluation decodes greedily).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.envs.registry import bind_tools, resolve_tools
from thinkact.errors import UserError, check_choice
from thinkact.eval.bootstrap import CONFIDENCE, RESAMPLES, SEED
from thinkact.eval.breakdown import break_down
from thinkact.eval.endpoint import EndpointConfig, endpoint_generator
from thinkact.eval.episodes import (
    DEFAULT_MAX_ACTIONS,
    Episode,
    oracle_policy,
    record_episode,
    run_episodes,
    score_episode,
)
from thinkact.eval.metrics import aggregate_turns
from thinkact.eval.thinking import analyse_thinking
from thinkact.files import atomic_write_text
from thinkact.jsonsafe import dump_json
from thinkact.models.load import DTYPES, load_policy
from thinkact.parse import render_action
from thinkact.rewards.combine import RewardConfig
from thinkact.rewards.turn_metrics import score_record as score_record  # importable from here too
from thinkact.rewards.turn_metrics import score_turns
from thinkact.rollout.loop import MessageFunction, MessagePolicy, Policy, Sampling, SamplingPolicy
from thinkact.rollout.turns import run_turns
from thinkact.rollout.users import UserConfig

VIEWS = ("turn", "episode", "both")


@dataclass
class EvalConfig:
    RENAMED: ClassVar[dict[str, str]] = {"max_steps": "max_actions"}
    """Old name of `max_actions` (policy steps per user turn), read for one more release with a message."""

    model: str = ""
    """Model directory to evaluate (ignored with oracle)."""
    data: list[str] = field(default_factory=list)
    """Chat-format JSONL files; each is reported as a split named by its file stem."""
    out: str = ""
    """Where to write the results JSON (empty: do not write)."""
    oracle: bool = False
    """Replay the reference actions instead of generating (a harness self-check; docs/evaluation.md)."""
    view: str = "turn"
    """turn (reference history, predict the next action), episode (tools executed, multi-turn) or both."""
    max_new_tokens: int = 160
    batch_size: int = 16
    limit: int = 0
    """Evaluate at most this many turns (turn view) and conversations (episode view) per split (0: all)."""
    dtype: str = "float32"
    """float32, or bfloat16: the model's weights and arithmetic in bf16. About 2.4 times faster on a CPU with
    AVX-512 BF16, but a precision choice, not a free speed-up: the rounding changes some greedy completions
    (docs/benchmarks.md, "bfloat16 against float32"); compare models evaluated at the same precision."""
    max_actions: int = DEFAULT_MAX_ACTIONS
    """Episode view: policy steps per user turn before the turn is cut off."""
    name: str = ""
    """Label of the model in reports (default: the model path, or "oracle")."""
    resamples: int = RESAMPLES
    """Bootstrap resamples per interval (0: no intervals)."""
    seed: int = SEED
    """Seed of the bootstrap."""
    rewards: RewardConfig = field(default_factory=RewardConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    """A model served behind an OpenAI-compatible API, evaluated instead of a local `model`."""
    user: UserConfig = field(default_factory=lambda: UserConfig(kind="scripted"))
    """Episode view: who speaks after each user turn: scripted (the reference's next message), rule or model
    (see docs/episodes.md)."""

    def __post_init__(self) -> None:
        if not self.data:
            raise UserError("eval: give at least one data file (--data FILE)")
        if not self.oracle and not self.model and not self.endpoint.url:
            raise UserError(
                "eval: give --model DIR, --endpoint URL --served-model NAME, or --oracle to check the harness "
                "with the reference actions"
            )
        if self.endpoint.url and (self.model or self.oracle):
            raise UserError("eval: give either --endpoint or --model/--oracle, not both")
        check_choice("eval.view", self.view, VIEWS)
        check_choice("eval.dtype", self.dtype, DTYPES)
        if self.max_actions < 1:
            raise UserError("eval: max_actions must be at least 1")
        if self.resamples < 0:
            raise UserError("eval: resamples must be >= 0 (0 turns the intervals off)")
        if self.user.kind == "none":
            raise UserError(
                "eval: user.kind none ends episodes at the first answer; use scripted, rule or model"
            )


ProgressCallback = Callable[[str, int, int], None]
Predictor = Callable[[list[Prompt], str, ProgressCallback | None], list[tuple[str, int]]]


@dataclass
class Split:
    name: str
    path: str
    conversations: list[Conversation]
    """The conversations the split's turns and episodes come from (their messages go into the results)."""
    turns: list[Prompt]
    """Turn view: the scored turns."""
    episodes: list[Conversation]
    """Episode view: the conversations to play (none in the turn view)."""


def run_eval(
    config: EvalConfig,
    progress: ProgressCallback | None = None,
    *,
    predictor: Predictor | None = None,
    policy: MessageFunction | Policy | None = None,
) -> dict[str, Any]:
    """Evaluate and return the results document (also written to `config.out` when set).

    `predictor` (turn view) and `policy` (episode view) replace generation with `config.model`, which then only
    labels the results: for scripted tests and for models served elsewhere (an API, vLLM).
    """
    if config.out and Path(config.out).is_dir():
        raise UserError(f"eval: --out {config.out} is a directory; give a file path for the results JSON")
    splits = load_splits(config)
    if (predictor is None and config.view != "episode") or (policy is None and config.view != "turn"):
        loaded = load_predictors(config)
        predictor, policy = predictor or loaded[0], policy or loaded[1]
    results: dict[str, Any] = {
        "model": config.name or ("oracle" if config.oracle else config.model or config.endpoint.model),
        "config": fingerprint_eval(config),
        "data": {split.name: describe_data(split.path, len(split.conversations)) for split in splits},
        "bootstrap": {
            "method": "percentile",
            "resamples": config.resamples,
            "confidence": CONFIDENCE,
            "seed": config.seed,
        },
        "splits": {},
    }
    if config.endpoint.url:  # which server and model the numbers came from (never the API key)
        results["endpoint"] = {"url": config.endpoint.url, "model": config.endpoint.model}
    for split in splits:
        block: dict[str, Any] = {"metrics": {}, "turns": []}
        if split.turns and predictor is not None:
            block.update(_evaluate_turns(config, split, predictor, progress))
        if split.episodes and policy is not None:
            block["episodes"] = _evaluate_episodes(config, split, policy, progress)
        block["conversations"] = {c.id: c.messages for c in split.conversations}
        results["splits"][split.name] = block
    if config.out:
        atomic_write_text(config.out, dump_json(results, indent=1))
    return results


def load_splits(config: EvalConfig) -> list[Split]:
    """Each data file as a split: its scored turns and, in the episode view, the conversations to play."""
    splits: dict[str, Split] = {}
    for path in config.data:
        name = Path(path).stem
        if name in splits:
            raise UserError(f"eval: two data files are both named {name!r}; give splits distinct file names")
        conversations = bind_tools(read_conversations(path))  # --tools/--mcp: their tools in the prompt
        turns = turn_prompts(conversations, answer_metric=config.rewards.answer_metric)
        turns = [] if config.view == "episode" else turns
        episodes = [] if config.view == "turn" else conversations
        if config.limit:
            turns, episodes = turns[: config.limit], episodes[: config.limit]
        _check_episodic(path, episodes)
        used = {turn.conversation_id for turn in turns} | {conversation.id for conversation in episodes}
        splits[name] = Split(name, path, [c for c in conversations if c.id in used], turns, episodes)
    return list(splits.values())


def _check_episodic(path: str, conversations: list[Conversation]) -> None:
    for conversation in conversations:
        if "domain" not in conversation.meta and resolve_tools(conversation.meta) is None:
            raise UserError(
                f"{path}: conversation {conversation.id!r} has no meta.domain, so its tools cannot be executed; "
                "the episode view needs conversations over a bundled domain, your tools (--tools FILE.py, "
                "--mcp COMMAND, or meta.environment) or --view turn for this file"
            )


def fingerprint_eval(config: EvalConfig) -> dict[str, Any]:
    """What decides the numbers: the model (and its files), decoding and scoring settings."""
    if config.endpoint.url:
        model, files = config.endpoint.model, f"endpoint:{config.endpoint.url}"
    else:
        model = "oracle" if config.oracle else config.model
        files = "" if config.oracle else describe_model(config.model)
    return {
        "model": model,
        "model_files": files,
        "view": config.view,
        "max_new_tokens": config.max_new_tokens,
        "max_actions": config.max_actions,
        "user": {"kind": config.user.kind, "url": config.user.url, "model": config.user.model},
        "limit": config.limit,
        "resamples": config.resamples,
        "seed": config.seed,
        "rewards": asdict(config.rewards),
        **({"dtype": config.dtype} if config.dtype != "float32" else {}),
    }


def describe_model(model: str) -> str:
    """A digest of a model directory's file names, sizes and modification times (the id itself otherwise)."""
    path = Path(model)
    if not path.is_dir():
        return model
    entries = sorted(
        f"{file.relative_to(path)}:{file.stat().st_size}:{file.stat().st_mtime_ns}"
        for file in path.rglob("*")
        if file.is_file()
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def describe_data(path: str, conversations: int) -> dict[str, Any]:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest, "conversations": conversations}


def _evaluate_turns(
    config: EvalConfig, split: Split, predict: Predictor, progress: ProgressCallback | None
) -> dict[str, Any]:
    predictions = predict(split.turns, split.name, progress)
    limit = None if config.oracle else config.max_new_tokens  # the oracle replays references: nothing is cut
    records = score_turns(split.turns, predictions, config.rewards, max_new_tokens=limit)
    values = [record["metrics"] for record in records]
    metrics = aggregate_turns(values, resamples=config.resamples, seed=config.seed)
    return {
        "metrics": {key: metric.to_json() for key, metric in metrics.items()},
        "turns": records,
        "breakdown": break_down(records, resamples=config.resamples, seed=config.seed),
        "thinking": analyse_thinking(values, resamples=config.resamples, seed=config.seed),
    }


def _evaluate_episodes(
    config: EvalConfig, split: Split, policy: MessageFunction | Policy, progress: ProgressCallback | None
) -> dict[str, Any]:
    label = f"{split.name} (episodes)"

    def on_step(finished: int, total: int) -> None:
        if progress is not None:
            progress(label, finished, total)

    episodes = run_episodes(
        split.episodes, policy, max_actions=config.max_actions, on_step=on_step, user=config.user
    )
    records = [record_episode(e, score_episode(e, answer_metric=e.prompt.answer_metric)) for e in episodes]
    metrics = aggregate_turns(
        [record["metrics"] for record in records], resamples=config.resamples, seed=config.seed
    )
    return {
        "metrics": {key: metric.to_json() for key, metric in metrics.items()},
        "breakdown": break_down(records, resamples=config.resamples, seed=config.seed),
        "records": records,
    }


def load_predictors(config: EvalConfig) -> tuple[Predictor, Policy]:
    """The turn predictor and the episode policy `config` evaluates with: the oracle, an endpoint, or its model
    loaded and decoded greedily."""
    if config.oracle:
        return _oracle_predictions, MessagePolicy(oracle_policy)
    if config.endpoint.url:
        return _endpoint_predictors(config)
    model, tokenizer = load_policy(config.model, dtype=config.dtype)
    # Greedy, as one-step episodes of the loop (`rollout/turns.py`), like the held-out evaluation during training.
    sampling = Sampling(max_new_tokens=config.max_new_tokens, temperature=0.0, batch_size=config.batch_size)

    def predict(turns: list[Prompt], split: str, progress: ProgressCallback | None) -> list[tuple[str, int]]:
        outputs: list[tuple[str, int]] = []
        step = max(config.batch_size * 4, 1)
        for start in range(0, len(turns), step):
            steps = run_turns(model, tokenizer, turns[start : start + step], sampling)
            outputs.extend((one.text, one.tokens) for (one,) in steps)
            if progress is not None:
                progress(split, len(outputs), len(turns))
        return outputs

    # Episodes run as one token stream each, greedily, exactly as GRPO's episodes do.
    return predict, SamplingPolicy(model, tokenizer, sampling)


def _endpoint_predictors(config: EvalConfig) -> tuple[Predictor, Policy]:
    generate = endpoint_generator(config.endpoint, config.max_new_tokens)

    def predict(turns: list[Prompt], split: str, progress: ProgressCallback | None) -> list[tuple[str, int]]:
        outputs: list[tuple[str, int]] = []
        step = max(config.endpoint.concurrency * 4, 1)
        for start in range(0, len(turns), step):
            outputs.extend(generate([(turn.messages, turn.tools) for turn in turns[start : start + step]]))
            if progress is not None:
                progress(split, len(outputs), len(turns))
        return outputs

    def act(episodes: list[Episode]) -> list[tuple[str, int]]:
        return generate([(e.messages, e.tools) for e in episodes])

    return predict, MessagePolicy(act, max_new_tokens=config.max_new_tokens)


def _oracle_predictions(
    turns: list[Prompt], split: str, progress: ProgressCallback | None
) -> list[tuple[str, int]]:
    texts = [render_action(turn.action) for turn in turns]
    return [(text, len(text.split())) for text in texts]

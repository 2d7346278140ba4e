"""Self-distilled reasoning (rejection-sampling fine-tuning, STaR): thinking for data that has none.

Real tool-use data (xLAM, API-Bank, a company's logs) holds the actions but not the reasoning that led to them.
Each round samples `samples` completions (thinking, then an action) per reference turn from the current policy,
through the episode loop in turn mode (GRPO's own sampling path: one step, no tools run, no user), parses them
(`parse.py`) and keeps those whose action is right, as the rewards score it (`rewards/components.py`):

- a call turn keeps a sample whose calls equal the reference's (`tool_exact`: names and normalised arguments,
  order-free);
- an answer turn keeps a sample that answers without a call and whose `answer` score reaches `answer_threshold`;
- in both, the sample must parse without problems, end before `max_new_tokens` and open with a non-empty
  `<think>` block: thinking is what the round is for.

With `hint`, each turn with nothing kept is sampled once more with the reference action stated in the system
prompt (STaR's rationalisation); what is kept then trains on the prompt *without* the hint. The round's training
data is the conversations with each kept turn's `reasoning_content` set to the sample's thinking and its action
the reference's (`action: sampled` takes the sample's own; for calls the two agree after normalisation). Turns
with nothing kept are left out of the loss (`"score": false`, the default `unkept: drop`) or trained with an empty
think block (`unkept: no_think`); either way they are counted. The data's own `reasoning_content`, if any, is
replaced. SFT with thinking then trains on that file, and the next round samples from the model it produced
(trained from `model` again each round with `from_base`, as STaR does, or from the previous round's model).

A run directory holds `config.yaml`, `distilled/round-K.jsonl` (the data round K trained on, chat format, with
what was kept per turn in `meta.self_distill`), `distilled/round-K.samples.jsonl` (every sample and its fate),
`self_distill.json` (per round: turns, samples, kept, kept by hint, why samples were rejected, generated tokens;
and the total), `metrics.jsonl` (one line per round), `rounds/round-K/` (round K's SFT run) and `model/` (the
last round's). Every file is written whole or not at all, and `--resume` continues at the first round stage that
is not complete. Left out: filtering thinking that mentions the hint; sampling with tools executed (each turn is
sampled from its reference history); several processes (the rounds run in one).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinkact.config import save_config
from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.prompts import Prompt, turn_prompts
from thinkact.errors import RunInterrupted, UserError, check_choice
from thinkact.files import atomic_write_text, check_output_dir, fsync_dir, replace_dir
from thinkact.jsonsafe import dump_json
from thinkact.models.load import load_policy
from thinkact.parse import Action, parse_action
from thinkact.rewards.components import TEXT_METRICS, score_answer, score_tool_exact
from thinkact.rollout.episodes import run_episodes
from thinkact.rollout.loop import Sampling
from thinkact.rollout.users import UserConfig
from thinkact.threads import apply_threads
from thinkact.train.checkpoints import check_resume

if TYPE_CHECKING:  # sft.py imports this module; the config type is only named here
    from thinkact.train.sft import SFTRunConfig

UNKEPT = ("drop", "no_think")
ACTIONS = ("reference", "sampled")
SUMMARY = "self_distill.json"


@dataclass
class SelfDistillOptions:
    enabled: bool = False
    """Sample thinking from the policy, keep the samples whose action is right, and train on those (STaR);
    for data with actions but no reasoning (docs/self-distillation.md)."""
    rounds: int = 1
    """Sample-then-train rounds; each samples from the model the previous round trained."""
    samples: int = 4
    """Completions sampled per reference turn and round."""
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 160
    """Tokens per sampled completion; a sample cut here is rejected."""
    batch_size: int = 16
    """Sequences generated together."""
    answer_threshold: float = 0.8
    """An answer turn keeps a sample whose answer score (answer_metric, with fact recall) is at least this."""
    answer_metric: str = "f1"
    """Answer score: exact, f1 or rougeL (a conversation's meta.answer_metric overrides it)."""
    hint: bool = True
    """Sample turns with nothing kept once more with the reference action in the prompt; train without it."""
    max_per_turn: int = 1
    """Kept samples per turn that train (distinct thinking); more than 1 repeats the conversation."""
    unkept: str = "drop"
    """Turns with no kept sample: drop (left out of the loss) or no_think (trained with an empty think block)."""
    action: str = "reference"
    """The action a kept turn trains on: reference (the data's) or sampled (the sample's own)."""
    from_base: bool = True
    """Each round fine-tunes `model` afresh on its data (STaR); false continues from the previous round's."""


def check_options(options: SelfDistillOptions, think: bool) -> None:
    """Refuse settings that cannot run, naming the field (called from SFTRunConfig's checks)."""
    if not options.enabled:
        return
    where = "sft.self_distill"
    if not think:
        raise UserError(f"{where}: trains on the sampled thinking; leave sft.think true")
    for name in ("rounds", "samples", "max_new_tokens", "batch_size", "max_per_turn"):
        if getattr(options, name) < 1:
            raise UserError(f"{where}.{name}: must be at least 1")
    if not math.isfinite(options.temperature) or options.temperature <= 0:
        raise UserError(f"{where}.temperature: must be > 0 (rejection sampling needs varied samples)")
    if not 0 < options.top_p <= 1:
        raise UserError(f"{where}.top_p: must be in (0, 1]")
    if not 0 <= options.answer_threshold <= 1:
        raise UserError(f"{where}.answer_threshold: must be in [0, 1] (answer scores are)")
    check_choice(f"{where}.answer_metric", options.answer_metric, TEXT_METRICS)
    check_choice(f"{where}.unkept", options.unkept, UNKEPT)
    check_choice(f"{where}.action", options.action, ACTIONS)


# ---------------------------------------------------------------------------------------------------------------
# Judging samples


@dataclass
class Verdict:
    """What became of one sampled completion."""

    kept: bool
    reason: str
    """Why it was rejected (one of `REASONS`); "kept" when kept."""
    action: Action
    score: float = 0.0
    """tool_exact for call turns, the answer score for answer turns."""


REASONS = (
    "cut at max_new_tokens",
    "malformed",
    "no thinking",
    "calls differ",
    "called a tool",
    "answered instead of calling",
    "answer below threshold",
    "surplus",
)
"""Why samples go unused; "surplus": right, but the turn already has `max_per_turn` kept (or the same thinking)."""


def judge_sample(
    action: Action,
    truncated: bool,
    reference: Action,
    tools: list[dict[str, Any]],
    *,
    metric: str,
    threshold: float,
) -> Verdict:
    """Keep or reject one parsed sample against its reference action.

    >>> from thinkact.parse import parse_action
    >>> ref = parse_action('<tool_call>{"name": "w", "arguments": {"city": "Oslo"}}</tool_call>')
    >>> good = parse_action('<think>Oslo.</think><tool_call>{"name": "w", "arguments": {"city": "oslo"}}</tool_call>')
    >>> judge_sample(good, False, ref, [], metric="f1", threshold=0.8).kept
    True
    >>> judge_sample(parse_action('<think>x</think><tool_call>{"name": "w"'), False, ref, [], metric="f1",
    ...     threshold=0.8).reason
    'malformed'
    """
    if truncated:
        return Verdict(False, "cut at max_new_tokens", action)
    if action.problems:
        return Verdict(False, "malformed", action)
    if not (action.think or "").strip():
        return Verdict(False, "no thinking", action)
    if reference.tool_calls:
        if not action.tool_calls:
            return Verdict(False, "answered instead of calling", action)
        exact = score_tool_exact(action, reference, tools)
        return Verdict(exact == 1.0, "kept" if exact == 1.0 else "calls differ", action, exact)
    if action.tool_calls:
        return Verdict(False, "called a tool", action)
    score = score_answer(action, reference, tools, metric=metric)
    kept = score >= threshold
    return Verdict(kept, "kept" if kept else "answer below threshold", action, score)


def hint_text(reference: Action) -> str:
    """The hint a retried turn's prompt carries: the reference action in words.

    >>> from thinkact.parse import ToolCall
    >>> 'call get_weather with arguments {"city": "Oslo"}' in hint_text(
    ...     Action(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]))
    True
    """
    if reference.tool_calls:
        calls = "; ".join(
            f"{call.name} with arguments {json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)}"
            for call in reference.tool_calls
        )
        step = f"to call {calls}"
    else:
        step = f"to answer: {json.dumps(reference.content, ensure_ascii=False)}"
    return (
        f"Hint for this reply only: the correct next step is {step}. Think it through step by step as if you had "
        "worked it out yourself, then take that step."
    )


def hinted_messages(messages: list[dict[str, Any]], reference: Action) -> list[dict[str, Any]]:
    """The history with the hint at the end of the system message (or in a new one when there is none)."""
    hint = hint_text(reference)
    if messages and messages[0]["role"] == "system":
        system = messages[0]
        content = (system.get("content") or "").rstrip()
        return [{**system, "content": f"{content}\n\n{hint}" if content else hint}, *messages[1:]]
    return [{"role": "system", "content": hint}, *messages]


# ---------------------------------------------------------------------------------------------------------------
# Sampling


@dataclass
class Kept:
    think: str
    action: Action
    hint: bool
    score: float


@dataclass
class TurnOutcome:
    """One reference turn's samples in a round: what was kept, and how many samples were rejected and why."""

    prompt: Prompt
    kept: list[Kept] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    sampled: int = 0
    hinted: bool = False
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Every sample as written to round-K.samples.jsonl: its text, tokens, whether hinted, and its fate."""


Generate = Callable[[list[Prompt], int, int], list[list[tuple[str, int, bool]]]]
"""(prompts, samples, pass seed) → per prompt, `samples` (completion text, tokens, truncated)."""


def sampler(
    model: Any,
    tokenizer: Any,
    options: SelfDistillOptions,
    seed: int,
    *,
    chunk: int = 64,
    say: Callable[[str], None] | None = None,
) -> Generate:
    """Sampling through the episode loop in turn mode (one step, no environment, no user), `chunk` turns at a
    time; `say` hears how far a pass is, about every tenth of it."""

    def generate(prompts: list[Prompt], samples: int, pass_seed: int) -> list[list[tuple[str, int, bool]]]:
        results: list[list[tuple[str, int, bool]]] = []
        for start in range(0, len(prompts), chunk):
            if (
                say is not None
                and start
                and (start * 10) // len(prompts) > ((start - chunk) * 10) // len(prompts)
            ):
                say(f"  {start} of {len(prompts)} turns sampled")
            sampling = Sampling(
                max_new_tokens=options.max_new_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                batch_size=options.batch_size,
                seed=seed,
                step=pass_seed * 100_000 + start // chunk,
            )
            episodes = run_episodes(
                model,
                tokenizer,
                prompts[start : start + chunk],
                group_size=samples,
                max_turns=1,
                sampling=sampling,
                user=UserConfig(),
                execute=False,
            )
            for index in range(0, len(episodes), samples):
                group = episodes[index : index + samples]
                results.append(
                    [(e.texts[0], int(e.completions[0]["tokens"]), e.truncated) for e in group if e.texts]
                )
        return results

    return generate


def distill_turns(
    prompts: list[Prompt],
    generate: Generate,
    options: SelfDistillOptions,
    round_number: int,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[list[TurnOutcome], int]:
    """Sample every turn and keep what is right, then (with `hint`) sample the turns with nothing kept once more
    with the hint; the outcomes, in prompt order, and the tokens generated."""
    outcomes = [TurnOutcome(prompt) for prompt in prompts]
    tokens = _sample_pass(outcomes, generate, options, round_number, hinted=False, on_progress=on_progress)
    if options.hint:
        unkept = [outcome for outcome in outcomes if not outcome.kept]
        tokens += _sample_pass(unkept, generate, options, round_number, hinted=True, on_progress=on_progress)
    return outcomes, tokens


def _sample_pass(
    outcomes: list[TurnOutcome],
    generate: Generate,
    options: SelfDistillOptions,
    round_number: int,
    *,
    hinted: bool,
    on_progress: Callable[[str], None] | None,
) -> int:
    """Sample `options.samples` per turn (with the hint in the prompt when `hinted`) and judge each sample."""
    if not outcomes:
        return 0
    if on_progress is not None:
        source = "with the reference as a hint" if hinted else "from the policy"
        on_progress(
            f"round {round_number}: sampling {options.samples} per turn for {len(outcomes)} turns {source}"
        )
    prompts = [
        dataclasses.replace(o.prompt, messages=hinted_messages(o.prompt.messages, o.prompt.action))
        if hinted
        else o.prompt
        for o in outcomes
    ]
    tokens = 0
    generated = generate(prompts, options.samples, round_number * 2 + int(hinted))  # a seed per (round, pass)
    for outcome, samples in zip(outcomes, generated, strict=True):
        outcome.hinted = outcome.hinted or hinted
        for text, count, truncated in samples:
            tokens += count
            outcome.sampled += 1
            action = parse_action(text)
            verdict = judge_sample(
                action,
                truncated,
                outcome.prompt.action,
                outcome.prompt.tools,
                metric=outcome.prompt.answer_metric,
                threshold=options.answer_threshold,
            )
            think = (action.think or "").strip()
            reason = verdict.reason
            if not verdict.kept:
                outcome.rejected[reason] += 1
            elif len(outcome.kept) < options.max_per_turn and think not in {k.think for k in outcome.kept}:
                outcome.kept.append(Kept(think, action, hinted, verdict.score))
            else:
                reason = "surplus"
                outcome.rejected[reason] += 1
            outcome.samples.append(
                {
                    "turn": outcome.prompt.id,
                    "hint": hinted,
                    "completion": text,
                    "tokens": count,
                    "result": reason,
                    "score": round(verdict.score, 4),
                }
            )
    return tokens


# ---------------------------------------------------------------------------------------------------------------
# The round's training data


def distilled_conversations(
    conversations: list[Conversation],
    outcomes: list[TurnOutcome],
    options: SelfDistillOptions,
    round_number: int,
) -> list[Conversation]:
    """The conversations as round `round_number` trains on them (see the module docstring).

    Copy j (j >= 1, named `ID~j+1`) holds each turn's (j+1)-th kept sample and leaves its other turns out of the
    loss; copies with nothing to train are not written.
    """
    by_turn = {(o.prompt.conversation_id, o.prompt.turn_index): o for o in outcomes}
    copies: Counter[str] = Counter()
    for done in outcomes:
        copies[done.prompt.conversation_id] = max(copies[done.prompt.conversation_id], len(done.kept))
    result = []
    for conversation in conversations:
        for copy in range(max(copies[conversation.id], 1)):
            messages: list[dict[str, Any]] = []
            record: dict[str, Any] = {}
            for index, message in enumerate(conversation.messages):
                outcome = by_turn.get((conversation.id, index))
                if message["role"] != "assistant":
                    messages.append(message)
                    continue
                message = {**message, "reasoning_content": ""}
                if outcome is None:  # a turn marked "score": false in the data: history only
                    messages.append(message)
                    continue
                if copy < len(outcome.kept):
                    kept = outcome.kept[copy]
                    message["reasoning_content"] = kept.think
                    if options.action == "sampled":
                        message = _with_action(message, kept.action)
                    record[str(index)] = {"kept": True, "hint": kept.hint, "score": round(kept.score, 4)}
                elif copy == 0 and options.unkept == "no_think":
                    record[str(index)] = {
                        "kept": False,
                        "trained": "no_think",
                        "rejected": dict(outcome.rejected),
                    }
                else:
                    message["score"] = False
                    if copy == 0:
                        record[str(index)] = {
                            "kept": False,
                            "trained": False,
                            "rejected": dict(outcome.rejected),
                        }
                messages.append(message)
            if copy and not record:
                continue
            meta = {
                **conversation.meta,
                "self_distill": {"round": round_number, "copy": copy + 1, "turns": record},
            }
            name = conversation.id if copy == 0 else f"{conversation.id}~{copy + 1}"
            result.append(Conversation(id=name, messages=messages, tools=conversation.tools, meta=meta))
    return result


def _with_action(message: dict[str, Any], action: Action) -> dict[str, Any]:
    sampled = action.to_message()
    message = {key: value for key, value in message.items() if key not in ("tool_calls", "facts")}
    message["content"] = sampled["content"]
    if "tool_calls" in sampled:
        message["tool_calls"] = sampled["tool_calls"]
    return message


def summarise_round(
    outcomes: list[TurnOutcome], tokens: int, options: SelfDistillOptions, round_number: int, policy: str
) -> dict[str, Any]:
    """The round's entry in self_distill.json."""
    calls = [o for o in outcomes if o.prompt.action.tool_calls]
    kept = [o for o in outcomes if o.kept]
    rejected: Counter[str] = Counter()
    for outcome in outcomes:
        rejected.update(outcome.rejected)
    return {
        "round": round_number,
        "policy": policy,
        "data": f"distilled/round-{round_number}.jsonl",
        "turns": len(outcomes),
        "call_turns": len(calls),
        "answer_turns": len(outcomes) - len(calls),
        "sampled": sum(o.sampled for o in outcomes),
        "hint_turns": sum(o.hinted for o in outcomes),
        "kept_turns": len(kept),
        "kept_call_turns": sum(1 for o in kept if o.prompt.action.tool_calls),
        "kept_answer_turns": sum(1 for o in kept if not o.prompt.action.tool_calls),
        "kept_by_hint": sum(1 for o in kept if o.kept[0].hint),
        "kept_samples": sum(len(o.kept) for o in outcomes),
        "unkept_turns": len(outcomes) - len(kept),
        "unkept": options.unkept,
        "rejected": {reason: rejected[reason] for reason in REASONS if rejected[reason]},
        "generated_tokens": tokens,
        "trained": False,
        "model": None,
    }


def describe_round(entry: dict[str, Any]) -> str:
    """One line of progress output for a sampled round."""
    unkept = "left out" if entry["unkept"] == "drop" else "trained without thinking"
    return (
        f"round {entry['round']}: kept {entry['kept_turns']} of {entry['turns']} turns "
        f"({entry['kept_call_turns']} of {entry['call_turns']} calls, {entry['kept_answer_turns']} of "
        f"{entry['answer_turns']} answers; {entry['kept_by_hint']} by the hint) from {entry['sampled']} samples, "
        f"{entry['generated_tokens']} generated tokens; {entry['unkept_turns']} turns {unkept}"
    )


# ---------------------------------------------------------------------------------------------------------------
# The run


TrainRound = Callable[["SFTRunConfig", bool, bool], Path]
"""Runs plain SFT: (config, resume, overwrite) → the model directory (`train/sft.py` passes its trainer)."""


def run_self_distill(
    config: SFTRunConfig,
    train: TrainRound,
    *,
    resume: bool = False,
    overwrite: bool = False,
    say: Callable[[str], None] | None = None,
    generate_for: Callable[[str], Generate] | None = None,
) -> Path:
    """Rounds of sample, keep, and SFT on what was kept (`config` is an SFTRunConfig with self_distill on).

    `generate_for(model_path)` replaces sampling from the model at that path (tests script it).
    """
    options: SelfDistillOptions = config.self_distill
    out = Path(config.out)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError(
            "sft.self_distill: runs in one process (every process would sample and write the same rounds); "
            "run it without `accelerate launch`, or distil with one process and train the rounds' data after"
        )
    check_output_dir(out, overwrite=overwrite, resume=resume)
    if resume:
        check_resume(out, config, 10**12, 0, "sft")  # same config, not finished; rounds say how far it got
    conversations = read_conversations(config.data)
    prompts = turn_prompts(conversations, answer_metric=options.answer_metric)
    if not prompts:
        raise UserError(
            f'{config.data}: no assistant turn to distill (turns marked "score": false are left out); check '
            "that the file holds assistant replies"
        )
    apply_threads(config.threads)
    policy = str(config.model)
    # a fresh run loads its first sampler before it writes anything, so a bad model path leaves no directory
    first = None if resume else _generator(config, policy, generate_for, say)
    if overwrite:
        replace_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    summary: dict[str, Any] = _read_summary(out) if resume else {"rounds": [], "generated_tokens": 0}
    model = out / "model"
    for number in range(1, options.rounds + 1):
        entry = next((e for e in summary["rounds"] if e["round"] == number), None)
        data = out / "distilled" / f"round-{number}.jsonl"
        if entry is None or not data.is_file():
            generate = (
                first if number == 1 and first is not None else _generator(config, policy, generate_for, say)
            )
            entry = _sample_round(config, conversations, prompts, number, policy, generate, say)
            summary["rounds"] = [e for e in summary["rounds"] if e["round"] != number] + [entry]
            _write_summary(out, summary)
        elif say is not None:
            say(f"{describe_round(entry)} ({'done' if entry['trained'] else 'sampled'} before; resuming)")
        if not entry["kept_turns"] and options.unkept == "drop":
            raise UserError(
                f"self-distillation round {number} kept no sample of {entry['turns']} turns (why: "
                f"{out / SUMMARY}, every sample: {data.with_suffix('.samples.jsonl')}); {_advice(options)}"
            )
        last = number == options.rounds
        model = _train_round(config, train, out, number, data, policy, last)
        entry.update(trained=True, model=str(model.relative_to(out)))
        _write_summary(out, summary)
        policy = str(model)
    return model


def _sample_round(
    config: SFTRunConfig,
    conversations: list[Conversation],
    prompts: list[Prompt],
    number: int,
    policy: str,
    generate: Generate,
    say: Callable[[str], None] | None,
) -> dict[str, Any]:
    options: SelfDistillOptions = config.self_distill
    try:
        outcomes, tokens = distill_turns(prompts, generate, options, number, say)
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted while sampling round {number}; nothing of that round was written. Continue with: "
            f"thinkact sft --out {config.out} --resume"
        ) from None
    data = Path(config.out) / "distilled" / f"round-{number}.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        data.with_suffix(".samples.jsonl"),
        "".join(dump_json(sample) + "\n" for outcome in outcomes for sample in outcome.samples),
    )
    rows = distilled_conversations(conversations, outcomes, options, number)
    atomic_write_text(data, "".join(dump_json(c.to_json()) + "\n" for c in rows))
    entry = summarise_round(outcomes, tokens, options, number, policy)
    if say is not None:
        say(describe_round(entry))
    return entry


def _advice(options: SelfDistillOptions) -> str:
    ways = ["start from a model that writes <think> before acting", "raise sft.self_distill.samples"]
    ways += [] if options.hint else ["turn on hint"]
    ways += ["lower answer_threshold", "or set unkept: no_think to train those turns without thinking"]
    return ", ".join(ways)


def _generator(
    config: SFTRunConfig,
    policy: str,
    generate_for: Callable[[str], Generate] | None,
    say: Callable[[str], None] | None,
) -> Generate:
    """Sampling from the model at `policy` (or the caller's stand-in)."""
    if generate_for is not None:
        return generate_for(policy)
    model, tokenizer = load_policy(policy)
    return sampler(model, tokenizer, config.self_distill, config.seed, say=say)


def _train_round(
    config: SFTRunConfig, train: TrainRound, out: Path, number: int, data: Path, policy: str, last: bool
) -> Path:
    """SFT on round `number`'s data in rounds/round-K (resumed from its checkpoint when it has one); the last
    round's model is moved to the run's model/."""
    options: SelfDistillOptions = config.self_distill
    run = out / "rounds" / f"round-{number}"
    final = out / "model" if last else run / "model"
    if final.is_dir():
        return final
    if not (run / "model").is_dir():
        start = str(config.model) if options.from_base or number == 1 else policy
        round_config = dataclasses.replace(
            config, model=start, data=str(data), out=str(run), self_distill=SelfDistillOptions()
        )
        resumable = any((run / "checkpoints").glob("checkpoint-*/trainer_state.json"))
        try:
            train(round_config, resumable, not resumable)
        except RunInterrupted as stopped:
            raise RunInterrupted(
                f"self-distillation round {number} interrupted ({stopped}); its samples are kept. Continue with: "
                f"thinkact sft --out {out} --resume"
            ) from None
    if last:
        os.replace(run / "model", final)
        fsync_dir(out)
    return final


def _read_summary(out: Path) -> dict[str, Any]:
    path = out / SUMMARY
    if not path.is_file():
        return {"rounds": [], "generated_tokens": 0}
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    """self_distill.json and metrics.jsonl (one line per round), each written whole."""
    summary["rounds"].sort(key=lambda entry: entry["round"])
    summary["generated_tokens"] = sum(entry["generated_tokens"] for entry in summary["rounds"])
    atomic_write_text(out / SUMMARY, dump_json(summary, indent=1) + "\n")
    total = 0
    lines = []
    for entry in summary["rounds"]:
        total += entry["generated_tokens"]
        metrics = {key: entry[key] for key in ("round", "turns", "sampled", "kept_turns", "kept_by_hint")}
        metrics.update(
            kept_share=entry["kept_turns"] / max(entry["turns"], 1),
            generated_tokens=entry["generated_tokens"],
            generated_tokens_total=total,
        )
        lines.append(dump_json(metrics) + "\n")
    atomic_write_text(out / "metrics.jsonl", "".join(lines))

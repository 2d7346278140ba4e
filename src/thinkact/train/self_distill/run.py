"""The self-distillation run: rounds of sample, keep, and SFT on what was kept, resumable stage by stage.

Left out: plain SFT (`train/sft.py` passes its trainer as `train`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinkact.config import save_config
from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.errors import RunInterrupted, UserError
from thinkact.files import atomic_write_text, check_output_dir, fsync_dir, replace_dir
from thinkact.jsonsafe import dump_json
from thinkact.models.load import load_policy
from thinkact.threads import apply_threads
from thinkact.train.checkpoints import check_resume
from thinkact.train.self_distill.data import describe_round, distilled_conversations, summarise_round
from thinkact.train.self_distill.options import SelfDistillOptions
from thinkact.train.self_distill.sampling import Generate, distill_turns, sampler

if TYPE_CHECKING:  # sft.py imports this package; the config type is only named here
    from thinkact.train.sft import SFTRunConfig

SUMMARY = "self_distill.json"


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

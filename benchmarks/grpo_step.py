"""One GRPO step of thinkact's engine against one step of TRL's GRPOTrainer: same config, model and prompts.

Both trainers start from the same model (the tiny one, or `--model DIR`) with the same `GRPORunConfig` (TRL's
through `--engine trl`'s field mapping, `integrations.trl_settings`), and every step of both takes the same
`prompts` turns (TRL's dataset holds exactly those rows, so each of its steps is one pass over them) with
thinkact's reward. Blocks of steps alternate
(TRL, thinkact, TRL, ...) in one process; the first step of each block is left out (set-up, warm-up), and the
table reports the median step time, tokens/s, its generation share where known, and thinkact's time over TRL's,
with the step's phases: the prefill and decode forwards of both engines (`throughput.py` times them), and for
thinkact's engine the rest of its rollout and its update (`learn`), timed around the calls (TRL's trainer does not
expose these: nan). A second table holds the bytes each decode step read per token against the memory bandwidth
measured in the same process. With `--schema-tokens N` the turns are weather turns whose tools are padded to about
N schema tokens (`scaling.py`). Usage:

    .venv/bin/python benchmarks/grpo_step.py [--prompts 4] [--group 4] [--new-tokens 64] [--blocks 2] [--steps 3]
        [--kl 0] [--schema-tokens 0] [--model DIR] [--threads 1] [--bandwidth-mib 256] [--toy]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import throughput
import torch
from datasets import Dataset
from transformers import PrinterCallback
from trl import GRPOTrainer as TRLTrainer
from workspace import median, parse_toy_args

from thinkact.config import load_config, save_config
from thinkact.integrations.trl import MetricsCallback, make_grpo_config
from thinkact.integrations.trl_data import dataset_rows
from thinkact.integrations.trl_rewards import make_reward_function
from thinkact.models.load import load_policy
from thinkact.models.lora import lora_config
from thinkact.rollout.generation import stop_token_ids
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer


@dataclass
class Step:
    """One counted step: seconds, mean completion tokens, generation forwards, and (thinkact's engine) the
    seconds of its rollout and of its update (`learn`: log-probabilities, loss, backward, optimiser)."""

    seconds: float
    mean_tokens: float
    forwards: throughput.ForwardTimes
    rollout_s: float = float("nan")
    update_s: float = float("nan")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    throughput.add_run_arguments(parser, prompts=4)
    parser.add_argument(
        "--kl", type=float, default=0.0, help="kl_coef (TRL's beta); > 0 adds a reference model"
    )
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per engine")
    parser.add_argument("--steps", type=int, default=3, help="steps per block (the first is not counted)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a third row: thinkact's engine again with these GRPO fields changed, e.g. update_dtype=bfloat16",
    )
    toy = {"prompts": 2, "group": 2, "new_tokens": 4, "blocks": 1, "steps": 2, "bandwidth_mib": 8}
    return parse_toy_args(parser, toy)


def step_config(root: Path, args: argparse.Namespace) -> tuple[GRPORunConfig, int]:
    """The shared throughput config with this benchmark's training settings; its schema tokens."""
    config, schema = throughput.grpo_setup(root, args)
    config = dataclasses.replace(
        config,
        out=str(root / "run"),
        steps=args.steps,
        learning_rate=1e-6,
        kl_coef=args.kl,
        drop_equal_groups=False,  # TRL has no dynamic sampling
        mask_truncated=False,  # the random tiny model never stops: keep its completions in the loss
    )
    Path(config.out).mkdir(parents=True, exist_ok=True)
    return config, schema


def variant_trainer(config: GRPORunConfig, fields: list[str]) -> GRPOTrainer | None:
    """thinkact's engine on `config` with `fields` (FIELD=VALUE) changed, from the same model; None without any."""
    if not fields:
        return None
    saved = Path(config.out) / "variant-base.yaml"
    save_config(config, saved)
    changed = load_config(GRPORunConfig, saved, fields)
    model, tokenizer = load_policy(changed.model)
    trainer = GRPOTrainer(changed, model, tokenizer)
    trainer.load_data(changed.data)
    return trainer


def trl_trainer(config: GRPORunConfig, turn_ids: list[str], callback: MetricsCallback) -> TRLTrainer:
    """TRL's trainer on `config` whose dataset holds only the `turn_ids` turns, so each step takes them all."""
    model, tokenizer = load_policy(config.model)
    rows, _ = dataset_rows(tokenizer, config.data, max_prompt_tokens=config.max_prompt_tokens)
    chosen = [row for row in rows if row["turn_id"] in set(turn_ids)]
    reward = make_reward_function(tokenizer, lambda step: config.rewards, stop_token_ids(model, tokenizer))
    trainer = TRLTrainer(
        model=model,
        reward_funcs=[reward],
        args=make_grpo_config(config, {}),
        train_dataset=Dataset.from_list(chosen),
        processing_class=tokenizer,
        callbacks=[callback],
        peft_config=lora_config(config.lora, model) if config.lora.enabled else None,
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def thinkact_block(
    ours: GRPOTrainer, first: int, args: argparse.Namespace, log: throughput.ForwardLog
) -> list[Step]:
    """`args.steps` engine steps from step `first`, timed around `rollout` and `learn`; all but the first."""
    indices = list(range(args.prompts))
    steps = []
    for step in range(first, first + args.steps):
        log.take()
        started = time.perf_counter()
        rollouts = ours.rollout(step, indices)
        generated = time.perf_counter()
        forwards = log.take()
        ours.learn(rollouts)
        ended = time.perf_counter()
        tokens = sum(len(r.completion_ids) for r in rollouts) / len(rollouts)
        steps.append(Step(ended - started, tokens, forwards, generated - started, ended - generated))
    return steps[1:]


def trl_block(theirs: TRLTrainer, steps: list[Step], log: throughput.ForwardLog) -> None:
    """One `train()` of TRL's trainer; the MetricsCallback appends its steps to `steps` (the first is dropped)."""
    counted = len(steps)
    log.take()
    theirs.train()
    del steps[counted]


def step_row(engine: str, steps: list[Step], completions: int) -> dict[str, Any]:
    """Medians of `steps`: seconds, tokens, the phases (prefill and decode forwards, the rest of the rollout,
    the update; what an engine does not expose is nan)."""
    seconds = median([s.seconds for s in steps])
    tokens = median([s.mean_tokens for s in steps]) * completions
    return {
        "engine": engine,
        "steps": len(steps),
        "median_step_s": seconds,
        "tokens_per_step": tokens,
        "tokens_per_s": tokens / seconds,
        "generate_share": median([s.rollout_s for s in steps]) / seconds,
        "prefill_s": median([s.forwards.prefill_s for s in steps]),
        "decode_s": median([s.forwards.decode_s for s in steps]),
        "rollout_other_s": median([s.rollout_s - s.forwards.prefill_s - s.forwards.decode_s for s in steps]),
        "update_s": median([s.update_s for s in steps]),
    }


def main() -> None:
    args = parse_args()
    record = throughput.start_record(args)
    with tempfile.TemporaryDirectory() as root:
        config, record["schema_tokens"] = step_config(Path(root), args)
        model, tokenizer = load_policy(config.model)
        ours = GRPOTrainer(config, model, tokenizer)
        ours.load_data(config.data)
        record["bandwidth"] = throughput.memory_bandwidth(args.bandwidth_mib, model.device)
        runs: dict[str, list[Step]] = {"thinkact": [], "trl": []}
        variant = variant_trainer(config, args.variant)
        variant_name = "thinkact " + " ".join(args.variant)
        if variant is not None:
            runs[variant_name] = []

        def trl_step(step: int, metrics: dict[str, float]) -> None:
            runs["trl"].append(Step(metrics["step_seconds"], metrics["completion_tokens"], trl_log.take()))

        callback = MetricsCallback(
            Path(config.out), args.prompts * args.group, config.passes, trl_step, config
        )
        theirs = trl_trainer(config, [ours.prompts[i].id for i in range(args.prompts)], callback)
        policy = ours.accelerator.unwrap_model(ours.model)
        assert isinstance(theirs.model, torch.nn.Module)
        with contextlib.ExitStack() as stack:
            log = stack.enter_context(throughput.timed_forwards(policy))
            trl_log = stack.enter_context(throughput.timed_forwards(theirs.model))
            if variant is not None:
                # the model that samples: the bfloat16 copy under sample_dtype=bfloat16
                variant_model = (
                    variant.sampler.copy
                    if variant.sampler
                    else variant.accelerator.unwrap_model(variant.model)
                )
                variant_log = stack.enter_context(throughput.timed_forwards(variant_model))
            for block in range(args.blocks):
                trl_block(theirs, runs["trl"], trl_log)
                runs["thinkact"] += thinkact_block(ours, block * args.steps, args, log)
                if variant is not None:
                    runs[variant_name] += thinkact_block(variant, block * args.steps, args, variant_log)
    completions = args.prompts * args.group
    record["rows"] = [step_row(engine, steps, completions) for engine, steps in runs.items()]
    for row in record["rows"]:
        row["vs_trl"] = row["median_step_s"] / record["rows"][1]["median_step_s"]
    spans = {engine: [s.forwards for s in steps] for engine, steps in runs.items()}
    detail = f"kl_coef {args.kl}; medians over {args.blocks} alternating blocks"
    throughput.finish(
        "grpo_step", throughput.batch_title("one GRPO step", args, record, detail), record, spans, policy
    )


if __name__ == "__main__":
    main()

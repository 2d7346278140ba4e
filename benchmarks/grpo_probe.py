"""How much each GRPO sample teaches: a fixed probe set of training call turns, tracked while GRPO trains on it.

The demo's GRPO sees each training turn about once, so whether the update learns at all is hidden in the noise of
held-out figures. This isolates it. From a start model it picks probe turns: training call turns where the
start's greedy call is wrong but it samples the exact call at least once in `--samples` tries (so a group can
see a better action), and, beside them, held-out call turns of the same domains chosen the same way. GRPO then
trains on the probes alone, through the engine (`GRPOTrainer.step`), and every `--every` steps the script
measures on both sets: greedy exact calls, sampled exact calls (`--measure-samples` per turn), and the
teacher-forced log-probability of the reference's action tokens (after its reasoning). The training reward, the
sampled tokens and the seconds are logged each step. `--cosine` adds the noise figure: the cosine between the
GRPO gradients of two independent rollout batches on the same prompts at the start.

One run per `--run NAME --set FIELD=VALUE ...` (GRPO config fields), its curve written to OUT/NAME.json; the
probe sets are chosen once and kept in OUT/probes.json, so runs of a sweep share them. A measurement, not a test.

    .venv/bin/python benchmarks/grpo_probe.py --model runs/probe/sft-think/model \\
        --data runs/probe/data/train.jsonl --heldout runs/probe/data/valid.jsonl --out runs/probe/sweep \\
        --run lr5e-4 --set learning_rate=5e-4 --steps 60
    .venv/bin/python benchmarks/grpo_probe.py --out runs/probe/sweep --summary   # the table of every run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from workspace import toy_data, toy_directory

from thinkact.config import load_config
from thinkact.data.conversations import read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.envs.registry import bind_tools
from thinkact.models.chat import encode_turn
from thinkact.models.load import load_policy
from thinkact.models.tiny import pretrained_base
from thinkact.rewards.components import score_tool_exact
from thinkact.rollout.episodes import sample_episodes
from thinkact.rollout.loop import Sampling
from thinkact.rollout.records import Rollout
from thinkact.train.batches import layout
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer
from thinkact.train.grpo_config import learning_rate_at
from thinkact.train.losses import group_advantages
from thinkact.train.schedule import sampled_tokens

TOY = os.environ.get("THINKACT_BENCH_TOY") == "1"
"""Toy size (the benchmark test): a few probes, two steps; without --out, the shipped base on generated turns."""
TOY_GRPO = ["prompts_per_step=2", "group_size=2", "max_new_tokens=16", "micro_batch=4"]


def call_turns(path: str) -> list[Prompt]:
    """The scored turns of `path` whose reference calls a tool."""
    return [p for p in turn_prompts(bind_tools(read_conversations(path))) if p.action.tool_calls]


def exact_counts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[Prompt],
    samples: int,
    *,
    temperature: float,
    seed: int = 0,
    max_new_tokens: int = 128,
) -> list[int]:
    """Per prompt, how many of `samples` completions (greedy when temperature is 0) call exactly right."""
    episodes = sample_episodes(
        model,
        tokenizer,
        prompts,
        group_size=samples,
        max_actions=1,
        sampling=Sampling(max_new_tokens=max_new_tokens, temperature=temperature, batch_size=64, seed=seed),
        execute=False,
    )
    counts = [0] * len(prompts)
    for number, episode in enumerate(episodes):
        exact = not episode.truncated and score_tool_exact(episode.steps[0], episode.prompt.action, []) == 1.0
        counts[number // samples] += int(exact)
    return counts


def choose(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    candidates: list[Prompt],
    count: int,
    samples: int,
) -> list[Prompt]:
    """The first `count` candidates whose greedy call is wrong and that sample the exact call at least once."""
    chosen: list[Prompt] = []
    for start in range(0, len(candidates), 64):
        batch = candidates[start : start + 64]
        greedy = exact_counts(model, tokenizer, batch, 1, temperature=0.0)
        open_ = [p for p, g in zip(batch, greedy, strict=True) if g == 0]
        if open_:
            sampled = exact_counts(model, tokenizer, open_, samples, temperature=1.0, seed=start)
            chosen += [p for p, s in zip(open_, sampled, strict=True) if s > 0]
        if len(chosen) >= count:
            break
    return chosen[:count]


@torch.no_grad()
def reference_logprob(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[Prompt]
) -> float:
    """Mean over prompts of the summed log-probability of the reference's action tokens (after `</think>`),
    teacher-forced after the prompt and the reference's reasoning."""
    close = tokenizer.convert_tokens_to_ids("</think>")
    totals = []
    for prompt in prompts:
        prompt_ids, completion_ids = encode_turn(tokenizer, prompt)
        action_from = completion_ids.index(close) + 1 if close in completion_ids else 0
        ids = torch.tensor([prompt_ids + completion_ids])
        logp = model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
        targets = ids[0, 1:]
        picked = logp.gather(1, targets[:, None]).squeeze(1)
        totals.append(float(picked[len(prompt_ids) - 1 + action_from :].sum()))
    return sum(totals) / len(totals)


def measure(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[Prompt], samples: int
) -> dict[str, float]:
    model.eval()
    greedy = exact_counts(model, tokenizer, prompts, 1, temperature=0.0)
    sampled = exact_counts(model, tokenizer, prompts, samples, temperature=1.0, seed=12345)
    return {
        "greedy_exact": sum(greedy) / len(prompts),
        "sampled_exact": sum(sampled) / (len(prompts) * samples),
        "reference_logprob": reference_logprob(model, tokenizer, prompts),
    }


def probe_sets(args: argparse.Namespace, out: Path) -> tuple[list[str], list[str]]:
    """The probe and held-out turn ids, chosen once from the start model and kept in OUT/probes.json."""
    path = out / "probes.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        return saved["probes"], saved["heldout"]
    model, tokenizer = load_policy(args.model)
    if args.any_turns:  # no selection: the first call turns (a model that calls nothing right still runs)
        probes, heldout = call_turns(args.data)[: args.probes], call_turns(args.heldout)[: args.probes]
    else:
        probes = choose(model, tokenizer, call_turns(args.data), args.probes, args.samples)
        heldout = choose(model, tokenizer, call_turns(args.heldout), args.probes, args.samples)
    if not probes or not heldout:
        raise SystemExit(
            f"{args.model}: no call turn it samples right but calls wrong greedily; try --any-turns"
        )
    record = {"model": args.model, "samples": args.samples, "probes": [p.id for p in probes]}
    record["heldout"] = [p.id for p in heldout]
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record["probes"], record["heldout"]


def gradient_cosine(trainer: GRPOTrainer, indices: list[int]) -> float:
    """Cosine between the GRPO gradients of two independent rollout batches on the same prompts."""
    grads = []
    for draw in (10_000, 10_001):  # steps no run reaches: seeds of their own
        rollouts = trainer.rollout(draw, indices)
        rewards_B = torch.tensor([r.reward for r in rollouts])
        batch = layout(rollouts, trainer.tokenizer.pad_token_id)
        batch["advantages_B"] = group_advantages(
            rewards_B, trainer.config.group_size, trainer.config.advantage_scale
        )
        batch["weight_B"] = torch.ones(len(rollouts))
        batch["rank_scale"] = torch.ones(len(rollouts))
        trainer.update.accumulate(batch, None, None)
        grads.append(
            torch.cat([p.grad.detach().flatten() for p in trainer.model.parameters() if p.grad is not None])
        )
        trainer.optimizer.zero_grad()
    return float(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0))


def probe_config(args: argparse.Namespace) -> GRPORunConfig:
    """The GRPO config of a probe run: `--set` fields over the defaults, the schedule's length (warm-up, decay)
    the run's `--steps` unless `--set` names `steps`."""
    fields = [f"steps={args.steps}", *args.set, f"model={args.model}", f"data={args.data}", "out="]
    return load_config(GRPORunConfig, None, fields)


def train_on_probes(args: argparse.Namespace, probe_ids: list[str], heldout_ids: list[str]) -> dict[str, Any]:
    config = probe_config(args)
    model, tokenizer = load_policy(args.model)
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(args.data)
    keep = [i for i, prompt in enumerate(trainer.prompts) if prompt.id in set(probe_ids)]
    trainer.prompts = [trainer.prompts[i] for i in keep]
    trainer.prompt_ids = [trainer.prompt_ids[i] for i in keep]
    trainer.scores = [None] * len(keep)
    every_heldout = call_turns(args.heldout)[: args.all_heldout]
    by_id = {p.id: p for p in call_turns(args.heldout)}
    heldout = [by_id[i] for i in heldout_ids]
    policy = trainer.accelerator.unwrap_model(trainer.model)
    if args.null:
        shuffle_rewards_in_groups(trainer, config.seed)
    row: dict[str, Any] = {
        "run": args.run,
        "overrides": args.set,
        "probes": len(keep),
        "curve": [],
        "steps": [],
    }
    if args.cosine:
        row["gradient_cosine"] = gradient_cosine(
            trainer, list(range(min(len(keep), config.prompts_per_step)))
        )
    started = time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.every == 0 or step == args.steps:
            point = {"step": step, "seconds": round(time.perf_counter() - started, 1)}
            if step:  # the rate of the last step taken: the schedule runs over `steps`
                point["learning_rate"] = learning_rate_at(config, step - 1)
            for name, turns in (("probe", trainer.prompts), ("heldout", heldout)):
                figures = measure(policy, tokenizer, turns, args.measure_samples)
                point.update({f"{name}_{key}": value for key, value in figures.items()})
            # every held-out call turn, unselected: selecting turns greedy gets wrong makes any change of the
            # weights look like a gain on them (regression to the mean); this set has no such bias
            greedy = exact_counts(policy, tokenizer, every_heldout, 1, temperature=0.0)
            point["all_heldout_greedy_exact"] = sum(greedy) / len(every_heldout)
            row["curve"].append(point)
            print(json.dumps(point), flush=True)
        if step == args.steps:
            break
        metrics, rollouts = trainer.step(step)
        row["steps"].append(
            {
                "reward": metrics["reward"],
                "seconds": metrics["step_seconds"],
                "tokens": sampled_tokens(rollouts),
            }
        )
    row["train_seconds"] = round(time.perf_counter() - started, 1)
    return row


def shuffle_rewards_in_groups(trainer: GRPOTrainer, seed: int) -> None:
    """The null control (`--null`): each group's rewards are shuffled among its members before the update, so
    the run moves the weights as much as a real one does, in a direction the reward does not choose."""
    learn = trainer.learn
    generator = random.Random(seed)

    def shuffled(rollouts: list[Rollout], step: int = 0) -> dict[str, float]:
        size = trainer.config.group_size
        for start in range(0, len(rollouts), size):
            group = rollouts[start : start + size]
            rewards = [r.reward for r in group]
            generator.shuffle(rewards)
            for rollout, reward in zip(group, rewards, strict=True):
                rollout.reward = reward
        return learn(rollouts, step)

    trainer.learn = shuffled  # type: ignore[method-assign]


def _span(first: dict[str, float], last: dict[str, float], name: str) -> str:
    if name not in first or name not in last:
        return "—"
    return f"{first[name]:.3f} → {last[name]:.3f}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def summary(out: Path) -> str:
    """One line per run: start and end of each tracked figure, and the held-out gain per 1,000 sampled tokens."""
    names = (
        "probe_greedy_exact",
        "probe_sampled_exact",
        "heldout_greedy_exact",
        "heldout_sampled_exact",
        "all_heldout_greedy_exact",
    )
    header = (
        "| run | "
        + " | ".join(names)
        + " | probe ref logp | reward first 10 → last 10 | cosine | gain/1k tok |"
    )
    lines = [header, "|" + "---|" * 10]
    for path in sorted(out.glob("*.json")):
        if path.name == "probes.json":
            continue
        row = json.loads(path.read_text(encoding="utf-8"))
        first, last = row["curve"][0], row["curve"][-1]
        rewards = [s["reward"] for s in row["steps"]]
        tokens = sum(s["tokens"] for s in row["steps"]) or math.nan
        gain = (last["heldout_sampled_exact"] - first["heldout_sampled_exact"]) / tokens * 1000
        spans = [_span(first, last, name) for name in (*names, "probe_reference_logprob")]
        lines.append(
            f"| {row['run']} | "
            + " | ".join(spans)
            + f" | {_mean(rewards[:10]):.3f} → {_mean(rewards[-10:]):.3f}"
            f" | {row.get('gradient_cosine', math.nan):.3f} | {gain:.5f} |"
        )
    return "\n".join(lines)


def pass_rates(args: argparse.Namespace, count: int) -> str:
    """Whether the teacher-forced probability of the reference action predicts which groups disagree: `count`
    shuffled training call turns, each with its reference action's log-probability and its exact calls in
    `--samples` completions at the run's temperature; a table by tenths of the log-probability."""
    model, tokenizer = load_policy(args.model)
    config = probe_config(args)
    turns = call_turns(args.data)
    random.Random(0).shuffle(turns)
    turns = turns[:count]
    model.eval()
    with torch.no_grad():
        logps = [reference_logprob(model, tokenizer, [turn]) for turn in turns]
    counts = exact_counts(model, tokenizer, turns, args.samples, temperature=config.temperature, seed=5)
    rows = sorted(zip(logps, counts, strict=True))
    lines = ["| reference action log-prob | p | sampled exact | groups that disagree |", "|---|---|---|---|"]
    size = max(len(rows) // 10, 1)
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        mean = sum(r[0] for r in part) / len(part)
        exact = sum(r[1] for r in part) / (len(part) * args.samples)
        mixed = sum(0 < r[1] < args.samples for r in part)
        span = f"{part[0][0]:.2f} to {part[-1][0]:.2f}"
        lines.append(f"| {span} | {math.exp(mean):.2f} | {exact:.2f} | {mixed}/{len(part)} |")
    mixed = sum(0 < c < args.samples for c in counts)
    lines.append(f"\nall: {mixed} of {len(counts)} groups of {args.samples} disagree on the exact call")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/probe/sft-think/model")
    parser.add_argument("--data", default="runs/probe/data/train.jsonl")
    parser.add_argument("--heldout", default="runs/probe/data/valid.jsonl")
    parser.add_argument("--out", required=not TOY)
    parser.add_argument("--run", default="default")
    parser.add_argument(
        "--set",
        action="append",
        default=list(TOY_GRPO) if TOY else [],
        help="a GRPO config field, FIELD=VALUE",
    )
    parser.add_argument("--probes", type=int, default=2 if TOY else 32)
    parser.add_argument("--samples", type=int, default=2 if TOY else 10)
    parser.add_argument(
        "--measure-samples", type=int, default=2 if TOY else 4, help="samples per turn measured"
    )
    parser.add_argument("--steps", type=int, default=2 if TOY else 60)
    parser.add_argument("--every", type=int, default=1 if TOY else 10)
    parser.add_argument("--cosine", action="store_true")
    parser.add_argument(
        "--null", action="store_true", help="shuffle each group's rewards: the no-signal control"
    )
    parser.add_argument(
        "--all-heldout", type=int, default=4 if TOY else 160, help="unselected held-out call turns measured"
    )
    parser.add_argument(
        "--any-turns", action="store_true", default=TOY, help="the first call turns, unselected"
    )
    parser.add_argument(
        "--summary", action="store_true", help="print the table of the runs in --out and stop"
    )
    parser.add_argument(
        "--pass-rates",
        type=int,
        default=0,
        metavar="N",
        help="print, for N training call turns, the reference action's probability against the exact calls "
        "in --samples completions, and stop",
    )
    args = parser.parse_args()
    if TOY and not args.out:  # the shipped base on a few generated turns, in a temporary directory
        root = toy_directory()
        data = toy_data(root)
        args.out, args.model = str(root / "sweep"), str(pretrained_base())
        args.data, args.heldout = str(data["train"]), str(data["valid"])
    out = Path(args.out)
    if args.summary:
        print(summary(out))
        return
    if args.pass_rates:
        print(pass_rates(args, args.pass_rates))
        return
    out.mkdir(parents=True, exist_ok=True)
    probe_ids, heldout_ids = probe_sets(args, out)
    print(f"{len(probe_ids)} probe turns, {len(heldout_ids)} held-out turns", flush=True)
    row = train_on_probes(args, probe_ids, heldout_ids)
    (out / f"{args.run}.json").write_text(json.dumps(row, indent=1), encoding="utf-8")
    print(summary(out))


if __name__ == "__main__":
    main()

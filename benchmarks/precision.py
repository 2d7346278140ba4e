"""bfloat16 against float32 for greedy turns: how much faster, and how many completions change.

Loads `--model` twice, in float32 and in bfloat16, and writes the greedy next turn of the first `--turns` scored
turns of a split through the turn view (`rollout.turns.run_turns`, the path `thinkact eval` takes), timing each.
It reports the seconds of each precision and, against float32, the share of completions that are token for token
the same and the share whose parsed exact-call verdict is the same. bfloat16 is a precision choice, not a speed
option that keeps the tokens: a CPU with AVX-512 BF16 multiplies bf16 matrices about twice as fast, and the
rounding changes some greedy choices. A measurement, not a test.

    .venv/bin/python benchmarks/precision.py --model runs/smollm2 --data runs/demo/data/test_id.jsonl \\
        [--turns 48] [--max-new-tokens 64] [--batch-size 16] [--threads 1] [--toy]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from workspace import machine, parse_toy_args, print_table, toy_data, toy_directory, write_results

from thinkact.data.conversations import read_conversations
from thinkact.envs.prompts import turn_prompts
from thinkact.envs.registry import bind_tools
from thinkact.models.load import load_policy
from thinkact.models.tiny import pretrained_base
from thinkact.parse import parse_action
from thinkact.rewards.components import score_tool_exact
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import run_turns


def greedy_turns(args: argparse.Namespace, dtype: torch.dtype) -> tuple[list[list[int]], list[float], float]:
    """Each turn's greedy completion tokens and its exact-call score (call turns; nan elsewhere), and the seconds."""
    model, tokenizer = load_policy(args.model, dtype=dtype)
    prompts = turn_prompts(bind_tools(read_conversations(args.data)))[: args.turns]
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.0, batch_size=args.batch_size)
    started = time.perf_counter()
    steps = run_turns(model, tokenizer, prompts, sampling)
    seconds = time.perf_counter() - started
    tokens = [list(turn[0].ids or []) for turn in steps]
    exact = [
        score_tool_exact(parse_action(turn[0].text), prompt.action, prompt.tools)
        if prompt.action.tool_calls
        else float("nan")
        for turn, prompt in zip(steps, prompts, strict=True)
    ]
    return tokens, exact, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the shipped pretrained base)")
    parser.add_argument("--data", help="conversations whose scored turns are written (default: generated)")
    parser.add_argument("--turns", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parse_toy_args(parser, {"turns": 3, "max_new_tokens": 4})
    torch.set_num_threads(args.threads)
    args.model = args.model or str(pretrained_base())
    if not args.data:
        args.data = str(toy_data(toy_directory())["test_id"])
    fp32_tokens, fp32_exact, fp32_seconds = greedy_turns(args, torch.float32)
    bf16_tokens, bf16_exact, bf16_seconds = greedy_turns(args, torch.bfloat16)
    calls = [i for i, value in enumerate(fp32_exact) if value == value]  # not nan: call turns
    rows: list[dict[str, Any]] = [
        {"dtype": "float32", "turns": len(fp32_tokens), "seconds": fp32_seconds, "same_tokens": 1.0},
        {
            "dtype": "bfloat16",
            "turns": len(bf16_tokens),
            "seconds": bf16_seconds,
            "same_tokens": sum(a == b for a, b in zip(fp32_tokens, bf16_tokens, strict=True))
            / len(fp32_tokens),
        },
    ]
    rows[1]["same_exact_verdict"] = (
        sum(fp32_exact[i] == bf16_exact[i] for i in calls) / len(calls) if calls else float("nan")
    )
    rows[0]["same_exact_verdict"] = 1.0
    rows[0]["exact_call"] = sum(fp32_exact[i] for i in calls) / len(calls) if calls else float("nan")
    rows[1]["exact_call"] = sum(bf16_exact[i] for i in calls) / len(calls) if calls else float("nan")
    print_table(f"greedy turns of {args.model}, {args.threads} thread(s)", rows)
    record = {"args": vars(args), "machine": machine(), "rows": rows}
    print(f"\nwritten to {write_results('precision', record, toy=args.toy)}")


if __name__ == "__main__":
    main()

"""What SFT keeps of the base's tool reading: teacher-forced call accuracy before and after (not a test).

For each model directory, the pretraining log's call probe (`train/pretrain.CallProbe`: given everything before
each token of a call, is the token predicted greedily?) on two sets of conversations, each with and without the
reasoning: 48 held-out corpus conversations over tools invented for them, where a call can only be right by
reading the tool list and copying from the request, and the first 60 conversations of a benchmark file. Prints the
share of call tokens predicted and the share of calls predicted whole. A base that keeps its reading after SFT
keeps its corpus figures; one that forgot them has learned the benchmark's tools by heart instead.

    .venv/bin/python benchmarks/call_probe.py MODEL_DIR [MODEL_DIR ...] [--data runs/demo/data/test_id.jsonl]
        [--corpus 48] [--conversations 60] [--toy]

With `--toy` and no model, it probes the shipped pretrained base on generated data.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from workspace import parse_probe_args

from thinkact.data.conversations import read_conversations
from thinkact.models.load import load_policy
from thinkact.train.corpus import generate_conversations
from thinkact.train.pretrain import CallProbe

Pairs = list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]


def without_reasoning(pairs: Pairs) -> Pairs:
    """The same conversations with every assistant turn's reasoning removed (rendered with an empty think)."""
    stripped = []
    for messages, tools in pairs:
        messages = copy.deepcopy(messages)
        for message in messages:
            message.pop("reasoning_content", None)
        stripped.append((messages, tools))
    return stripped


def main() -> None:
    args = parse_probe_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), 60)
    corpus: Pairs = [
        (r["messages"], r["tools"]) for r in generate_conversations(args.corpus, 10_000, invented=1.0)
    ]
    bench: Pairs = [(c.messages, c.tools) for c in read_conversations(args.data)[: args.conversations]]
    sets = {
        "corpus, reasoning": corpus,
        "corpus, none": without_reasoning(corpus),
        "benchmark, reasoning": bench,
        "benchmark, none": without_reasoning(bench),
    }
    print("model | " + " | ".join(f"{name}: tokens, calls" for name in sets))
    for path in args.models:
        model, tokenizer = load_policy(path)
        cells = []
        for pairs in sets.values():
            measured = CallProbe.from_conversations(tokenizer, pairs).measure(model)
            cells.append(f"{measured['call_token_accuracy']:.3f}, {measured['call_exact']:.3f}")
        print(f"{path} | " + " | ".join(cells))


if __name__ == "__main__":
    main()

"""Does a model copy a request's words into its calls? Teacher-forced accuracy on copied values (not a test).

For each model directory and each set of conversations (rendered without reasoning), every token of a call's
arguments whose value the conversation states before the call (a copied value: "Lisbon" of "weather in
Lisbon?") is checked greedily, given everything before it, as `train/pretrain.CallProbe` does for whole calls.
The first token of a value is a choice (which entity); the later ones are copying proper: a model that copies
predicts them whatever the word, one that recalls predicts them only for words it has seen. Tool-name tokens are
counted apart. Sets: 48 held-out invented-tool corpus conversations, the same with their entities respelled
(`data.words.spelled_name`, as `pretrain.respell` does), and the first 80 conversations of a benchmark file.

    .venv/bin/python benchmarks/copy_probe.py MODEL_DIR [MODEL_DIR ...] [--data runs/demo/data/test_id.jsonl]
        [--corpus 48] [--conversations 80] [--toy]

With `--toy` and no model, it probes the shipped pretrained base on generated data.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

import torch
from workspace import parse_probe_args

from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.rename import fresh_entities
from thinkact.models.chat import render
from thinkact.models.load import load_policy
from thinkact.train.corpus import generate_conversations

Pair = tuple[list[dict[str, Any]], list[dict[str, Any]]]
ROLES = ("copied, first token", "copied, later tokens", "tool name")


def token_roles(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple:
    """(token ids, {position: role}) for one conversation rendered without reasoning."""
    messages = [{k: v for k, v in m.items() if k != "reasoning_content"} for m in messages]
    text = render(tokenizer, messages, tools, add_generation_prompt=False)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = [start for start, _ in encoded["offset_mapping"]]
    roles: dict[int, str] = {}
    stated = ""  # the text before the current call: what a copy may come from
    at = text.find("<|im_start|>user")  # not the system prompt's format example
    while (begin := text.find("<tool_call>\n", at)) >= 0:
        stated += text[at:begin]
        end = text.find("\n</tool_call>", begin)
        body_at = begin + len("<tool_call>\n")
        body = text[body_at:end]
        try:
            call = json.loads(body)
        except json.JSONDecodeError:
            at = end
            continue
        spans = []
        name = json.dumps(call.get("name", ""))
        if (found := body.find(name)) >= 0:
            spans.append((found + 1, found + len(name) - 1, "tool name"))
        for value in (call.get("arguments") or {}).values():
            quoted = json.dumps(value)
            if (
                isinstance(value, str)
                and len(value) > 1
                and value in stated
                and (found := body.find(quoted)) >= 0
            ):
                spans.append((found + 1, found + len(quoted) - 1, "copied"))
        for first, last, role in spans:
            inside = [i for i, s in enumerate(starts) if body_at + first <= s < body_at + last]
            for n, position in enumerate(inside):
                roles[position] = role if role == "tool name" else ROLES[0] if n == 0 else ROLES[1]
        at = end
    return torch.tensor(encoded["input_ids"]), roles


@torch.no_grad()
def measure(model: torch.nn.Module, tokenizer: Any, pairs: list[Pair]) -> dict[str, tuple[int, int]]:
    """{role: (tokens predicted, tokens)}."""
    counts = {role: [0, 0] for role in ROLES}
    for messages, tools in pairs:
        ids, roles = token_roles(tokenizer, messages, tools)
        if not roles:
            continue
        predicted = model(input_ids=ids[None]).logits[0].argmax(-1)
        for position, role in roles.items():
            counts[role][0] += int(predicted[position - 1] == ids[position])
            counts[role][1] += 1
    return {role: (right, total) for role, (right, total) in counts.items()}


def main() -> None:
    args = parse_probe_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), 80)
    records = generate_conversations(args.corpus, 10_000, invented=1.0)
    corpus: list[Pair] = [(r["messages"], r["tools"]) for r in records]
    rng = random.Random(0)
    respelled: list[Pair] = [
        (fresh_entities(Conversation(f"c{i}", messages, tools), rng).messages, tools)
        for i, (messages, tools) in enumerate(corpus)
    ]
    bench: list[Pair] = [(c.messages, c.tools) for c in read_conversations(args.data)[: args.conversations]]
    sets = {"corpus": corpus, "corpus respelled": respelled, "benchmark": bench}
    print("model | set | " + " | ".join(ROLES))
    for path in args.models:
        model, tokenizer = load_policy(path)
        model.eval()
        for name, pairs in sets.items():
            counts = measure(model, tokenizer, pairs)
            cells = [f"{right / max(total, 1):.3f} of {total}" for right, total in counts.values()]
            print(f"{path} | {name} | " + " | ".join(cells))


if __name__ == "__main__":
    main()

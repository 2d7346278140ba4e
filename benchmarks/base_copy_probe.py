"""Does the pretrained tiny base read the tool list and copy entities? (a measurement, not a test)

Takes the first call turn of 60 corpus conversations from a seed the shipped base never trained on (in-domain for
the base: its own tools and phrasing), predicts each greedily, and prints the share of turns with the right tool
names, the share of exact calls, and how many capitalised string arguments occur verbatim in the user's words.

    .venv/bin/python benchmarks/base_copy_probe.py [MODEL_DIR] [--conversations 60] [--toy]
"""

from __future__ import annotations

import argparse

import torch
from workspace import parse_toy_args

from thinkact.models.load import load_policy
from thinkact.models.tiny import pretrained_base
from thinkact.parse import parse_action
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import chat_prompt, run_turns
from thinkact.train.corpus import generate_conversations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model directory (default: the shipped pretrained base)")
    parser.add_argument("--conversations", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parse_toy_args(parser, {"conversations": 4})
    torch.set_num_threads(args.threads)
    model, tokenizer = load_policy(args.model or str(pretrained_base()))
    prompts, tools, references = [], [], []
    for record in generate_conversations(args.conversations, seed=99):
        messages = record["messages"]
        for index, message in enumerate(messages):
            if message["role"] == "assistant" and message.get("tool_calls"):
                prompts.append(messages[:index])
                tools.append(record["tools"])
                references.append(
                    {c["function"]["name"]: c["function"]["arguments"] for c in message["tool_calls"]}
                )
                break
    greedy = Sampling(max_new_tokens=96, temperature=0.0, batch_size=32)
    outputs = run_turns(
        model, tokenizer, [chat_prompt(p, t) for p, t in zip(prompts, tools, strict=True)], greedy
    )
    names = exact = copied = strings = 0
    for prompt, reference, (step,) in zip(prompts, references, outputs, strict=True):
        action = parse_action(step.text)
        user = " ".join(m["content"] for m in prompt if m["role"] == "user")
        predicted = {call.name: call.arguments for call in action.tool_calls}
        names += sorted(predicted) == sorted(reference)
        exact += predicted == reference
        for call in action.tool_calls:
            for value in call.arguments.values():
                if isinstance(value, str) and value[:1].isupper():
                    strings += 1
                    copied += value in user
    count = len(prompts)
    print(
        f"{count} call turns: tool names right {names / count:.2f}, exact calls {exact / count:.2f}, "
        f"capitalised string arguments found in the request {copied}/{strings}"
    )


if __name__ == "__main__":
    main()

"""What an SFT prompt is made of: mean prompt tokens per assistant turn, with and without the tool schemas.

Every assistant turn of a chat-format JSONL file is rendered with the model's own chat template and tokeniser
(`models/chat.encode_prompt`): once whole, once without its tools, and once as the system message (or the first
message) and the tools alone. Usage (the demo's training data and base):

    .venv/bin/python benchmarks/prompt_parts.py runs/demo/base runs/demo/data/train.jsonl

With `--toy` and no model, the shipped pretrained base and a few generated conversations.
"""

from __future__ import annotations

import argparse

from workspace import parse_toy_args, toy_data, toy_directory

from thinkact.data.conversations import read_conversations, split_turns
from thinkact.models.chat import encode_prompt
from thinkact.models.load import load_tokenizer
from thinkact.models.tiny import pretrained_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model directory (its tokeniser and chat template are used)")
    parser.add_argument("data", nargs="?", help="chat-format JSONL")
    args = parse_toy_args(parser, {})
    if args.toy and not args.model:
        args.model = str(pretrained_base())
        args.data = str(toy_data(toy_directory())["train"])
    if not args.data:
        parser.error("give a model directory and a chat-format JSONL file")
    tokenizer = load_tokenizer(args.model)
    whole = without_tools = system_and_tools = turns = 0
    for conversation in read_conversations(args.data):
        for turn in split_turns(conversation):
            head = [m for m in turn.messages if m["role"] == "system"][:1] or turn.messages[:1]
            whole += len(encode_prompt(tokenizer, turn.messages, turn.tools))
            without_tools += len(encode_prompt(tokenizer, turn.messages, []))
            system_and_tools += len(encode_prompt(tokenizer, head, turn.tools))
            turns += 1
    schemas = whole - without_tools
    print(
        f"{turns} turns; mean prompt tokens: {whole / turns:.1f} whole, {without_tools / turns:.1f} without tools"
    )
    print(f"tool schemas: {schemas / turns:.1f} tokens a prompt ({schemas / whole:.0%})")
    print(f"system message and tools alone: {system_and_tools / turns:.1f} tokens")


if __name__ == "__main__":
    main()

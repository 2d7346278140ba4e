"""Prompt and completion lengths of the tiny tokenizer under three pre-splits (not a test).

Trains the tiny model's tokenizer on the bundled corpus three ways (the default: capitalised words and digits
split off, the rest merging freely; merges across everything, the default until 2026-12-01; GPT-2's pre-split),
prints the mean token counts of the first 150 `test_id` turns (prompt = rendered history with tools,
completion = think block and action) and whether an entity is cut the same in prose and in JSON.

    .venv/bin/python benchmarks/tokenizer_lengths.py [--conversations 60] [--toy]

With `--toy`, the tokenizers of the tests' smaller model (a smaller corpus and vocabulary) on 4 conversations.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast
from workspace import TOY_MODEL, parse_toy_args

from thinkact.bench.synthetic import generate_benchmark
from thinkact.bench.synthetic.rendered import bundled_corpus
from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.models.chat import encode_turn
from thinkact.models.tiny import SPECIAL_TOKENS, TinyModelConfig, qwen3_chat_template, train_tokenizer


def other_tokenizer(corpus: list[str], vocab_size: int, gpt2: bool) -> PreTrainedTokenizerFast:
    """The same BPE with GPT-2's pre-split (merges never cross spaces or punctuation), or with none at all."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=gpt2)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=16,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=qwen3_chat_template(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--conversations", type=int, default=60, help="test_id conversations (their first 150 turns)"
    )
    args = parse_toy_args(parser, {"conversations": 4})
    config = TOY_MODEL if args.toy else TinyModelConfig()
    corpus = bundled_corpus(config.corpus_conversations, seed=0)
    data = Path(tempfile.mkdtemp(prefix="thinkact-tok-"))
    generate_benchmark(data, seed=0, train=0, valid=0, test_id=args.conversations, test_ood=0)
    turns = turn_examples(read_conversations(data / "test_id.jsonl"))[:150]
    candidates = {
        "entities split off (default)": train_tokenizer(corpus, config.vocab_size, config.max_token_chars),
        "merges across everything": other_tokenizer(corpus, config.vocab_size, gpt2=False),
        "GPT-2 pre-split": other_tokenizer(corpus, config.vocab_size, gpt2=True),
    }
    for name, tokenizer in candidates.items():
        lengths = [encode_turn(tokenizer, turn) for turn in turns]
        prompt = sum(len(p) for p, _ in lengths) / len(lengths)
        completion = sum(len(c) for _, c in lengths) / len(lengths)
        same = all(_contains(tokenizer, text, entity) for entity, texts in ENTITIES for text in texts)
        print(
            f"{name}: vocabulary {len(tokenizer)}, prompt {prompt:.0f} tokens, completion {completion:.0f} tokens, "
            f"entities cut the same in prose and JSON: {same}"
        )


ENTITIES = (
    ("Paris", ("weather in Paris tomorrow", '"city": "Paris"')),
    ("250", ("Send 250 euros", '"amount": 250')),
)


def _contains(tokenizer: PreTrainedTokenizerFast, text: str, entity: str) -> bool:
    pieces = tokenizer(entity, add_special_tokens=False)["input_ids"]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return any(ids[i : i + len(pieces)] == pieces for i in range(len(ids)))


if __name__ == "__main__":
    main()

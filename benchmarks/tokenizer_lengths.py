"""Prompt and completion lengths of the tiny tokenizer, with and without GPT-2 pre-splitting (not a test).

Trains the tiny model's tokenizer on the bundled corpus both ways and prints the mean token counts of the first
150 `test_id` turns (prompt = rendered history with tools, completion = think block and action).

    .venv/bin/python benchmarks/tokenizer_lengths.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from thinkact.bench.synthetic import generate_benchmark
from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.models.chat import encode_turn
from thinkact.models.tiny import (
    SPECIAL_TOKENS,
    TinyModelConfig,
    bundled_corpus,
    qwen3_chat_template,
    train_tokenizer,
)


def gpt2_split_tokenizer(corpus: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """The same BPE with GPT-2's pre-split (merges never cross spaces or punctuation)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=qwen3_chat_template(),
    )


def main() -> None:
    config = TinyModelConfig()
    corpus = bundled_corpus(config.corpus_conversations, seed=0)
    data = Path(tempfile.mkdtemp(prefix="thinkact-tok-"))
    generate_benchmark(data, seed=0, train=0, test_id=60, test_ood=0)
    turns = turn_examples(read_conversations(data / "test_id.jsonl"))[:150]
    candidates = {
        "merges across spaces (default)": train_tokenizer(corpus, config.vocab_size, config.max_token_chars),
        "GPT-2 pre-split": gpt2_split_tokenizer(corpus, config.vocab_size),
    }
    for name, tokenizer in candidates.items():
        lengths = [encode_turn(tokenizer, turn) for turn in turns]
        prompt = sum(len(p) for p, _ in lengths) / len(lengths)
        completion = sum(len(c) for _, c in lengths) / len(lengths)
        print(
            f"{name}: vocabulary {len(tokenizer)}, prompt {prompt:.0f} tokens, completion {completion:.0f} tokens"
        )


if __name__ == "__main__":
    main()

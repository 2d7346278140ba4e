"""The bundled benchmark as rendered text: what the tiny model's tokenizer learns its merges from.

`build_tiny_model` and `run_pretrain` take this text from their callers rather than generate it, because the
benchmark is a later stage than models and training: `tokenizer_text` gives `build_tiny_model` its default text
and `pretrain_vocabulary` gives `run_pretrain` the benchmark text of a pretraining config. Left out: any text
besides the benchmark's conversations (the pretraining corpus is `train/corpus/`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkact.bench.synthetic.splits import generate_split
from thinkact.models.chat import render
from thinkact.models.tiny import SPECIAL_TOKENS, TinyModelConfig, train_tokenizer

if TYPE_CHECKING:
    from thinkact.train.pretrain import PretrainConfig


def bundled_corpus(
    conversations: int, seed: int, splits: tuple[str, ...] = ("train", "test_id", "test_ood")
) -> list[str]:
    """Text for the tokenizer: bundled-benchmark conversations rendered with Qwen3's chat template (test splits
    get a tenth as many)."""
    # A merge-free byte-level tokenizer, just to render the template through transformers' own renderer.
    renderer = train_tokenizer(["bootstrap"], vocab_size=len(SPECIAL_TOKENS) + 256)
    texts = []
    for split in splits:
        count = conversations if split == "train" else max(conversations // 10, 1)
        for conversation in generate_split(split, count, seed):
            texts.append(
                render(renderer, conversation.messages, conversation.tools, add_generation_prompt=False)
            )
    return texts


def tokenizer_text(config: TinyModelConfig | None, seed: int) -> list[str]:
    """The text `build_tiny_model` trains a tiny model's tokenizer on: `config.corpus_conversations` bundled
    conversations of each split (the default config's when `config` is None), generated with `seed`."""
    return bundled_corpus((config or TinyModelConfig()).corpus_conversations, seed)


def pretrain_vocabulary(config: PretrainConfig) -> list[str]:
    """The benchmark text `run_pretrain` adds to its corpus to train the tokenizer: the train split's first
    `config.tokenizer_benchmark_conversations` conversations; none when `config.init` gives the model."""
    if config.init is not None:
        return []
    return bundled_corpus(config.tokenizer_benchmark_conversations, config.seed, ("train",))

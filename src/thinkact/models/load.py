"""Load a policy (any HF causal LM directory or hub id already in the local cache) with its tokenizer.

Loading never downloads unless the user allows it (`local_files_only=True` by default) and never runs remote
code unless asked (`trust_remote_code=False`). Tokenizers get left padding (batched generation) and a pad token.
A model without a chat template that renders tools is refused with the fix, since the whole toolkit speaks
Qwen3's action format through the template.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from thinkact.errors import UserError
from thinkact.models.tiny import qwen3_chat_template


def load_tokenizer(path: str | Path, *, allow_download: bool = False) -> PreTrainedTokenizerBase:
    _check_directory(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path), local_files_only=not allow_download, padding_side="left"
        )
    except OSError as error:
        raise UserError(_missing_model_message(path, error)) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise UserError(
            f"{path}: the tokenizer has no chat template; thinkact needs one that renders tools and <tool_call> "
            "actions (Qwen3's is at thinkact/models/templates/qwen3.jinja: set tokenizer.chat_template to it)"
        )
    return tokenizer


DTYPES = ("float32", "bfloat16")
"""The precisions a config may name for a local model (`eval.dtype`, `grpo.update_dtype`)."""


def load_policy(
    path: str | Path,
    *,
    dtype: torch.dtype | str = torch.float32,
    allow_download: bool = False,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model and tokenizer at `path` (a directory, or a hub id already in the local cache)."""
    tokenizer = load_tokenizer(path, allow_download=allow_download)
    kwargs: dict[str, Any] = {"local_files_only": not allow_download, "trust_remote_code": trust_remote_code}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kwargs)
    except OSError as error:
        raise UserError(_missing_model_message(path, error)) from None
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _check_directory(path: str | Path) -> None:
    candidate = Path(path)
    if not candidate.exists() and str(path).startswith(("/", ".", "~")):
        raise UserError(
            f"{path}: no such model directory; build the tiny model with `thinkact init-model --out {path}` "
            "or pass a directory saved with save_pretrained"
        )
    if candidate.is_dir() and not (candidate / "config.json").is_file():
        raise UserError(f"{path}: no config.json in this directory; pass a model saved with save_pretrained")


def _missing_model_message(path: str | Path, error: OSError) -> str:
    reason = str(error).splitlines()[0]
    if _looks_like_hub_id(path):
        return (
            f"{path}: not in the local Hugging Face cache ({reason}); download it first with "
            f"`hf download {path}` (thinkact never downloads by itself), or pass a model directory"
        )
    return (
        f"{path}: not a model directory, and not in the local Hugging Face cache ({reason}); "
        f"build the tiny model with `thinkact init-model --out {path}`, or pass a directory saved with "
        "save_pretrained"
    )


def _looks_like_hub_id(path: str | Path) -> bool:
    """`owner/name` as the hub spells ids, and no such local path.

    >>> _looks_like_hub_id("Qwen/Qwen3-1.7B"), _looks_like_hub_id("runs/tiny-model/x"), _looks_like_hub_id("m")
    (True, False, False)
    """
    text = str(path)
    return not Path(text).exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", text) is not None


__all__ = ["load_policy", "load_tokenizer", "qwen3_chat_template"]

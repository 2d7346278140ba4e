"""Optional extras: a command that needs a missing one stops with the pip command that installs it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

from thinkact.errors import UserError
from thinkact.eval.endpoint import EndpointConfig, make_client
from thinkact.models.gguf import read_header
from thinkact.models.qwen3 import build_qwen3_tokenizer
from thinkact.serve import require_serve_extra


@pytest.mark.parametrize(
    ("missing", "call", "extra"),
    [
        ("uvicorn", require_serve_extra, "thinkact[serve]"),
        (
            "openai",
            lambda: make_client(EndpointConfig(url="http://127.0.0.1:1/v1", model="m")),
            "thinkact[serve]",
        ),
        ("tiktoken", build_qwen3_tokenizer, "thinkact[qwen]"),
        ("gguf", lambda: read_header("model.gguf"), "thinkact[gguf]"),
    ],
)
def test_missing_extra_names_the_install(
    monkeypatch: pytest.MonkeyPatch, missing: str, call: Callable[[], object], extra: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a)
    )
    with pytest.raises(UserError) as caught:
        call()
    assert missing in str(caught.value) and f"pip install '{extra}'" in str(caught.value)

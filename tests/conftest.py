"""Shared fixtures, built once per test session: a small generated dataset, a very small tiny model, and a tiny
Llama GGUF with its converted model directory (skipped without the gguf package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinkact.bench.synthetic import generate_benchmark
from thinkact.bench.synthetic.rendered import tokenizer_text
from thinkact.cli.apps import app
from thinkact.models.tiny import TEST_SHAPE, build_tiny_model

TEST_MODEL = TEST_SHAPE  # the default's architecture at test size (`models/tiny.py`)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate_benchmark(out, seed=3, train=24, valid=6, test_id=6, test_ood=6)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tiny"
    return build_tiny_model(out, texts=tokenizer_text(TEST_MODEL, seed=0), seed=0, config=TEST_MODEL)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A tiny Llama GGUF (`tests/llama_gguf.py`) and the transformers model whose weights it holds."""
    pytest.importorskip("gguf")  # the `gguf` extra: without it the GGUF tests skip, the rest run
    from tests.llama_gguf import CHATML, write_tiny_gguf  # imports gguf

    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.Q8_0.gguf"
    return path, write_tiny_gguf(path, CHATML)


@pytest.fixture(scope="session")
def llama_model_dir(tiny_gguf: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama GGUF converted by `thinkact init-model --from-gguf`: a real, non-Qwen3 architecture and a
    vocabulary whose action tags are several tokens each."""
    out = tmp_path_factory.mktemp("converted") / "model"
    result = CliRunner().invoke(app, ["init-model", "--from-gguf", str(tiny_gguf[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out

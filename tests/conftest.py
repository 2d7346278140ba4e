"""Shared fixtures: a small generated dataset and a very small tiny model, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkact.bench.synthetic import generate_benchmark
from thinkact.models.tiny import TinyModelConfig, build_tiny_model

# Smaller than the demo's model so that component tests take seconds; same architecture and code path.
TEST_MODEL = TinyModelConfig(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=128,
    num_layers=2,
    num_heads=2,
    num_kv_heads=1,
    head_dim=32,
    corpus_conversations=60,
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate_benchmark(out, seed=3, train=24, valid=6, test_id=6, test_ood=6)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny", seed=0, config=TEST_MODEL)

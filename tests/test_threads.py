"""The torch thread count: the config's value, else OMP_NUM_THREADS, else the cores this process may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from thinkact import threads
from thinkact.errors import UserError
from thinkact.train.grpo_config import GRPORunConfig
from thinkact.train.sft import SFTRunConfig


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_configured_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.apply_threads(3) == 3 == torch.get_num_threads()


def test_zero_takes_the_environment_then_the_available_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.apply_threads(0) == 2 == torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2})  # a process allowed 3 cores
    assert threads.apply_threads(0) == 3 == torch.get_num_threads()


@pytest.mark.parametrize("make", [lambda: SFTRunConfig(threads=-1), lambda: GRPORunConfig(threads=-1)])
def test_a_negative_count_is_refused_by_name(make: object) -> None:
    with pytest.raises(UserError, match="threads"):
        make()  # type: ignore[operator]

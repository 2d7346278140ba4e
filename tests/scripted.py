"""Scripted generation for tests: a stand-in for `rollout.loop.sample` that replays given token ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thinkact.rollout.generation import Completion

Sample = Callable[..., list[list[Completion]]]


def scripted_sample(completions: list[list[int]]) -> Sample:
    """`sample` for one prompt at a time: each call returns the next of `completions` (token ids), untruncated.
    Patch it in with `monkeypatch.setattr(loop_module, "sample", scripted_sample(completions))`."""
    calls = iter(completions)

    def sample(model: Any, tokenizer: Any, prompts: list[list[int]], **_: Any) -> list[list[Completion]]:
        return [[Completion(prompts[0], next(calls), truncated=False)]]

    return sample

"""The serving engine: one worker thread owns the model and batches the requests that arrive together.

Requests go into a queue. The worker takes the first, then gathers whatever else arrives within `wait_ms` (up to
`max_batch`), and runs the requests with equal decoding settings as one batched `rollout.generation.sample`: the
same left-padded `generate` that evaluation and training use. A streamed request runs alone, its tokens handed out
as `generate` makes them. Only the worker touches the model, so requests never race on it.

Left out: continuous batching (a batch runs to its longest completion before the next starts) and a KV cache
shared across requests; for serving at scale, vLLM or SGLang serve the same checkpoint and protocol.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from transformers.generation.streamers import BaseStreamer

from thinkact.rollout.generation import Completion
from thinkact.serve.protocol import Settings

# (prompts, settings, streamer or None) → one completion per prompt, in order.
GenerateFunction = Callable[[list[list[int]], Settings, BaseStreamer | None], list[Completion]]

_END = object()


@dataclass
class _Job:
    prompt: list[int]
    settings: Settings
    future: Future[Completion] = field(default_factory=Future)
    tokens: queue.Queue[Any] | None = None
    """Set for streamed jobs: each new token id, then `_END`."""


class TokenStreamer(BaseStreamer):
    """Receives `generate`'s tokens (the prompt first, which is skipped) and queues them for the response."""

    def __init__(self, tokens: queue.Queue[Any]) -> None:
        self.tokens = tokens
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.tokens.put(int(token))

    def end(self) -> None:
        pass  # the worker ends the stream once the completion is cut, so errors reach the reader too


class BatchEngine:
    """Batches concurrent requests into `generate` calls on one worker thread."""

    def __init__(self, generate: GenerateFunction, *, max_batch: int = 16, wait_ms: float = 5.0) -> None:
        self.generate = generate
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000
        self.batch_sizes: list[int] = []
        """Size of every batch run so far (for tests and logs)."""
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="thinkact-serve-engine", daemon=True)
        self._worker.start()

    def submit(self, prompt: list[int], settings: Settings) -> Future[Completion]:
        job = _Job(prompt, settings)
        self._jobs.put(job)
        return job.future

    def stream(self, prompt: list[int], settings: Settings) -> tuple[Iterator[int], Future[Completion]]:
        """The completion's token ids as they are made, and the finished completion."""
        tokens: queue.Queue[Any] = queue.Queue()
        job = _Job(prompt, settings, tokens=tokens)
        self._jobs.put(job)

        def read() -> Iterator[int]:
            while (token := tokens.get()) is not _END:
                yield token

        return read(), job.future

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=30)

    def _run(self) -> None:
        while (first := self._jobs.get()) is not None:
            if first.tokens is not None:
                self._execute([first])
                continue
            batch, closing = self._gather(first)
            groups: dict[Settings, list[_Job]] = {}
            for job in batch:
                groups.setdefault(job.settings, []).append(job)
            for jobs in groups.values():
                self._execute(jobs)
            if closing:
                return

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """The first job and those that arrive within the wait window; streamed ones wait their turn."""
        batch: list[_Job] = [first]
        later: list[_Job] = []
        while len(batch) < self.max_batch:
            try:
                job = self._jobs.get(timeout=self.wait_s)
            except queue.Empty:
                break
            if job is None:
                for waiting in later:
                    self._execute([waiting])
                return batch, True
            (later if job.tokens is not None else batch).append(job)
        for waiting in later:
            self._jobs.put(waiting)
        return batch, False

    def _execute(self, jobs: list[_Job]) -> None:
        streamed = jobs[0].tokens
        try:
            self.batch_sizes.append(len(jobs))
            completions = self.generate(
                [job.prompt for job in jobs],
                jobs[0].settings,
                TokenStreamer(streamed) if streamed is not None else None,
            )
        except Exception as error:  # handed to the request that waits on it, which answers 500
            for job in jobs:
                job.future.set_exception(error)
        else:
            for job, completion in zip(jobs, completions, strict=True):
                job.future.set_result(completion)
        finally:
            if streamed is not None:
                streamed.put(_END)

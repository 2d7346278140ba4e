"""Serving a policy over the OpenAI chat-completions protocol (`thinkact serve`).

`run_serve` loads the model, starts the batching engine and runs the FastAPI app on uvicorn. FastAPI and uvicorn
come with the optional `serve` extra (`pip install 'thinkact[serve]'`); nothing here is imported by the rest of
thinkact. The API key is read from the environment (`THINKACT_API_KEY`, or the variable `api_key_env` names), never
from a config or a flag, so it does not end up in shell history, `ps` or a saved config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from thinkact.errors import UserError

API_KEY_ENV = "THINKACT_API_KEY"
"""The environment variable the server reads its API key from, unless `api_key_env` names another."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""The default cap on a request body: 4 MiB, far above what a context holds (32k tokens are roughly 130 KB)."""


@dataclass
class ServeConfig:
    model: str = ""
    """Model directory (or a hub id already in the local cache)."""
    host: str = "127.0.0.1"
    """Address to listen on (loopback: only this machine can connect)."""
    port: int = 8000
    name: str = ""
    """The model's name in requests and /v1/models (default: --model as given)."""
    max_new_tokens: int = 256
    """Completion tokens when a request gives no max_tokens."""
    max_batch: int = 16
    """Most requests generated together."""
    wait_ms: float = 5.0
    """How long the engine waits for more requests to join a batch."""
    api_key_env: str = API_KEY_ENV
    """Environment variable holding the API key clients must send (`Authorization: Bearer <key>`). When
    THINKACT_API_KEY is unset or empty the server asks for no key; a variable named here must be set."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest request body accepted; a larger one is answered 413 before it is read."""

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise UserError(f"serve: port {self.port} is not a TCP port (0-65535)")
        if self.max_batch < 1 or self.max_new_tokens < 1 or self.wait_ms < 0:
            raise UserError("serve: max_batch and max_new_tokens must be >= 1, wait_ms >= 0")
        if self.max_body_bytes < 1024:
            raise UserError(
                f"serve.max_body_bytes: {self.max_body_bytes} is too small for any request; give at least 1024 "
                f"(default {MAX_BODY_BYTES})"
            )


def read_api_key(config: ServeConfig) -> str | None:
    """The key clients must send, from the environment; None when the server asks for none.

    An unset THINKACT_API_KEY means no key; an unset variable named by `api_key_env` is a mistake (the user
    asked for a key), so it stops with what to do."""
    key = os.environ.get(config.api_key_env, "")
    if key:
        return key
    if config.api_key_env != API_KEY_ENV:
        raise UserError(
            f"serve: --api-key-env {config.api_key_env}: that environment variable is unset or empty; export "
            f"{config.api_key_env}=<key>, or leave out --api-key-env to serve without a key"
        )
    return None


def require_serve_extra() -> None:
    """Stop with the install command when the web stack is missing."""
    import importlib.util

    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"serve: {' and '.join(missing)} not installed; install the serve extra: pip install 'thinkact[serve]'"
        )


def load_served_model(config: ServeConfig) -> Any:
    """The model behind the server: loaded once, generating through the batching engine."""
    from thinkact.models.load import load_policy
    from thinkact.rollout.generation import Completion, sample
    from thinkact.serve.app import ServedModel
    from thinkact.serve.engine import BatchEngine
    from thinkact.serve.protocol import Settings

    model, tokenizer = load_policy(config.model)

    def generate(prompts: list[list[int]], settings: Settings, streamer: Any) -> list[Completion]:
        rows = sample(
            model,
            tokenizer,
            prompts,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            batch_size=len(prompts),
            seed=settings.seed,
            streamer=streamer,
        )
        return [row[0] for row in rows]

    engine = BatchEngine(generate, max_batch=config.max_batch, wait_ms=config.wait_ms)
    context = int(getattr(model.config, "max_position_embeddings", 0) or 4096)
    return ServedModel(config.name or config.model, tokenizer, engine, config.max_new_tokens, context)


def run_serve(config: ServeConfig) -> None:
    """Serve until interrupted."""
    require_serve_extra()
    import uvicorn

    from thinkact.serve.app import create_app

    api_key = read_api_key(config)
    served = load_served_model(config)
    application = create_app(served, api_key=api_key, max_body_bytes=config.max_body_bytes)
    try:
        uvicorn.run(application, host=config.host, port=config.port, log_level="warning")
    finally:
        served.engine.close()

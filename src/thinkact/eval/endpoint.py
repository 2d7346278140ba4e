"""Evaluating a model served elsewhere: any OpenAI-compatible chat-completions endpoint.

`endpoint_predictors` gives the evaluation runner a turn predictor and an episode policy that send each prompt
to the endpoint (thinkact serve, vLLM, SGLang, llama.cpp's server or a hosted API) with the official `openai`
client: greedy (temperature 0), several requests in flight (`concurrency`), retries with exponential backoff on
connection errors, 408, 429 and 5xx (the client's own), and a per-request timeout. The response (its
`reasoning_content`, `content` and `tool_calls`) is turned back into the action format (`rollout.endpoint.
completion_text`), so the same parser, metrics and report score it as they score a local model. The endpoint's
settings, the client and the message conversions live in `rollout/endpoint.py` (the simulated user of kind
`model` uses them too); their names are importable from here as well.

Left out: sampling several completions, and endpoints that speak only the legacy /v1/completions protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from thinkact.errors import UserError
from thinkact.rollout.endpoint import EndpointConfig, completion_text, make_client, wire_messages

__all__ = [
    "EndpointConfig",
    "Prompt",
    "completion_text",
    "endpoint_generator",
    "make_client",
    "wire_messages",
]

Prompt = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""(messages, tools) in thinkact's chat format."""


def endpoint_generator(
    config: EndpointConfig, max_new_tokens: int
) -> Callable[[list[Prompt]], list[tuple[str, int]]]:
    """(completion text, completion tokens) for each (messages, tools), in order, `concurrency` at a time."""
    client = make_client(config)

    def complete(prompt: Prompt) -> tuple[str, int]:
        messages, tools = prompt
        options: dict[str, Any] = {"tools": tools} if tools else {}
        try:
            response = client.chat.completions.create(
                model=config.model,
                messages=wire_messages(messages, send_reasoning=config.send_reasoning),
                temperature=0,
                max_tokens=max_new_tokens,
                **options,
            )
        except Exception as error:
            raise UserError(_failure_message(config, error)) from None
        message = response.choices[0].message.model_dump()
        tokens = response.usage.completion_tokens if response.usage is not None else 0
        return completion_text(message), int(tokens)

    def generate(prompts: list[Prompt]) -> list[tuple[str, int]]:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            return list(pool.map(complete, prompts))

    return generate


def _failure_message(config: EndpointConfig, error: Exception) -> str:
    import openai

    where = f"endpoint {config.url} (model {config.model!r})"
    if isinstance(error, openai.APIConnectionError):
        return (
            f"{where}: cannot connect after {config.retries} retries ({error}); is the server running there?"
        )
    if isinstance(error, openai.AuthenticationError):
        return (
            f"{where}: the API key was refused; put yours in ${config.api_key_env} (or name another variable)"
        )
    if isinstance(error, openai.NotFoundError):
        return f"{where}: not found ({error}); check the URL (it usually ends in /v1) and --served-model"
    if isinstance(error, openai.APIStatusError):
        return f"{where}: HTTP {error.status_code}: {error.message}"
    return f"{where}: the request failed: {type(error).__name__}: {error}"

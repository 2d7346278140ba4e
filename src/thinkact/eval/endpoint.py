"""Evaluating a model served elsewhere: any OpenAI-compatible chat-completions endpoint.

`endpoint_predictors` gives the evaluation runner a turn predictor and an episode policy that send each prompt
to the endpoint (thinkact serve, vLLM, SGLang, llama.cpp's server or a hosted API) with the official `openai`
client: greedy (temperature 0), several requests in flight (`concurrency`), retries with exponential backoff on
connection errors, 408, 429 and 5xx (the client's own), and a per-request timeout. The response (its
`reasoning_content`, `content` and `tool_calls`) is turned back into the action format (`serve.protocol.
completion_text`), so the same parser, metrics and report score it as they score a local model. The API key is
read from an environment variable and is never written anywhere.

Left out: sampling several completions, and endpoints that speak only the legacy /v1/completions protocol.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from thinkact.errors import UserError

Prompt = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""(messages, tools) in thinkact's chat format."""


@dataclass
class EndpointConfig:
    url: str = ""
    """Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (empty: evaluate a local model)."""
    model: str = ""
    """The served model's name (what the endpoint's /v1/models lists)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (local servers usually need none)."""
    concurrency: int = 8
    """Requests in flight at once."""
    retries: int = 4
    """Retries of a failed request (connection errors, 408, 429, 5xx), with exponential backoff."""
    timeout: float = 300.0
    """Seconds one request may take."""
    send_reasoning: bool = True
    """Send earlier steps' thinking as `reasoning_content` (Qwen3's template shows it within a tool loop); turn
    off for APIs that refuse the field."""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("http://", "https://")):
            raise UserError(f"endpoint: {self.url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1")
        if self.url and not self.model:
            raise UserError("endpoint: give --served-model NAME (the name the endpoint's /v1/models lists)")
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0:
            raise UserError("endpoint: concurrency must be >= 1, retries >= 0 and timeout > 0")


def wire_messages(messages: list[dict[str, Any]], *, send_reasoning: bool = True) -> list[dict[str, Any]]:
    """Chat-format messages as the OpenAI protocol carries them: arguments as JSON strings, calls with ids.

    >>> wired = wire_messages([{"role": "assistant", "content": "", "tool_calls": [
    ...     {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
    ...     {"role": "tool", "content": "2"}])
    >>> wired[0]["tool_calls"][0]["function"], wired[1]["tool_call_id"] == wired[0]["tool_calls"][0]["id"]
    ({'name': 'f', 'arguments': '{"x": 1}'}, True)
    """
    import json

    out: list[dict[str, Any]] = []
    pending: list[str] = []  # ids of the calls whose results come next, in order
    for index, message in enumerate(messages):
        entry: dict[str, Any] = {"role": message["role"], "content": message.get("content") or ""}
        if message["role"] == "assistant":
            if send_reasoning and message.get("reasoning_content"):
                entry["reasoning_content"] = message["reasoning_content"]
            calls: list[dict[str, Any]] = []
            for number, call in enumerate(message.get("tool_calls") or []):
                function = call.get("function", call)
                arguments = function.get("arguments") or {}
                text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
                identifier = str(call.get("id") or f"call_{index}_{number}")
                calls.append(
                    {
                        "id": identifier,
                        "type": "function",
                        "function": {"name": function["name"], "arguments": text},
                    }
                )
            if calls:
                entry["tool_calls"] = calls
                pending = [str(call["id"]) for call in calls]
        elif message["role"] == "tool":
            entry["tool_call_id"] = str(
                message.get("tool_call_id") or (pending.pop(0) if pending else "call")
            )
        out.append(entry)
    return out


def make_client(config: EndpointConfig) -> Any:
    if importlib.util.find_spec("openai") is None:
        raise UserError(
            "eval --endpoint: the openai client is not installed; install the serve extra: "
            "pip install 'thinkact[serve]'"
        )
    import openai

    key = (
        os.environ.get(config.api_key_env) or "none"
    )  # local servers accept any key; hosted ones need theirs
    return openai.OpenAI(base_url=config.url, api_key=key, max_retries=config.retries, timeout=config.timeout)


def endpoint_generator(
    config: EndpointConfig, max_new_tokens: int
) -> Callable[[list[Prompt]], list[tuple[str, int]]]:
    """(completion text, completion tokens) for each (messages, tools), in order, `concurrency` at a time."""
    from thinkact.serve.protocol import completion_text

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

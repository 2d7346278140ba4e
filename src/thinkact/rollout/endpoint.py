"""The client side of an OpenAI-compatible chat-completions endpoint: where it is, what is sent, what comes back.

`EndpointConfig` names the endpoint (URL, served model, the environment variable holding the API key, concurrency,
retries, timeout); `make_client` makes the official `openai` client for it; `wire_messages` turns chat-format
messages into what the protocol carries (arguments as JSON strings, calls with ids); `completion_text` turns a
response message (its `reasoning_content`, `content` and `tool_calls`) back into the action format, so the same
parser scores it as it scores a local model. The simulated user of kind `model` (`rollout/users.py`) and the
endpoint evaluation (`eval/endpoint.py`) both use them; `serve/protocol.py` is the server side. The API key is
read from an environment variable and is never written anywhere.

Left out: sending requests and handling their failures (the endpoint evaluation does), and endpoints that speak
only the legacy /v1/completions protocol.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from typing import Any

from thinkact.errors import UserError
from thinkact.parse import Action, ToolCall, render_action


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
    """The `openai` client for the endpoint, with its retries and timeout; the key from `config.api_key_env`."""
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


def completion_text(message: dict[str, Any]) -> str:
    """The completion a response message stands for, in the action format `parse_action` reads.

    The inverse of `message_from_text` up to what the parser keeps (whitespace around blocks), and what any
    OpenAI-compatible server's tool-call and reasoning fields mean:

    >>> from thinkact.parse import parse_action
    >>> message = {"reasoning_content": "t", "content": None,
    ...            "tool_calls": [{"function": {"name": "w", "arguments": '{"c": 1}'}}]}
    >>> parse_action(completion_text(message)) == parse_action(
    ...     '<think>t</think><tool_call>{"name": "w", "arguments": {"c": 1}}</tool_call>')
    True
    """
    calls = []
    for entry in message.get("tool_calls") or []:
        function = entry.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            # Arguments a server passed through unparsed are the model's text: score them as written.
            calls.append(
                f'<tool_call>{{"name": {json.dumps(function.get("name"))}, "arguments": {arguments}}}</tool_call>'
            )
            continue
        calls.append(
            render_action(Action(tool_calls=[ToolCall(str(function.get("name")), parsed)]), with_think=False)
        )
    think = message.get("reasoning_content")
    if think is None:
        think = message.get("reasoning")  # some servers (newer vLLM) name the field so
    head = render_action(
        Action(think=think, content=message.get("content") or ""), with_think=think is not None
    )
    return "\n".join([head, *calls]) if head else "\n".join(calls)

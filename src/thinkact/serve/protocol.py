"""The OpenAI chat-completions protocol, both ways: requests into thinkact's chat format, completions out.

`read_request` checks a request body and returns the messages and tools in the chat format (tool-call arguments
parsed from their JSON strings, so the chat template renders them exactly as in training and evaluation) with the
decoding settings, or raises `RequestError` with the HTTP status and the field at fault. `message_from_text`
turns a completion into the response message with `parse_action`, the parser evaluation scores with:
`reasoning_content` is the thinking, `tool_calls` carry their arguments as JSON strings, `content` the answer.
A completion that does not follow the action format (or that calls a tool under `tool_choice: "none"`) comes
back whole as `content`, so nothing the model wrote is lost and a client parsing it sees exactly that text.
`rollout.endpoint.completion_text` is the inverse a client applies to a response (the endpoint evaluation does).

Left out: `n > 1`, `stop` sequences, log-probabilities, `response_format` and forced tool choices (these are
refused with a 400 naming the field rather than ignored).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from thinkact.parse import ToolCall, parse_action

_ROLES = ("system", "user", "assistant", "tool")
_TRAILING_SPECIALS = ("<|im_end|>", "<|endoftext|>")
# Accepted and without effect on the completion (clients send them routinely).
_IGNORED = {"user", "metadata", "store", "parallel_tool_calls", "service_tier", "stream_options"}
_KNOWN = {
    "model",
    "messages",
    "tools",
    "tool_choice",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stream",
    "seed",
    "n",
    "stop",
    "logprobs",
    "top_logprobs",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    *_IGNORED,
}


class RequestError(Exception):
    """A bad request: the HTTP status, a message saying what to change, and the field at fault."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        kind = "not_found_error" if self.status == 404 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Settings:
    """How to decode one request (requests with equal settings can share a batch)."""

    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: str
    settings: Settings
    stream: bool
    include_usage: bool


def read_request(body: Any, *, max_new_tokens: int) -> ChatRequest:
    """The request in thinkact's chat format; `RequestError` (400) names the first field at fault.

    >>> r = read_request({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, max_new_tokens=64)
    >>> r.messages, r.settings.max_new_tokens, r.tool_choice
    ([{'role': 'user', 'content': 'hi'}], 64, 'auto')
    >>> read_request({"model": "m", "messages": []}, max_new_tokens=64)
    Traceback (most recent call last):
    thinkact.serve.protocol.RequestError: messages: give at least one message
    """
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise RequestError(400, f"unrecognised request argument: {unknown[0]}", unknown[0])
    _refuse_unsupported(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model: give the served model's name (GET /v1/models lists it)", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages: give at least one message", "messages")
    tools = _read_tools(body.get("tools"))
    tool_choice = body.get("tool_choice", "auto")
    if tool_choice not in ("auto", "none"):
        raise RequestError(
            400,
            'tool_choice: this server supports "auto" and "none" (forced tool choices are not offered)',
            "tool_choice",
        )
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    temperature = _number(body.get("temperature", 1.0), "temperature", 0.0, 2.0)
    # A seed only matters when sampling; greedy requests then share batches whatever seed they send.
    seed = int(body["seed"]) if isinstance(body.get("seed"), int) and temperature > 0 else 0
    stream_options = body.get("stream_options") or {}
    return ChatRequest(
        model=model,
        messages=[_read_message(message, index) for index, message in enumerate(messages)],
        tools=tools,
        tool_choice=tool_choice,
        settings=Settings(
            max_new_tokens=_positive_int(limit, "max_tokens") if limit is not None else max_new_tokens,
            temperature=temperature,
            top_p=_number(body.get("top_p", 1.0), "top_p", 0.0, 1.0, exclusive_low=True),
            seed=seed,
        ),
        stream=bool(body.get("stream", False)),
        include_usage=isinstance(stream_options, dict) and bool(stream_options.get("include_usage")),
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    if body.get("n", 1) != 1:
        raise RequestError(400, "n: this server returns one choice per request; send n=1", "n")
    if body.get("stop"):
        raise RequestError(
            400, "stop: stop sequences are not supported; the model stops at <|im_end|>", "stop"
        )
    if body.get("logprobs"):
        raise RequestError(400, "logprobs: log-probabilities are not returned by this server", "logprobs")
    response_format = body.get("response_format")
    if response_format and response_format.get("type", "text") != "text":
        raise RequestError(400, "response_format: only text is supported", "response_format")
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name):
            raise RequestError(400, f"{name}: not supported; leave it out or send 0", name)
    if body.get("logit_bias"):
        raise RequestError(400, "logit_bias: not supported", "logit_bias")


def _read_tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise RequestError(400, "tools: a list of {type: function, function: {...}} entries", "tools")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise RequestError(400, f"tools[{index}]: give {{type: function, function: {{...}}}}", "tools")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise RequestError(400, f"tools[{index}].function.name: missing", f"tools[{index}].function.name")
    return list(tools)


def _read_message(message: Any, index: int) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise RequestError(400, f"{where}: a message is an object with role and content", where)
    role = message.get("role")
    if role not in _ROLES:
        raise RequestError(400, f"{where}.role: {role!r}; use one of {', '.join(_ROLES)}", f"{where}.role")
    out: dict[str, Any] = {"role": role, "content": _read_content(message.get("content"), where)}
    if role == "assistant":
        if message.get("reasoning_content"):
            out["reasoning_content"] = str(message["reasoning_content"])
        calls = message.get("tool_calls") or []
        if calls:
            out["tool_calls"] = [_read_call(call, f"{where}.tool_calls[{n}]") for n, call in enumerate(calls)]
    elif role == "tool" and message.get("tool_call_id"):
        out["tool_call_id"] = str(message["tool_call_id"])
    if role != "assistant" and message.get("content") is None:
        raise RequestError(400, f"{where}.content: a {role} message needs content", f"{where}.content")
    return out


def _read_content(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for number, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise RequestError(
                    400, f"{where}.content[{number}]: only text parts are supported", f"{where}.content"
                )
            parts.append(part["text"])
        return "".join(parts)
    raise RequestError(400, f"{where}.content: a string or a list of text parts", f"{where}.content")


def _read_call(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise RequestError(400, f"{where}: give {{type: function, function: {{name, arguments}}}}", where)
    arguments = function.get("arguments") or "{}"
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            raise RequestError(
                400, f"{where}.function.arguments: not valid JSON", f"{where}.function.arguments"
            ) from None
    if not isinstance(arguments, dict):
        raise RequestError(
            400, f"{where}.function.arguments: must be a JSON object", f"{where}.function.arguments"
        )
    out: dict[str, Any] = {"type": "function", "function": {"name": function["name"], "arguments": arguments}}
    if call.get("id"):
        out["id"] = str(call["id"])
    return out


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RequestError(400, f"{name}: must be a positive integer, got {value!r}", name)
    return value


def _number(value: Any, name: str, low: float, high: float, *, exclusive_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value > high or value < low or (exclusive_low and value == low):
        bounds = f"({low}, {high}]" if exclusive_low else f"[{low}, {high}]"
        raise RequestError(400, f"{name}: must be a number in {bounds}, got {value!r}", name)
    return float(value)


def strip_end(text: str) -> str:
    """The completion without the end-of-turn tokens the decoder kept."""
    text = text.rstrip()
    while text.endswith(_TRAILING_SPECIALS):
        for token in _TRAILING_SPECIALS:
            if text.endswith(token):
                text = text[: -len(token)].rstrip()
    return text


def message_from_text(text: str, tool_choice: str = "auto") -> dict[str, Any]:
    """The response message for a completion, read with thinkact's parser.

    >>> m = message_from_text('<think>Paris.</think><tool_call>{"name": "w", "arguments": {"c": 1}}</tool_call>')
    >>> m["reasoning_content"], m["content"], m["tool_calls"][0]["function"]
    ('Paris.', None, {'name': 'w', 'arguments': '{"c": 1}'})
    >>> message_from_text("<tool_call>{broken")["content"]
    '<tool_call>{broken'

    A client reads the completion back with `rollout.endpoint.completion_text`, up to what the parser keeps:

    >>> from thinkact.rollout.endpoint import completion_text
    >>> text = '<think>t</think><tool_call>{"name": "w", "arguments": {"c": 1}}</tool_call>'
    >>> parse_action(completion_text(message_from_text(text))) == parse_action(text)
    True
    """
    text = strip_end(text)
    action = parse_action(text)
    if action.problems or (tool_choice == "none" and action.tool_calls):
        return {"role": "assistant", "content": text, "reasoning_content": None}
    message: dict[str, Any] = {
        "role": "assistant",
        "content": action.content or None,
        "reasoning_content": action.think,
    }
    if action.tool_calls:
        message["tool_calls"] = [_call_entry(call) for call in action.tool_calls]
    return message


def _call_entry(call: ToolCall) -> dict[str, Any]:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return {
        "id": f"call_{secrets.token_hex(12)}",
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def finish_reason(message: dict[str, Any], truncated: bool) -> str:
    if truncated:
        return "length"
    return "tool_calls" if message.get("tool_calls") else "stop"


def completion_response(
    model: str, message: dict[str, Any], finish: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def new_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"

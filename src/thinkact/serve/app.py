"""`thinkact serve`: an OpenAI-compatible HTTP server for a policy, on FastAPI and uvicorn.

Routes: `POST /v1/chat/completions` (tools, `tool_choice` auto/none, streaming as server-sent events),
`GET /v1/models` and `GET /health`. In front of them the gate (`serve/guard.py`) asks for the API key when the
server has one and refuses a body over `max_body_bytes` before reading it. A request is rendered with the
policy's chat template (`models/chat.py`), generated with `rollout/generation.py` through the batching engine
(`serve/engine.py`) and read back with thinkact's parser (`serve/protocol.py`), so what the server answers is what
`thinkact eval` scores. Errors come back with their HTTP status and OpenAI's error body
(`{"error": {"message", "type", "param", "code"}}`).

Left out: `/v1/completions` and embeddings.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from transformers import PreTrainedTokenizerBase

from thinkact.models.chat import encode_prompt
from thinkact.rollout.generation import decode
from thinkact.serve import MAX_BODY_BYTES
from thinkact.serve.engine import BatchEngine
from thinkact.serve.guard import Gate
from thinkact.serve.protocol import (
    ChatRequest,
    RequestError,
    completion_response,
    finish_reason,
    message_from_text,
    new_id,
    read_request,
    usage,
)
from thinkact.serve.stream import DeltaSplitter


@dataclass
class ServedModel:
    name: str
    """The model's name in requests and in /v1/models."""
    tokenizer: PreTrainedTokenizerBase
    engine: BatchEngine
    max_new_tokens: int = 256
    """Completion tokens when a request gives no max_tokens."""
    context: int = 4096
    """Prompt plus completion tokens the model takes."""


def create_app(
    served: ServedModel, *, api_key: str | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The app serving `served`; with `api_key`, every route but /health asks for it (`serve/guard.py`)."""
    app = FastAPI(title="thinkact", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Gate, api_key=api_key, max_body_bytes=max_body_bytes)
    created = int(time.time())

    @app.exception_handler(RequestError)
    def request_error(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            RequestError(error.status_code, str(error.detail)).body(), status_code=error.status_code
        )

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(RequestError(400, str(error)).body(), status_code=400)

    @app.exception_handler(Exception)
    def server_error(request: Request, error: Exception) -> JSONResponse:
        body = RequestError(500, f"the server failed: {type(error).__name__}: {error}").body()
        body["error"]["type"] = "server_error"
        return JSONResponse(body, status_code=500)

    @app.get("/health")
    def health() -> Response:
        return Response(status_code=200)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        entry = {"id": served.name, "object": "model", "created": created, "owned_by": "thinkact"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RequestError(400, "the request body is not valid JSON") from None
        chat = read_request(body, max_new_tokens=served.max_new_tokens)
        if chat.model != served.name:
            raise RequestError(
                404,
                f"the model {chat.model!r} does not exist; this server serves {served.name!r}",
                "model",
                "model_not_found",
            )
        prompt = _encode(served, chat)
        if chat.stream:
            return StreamingResponse(_stream(served, chat, prompt), media_type="text/event-stream")
        future = served.engine.submit(prompt, chat.settings)
        completion = await _wait(future)
        message = message_from_text(decode(served.tokenizer, completion.completion_ids), chat.tool_choice)
        finish = finish_reason(message, completion.truncated)
        return completion_response(served.name, message, finish, len(prompt), len(completion.completion_ids))

    return app


async def _wait(future: Any) -> Any:
    return await asyncio.wrap_future(future)


def _encode(served: ServedModel, chat: ChatRequest) -> list[int]:
    try:
        prompt = encode_prompt(served.tokenizer, chat.messages, chat.tools)
    except Exception as error:  # the template refused the conversation (e.g. no user message)
        raise RequestError(
            400, f"messages: the chat template cannot render them ({error})", "messages"
        ) from None
    if len(prompt) + chat.settings.max_new_tokens > served.context:
        raise RequestError(
            400,
            f"the prompt is {len(prompt)} tokens and max_tokens {chat.settings.max_new_tokens}; this model takes "
            f"{served.context} in all: shorten the messages or lower max_tokens",
            "messages",
            "context_length_exceeded",
        )
    return prompt


def _stream(served: ServedModel, chat: ChatRequest, prompt: list[int]) -> Iterator[str]:
    """Server-sent events: a role chunk, reasoning and content deltas, tool calls, the finish, [DONE]."""
    identifier, created = new_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        payload = {
            "id": identifier,
            "object": "chat.completion.chunk",
            "created": created,
            "model": served.name,
            "choices": [choice],
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    tokens, future = served.engine.stream(prompt, chat.settings)
    splitter = DeltaSplitter()
    yield chunk({"role": "assistant", "content": ""})
    ids: list[int] = []
    for token in tokens:
        ids.append(token)
        for name, text in splitter.feed(decode(served.tokenizer, ids)):
            yield chunk({name: text})
    try:
        completion = future.result()
    except Exception as error:
        failure = RequestError(500, f"generation failed: {error}").body()
        yield f"data: {json.dumps(failure)}\n\n"
        return
    text = decode(served.tokenizer, completion.completion_ids)
    message, rest = splitter.finish(text, chat.tool_choice)
    for name, value in rest:
        if name == "tool_calls":
            calls = [{"index": index, **call} for index, call in enumerate(value)]
            yield chunk({"tool_calls": calls})
        else:
            yield chunk({name: value})
    yield chunk({}, finish_reason(message, completion.truncated))
    if chat.include_usage:
        tail = {
            "id": identifier,
            "object": "chat.completion.chunk",
            "created": created,
            "model": served.name,
            "choices": [],
            "usage": usage(len(prompt), len(completion.completion_ids)),
        }
        yield f"data: {json.dumps(tail)}\n\n"
    yield "data: [DONE]\n\n"

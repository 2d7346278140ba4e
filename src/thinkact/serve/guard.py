"""The server's two gates, in front of every route: an API key and a cap on the request body.

- The API key: when the server has one, every request must carry `Authorization: Bearer <key>`, or it is
  answered 401 with OpenAI's error body (code `invalid_api_key`) before any route runs. As in vLLM, a load
  balancer's probe needs no key: `GET /health` is open, and everything else, `/v1/models` included, is guarded.
  Keys are compared as SHA-256 digests with `hmac.compare_digest`, so the time a comparison takes says nothing
  about how much of a guess was right.
- The body cap: a request whose `Content-Length` exceeds the cap is answered 413 at once, before a byte of its
  body is read; a body sent without a length (chunked) is counted as it arrives and refused the moment it
  passes the cap. Nothing refused is parsed or tokenized.

A refusal closes the connection after a short linger: what the client is still sending is read and dropped (at
most `LINGER_BYTES`, for at most `LINGER_SECONDS`) before the close, because closing a socket with unread data
resets the connection, and a client that writes its whole body before reading (the openai client) would then
see a reset instead of the 401 or 413. It is a plain ASGI middleware (no request object is built for a refused
request). Left out: several keys, per-key quotas and rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkact.serve.protocol import RequestError

OPEN_PATHS = frozenset({"/health"})
"""Paths that answer without the key (vLLM's choice: the health probe, nothing that generates or lists)."""
LINGER_BYTES = 64 * 1024 * 1024
"""The most a refused request's body is read (and dropped) for, after the refusal, before the connection closes."""
LINGER_SECONDS = 5.0
"""The longest a refused connection stays open for the client to finish sending."""


class BodyTooLarge(Exception):
    """Raised by the counting `receive` when a streamed body passes the cap; the gate answers 413."""


class Gate:
    """ASGI middleware: the API key check (when `api_key` is given) and the body cap, in that order."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.key_digest = hashlib.sha256(api_key.encode("utf-8")).digest() if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.key_digest is not None and scope["path"] not in OPEN_PATHS and not self.authorised(headers):
            message = "a valid API key is needed: send it as the header 'Authorization: Bearer <key>'"
            refusal = RequestError(401, message, code="invalid_api_key")
            await _refuse(refusal, receive, send, [(b"www-authenticate", b"Bearer")])
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await _refuse(self.too_large(f"{int(length)} bytes"), receive, send)
            return
        await self.pass_counted(scope, receive, send)

    def authorised(self, headers: Headers) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.key_digest is None:
            return False
        # Starlette decodes header bytes as latin-1: encoding back gives the bytes the client sent.
        given = hashlib.sha256(token.strip().encode("latin-1")).digest()
        return hmac.compare_digest(given, self.key_digest)

    async def pass_counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a `receive` that counts the body; 413 when it passes the cap before a response."""
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:  # a route that streams its answer while still reading: nothing left to say
                raise
            await _refuse(self.too_large(f"more than {self.max_body_bytes} bytes"), receive, send)

    def too_large(self, size: str) -> RequestError:
        return RequestError(
            413,
            f"the request body is {size}; this server takes at most {self.max_body_bytes} "
            "(`max_body_bytes`): shorten the conversation or raise the cap",
            code="request_too_large",
        )


async def _refuse(
    error: RequestError, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with the error's status and OpenAI body, let the client finish sending, then close."""
    body = json.dumps(error.body()).encode()
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": head})
    # The whole answer goes out now (its length is in the head); the response ends only after the linger.
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await _drain(receive)
    await send({"type": "http.response.body", "body": b""})


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of the request body, within `LINGER_BYTES` and `LINGER_SECONDS`."""
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while dropped <= LINGER_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                dropped += len(message.get("body", b""))

"""Any MCP server as a `Domain`: its tools listed over the Model Context Protocol, its calls executed over it.

`McpServer(target)` connects with the official `mcp` SDK (the `mcp` extra): a target that starts with `http://` or
`https://` is a streamable-HTTP endpoint (e.g. `http://127.0.0.1:8000/mcp`), anything else is a command line run
as a subprocess speaking stdio (`"python my_server.py --flag"`, split like a shell would, started with this
process's environment). The SDK is async; one background thread runs its event loop and holds the session, and
`call` is a synchronous facade over it, so the episode loops stay plain functions. `close` (or leaving the `with`
block) ends the session and stops a stdio server; nothing outlives the run.

The server's tools become `Tool`s whose JSON Schemas are the server's `inputSchema`, so they are rendered in the
prompt and checked by `envs.execute` like any other tool. Every failure reaches the model as a tool message:
a tool error (`isError`) carries the server's text, a protocol error or a dead server its description, and a call
past `time_limit_s` is cancelled on the server's side too. A result is the call's structured content when the
server sends one, else its text (parsed when it is JSON). Starting a server that does not run, or one that
lists no tools, is the user's error: it stops the run with the command and what went wrong.

Left out: state. The protocol has no reset or snapshot, so an MCP environment's state is `{}` and state checks
hold trivially; a server that keeps state shares it across every episode of the run. Also left out: prompts,
resources, sampling and authentication (pass a URL your server accepts without it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack
from typing import Any, TextIO

from thinkact.envs.execute import DEFAULT_TIME_LIMIT_S
from thinkact.envs.tools import Domain, State, Tool, ToolError
from thinkact.errors import UserError

START_TIME_LIMIT_S = 60.0
"""How long a server may take to start and list its tools."""


def require_mcp_extra() -> None:
    """A `UserError` with the install command when the `mcp` SDK is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise UserError(
            "--mcp needs the official MCP SDK: pip install 'thinkact[mcp]' (or pip install mcp)"
        ) from None


class McpServer:
    """A connection to one MCP server, with a synchronous `call`; a context manager that closes it."""

    def __init__(self, target: str, *, time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> None:
        require_mcp_extra()
        self.target = target
        self.time_limit_s = time_limit_s
        self.tools: list[Any] = []
        """The server's tool descriptions (the SDK's `Tool` objects), as listed at start."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="thinkact-mcp", daemon=True)
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._lifetime: Future[None] | None = None
        self._closed = False
        self._thread.start()
        self._start()

    def _start(self) -> None:
        ready: Future[None] = Future()
        self._lifetime = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        try:
            ready.result(START_TIME_LIMIT_S)
        except FutureTimeout:
            self.close()
            raise UserError(
                f"--mcp {self.target}: the server did not answer within {START_TIME_LIMIT_S:.0f} s; check that "
                "the command starts an MCP server on stdio (or the URL serves streamable HTTP)"
            ) from None
        except Exception as error:
            self.close()
            raise UserError(f"--mcp {self.target}: could not start the server: {_describe(error)}") from None

    async def _hold(self, ready: Future[None]) -> None:
        """Open the transport and session, list the tools, then hold them open until `close`."""
        from mcp.client.session import ClientSession

        self._stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                streams = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(*streams))
                await session.initialize()
                self.tools = await self._list_tools(session)
                self._session = session
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))
            if not isinstance(error, Exception):
                raise
        finally:
            self._session = None

    def _transport(self) -> Any:
        if self.target.startswith(("http://", "https://")):
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.target)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        words = shlex.split(self.target)
        if not words:
            raise UserError("--mcp: empty command; give the command that starts the server, or its URL")
        parameters = StdioServerParameters(command=words[0], args=words[1:], env=dict(os.environ))
        return stdio_client(parameters, errlog=_server_log())

    @staticmethod
    async def _list_tools(session: Any) -> list[Any]:
        from mcp_types import PaginatedRequestParams

        tools: list[Any] = []
        cursor: str | None = None
        while True:
            page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            tools += page.tools
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                return tools

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call one tool; its result as a JSON value, or a `ToolError` with the server's or the protocol's error."""
        session = self._session
        if session is None or self._closed:
            raise ToolError(f"the MCP server {self.target!r} is not running (it stopped or was closed)")
        request = asyncio.wait_for(session.call_tool(name, arguments), self.time_limit_s)
        future = asyncio.run_coroutine_threadsafe(request, self._loop)
        try:
            result = future.result(self.time_limit_s + 5.0)
        except (TimeoutError, FutureTimeout):
            future.cancel()
            raise ToolError(
                f"tool {name!r} ran past its time limit of {self.time_limit_s} s and was cancelled"
            ) from None
        except Exception as error:  # the SDK's MCPError, a closed connection, a transport failure
            raise ToolError(f"the MCP server failed to answer: {_describe(error)}") from None
        if result.is_error:
            raise ToolError(_result_text(result) or f"tool {name!r} failed on the MCP server")
        if result.structured_content is not None:
            return result.structured_content
        text = _result_text(result)
        try:
            return json.loads(text)
        except ValueError:
            return text

    def domain(self) -> Domain:
        """The server's tools as a stateless domain."""
        tools = []
        for listed in self.tools:
            schema = dict(listed.input_schema or {"type": "object", "properties": {}})
            schema.pop("title", None)  # pydantic's model name ("add_noteArguments") says nothing to the model
            tools.append(Tool(listed.name, listed.description or "", schema, self._runner(listed.name)))
        if not tools:
            raise UserError(
                f"--mcp {self.target}: the server lists no tools; an environment needs at least one"
            )
        return Domain(
            name=f"mcp:{self.target}",
            role="You help the user with the tools of an MCP server.",
            tools=tuple(tools),
            default_state=dict,
        )

    def _runner(self, name: str) -> Any:
        def run(state: State, **arguments: Any) -> Any:
            return self.call(name, arguments)

        return run

    def close(self) -> None:
        """End the session and stop a stdio server (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._lifetime is not None:
            try:
                self._lifetime.result(15.0)
            except Exception:  # closing must not hide the run's own outcome
                self._lifetime.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> McpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _server_log() -> TextIO:
    """Where a stdio server's stderr goes: ours, or the process's own when ours is not a file (a captured stream)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (OSError, ValueError, AttributeError):
            continue
    return open(os.devnull, "w")  # lives as long as the server


def _result_text(result: Any) -> str:
    """The text blocks of a call result joined; other blocks (images, resources) named by their type."""
    parts = []
    for block in result.content or []:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} block]")
    return "\n".join(parts)


def _describe(error: BaseException) -> str:
    """One line for an error, with the first real cause out of an exception group (anyio's task groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    message = str(error) or repr(error)
    return f"{type(error).__name__}: {message}"

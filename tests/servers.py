"""A thinkact server in a background thread for tests: started on a free local port, stopped by the caller."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from thinkact.serve.app import ServedModel, create_app


def start_server(
    served: ServedModel, *, api_key: str | None = None
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The server, its thread and its base URL (`http://127.0.0.1:PORT/v1`), once it accepts requests. Stop it
    with `server.should_exit = True; thread.join()`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(served, api_key=api_key), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}/v1"

"""`thinkact serve`: the policy behind an OpenAI-compatible API (FastAPI and uvicorn from the `serve` extra)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from thinkact.cli.apps import app
from thinkact.cli.options import ConfigOption, SetOption, overrides, quiet_libraries
from thinkact.config import load_config
from thinkact.errors import UserError


@app.command("serve")
def serve(
    model: Annotated[str | None, typer.Option(help="Model directory.")] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1: this machine only).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
    name: Annotated[
        str | None, typer.Option(help="Model name in requests and /v1/models (default: --model).")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key clients must send as 'Authorization: Bearer <key>' "
            "(default THINKACT_API_KEY; unset: no key asked)."
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Serve a model over the OpenAI chat-completions API (tools, reasoning_content, streaming, batching)."""
    from thinkact.serve import ServeConfig, read_api_key, require_serve_extra, run_serve

    require_serve_extra()
    quiet_libraries()
    flags: dict[str, object] = {
        "model": model,
        "host": host,
        "port": port,
        "name": name,
        "api_key_env": api_key_env,
    }
    serve_config = load_config(ServeConfig, config, overrides(flags, set_))
    if not serve_config.model:
        raise UserError("serve: give --model DIR (a model saved with save_pretrained, e.g. runs/grpo/model)")
    label = serve_config.name or serve_config.model
    access = (
        f"API key from ${serve_config.api_key_env} required"
        if read_api_key(serve_config)
        else f"no API key: anyone who reaches the port can use it; export {serve_config.api_key_env} to ask for one"
    )
    Console(stderr=True).print(
        f"serving {label!r} at http://{serve_config.host}:{serve_config.port}/v1 ({access}; Ctrl-C stops)",
        highlight=False,
    )
    run_serve(serve_config)

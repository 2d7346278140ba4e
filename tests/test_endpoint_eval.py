"""`eval --endpoint` and `compare --endpoint` against `thinkact serve` over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")
fastapi = pytest.importorskip("fastapi")

from typer.testing import CliRunner  # noqa: E402

from thinkact.cli import commands  # noqa: E402, F401  (registers the commands)
from thinkact.cli.apps import app  # noqa: E402
from thinkact.errors import UserError  # noqa: E402
from thinkact.eval.endpoint import EndpointConfig, endpoint_generator  # noqa: E402
from thinkact.eval.runner import EvalConfig, run_eval  # noqa: E402
from thinkact.serve import ServeConfig, load_served_model  # noqa: E402
from thinkact.serve.app import create_app  # noqa: E402

SECRET = "sk-test-do-not-store-0123456789"


def serve_app(application: Any) -> tuple[Any, threading.Thread, str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def endpoint(tiny_model_dir: Path) -> Iterator[str]:
    served = load_served_model(ServeConfig(model=str(tiny_model_dir), name="served-tiny"))
    server, thread, url = serve_app(create_app(served))
    yield url
    server.should_exit = True
    thread.join()
    served.engine.close()


def strip_completions(block: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {key: turn[key] for key in ("id", "problems", "metrics", "components")} for turn in block["turns"]
    ]


def test_endpoint_eval_equals_local_eval_greedy(
    endpoint: str, tiny_model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINKACT_TEST_KEY", SECRET)
    data = [str(data_dir / "test_id.jsonl")]
    common: dict[str, Any] = {"data": data, "view": "both", "limit": 4, "max_new_tokens": 24, "resamples": 50}
    # One prompt per generate on both sides: unpadded, so greedy decoding is bit-for-bit the same computation.
    local = run_eval(EvalConfig(model=str(tiny_model_dir), batch_size=1, **common))
    served_config = EndpointConfig(
        url=endpoint, model="served-tiny", concurrency=1, api_key_env="THINKACT_TEST_KEY"
    )
    out = tmp_path / "served.json"
    served = run_eval(EvalConfig(endpoint=served_config, out=str(out), **common))

    local_block, served_block = local["splits"]["test_id"], served["splits"]["test_id"]
    assert len(served_block["turns"]) == 4
    assert strip_completions(served_block) == strip_completions(local_block)
    assert served_block["metrics"] == local_block["metrics"]
    assert served_block["episodes"]["metrics"] == local_block["episodes"]["metrics"]
    assert served_block["breakdown"] == local_block["breakdown"]
    assert served["model"] == "served-tiny"
    assert served["endpoint"] == {"url": endpoint, "model": "served-tiny"}
    assert served["config"]["model_files"] == f"endpoint:{endpoint}"
    assert SECRET not in out.read_text(encoding="utf-8")


def test_eval_and_compare_commands_take_an_endpoint(
    endpoint: str, tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    data = str(data_dir / "test_ood.jsonl")
    out = tmp_path / "eval.json"
    result = runner.invoke(
        app,
        ["eval", "--endpoint", endpoint, "--served-model", "served-tiny", "--data", data, "--limit", "3",
         "--out", str(out), "--set", "max_new_tokens=16", "--set", "resamples=0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "served-tiny" in result.output
    assert json.loads(out.read_text())["endpoint"]["url"] == endpoint

    compared = tmp_path / "compare"
    result = runner.invoke(
        app,
        ["compare", str(tiny_model_dir), "--endpoint", endpoint, "--served-model", "served-tiny",
         "--data", data, "--limit", "3", "--out", str(compared), "--no-html",
         "--set", "max_new_tokens=16", "--set", "resamples=0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    comparison = json.loads((compared / "comparison.json").read_text())
    assert comparison["models"] == [tiny_model_dir.name, "served-tiny"]
    assert comparison["sources"]["served-tiny"]["endpoint"] == endpoint
    stored = json.loads((compared / "eval" / "served-tiny.json").read_text())
    assert stored["endpoint"] == {"url": endpoint, "model": "served-tiny"}


def test_flaky_endpoint_is_retried_and_a_dead_one_stops_with_a_clear_error() -> None:
    calls = {"count": 0}
    flaky = fastapi.FastAPI()

    @flaky.post("/v1/chat/completions")
    def complete() -> Any:
        calls["count"] += 1
        if calls["count"] <= 2:
            return fastapi.responses.JSONResponse({"error": {"message": "busy"}}, status_code=503)
        message = {"role": "assistant", "content": "Hello.", "reasoning_content": "Greet."}
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        }

    server, thread, url = serve_app(flaky)
    try:
        prompt = ([{"role": "user", "content": "hi"}], [])
        generate = endpoint_generator(EndpointConfig(url=url, model="m", retries=3), 16)
        assert generate([prompt]) == [("<think>\nGreet.\n</think>\n\nHello.", 5)]
        assert calls["count"] == 3  # two 503s, retried with backoff, then the answer

        calls["count"] = 0
        with pytest.raises(UserError, match="HTTP 503"):
            endpoint_generator(EndpointConfig(url=url, model="m", retries=0), 16)([prompt])
    finally:
        server.should_exit = True
        thread.join()

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    dead = EndpointConfig(url=f"http://127.0.0.1:{port}/v1", model="m", retries=0)
    with pytest.raises(UserError, match="cannot connect"):
        endpoint_generator(dead, 16)([prompt])


def test_endpoint_config_names_what_is_missing(data_dir: Path) -> None:
    with pytest.raises(UserError, match="--served-model"):
        EndpointConfig(url="http://127.0.0.1:1/v1")
    with pytest.raises(UserError, match="http"):
        EndpointConfig(url="localhost:8000", model="m")
    with pytest.raises(UserError, match="not both"):
        EvalConfig(
            model="x", data=[str(data_dir / "test_id.jsonl")], endpoint=EndpointConfig("http://h/v1", "m")
        )

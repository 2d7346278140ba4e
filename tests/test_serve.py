"""`thinkact serve` against the official `openai` client over real HTTP on loopback.

The tiny model serves plain and streamed requests (checked against local generation of the same prompt); a
scripted generator (the real tokenizer, template and parser; the model's tokens fixed in advance) drives the tool
paths, so the test knows which call the "model" makes and checks what the server renders back to it. A keyed
server refuses requests without its key, and a body over the cap is refused before it is read: over a raw socket,
the client announces (or streams) more than the cap, stops sending, and the 413 must come anyway.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

from tests.servers import start_server  # noqa: E402
from thinkact.errors import UserError  # noqa: E402
from thinkact.eval.endpoint import EndpointConfig, endpoint_generator  # noqa: E402
from thinkact.models.chat import render_prompt  # noqa: E402
from thinkact.models.load import load_policy  # noqa: E402
from thinkact.parse import parse_action  # noqa: E402
from thinkact.rollout.generation import Completion  # noqa: E402
from thinkact.rollout.loop import Sampling  # noqa: E402
from thinkact.rollout.turns import chat_prompt, run_turns  # noqa: E402
from thinkact.serve import MAX_BODY_BYTES, ServeConfig, load_served_model, read_api_key  # noqa: E402
from thinkact.serve.app import ServedModel  # noqa: E402
from thinkact.serve.engine import BatchEngine  # noqa: E402
from thinkact.serve.protocol import Settings, message_from_text  # noqa: E402

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
USER = {"role": "user", "content": "What is the weather in Paris?"}
CALL_TEXT = (
    "<think>\nThe user wants the weather.\n</think>\n\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)
ANSWER_TEXT = "<think>\nThe tool says sunny.\n</think>\n\nIt is sunny in Paris today, at 21 °C (like Zürich)."


KEY = "sk-serve-test-4f1c9a"


class Script:
    """Generation replaced by fixed replies: each call pops the next one; the prompts are recorded."""

    def __init__(self, tokenizer: Any, replies: list[str]) -> None:
        self.tokenizer, self.replies, self.prompts = tokenizer, list(replies), []

    def __call__(self, prompts: list[list[int]], settings: Settings, streamer: Any) -> list[Completion]:
        out = []
        for prompt in prompts:
            self.prompts.append(prompt)
            ids = self.tokenizer(self.replies.pop(0) + "<|im_end|>", add_special_tokens=False)["input_ids"]
            if streamer is not None:
                streamer.put(torch.tensor(prompt))
                for token in ids:
                    streamer.put(torch.tensor([token]))
            out.append(Completion(prompt, ids, truncated=False))
        return out


@pytest.fixture(scope="module")
def policy(tiny_model_dir: Path) -> tuple[Any, Any]:
    return load_policy(tiny_model_dir)


@pytest.fixture(scope="module")
def real_server(tiny_model_dir: Path) -> Iterator[tuple[str, ServedModel]]:
    served = load_served_model(ServeConfig(model=str(tiny_model_dir), name="tiny", max_new_tokens=24))
    server, thread, url = start_server(served)
    yield url, served
    server.should_exit = True
    thread.join()
    served.engine.close()


@pytest.fixture
def scripted(policy: tuple[Any, Any]) -> Iterator[tuple[Any, Script]]:
    _, tokenizer = policy
    script = Script(tokenizer, [])
    served = ServedModel("scripted", tokenizer, BatchEngine(script), max_new_tokens=64)
    server, thread, url = start_server(served)
    yield openai.OpenAI(base_url=url, api_key="unused", max_retries=0), script
    server.should_exit = True
    thread.join()
    served.engine.close()


def client_for(url: str) -> Any:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


def test_plain_request_answers_what_local_generation_writes(real_server: Any, policy: Any) -> None:
    url, _ = real_server
    response = client_for(url).chat.completions.create(
        model="tiny", messages=[USER], max_tokens=12, temperature=0
    )
    model, tokenizer = policy
    ((local,),) = run_turns(model, tokenizer, [chat_prompt([USER], [])], Sampling(12, 0.0))
    expected = message_from_text(local.text)
    message = response.choices[0].message
    assert message.role == "assistant"
    assert message.content == expected["content"]
    assert message.model_extra.get("reasoning_content") == expected["reasoning_content"]
    assert 0 < response.usage.completion_tokens <= 12
    assert response.usage.prompt_tokens == len(tokenizer(render_prompt(tokenizer, [USER], []))["input_ids"])
    assert response.choices[0].finish_reason in ("stop", "length")


def test_models_lists_the_served_name(real_server: Any) -> None:
    url, _ = real_server
    assert [entry.id for entry in client_for(url).models.list()] == ["tiny"]


def test_streamed_request_generates_the_same_tokens(real_server: Any) -> None:
    url, _ = real_server
    client = client_for(url)
    plain = client.chat.completions.create(model="tiny", messages=[USER], max_tokens=10, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=[USER],
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == plain.choices[0].finish_reason


def test_tool_round_trip_call_then_result_then_answer(scripted: Any, policy: Any) -> None:
    client, script = scripted
    _, tokenizer = policy
    script.replies += [CALL_TEXT, ANSWER_TEXT]
    first = client.chat.completions.create(model="scripted", messages=[USER], tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.model_extra["reasoning_content"] == "The user wants the weather."
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert isinstance(call.function.arguments, str)

    tool_result = {
        "role": "tool",
        "tool_call_id": call.id,
        "content": '{"condition": "sunny", "celsius": 21}',
    }
    history = [USER, choice.message.model_dump(exclude_none=True), tool_result]
    second = client.chat.completions.create(model="scripted", messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "It is sunny in Paris today, at 21 °C (like Zürich)."
    assert second.choices[0].finish_reason == "stop"
    # The server rendered the round trip exactly as thinkact renders the chat format (arguments as a dict).
    expected = [
        USER,
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "The user wants the weather.",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        },
        {"role": "tool", "content": tool_result["content"]},
    ]
    assert tokenizer.decode(script.prompts[1]) == render_prompt(tokenizer, expected, [WEATHER])
    assert "<tool_response>\n" + tool_result["content"] + "\n</tool_response>" in tokenizer.decode(
        script.prompts[1]
    )


def test_tool_choice_none_returns_the_text(scripted: Any) -> None:
    client, script = scripted
    script.replies.append(CALL_TEXT)
    response = client.chat.completions.create(
        model="scripted", messages=[USER], tools=[WEATHER], tool_choice="none"
    )
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content == CALL_TEXT
    assert response.choices[0].finish_reason == "stop"


def test_stream_sends_thinking_and_answer_as_they_come_and_calls_whole(scripted: Any) -> None:
    client, script = scripted
    script.replies += [ANSWER_TEXT, CALL_TEXT]
    chunks = list(client.chat.completions.create(model="scripted", messages=[USER], stream=True))
    deltas = [chunk.choices[0].delta for chunk in chunks]
    reasoning = [
        d.model_extra.get("reasoning_content") for d in deltas if d.model_extra.get("reasoning_content")
    ]
    content = [d.content for d in deltas if d.content]
    assert "".join(reasoning) == "The tool says sunny."
    assert "".join(content) == "It is sunny in Paris today, at 21 °C (like Zürich)."
    assert len(content) > 3  # token by token, not one piece at the end
    assert chunks[-1].choices[0].finish_reason == "stop"

    chunks = list(
        client.chat.completions.create(model="scripted", messages=[USER], tools=[WEATHER], stream=True)
    )
    calls = [call for chunk in chunks for call in (chunk.choices[0].delta.tool_calls or [])]
    assert [(c.index, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        (0, "get_weather", {"city": "Paris"})
    ]
    assert not any(chunk.choices[0].delta.content for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("request_body", "status", "param"),
    [
        ({"model": "tiny", "messages": []}, 400, "messages"),
        ({"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role"),
        ({"model": "tiny", "messages": [USER], "tool_choice": "required"}, 400, "tool_choice"),
        ({"model": "tiny", "messages": [USER], "n": 2}, 400, "n"),
        ({"model": "tiny", "messages": [USER], "temperature": 5}, 400, "temperature"),
        ({"model": "tiny", "messages": [USER], "max_tokens": 10**7}, 400, "messages"),
        ({"model": "tiny", "messages": [USER], "frobnicate": 1}, 400, "frobnicate"),
        (
            {
                "model": "tiny",
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{x"}}
                        ],
                    },
                ],
            },
            400,
            "messages[1].tool_calls[0].function.arguments",
        ),
        ({"model": "gpt-9", "messages": [USER]}, 404, "model"),
    ],
)
def test_bad_requests_get_their_status_and_an_openai_error_body(
    real_server: Any, request_body: dict[str, Any], status: int, param: str
) -> None:
    url, _ = real_server
    client = client_for(url)
    arguments = dict(request_body)
    extra = {"frobnicate": arguments.pop("frobnicate")} if "frobnicate" in arguments else None
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(**arguments, extra_body=extra)
    assert caught.value.status_code == status
    error = caught.value.body if "message" in caught.value.body else caught.value.body["error"]
    assert error["param"] == param
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    assert error["message"]


def test_malformed_json_and_unknown_routes_get_openai_error_bodies(real_server: Any) -> None:
    url, _ = real_server
    request = urllib.request.Request(
        f"{url}/chat/completions", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400
    assert "not valid JSON" in json.loads(caught.value.read())["error"]["message"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{url}/nothing")
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["type"] == "not_found_error"


def test_requests_that_arrive_together_share_one_batch(policy: Any) -> None:
    _, tokenizer = policy
    release = threading.Event()
    script = Script(tokenizer, ["a", "b", "c", "d"])

    def generate(prompts: list[list[int]], settings: Settings, streamer: Any) -> list[Completion]:
        release.wait()  # the first batch holds the worker while the others queue up
        return script(prompts, settings, streamer)

    engine = BatchEngine(generate, max_batch=8, wait_ms=50)
    greedy = Settings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0)
    sampled = Settings(max_new_tokens=8, temperature=1.0, top_p=1.0, seed=0)
    first = engine.submit([1], greedy)
    while not engine.batch_sizes:
        time.sleep(0.01)  # the worker has taken the first request and waits on the release
    later = [engine.submit([2], greedy), engine.submit([3], greedy), engine.submit([4], sampled)]
    release.set()
    results = [future.result(timeout=30) for future in [first, *later]]
    engine.close()
    assert [r.prompt_ids for r in results] == [[1], [2], [3], [4]]
    assert engine.batch_sizes == [1, 2, 1]  # the two greedy requests together; other settings apart


@pytest.fixture
def keyed(policy: tuple[Any, Any]) -> Iterator[tuple[str, Script]]:
    """A scripted server that asks for `KEY`, with the default body cap."""
    _, tokenizer = policy
    script = Script(tokenizer, [])
    served = ServedModel("scripted", tokenizer, BatchEngine(script), max_new_tokens=64)
    server, thread, url = start_server(served, api_key=KEY)
    yield url, script
    server.should_exit = True
    thread.join()
    served.engine.close()


def fetch(
    url: str, authorization: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, Any, Any]:
    """(status, headers, body as JSON or None) of a GET, or a POST when `body` is given."""
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": authorization} if authorization else {}
    )
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers)) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_a_keyed_server_refuses_requests_without_its_key(keyed: tuple[str, Script]) -> None:
    url, script = keyed
    chat = {"model": "scripted", "messages": [USER]}
    for authorization in (
        None,
        "Bearer sk-wrong",
        f"Bearer {KEY[:-1]}",
        f"Bearer {KEY}x",
        f"Basic {KEY}",
        KEY,
    ):
        for route, body in (("/chat/completions", chat), ("/models", None)):
            status, headers, error = fetch(url + route, authorization, body)
            assert status == 401, (authorization, route)
            assert headers["WWW-Authenticate"] == "Bearer"
            assert error["error"]["code"] == "invalid_api_key"
            assert error["error"]["type"] == "invalid_request_error"
            assert "Authorization: Bearer <key>" in error["error"]["message"]
    assert script.prompts == []  # no refused request reached the model
    # the health probe needs no key (as vLLM's); the key opens the rest, the scheme in any case
    assert fetch(url.removesuffix("/v1") + "/health")[0] == 200
    assert fetch(url + "/models", f"bearer {KEY}")[2]["data"][0]["id"] == "scripted"
    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
    script.replies.append(ANSWER_TEXT)
    reply = client.chat.completions.create(model="scripted", messages=[USER])
    assert reply.choices[0].message.content == "It is sunny in Paris today, at 21 °C (like Zürich)."
    with pytest.raises(openai.AuthenticationError) as caught:
        openai.OpenAI(base_url=url, api_key="sk-wrong", max_retries=0).models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_eval_endpoint_sends_the_key_from_its_variable(
    keyed: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = keyed
    config = EndpointConfig(url=url, model="scripted", api_key_env="THINKACT_TEST_SERVE_KEY", retries=0)
    monkeypatch.setenv("THINKACT_TEST_SERVE_KEY", KEY)
    script.replies.append(CALL_TEXT)
    [(text, tokens)] = endpoint_generator(config, max_new_tokens=32)([([USER], [WEATHER])])
    (call,) = parse_action(text).tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"}) and tokens > 0
    monkeypatch.setenv("THINKACT_TEST_SERVE_KEY", "sk-wrong")
    with pytest.raises(UserError, match=r"the API key was refused; put yours in \$THINKACT_TEST_SERVE_KEY"):
        endpoint_generator(config, max_new_tokens=32)([([USER], [WEATHER])])
    assert len(script.prompts) == 1


def send_raw(url: str, head: list[str], chunks: list[bytes]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send a request head and body pieces on one connection, then stop sending and read the answer: a server
    that waits for the rest of the body never answers, and the read times out."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in chunks:
            connection.sendall(chunk)
        answer = connection.makefile("rb")
        status = int(answer.readline().split()[1])
        headers = {}
        while line := answer.readline().decode("latin-1").strip():
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        return status, headers, json.loads(answer.read(int(headers["content-length"])))


def test_a_body_over_the_cap_is_refused_before_it_is_read(keyed: tuple[str, Script]) -> None:
    url, script = keyed
    assert ServeConfig().max_body_bytes == MAX_BODY_BYTES == 4 * 1024 * 1024
    head = ["POST /v1/chat/completions HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {KEY}"]
    # 20 MB announced, not one byte sent: the answer comes from the length alone
    status, headers, error = send_raw(url, [*head, "Content-Length: 20000000"], [])
    assert status == 413 and headers["connection"] == "close"
    assert error["error"]["code"] == "request_too_large"
    assert "20000000 bytes" in error["error"]["message"] and str(MAX_BODY_BYTES) in error["error"]["message"]
    # no length, a chunked body: refused as soon as it passes the cap, its end never sent
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_BODY_BYTES // len(piece) + 1)
    status, headers, error = send_raw(url, [*head, "Transfer-Encoding: chunked"], chunks)
    assert status == 413 and headers["connection"] == "close"
    assert f"more than {MAX_BODY_BYTES} bytes" in error["error"]["message"]
    # without the key the length is not even looked at
    assert send_raw(url, [head[0], head[1], "Content-Length: 20000000"], [])[0] == 401
    # the openai client writes its whole body before it reads: it still gets the 413, not a reset connection
    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
    long_message = {"role": "user", "content": "x" * (MAX_BODY_BYTES + 1)}
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="scripted", messages=[long_message])
    assert caught.value.status_code == 413 and caught.value.code == "request_too_large"
    assert script.prompts == []
    # the server goes on serving; a body just under the cap is read (and refused for what it says, not its size)
    padding = "x" * (MAX_BODY_BYTES - 200)
    status, _, error = fetch(
        url + "/chat/completions", f"Bearer {KEY}", {"model": "scripted", "messages": [USER], "pad": padding}
    )
    assert status == 400 and error["error"]["param"] == "pad"


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THINKACT_API_KEY", raising=False)
    assert read_api_key(ServeConfig()) is None  # nothing asked for: an open server, as before
    monkeypatch.setenv("THINKACT_API_KEY", KEY)
    assert read_api_key(ServeConfig()) == KEY
    monkeypatch.setenv("MY_SERVE_KEY", "sk-mine")
    assert read_api_key(ServeConfig(api_key_env="MY_SERVE_KEY")) == "sk-mine"
    monkeypatch.delenv("MY_SERVE_KEY")
    with pytest.raises(UserError, match="--api-key-env MY_SERVE_KEY: that environment variable is unset"):
        read_api_key(ServeConfig(api_key_env="MY_SERVE_KEY"))
    with pytest.raises(UserError, match=r"serve\.max_body_bytes: 100 is too small"):
        ServeConfig(max_body_bytes=100)


def test_thinkact_serve_command_over_http(tiny_model_dir: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    command = [sys.executable, "-m", "thinkact", "serve", "--model", str(tiny_model_dir), "--port", str(port)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "THINKACT_API_KEY": KEY}
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
        for _ in range(600):
            try:
                names = [entry.id for entry in client.models.list()]
                break
            except openai.APIConnectionError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                time.sleep(0.2)
        assert names == [str(tiny_model_dir)]
        response = client.chat.completions.create(
            model=str(tiny_model_dir), messages=[USER], max_tokens=4, temperature=0
        )
        assert 0 < response.usage.completion_tokens <= 4
        with pytest.raises(openai.AuthenticationError):  # the key came from $THINKACT_API_KEY
            client.with_options(api_key="unused").models.list()
    finally:
        process.terminate()
        process.wait(timeout=30)

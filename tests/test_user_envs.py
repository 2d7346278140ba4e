"""Your own tools as environments: a Python tools file and a real MCP server (written with the SDK, run as a
subprocess over stdio and over streamable HTTP on loopback), executed under the execution layer's rules and used
by GRPO episode mode, the episode view of eval and chat."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.envs.base import Environment
from thinkact.envs.mcp import McpServer
from thinkact.envs.python_tools import load_python_tools
from thinkact.envs.registry import EnvironmentSpec, make_environment, use_environments
from thinkact.errors import UserError
from thinkact.parse import ToolCall

FIXTURES = Path(__file__).parent / "fixtures"
TOOLS_FILE = FIXTURES / "user_tools.py"
SERVER = FIXTURES / "mcp_server.py"
SERVER_COMMAND = f"{sys.executable} {SERVER}"


def _call(env: Environment, name: str, **arguments: object) -> object:
    return json.loads(env.execute(ToolCall(name, dict(arguments))))


def test_python_tools_schemas_from_signatures_and_docstrings() -> None:
    domain = load_python_tools(str(TOOLS_FILE))
    specs = {spec["function"]["name"]: spec["function"] for spec in domain.specs()}
    assert set(specs) == {"add", "check_stock", "sell"}  # reset/snapshot are not tools
    assert specs["sell"]["description"] == "Sell units of an item, taking them off the shelf."
    assert specs["sell"]["parameters"] == {
        "type": "object",
        "properties": {
            "item": {"type": "string", "description": "The item's name."},
            "units": {"type": "integer", "description": "How many to sell."},
        },
        "required": ["item", "units"],
        "additionalProperties": False,
    }
    assert domain.role.startswith("A shop's stock")


def test_python_tools_state_and_the_execution_rules() -> None:
    env = Environment(load_python_tools(str(TOOLS_FILE)))
    assert env.snapshot() == {"items": {"apple": 3, "pear": 0}}
    assert _call(env, "sell", item="apple", units=2) == {"item": "apple", "left": 1}
    # The tool changed its instance, then raised: the error reaches the model and the state is untouched.
    assert _call(env, "sell", item="apple", units=5) == {"error": "only 1 apple left"}
    assert env.snapshot() == {"items": {"apple": 1, "pear": 0}}
    assert _call(env, "check_stock", item="kiwi") == {"error": "unknown item 'kiwi'; known: apple, pear"}
    assert "invalid arguments for add" in _call(env, "add", a=1, b=2, c=3)["error"]  # type: ignore[index]
    assert _call(env, "add", a=1, b=2.5) == 3.5
    env.reset({"items": {"fig": 1}})
    assert _call(env, "check_stock", item="fig") == {"item": "fig", "units": 1}


BACKTRACKING_TOOLS = '''"""A counter whose tool holds the interpreter."""

import re


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def reset(self, state: dict | None = None) -> None:
        self.count = (state or {}).get("count", 0)

    def snapshot(self) -> dict:
        return {"count": self.count}

    def backtrack(self, text: str) -> bool:
        """Count the call, then match the text against a pattern that backtracks exponentially.

        Args:
            text: The text to match.
        """
        self.count += 1
        return re.fullmatch(r"(a+)+b", text) is not None
'''


def test_python_tools_past_the_time_limit_leave_the_state_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "counter.py"
    path.write_text(BACKTRACKING_TOOLS)
    domain = load_python_tools(str(path))
    # The regex engine holds the interpreter lock for a tenth of a second and more on 21 a's: 20x the limit.
    env = Environment(domain, time_limit_s=0.005)
    before = env.snapshot()
    assert _call(env, "backtrack", text="a" * 21) == {
        "error": "tool 'backtrack' ran past its time limit of 0.005 s and was abandoned; "
        "try again with simpler arguments"
    }
    assert env.snapshot() == before == {"count": 0}
    unlimited = Environment(domain, time_limit_s=None)
    assert _call(unlimited, "backtrack", text="a" * 21) is False
    assert unlimited.snapshot() == {"count": 1}


BAD_FILES = {
    "syntax.py": ("def broken(:\n", "SyntaxError"),
    "imports.py": ("import numpy_that_is_not_there\n", "No module named 'numpy_that_is_not_there' (line 1)"),
    "nodoc.py": (
        "def f(x: int) -> int:\n    return x\n",
        "function f: Cannot generate JSON schema for f because it has no docstring",
    ),
    "nohints.py": (
        'def f(x):\n    """Do it.\n\n    Args:\n        x: a thing\n    """\n',
        "Argument x is missing a type hint",
    ),
    "noargs.py": (
        'def f(x: int) -> int:\n    """Do it."""\n    return x\n',
        "no description for the argument 'x'",
    ),
    "empty.py": ("X = 1\n", "defines no tools"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_python_tools_user_errors_name_file_and_fix(tmp_path: Path, name: str) -> None:
    text, expected = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError) as raised:
        load_python_tools(str(path))
    message = str(raised.value)
    assert message.startswith(f"--tools {path}") and expected in message, message
    with pytest.raises(UserError, match="no such file"):
        load_python_tools(str(tmp_path / "missing.py"))


def test_bad_tools_file_stops_the_command_with_status_2(tmp_path: Path) -> None:
    path = tmp_path / "nodoc.py"
    path.write_text("def f(x: int) -> int:\n    return x\n")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "hi"}]}) + "\n")
    command = ["eval", "--oracle", "--view", "episode", "--tools", str(path), "--data", str(data)]
    result = subprocess.run(
        [sys.executable, "-m", "thinkact", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"--tools {path}" in result.stderr and "has no docstring" in result.stderr
    assert "Traceback" not in result.stderr


def _gone(pid: int) -> bool:
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def test_mcp_server_over_stdio(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with McpServer(f"{SERVER_COMMAND} --pid-file {pid_file}", time_limit_s=0.5) as server:
        env = Environment(server.domain(), time_limit_s=0.5)
        names = [spec["function"]["name"] for spec in env.tools]
        assert names == ["add_note", "list_notes", "divide", "sleep"]
        assert env.tools[0]["function"]["description"] == "Store a note and return its id."
        assert _call(env, "add_note", text="milk") == {"id": 1}
        assert _call(env, "list_notes") == {"notes": ["milk"]}
        assert _call(env, "divide", a=1, b=4) == {"result": 0.25}
        error = _call(env, "divide", a=1, b=0)["error"]  # type: ignore[index]
        assert "cannot divide by zero" in error  # the server's tool error, as a tool message
        assert "'text' is a required property" in _call(env, "add_note")["error"]  # type: ignore[index]
        assert "unknown tool 'nope'" in _call(env, "nope")["error"]  # type: ignore[index]
        assert "time limit of 0.5 s" in _call(env, "sleep", seconds=1.5)["error"]  # type: ignore[index]
        assert env.snapshot() == {}
        pid = int(pid_file.read_text())
    assert _gone(pid), "the MCP server outlived its run"
    with pytest.raises(Exception, match="not running"):
        server.call("list_notes", {})


def test_a_dead_mcp_server_answers_with_error_messages(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with McpServer(f"{SERVER_COMMAND} --pid-file {pid_file}", time_limit_s=1.0) as server:
        env = Environment(server.domain(), time_limit_s=1.0)
        assert _call(env, "add_note", text="first") == {"id": 1}
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        for _ in range(2):
            error = _call(env, "add_note", text="second")["error"]  # type: ignore[index]
            assert error.startswith("the MCP server failed to answer") or "time limit" in error, error


def test_mcp_server_that_does_not_start_is_a_user_error() -> None:
    with pytest.raises(UserError, match="could not start the server: FileNotFoundError"):
        McpServer("thinkact-no-such-server-command")
    with pytest.raises(UserError, match="could not start the server"):
        McpServer(f"{sys.executable} -c 'raise SystemExit(3)'")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def test_mcp_server_over_streamable_http(http_server: str) -> None:
    with McpServer(http_server) as server:
        env = Environment(server.domain())
        assert _call(env, "add_note", text="over http") == {"id": 1}
        assert "cannot divide by zero" in _call(env, "divide", a=1, b=0)["error"]  # type: ignore[index]


def test_meta_environment_and_the_run_default() -> None:
    meta = {"environment": {"tools": str(TOOLS_FILE)}}
    with use_environments():
        env = make_environment(meta)
        assert {spec["function"]["name"] for spec in env.tools} == {"add", "check_stock", "sell"}
        assert make_environment({"domain": "weather"}).domain.name == "weather"
    with use_environments(tools=[str(TOOLS_FILE)]):
        assert make_environment({"domain": "weather"}).domain.name == "user_tools"  # --tools over meta.domain
    with pytest.raises(UserError, match=r"meta\.environment\.tools: 3; expected a string"):
        EnvironmentSpec.from_meta({"tools": 3})
    with pytest.raises(UserError, match=r"meta\.environment: .*expected an object"):
        EnvironmentSpec.from_meta({"toolz": "x.py"})


# --- the commands, on the tiny model ---------------------------------------------------------------------


def _write(path: Path, conversations: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations))
    return path


def _episode(cid: str, user: str, call: dict[str, object], result: object, answer: str) -> dict[str, object]:
    name = str(call["name"])
    return {
        "id": cid,
        "tools": [{"type": "function", "function": {"name": name}}],  # schema from the environment
        "messages": [
            {"role": "system", "content": "You help with the user's tools."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": call}]},
            {"role": "tool", "name": name, "content": json.dumps(result)},
            {"role": "assistant", "content": answer},
        ],
    }


@pytest.fixture
def stock_data(tmp_path: Path) -> Path:
    episode = _episode(
        "stock-1", "How many apples are left?", {"name": "check_stock", "arguments": {"item": "apple"}},
        {"item": "apple", "units": 3}, "There are 3 apples.",
    )  # fmt: skip
    return _write(tmp_path / "stock.jsonl", [episode])


@pytest.fixture
def notes_data(tmp_path: Path) -> Path:
    episode = _episode(
        "notes-1", "Note that I need milk.", {"name": "add_note", "arguments": {"text": "milk"}},
        {"id": 1}, "Noted.",
    )  # fmt: skip
    return _write(tmp_path / "notes.jsonl", [episode])


GRPO_TINY = ["--steps", "1", "--set", "mode=episode", "--set", "prompts_per_step=1", "--set", "group_size=2"]
GRPO_TINY += ["--set", "max_new_tokens=8", "--set", "max_actions=2", "--set", "save_steps=1", "--set"]
GRPO_TINY += ["report_to=none", "--set", "sample_steps=0"]


def _invoke(args: list[str], **kwargs: object) -> str:
    result = CliRunner().invoke(app, args, **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def test_grpo_eval_and_chat_with_a_python_tools_file(
    tiny_model_dir: Path, stock_data: Path, tmp_path: Path
) -> None:
    tools = ["--tools", str(TOOLS_FILE)]
    out = tmp_path / "grpo"
    _invoke(
        [
            "grpo",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(stock_data),
            "--out",
            str(out),
            *tools,
            *GRPO_TINY,
        ]
    )
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics and "reward" in metrics[-1]
    results = tmp_path / "eval.json"
    _invoke(["eval", "--model", str(tiny_model_dir), "--data", str(stock_data), "--view", "episode", *tools,
             "--set", "max_new_tokens=8", "--out", str(results)])  # fmt: skip
    block = json.loads(results.read_text())["splits"]["stock"]["episodes"]
    assert block["metrics"]["success"]["n"] == 1
    oracle = tmp_path / "oracle.json"
    _invoke(
        ["eval", "--oracle", "--data", str(stock_data), "--view", "episode", *tools, "--out", str(oracle)]
    )
    episodes = json.loads(oracle.read_text())["splits"]["stock"]["episodes"]
    assert episodes["metrics"]["success"]["value"] == 1.0
    [record] = episodes["records"]
    tool_results = [m["content"] for m in record["messages"] if m["role"] == "tool"]
    assert tool_results == ['{"item": "apple", "units": 3}']  # the call really ran in the tools file
    shown = _invoke(
        ["chat", "--model", str(tiny_model_dir), *tools, "--set", "max_new_tokens=8"],
        input="hi\n/tools\n/state\n",
    )
    assert "check_stock" in shown and '"apple": 3' in shown
    both = CliRunner().invoke(app, ["chat", "--model", str(tiny_model_dir), "--domain", "units", *tools])
    assert isinstance(both.exception, UserError) and "give one of them" in str(both.exception)


def test_grpo_eval_and_chat_with_an_mcp_server(
    tiny_model_dir: Path, notes_data: Path, tmp_path: Path
) -> None:
    pid_file, call_log = tmp_path / "pid", tmp_path / "calls.jsonl"
    mcp = ["--mcp", f"{SERVER_COMMAND} --pid-file {pid_file} --call-log {call_log}"]
    out = tmp_path / "grpo"
    _invoke(
        [
            "grpo",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(notes_data),
            "--out",
            str(out),
            *mcp,
            *GRPO_TINY,
        ]
    )
    assert (out / "metrics.jsonl").read_text().strip()
    # Building the episode starts replayed the reference call on the server (the state before each segment).
    assert [json.loads(line) for line in call_log.read_text().splitlines()] == [
        {"name": "add_note", "arguments": {"text": "milk"}}
    ]
    assert _gone(int(pid_file.read_text())), "grpo left its MCP server running"
    oracle = tmp_path / "oracle.json"
    _invoke(["eval", "--oracle", "--data", str(notes_data), "--view", "episode", *mcp, "--out", str(oracle)])
    episodes = json.loads(oracle.read_text())["splits"]["notes"]["episodes"]
    assert episodes["metrics"]["calls_made"]["value"] == 1.0
    [record] = episodes["records"]
    tool_results = [json.loads(m["content"]) for m in record["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 1 and isinstance(tool_results[0]["id"], int)  # answered by the MCP server
    assert _gone(int(pid_file.read_text())), "eval left its MCP server running"
    shown = _invoke(
        ["chat", "--model", str(tiny_model_dir), *mcp, "--set", "max_new_tokens=8"], input="hi\n/tools\n"
    )
    assert "add_note" in shown and "Store a note and return its id." in shown
    assert _gone(int(pid_file.read_text())), "chat left its MCP server running"

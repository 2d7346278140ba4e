"""Chat with a trained agent in the terminal, over a bundled domain, your Python tools or an MCP server.

Each user message starts a turn: the policy writes a completion, its thinking is shown, each call is executed
in the domain's environment and shown with its result, and the policy continues until it answers (or
`max_steps` steps have passed). Commands: `/tools` lists the tools, `/state` shows the environment's state,
`/reset` starts over, `/exit` (or end of input) leaves. The policy is any function from (messages, tools) to
a completion, so tests drive the session with a scripted policy and scripted input.

Left out: token-by-token streaming (each step is shown as soon as it is generated, with a spinner meanwhile),
and saving sessions. Your own tools come through `envs.registry.use_environments` (`thinkact chat --tools FILE.py`
or `--mcp COMMAND`), which takes the place of the bundled domain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.console import Console
from rich.markup import escape

from thinkact.bench.synthetic.phrasing import system_prompt
from thinkact.envs import DOMAINS, Environment, get_domain, make_environment
from thinkact.errors import UserError
from thinkact.parse import Action, parse_action


@dataclass
class ChatConfig:
    model: str = ""
    """Model directory (or a hub id in the local cache)."""
    domain: str = "weather"
    """Bundled domain whose tools the agent may call."""
    max_new_tokens: int = 256
    max_steps: int = 4
    """Policy steps per user message before the agent must give way."""
    temperature: float = 0.0
    """0: greedy (deterministic); above 0: sampling."""
    today: str = ""
    """The date in the system prompt, YYYY-MM-DD (default: today)."""

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise UserError(
                f"chat: --domain {self.domain!r} is not a bundled domain; use one of {', '.join(DOMAINS)}"
            )
        if self.max_steps < 1:
            raise UserError("chat: max_steps must be at least 1")
        if self.today:
            try:
                date.fromisoformat(self.today)
            except ValueError:
                raise UserError(f"chat: today {self.today!r} is not a date; write it as YYYY-MM-DD") from None


ChatPolicy = Callable[[list[dict[str, Any]], list[dict[str, Any]]], "str | tuple[str, bool]"]
"""(messages, tools) → the completion text of the next assistant step, or (text, cut at max_new_tokens)."""
ReadLine = Callable[[str], str]
"""Shows a prompt and returns the user's line; raises EOFError at the end of input."""


def load_chat_policy(config: ChatConfig) -> ChatPolicy:
    """A policy that generates with the model at `config.model`."""
    from thinkact.models.load import load_policy
    from thinkact.rollout.generation import generate_with_lengths

    model, tokenizer = load_policy(config.model)
    calls = 0

    def act(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[str, bool]:
        nonlocal calls
        calls += 1
        [(text, tokens)] = generate_with_lengths(
            model,
            tokenizer,
            [messages],
            [tools],
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=calls,
        )
        return text, tokens >= config.max_new_tokens

    return act


def start_messages(config: ChatConfig, role: str | None = None) -> list[dict[str, Any]]:
    """The system prompt: the date and the environment's role (the bundled domain's when `role` is None)."""
    today = date.fromisoformat(config.today) if config.today else date.today()
    return [{"role": "system", "content": system_prompt(today, role or get_domain(config.domain).role)}]


def run_chat(
    config: ChatConfig,
    policy: ChatPolicy,
    *,
    read: ReadLine | None = None,
    console: Console | None = None,
) -> list[dict[str, Any]]:
    """Run the session until `/exit` or the end of input; returns the conversation's messages."""
    console = console or Console()
    read = read or (lambda prompt: console.input(prompt))
    environment = make_environment({"domain": config.domain})
    messages = start_messages(config, environment.domain.role)
    console.print(
        f"[bold]thinkact chat[/] · domain [cyan]{escape(environment.domain.name)}[/] · "
        f"{len(environment.tools)} tools · "
        "/tools /state /reset /exit"
    )
    while True:
        try:
            line = read("[bold green]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            continue
        if line in ("/exit", "/quit"):
            break
        if line.startswith("/"):
            if line == "/reset":
                environment = make_environment({"domain": config.domain})
                messages = start_messages(config, environment.domain.role)
            show_command(line, environment, console)
            continue
        messages.append({"role": "user", "content": line})
        respond(messages, environment, policy, console, max_steps=config.max_steps)
    return messages


def show_command(line: str, environment: Environment, console: Console) -> None:
    if line == "/tools":
        for tool in environment.tools:
            function = tool["function"]
            console.print(f"  [cyan]{escape(function['name'])}[/]: {escape(function.get('description', ''))}")
    elif line == "/state":
        console.print(escape(json.dumps(environment.snapshot(), indent=1, ensure_ascii=False)))
    elif line == "/reset":
        console.print("[dim]started over: new conversation, fresh state[/]")
    else:
        console.print(f"[red]unknown command {escape(line)}[/]; commands: /tools /state /reset /exit")


def respond(
    messages: list[dict[str, Any]],
    environment: Environment,
    policy: ChatPolicy,
    console: Console,
    *,
    max_steps: int,
) -> None:
    """The agent's steps for one user message, shown as they happen; messages are appended in place.

    Ctrl-C while the agent generates ends this turn (what it did so far stays), not the session.
    """
    for _ in range(max_steps):
        try:
            with console.status("[dim]generating…[/]"):
                reply = policy(messages, environment.tools)
        except KeyboardInterrupt:
            console.print("[yellow]  (interrupted: the agent's turn ends here; type your next message)[/]")
            return
        text, truncated = reply if isinstance(reply, tuple) else (reply, False)
        action = parse_action(text)
        show_action(action, console)
        if truncated:
            console.print("  [yellow](cut off at max_new_tokens; raise it with --set max_new_tokens=N)[/]")
        message: dict[str, Any] = {"role": "assistant", "content": action.content}
        if action.think is not None:
            message["reasoning_content"] = action.think
        if action.tool_calls:
            message["tool_calls"] = [call.to_message() for call in action.tool_calls]
        messages.append(message)
        if not action.tool_calls:
            return
        for call in action.tool_calls:
            result = environment.execute(call)
            console.print(f"  [dim]← {escape(call.name)}: {escape(result)}[/]")
            messages.append({"role": "tool", "name": call.name, "content": result})
    console.print(f"[yellow]  (the agent used its {max_steps} steps without answering)[/]")


def show_action(action: Action, console: Console) -> None:
    if (action.think or "").strip():
        console.print(f"  [magenta italic]thinking: {escape(action.think or '')}[/]")
    for call in action.tool_calls:
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        console.print(f"  [cyan]→ {escape(call.name)}({escape(arguments)})[/]")
    if action.content:
        console.print(f"[bold blue]agent>[/] {escape(action.content)}")
    if action.problems:
        console.print(f"  [red]({escape('; '.join(action.problems))})[/]")

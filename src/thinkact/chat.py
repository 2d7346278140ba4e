"""Chat with a trained agent in the terminal, over a bundled domain, your Python tools or an MCP server.

The session is one episode of the episode loop that training and evaluation drive (`rollout/loop.py`), with the
person at the terminal as its user. Each user message starts a turn: the policy writes a completion, its thinking
is shown, each call is executed in the domain's environment and shown with its result, and the policy continues
until it answers (or `max_actions` steps have passed). With a local model the session is kept as one token stream,
as in training. Commands: `/tools` lists the tools, `/state` shows the environment's state,
`/reset` starts over, `/exit` (or end of input) leaves. An episode the loop ends as a failure (`Episode.failure`:
the model's chat template cannot be kept as one token stream) ends the session with the reason. The policy is
any function from (messages, tools) to a completion (or any loop policy), so tests drive the session with a
scripted policy and scripted input.

Left out: token-by-token streaming (each step is shown as soon as it is generated, with a spinner meanwhile),
and saving sessions. Your own tools come through `envs.registry.use_environments` (`thinkact chat --tools FILE.py`
or `--mcp COMMAND`), which takes the place of the bundled domain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from rich.console import Console
from rich.markup import escape

from thinkact.bench.synthetic.phrasing import system_prompt
from thinkact.data.prompts import Prompt
from thinkact.envs import DOMAINS, Environment, get_domain, make_environment
from thinkact.errors import UserError
from thinkact.parse import Action
from thinkact.rollout.episodes import begin_episode
from thinkact.rollout.loop import (
    ActionHook,
    Episode,
    Policy,
    Sampling,
    SamplingPolicy,
    Step,
    run_loop,
)


@dataclass
class ChatConfig:
    RENAMED: ClassVar[dict[str, str]] = {"max_steps": "max_actions"}
    """Old name of `max_actions` (policy steps per user turn), read for one more release with a message."""

    model: str = ""
    """Model directory (or a hub id in the local cache)."""
    domain: str = "weather"
    """Bundled domain whose tools the agent may call."""
    max_new_tokens: int = 256
    max_actions: int = 4
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
        if self.max_actions < 1:
            raise UserError("chat: max_actions must be at least 1")
        if self.today:
            try:
                date.fromisoformat(self.today)
            except ValueError:
                raise UserError(f"chat: today {self.today!r} is not a date; write it as YYYY-MM-DD") from None


ChatPolicy = Callable[[list[dict[str, Any]], list[dict[str, Any]]], "str | tuple[str, bool]"]
"""(messages, tools) → the completion text of the next assistant step, or (text, cut at max_new_tokens)."""
ReadLine = Callable[[str], str]
"""Shows a prompt and returns the user's line; raises EOFError at the end of input."""


def load_chat_policy(config: ChatConfig) -> Policy:
    """A policy that generates with the model at `config.model`, keeping the session as one token stream (the
    tokens it sees are those training would have it see)."""
    from thinkact.models.load import load_policy

    model, tokenizer = load_policy(config.model)
    sampling = Sampling(max_new_tokens=config.max_new_tokens, temperature=config.temperature, batch_size=1)
    return SamplingPolicy(model, tokenizer, sampling)


def start_messages(config: ChatConfig, role: str | None = None) -> list[dict[str, Any]]:
    """The system prompt: the date and the environment's role (the bundled domain's when `role` is None)."""
    today = date.fromisoformat(config.today) if config.today else date.today()
    return [{"role": "system", "content": system_prompt(today, role or get_domain(config.domain).role)}]


def run_chat(
    config: ChatConfig,
    policy: ChatPolicy | Policy,
    *,
    read: ReadLine | None = None,
    console: Console | None = None,
) -> list[dict[str, Any]]:
    """Run the session until `/exit` or the end of input; returns the conversation's messages.

    The session is one episode of the episode loop (`rollout/loop.py`) whose user is the person at the terminal;
    `/reset` ends it and starts another.
    """
    console = console or Console()
    read = read or (lambda prompt: console.input(prompt))
    loop_policy = _ShownPolicy(policy if isinstance(policy, Policy) else _FunctionPolicy(policy), console)
    environment = make_environment({"domain": config.domain})
    console.print(
        f"[bold]thinkact chat[/] · domain [cyan]{escape(environment.domain.name)}[/] · "
        f"{len(environment.tools)} tools · "
        "/tools /state /reset /exit"
    )
    messages = start_messages(config, environment.domain.role)
    while True:
        user = TerminalUser(read, console, environment, config.max_actions)
        first = user.reply(None)
        if first is None and user.reset:  # /reset before the first message: start over all the same
            environment = make_environment({"domain": config.domain})
            continue
        if first is None:
            return messages
        messages = [*start_messages(config, environment.domain.role), *first]
        prompt = Prompt(
            id="chat",
            conversation_id="chat",
            turn_index=len(messages),
            messages=messages,
            tools=environment.tools,
            reference={},
        )
        episode = begin_episode(prompt, environment, user)
        run_loop([episode], loop_policy, max_actions=config.max_actions, on_action=_shower(console))
        messages = episode.messages
        if episode.failure is not None:  # the loop ended the episode: say why, or the session just stops
            show_failure(episode.failure, console)
        if not user.reset:
            return episode.messages
        environment = make_environment({"domain": config.domain})


class TerminalUser:
    """The person at the terminal as the episode's user: reads lines, runs the /commands, `/reset` ends."""

    def __init__(self, read: ReadLine, console: Console, environment: Environment, max_actions: int) -> None:
        self.read = read
        self.console = console
        self.environment = environment
        self.max_actions = max_actions
        self.reset = False

    def reply(self, episode: Episode | None) -> list[dict[str, Any]] | None:
        if episode is not None and episode.turn_capped:
            self.console.print(
                f"[yellow]  (the agent used its {self.max_actions} steps without answering)[/]"
            )
        while True:
            try:
                line = self.read("[bold green]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                return None
            if not line:
                continue
            if line in ("/exit", "/quit"):
                return None
            if not line.startswith("/"):
                return [{"role": "user", "content": line}]
            show_command(line, self.environment, self.console)
            if line == "/reset":
                self.reset = True
                return None


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


class _FunctionPolicy(Policy):
    """A `ChatPolicy` function as a loop policy."""

    def __init__(self, function: ChatPolicy) -> None:
        self.function = function

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        steps = []
        for episode in episodes:
            reply = self.function(episode.messages, episode.tools)
            text, truncated = reply if isinstance(reply, tuple) else (reply, False)
            steps.append(Step(text, len(text.split()), truncated=truncated))
        return steps


class _ShownPolicy(Policy):
    """Wraps the policy with a spinner; Ctrl-C while it generates ends the agent's turn, not the session."""

    def __init__(self, inner: Policy, console: Console) -> None:
        self.inner = inner
        self.console = console

    def begin(self, episode: Episode) -> None:
        self.inner.begin(episode)

    def extend(self, episode: Episode, messages: list[dict[str, Any]]) -> None:
        self.inner.extend(episode, messages)

    def act(self, episodes: list[Episode], round_index: int) -> list[Step]:
        try:
            with self.console.status("[dim]generating…[/]"):
                return self.inner.act(episodes, round_index)
        except KeyboardInterrupt:
            self.console.print(
                "[yellow]  (interrupted: the agent's turn ends here; type your next message)[/]"
            )
            return [Step("", 0, interrupted=True) for _ in episodes]


def _shower(console: Console) -> ActionHook:
    def show(episode: Episode, step: Step, action: Action, results: list[dict[str, Any]]) -> None:
        show_action(action, console)
        if step.truncated:
            console.print("  [yellow](cut off at max_new_tokens; raise it with --set max_new_tokens=N)[/]")
        for result in results:
            console.print(f"  [dim]← {escape(result['name'])}: {escape(result['content'])}[/]")

    return show


def show_failure(failure: str, console: Console) -> None:
    """An episode that ended as a failure (`Episode.failure`) ends the session: the reason and the way on."""
    console.print(
        f"[red]  (the session ends: {escape(failure)}. What followed the agent's last step was not given to it; "
        "start `thinkact chat` again, or use a model whose chat template keeps a conversation as one token "
        "stream, as Qwen3's does)[/]"
    )


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

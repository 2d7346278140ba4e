"""The bundled domains by name, your own tools and MCP servers, and the environment of a conversation.

An environment is resolved, for each conversation, from the first of:

1. `meta["environment"]`: `{"tools": "my_tools.py"}` (a Python file or module, `envs.python_tools`) and/or
   `{"mcp": "python server.py"}` (a command that starts an MCP server on stdio, or a streamable-HTTP URL,
   `envs.mcp`); each value a string or a list of them, all their tools in one environment;
2. the run's `--tools` / `--mcp` (`use_environments`);
3. `meta["domain"]`: a bundled domain.

Loaded files and started servers are shared by every conversation that names them, for the length of the
`use_environments` block that the command opens; leaving it stops the servers. Relative paths in `meta` are
taken from the current directory.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from thinkact.envs.base import Environment
from thinkact.envs.domains import banking, calendar, contacts, shopping, travel, units, weather
from thinkact.envs.execute import DEFAULT_MAX_RESULT_CHARS, DEFAULT_TIME_LIMIT_S, Isolation
from thinkact.envs.tools import Domain, Tool
from thinkact.errors import UserError

_DOMAINS: dict[str, Domain] = {
    domain.name: domain
    for domain in (
        weather.DOMAIN,
        calendar.DOMAIN,
        banking.DOMAIN,
        shopping.DOMAIN,
        travel.DOMAIN,
        units.DOMAIN,
        contacts.DOMAIN,
    )
}
DOMAINS: tuple[str, ...] = tuple(_DOMAINS)


def get_domain(name: str) -> Domain:
    """The bundled domain called `name`; a `UserError` listing the domains otherwise."""
    domain = _DOMAINS.get(name)
    if domain is None:
        raise UserError(f"meta.domain: {name!r} is not a bundled domain; use one of {', '.join(DOMAINS)}")
    return domain


def tool_specs(domain: str) -> list[dict[str, Any]]:
    """The JSON-Schema tool specs of a bundled domain, as rendered in its system prompt."""
    return get_domain(domain).specs()


def make_environment(
    meta: dict[str, Any],
    *,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    isolation: Isolation = "thread",
) -> Environment:
    """The environment of a conversation: its `meta["domain"]`, reset to `meta["initial_state"]` when given.

    `time_limit_s` bounds each call (None: no limit and no worker thread, for trusted calls only);
    `isolation="process"` runs each call in a child process killed at that limit.

    >>> env = make_environment({"domain": "weather"})
    >>> sorted(env.snapshot()["cities"])
    ['Lima', 'Oslo', 'Paris']
    """
    spec = EnvironmentSpec.from_meta(meta.get("environment"))
    active = _ACTIVE[-1] if _ACTIVE else None
    if not spec and active is not None:
        spec = active.default
    if spec:
        environments = active if active is not None else _fallback()
        domain = environments.domain(spec)
        if spec.mcp:
            # MCP tools already run in the server's process, and a forked child cannot reach the session.
            isolation = "thread"
    elif "domain" not in meta:
        raise UserError(
            'meta.domain: missing; an episode needs the name of its domain, e.g. "weather", '
            'or meta.environment ({"tools": "my_tools.py"} or {"mcp": "COMMAND"}), or --tools/--mcp'
        )
    else:
        domain = get_domain(meta["domain"])
    return Environment(
        domain,
        meta.get("initial_state"),
        time_limit_s=time_limit_s,
        max_result_chars=max_result_chars,
        isolation=isolation,
    )


@dataclass(frozen=True)
class EnvironmentSpec:
    """User-provided tools: Python files or modules, and MCP servers (commands or URLs)."""

    tools: tuple[str, ...] = ()
    mcp: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tools or self.mcp)

    @classmethod
    def from_meta(cls, value: Any) -> EnvironmentSpec:
        """The spec in a conversation's `meta["environment"]` (None: empty); a `UserError` for a bad shape.

        >>> EnvironmentSpec.from_meta({"tools": "my_tools.py", "mcp": ["a", "b"]})
        EnvironmentSpec(tools=('my_tools.py',), mcp=('a', 'b'))
        """
        if value is None:
            return cls()
        if not isinstance(value, dict) or not value or set(value) - {"tools", "mcp"}:
            raise UserError(
                f'meta.environment: {value!r}; expected an object with "tools" (Python files or modules) '
                'and/or "mcp" (server commands or URLs), e.g. {"tools": "my_tools.py"}'
            )
        parts: dict[str, tuple[str, ...]] = {}
        for key in ("tools", "mcp"):
            entry = value.get(key, [])
            entries = [entry] if isinstance(entry, str) else entry
            if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
                raise UserError(f"meta.environment.{key}: {entry!r}; expected a string or a list of strings")
            parts[key] = tuple(entries)
        return cls(tools=parts["tools"], mcp=parts["mcp"])


class Environments:
    """The user environments of one run: each file loaded once and each server started once, closed at the end."""

    def __init__(self, default: EnvironmentSpec | None = None) -> None:
        self.default = default or EnvironmentSpec()
        self._domains: dict[EnvironmentSpec, Domain] = {}
        self._python: dict[str, Domain] = {}
        self._servers: dict[str, Any] = {}

    def domain(self, spec: EnvironmentSpec) -> Domain:
        """All the tools of `spec` as one domain (its state from the Python tools' state class, if any)."""
        if spec not in self._domains:
            self._domains[spec] = self._combine(spec)
        return self._domains[spec]

    def _combine(self, spec: EnvironmentSpec) -> Domain:
        from thinkact.envs.mcp import McpServer
        from thinkact.envs.python_tools import load_python_tools

        parts = []
        for source in spec.tools:
            if source not in self._python:
                self._python[source] = load_python_tools(source)
            parts.append(self._python[source])
        for target in spec.mcp:
            if target not in self._servers:
                self._servers[target] = McpServer(target)
            parts.append(self._servers[target].domain())
        if len(parts) == 1:
            return parts[0]
        stateful = [part for part in parts if part.default_state() != {}]
        if len(stateful) > 1:
            raise UserError(
                f"--tools: {', '.join(p.name for p in stateful)} each keep state; combine one at most"
            )
        tools: dict[str, Tool] = {}
        for part in parts:
            for tool in part.tools:
                if tool.name in tools:
                    raise UserError(
                        f"--tools/--mcp: two tools are named {tool.name!r} ({part.name}); rename one"
                    )
                tools[tool.name] = tool
        return Domain(
            name="+".join(part.name for part in parts),
            role=parts[0].role,
            tools=tuple(tools.values()),
            default_state=stateful[0].default_state if stateful else dict,
        )

    def close(self) -> None:
        """Stop every server this run started."""
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()


_ACTIVE: list[Environments] = []
_FALLBACK: list[Environments] = []


@contextmanager
def use_environments(
    tools: list[str] | tuple[str, ...] = (), mcp: list[str] | tuple[str, ...] = ()
) -> Iterator[Environments]:
    """The run's user environments: `tools`/`mcp` for conversations that name none; servers stopped at the end.

    The default environment is loaded at once, so a broken file or a server that does not start stops the command
    before any model is loaded.
    """
    environments = Environments(EnvironmentSpec(tuple(tools), tuple(mcp)))
    _ACTIVE.append(environments)
    try:
        if environments.default:
            environments.domain(environments.default)
        yield environments
    finally:
        _ACTIVE.remove(environments)
        environments.close()


def resolve_tools(meta: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tool specs of the user environment a conversation resolves to; None when it uses a bundled domain."""
    spec = EnvironmentSpec.from_meta(meta.get("environment"))
    active = _ACTIVE[-1] if _ACTIVE else None
    if not spec and active is not None:
        spec = active.default
    if not spec:
        return None
    return (active if active is not None else _fallback()).domain(spec).specs()


def bind_tools(conversations: list[Any]) -> list[Any]:
    """Give each conversation that uses a user environment that environment's tools, so the prompt shows them.

    A conversation that lists no tools gets all of the environment's; one that lists tools keeps its list (its
    own selection), each of which must be a tool of the environment, and an entry that gives only a name
    (`{"type": "function", "function": {"name": "add_note"}}`) gets the environment's description and schema.
    Conversations on bundled domains are untouched.
    """
    for conversation in conversations:
        specs = resolve_tools(conversation.meta)
        if specs is None:
            continue
        if not conversation.tools:
            conversation.tools = specs
            continue
        by_name = {spec["function"]["name"]: spec for spec in specs}
        listed = [tool.get("function", tool) for tool in conversation.tools]
        missing = sorted({function.get("name", "?") for function in listed} - set(by_name))
        if missing:
            raise UserError(
                f"conversation {conversation.id}: tools {', '.join(missing)} are not in its environment "
                f"(which has {', '.join(sorted(by_name))}); remove them from the record's tools or add them to "
                "the environment"
            )
        conversation.tools = [
            tool if "parameters" in function else by_name[function["name"]]
            for tool, function in zip(conversation.tools, listed, strict=True)
        ]
    return conversations


def _fallback() -> Environments:
    """Environments for conversations that name theirs outside a `use_environments` block; closed at exit."""
    if not _FALLBACK:
        _FALLBACK.append(Environments())
        atexit.register(_FALLBACK[0].close)
    return _FALLBACK[0]

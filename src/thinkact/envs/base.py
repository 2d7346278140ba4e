"""The environment a policy acts in: a domain's tools over a state that the calls read and change.

Tools and domains are defined in `envs.tools`. An `Environment` holds one domain's state, executes calls
against it (through `envs.execute`, which validates, times out and caps) and reports the final state, so an
episode can be checked against the reference world (as tau-bench checks its database).

Tools run in a worker thread by default; `isolation="process"` runs each call in a child process that is killed
at the time limit, for tools that must be stoppable. Left out: network sandboxing (tools are trusted Python
written by us or the user; nothing the model writes is ever evaluated) and
concurrency (one environment serves one episode at a time).
"""

from __future__ import annotations

import json
from typing import Any

from thinkact.envs.execute import DEFAULT_MAX_RESULT_CHARS, DEFAULT_TIME_LIMIT_S, Isolation, execute_call
from thinkact.envs.tools import Domain, State, Tool, ToolError
from thinkact.parse import ToolCall

__all__ = ["Domain", "Environment", "State", "Tool", "ToolError", "copy_state"]


class Environment:
    """A domain's tools over a state: `reset`, `execute` calls, `snapshot` the result.

    >>> from thinkact.envs.registry import get_domain
    >>> env = Environment(get_domain("banking"))
    >>> env.execute(ToolCall("get_balance", {"account": "savings"}))
    '{"account": "savings", "balance": 5200.0, "currency": "EUR"}'
    >>> print(env.execute(ToolCall("get_balance", {})))  # doctest: +ELLIPSIS
    {"error": "invalid arguments for get_balance: 'account' is a required property; parameters: account ..."}
    """

    def __init__(
        self,
        domain: Domain,
        state: State | None = None,
        *,
        time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
        isolation: Isolation = "thread",
    ) -> None:
        self.domain = domain
        self.isolation: Isolation = isolation
        """"thread" (default) or "process": a forked child per call, killed at the time limit (`envs.execute`)."""
        self.tools: list[dict[str, Any]] = domain.specs()
        self.time_limit_s = time_limit_s
        self.max_result_chars = max_result_chars
        self._by_name = {tool.name: tool for tool in domain.tools}
        self._state: State = {}
        self.reset(state)

    def reset(self, state: State | None = None) -> None:
        """Start over from `state` (copied), or from the domain's default state when it is None."""
        self._state = copy_state(self.domain.default_state() if state is None else state)

    def execute(self, call: ToolCall) -> str:
        """Run one call; the tool message content, a JSON string. Failures come back as `{"error": ...}`."""
        content, new_state = execute_call(
            self._by_name,
            self._state,
            call,
            time_limit_s=self.time_limit_s,
            max_result_chars=self.max_result_chars,
            isolation=self.isolation,
        )
        if new_state is not None:
            self._state = new_state
        return content

    def snapshot(self) -> State:
        """The current state as a JSON-serialisable copy."""
        return copy_state(self._state)


def copy_state(state: State) -> State:
    """A deep copy through JSON: fast for small states, and it proves the state is JSON-serialisable."""
    copied: State = json.loads(json.dumps(state))
    return copied

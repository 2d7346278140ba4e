"""Environments: tools with JSON Schemas over a deterministic state, executed safely, in bundled domains."""

from thinkact.envs.base import Environment
from thinkact.envs.episodes import (
    Replay,
    diff_states,
    reference_calls,
    replay,
    replay_reference,
    tool_messages,
)
from thinkact.envs.registry import DOMAINS, get_domain, make_environment, tool_specs
from thinkact.envs.tools import Domain, Tool, ToolError

__all__ = [
    "DOMAINS",
    "Domain",
    "Environment",
    "Replay",
    "Tool",
    "ToolError",
    "diff_states",
    "get_domain",
    "make_environment",
    "reference_calls",
    "replay",
    "replay_reference",
    "tool_messages",
    "tool_specs",
]

"""Environments: tools with JSON Schemas over a deterministic state, executed safely, in bundled domains."""

from thinkact.envs.base import Environment
from thinkact.envs.episodes import Replay, diff_states, replay, replay_reference
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
    "replay",
    "replay_reference",
    "tool_specs",
]

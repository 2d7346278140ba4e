"""Describe a conversation file: how many conversations, turns and calls, and counts by domain, phenomenon,
action type, tool and split (from each conversation's `meta`, so any file in the chat format works).

Left out: quality checks (`thinkact data validate`) and token counts (they depend on the tokenizer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.table import Table

from thinkact.data.conversations import Conversation


def compute_stats(conversations: Iterable[Conversation]) -> dict[str, Any]:
    """Counts over conversations, JSON-serialisable.

    >>> c = Conversation("a", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    ...     meta={"domain": "weather", "phenomena": ["no_tool"]})
    >>> s = compute_stats([c]); s["assistant_turns"], s["by_action_type"], s["by_phenomenon"]
    (1, {'answer': 1}, {'no_tool': 1})
    """
    totals: Counter[str] = Counter()
    by: dict[str, Counter[str]] = {
        key: Counter() for key in ("domain", "phenomenon", "action_type", "tool", "split")
    }
    for conversation in conversations:
        totals["conversations"] += 1
        meta = conversation.meta
        by["domain"][str(meta.get("domain", "unknown"))] += 1
        by["split"][str(meta.get("split", "unknown"))] += 1
        by["phenomenon"].update(str(name) for name in meta.get("phenomena", []))
        for message in conversation.messages:
            totals[f"{message['role']}_messages"] += 1
            if message["role"] != "assistant":
                continue
            calls = message.get("tool_calls") or []
            by["action_type"]["call" if calls else "answer"] += 1
            totals["tool_calls"] += len(calls)
            by["tool"].update(call["function"]["name"] for call in calls)
    return {
        "conversations": totals["conversations"],
        "user_turns": totals["user_messages"],
        "assistant_turns": totals["assistant_messages"],
        "tool_calls": totals["tool_calls"],
        **{f"by_{key}": dict(sorted(counter.items())) for key, counter in by.items()},
    }


def render_stats(stats: dict[str, Any], title: str) -> Table:
    """The stats as one rich table: totals first, then each breakdown."""
    table = Table(title=title)
    table.add_column("group")
    table.add_column("name")
    table.add_column("count", justify="right")
    for key in ("conversations", "user_turns", "assistant_turns", "tool_calls"):
        table.add_row("total", key, str(stats[key]))
    for key, counts in stats.items():
        if key.startswith("by_"):
            table.add_section()
            for name, count in counts.items():
                table.add_row(key[3:], name, str(count))
    return table

"""Fresh tool names for a training conversation, so that a model learns to read the name from the tool list.

SFT on a few fixed domains teaches a small model to write the tool names it was trained on from memory. On a
domain it has not seen it then calls a tool that is not in its list at all: in the demo, SFT without thinking
(600 steps) named a training domain's tool (`cancel_booking`, `add_to_cart`, `transfer`) on all of test_ood's 98
call turns in the held-out contacts domain (docs/benchmarks.md). `rename_tools` gives every tool of one
conversation a new name, the same everywhere it appears: the tool list, the calls, the tool results' `name`, and
any text that names it (for names with an underscore; a tool called `transfer` is also a word). The only way to
the right name is then the tool list: the function masking of Hammer (arXiv 2410.04587), with names that keep
the original's last word half of the time (`fetch_weather`, `contact_lookup`) and are invented otherwise
(`check_brelox`). Arguments, values and everything else stay as they are; the data file is never changed
(`sft.rename_tools` renames a share of the conversations as the training set is built).
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from typing import Any

from thinkact.bench.corpus import TOOL_VERBS, invent_name
from thinkact.data.conversations import Conversation


def fresh_tool_name(rng: random.Random, old: str, taken: set[str]) -> str:
    """A tool name unlike `old` and not in `taken`: a verb with `old`'s last word or an invented word.

    >>> fresh_tool_name(random.Random(0), "get_weather", {"get_weather"}) != "get_weather"
    True
    """
    noun = old.replace("-", "_").split("_")[-1].lower() or "tool"
    while True:
        word = noun if rng.random() < 0.5 else invent_name(rng).lower()
        verb = rng.choice(TOOL_VERBS)
        name = f"{verb}_{word}" if rng.random() < 0.7 else f"{word}_{verb}"
        if name != old and name not in taken:
            return name


def rename_tools(conversation: Conversation, rng: random.Random) -> Conversation:
    """A copy of `conversation` whose tools all have fresh names, consistently wherever a name appears.

    >>> tools = [{"type": "function", "function": {"name": "get_weather", "description": "Forecast."}}]
    >>> call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Quito"}}}
    >>> messages = [{"role": "user", "content": "Weather in Quito?"},
    ...             {"role": "assistant", "content": "", "reasoning_content": "I call get_weather.",
    ...              "tool_calls": [call]},
    ...             {"role": "tool", "name": "get_weather", "content": "{}"}]
    >>> renamed = rename_tools(Conversation("c", messages, tools), random.Random(1))
    >>> new = renamed.tools[0]["function"]["name"]
    >>> new != "get_weather" and renamed.messages[1]["tool_calls"][0]["function"]["name"] == new
    True
    >>> renamed.messages[1]["reasoning_content"] == f"I call {new}." and renamed.messages[2]["name"] == new
    True
    >>> messages[1]["tool_calls"][0]["function"]["name"]  # the original is untouched
    'get_weather'
    """
    names = [str(tool["function"]["name"]) for tool in conversation.tools if _function(tool)]
    if not names:
        return conversation
    taken = set(names)
    mapping: dict[str, str] = {}
    for name in names:
        mapping[name] = fresh_tool_name(rng, name, taken)
        taken.add(mapping[name])
    # only identifier-like names are replaced in text: a tool called `transfer` is also the word "transfer"
    named = sorted((n for n in mapping if "_" in n), key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in named) + r")\b") if named else None

    def in_text(text: Any) -> Any:
        if pattern is None or not isinstance(text, str):
            return text
        return pattern.sub(lambda match: mapping[match.group(1)], text)

    tools = copy.deepcopy(conversation.tools)
    for tool in tools:
        function = _function(tool)
        if function:
            function["name"] = mapping[function["name"]]
            for key, value in list(function.items()):
                if key != "name":
                    function[key] = _in_strings(value, in_text)
    messages = copy.deepcopy(conversation.messages)
    for message in messages:
        _rename_message(message, mapping, in_text)
    return Conversation(conversation.id, messages, tools, conversation.meta)


def _rename_message(message: dict[str, Any], mapping: dict[str, str], in_text: Callable[[Any], Any]) -> None:
    for key in ("content", "reasoning_content"):
        if key in message:
            message[key] = in_text(message[key])
    if message.get("role") == "tool" and message.get("name") in mapping:
        message["name"] = mapping[message["name"]]
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and function.get("name") in mapping:
            function["name"] = mapping[function["name"]]


def _in_strings(value: Any, change: Callable[[Any], Any]) -> Any:
    """`value` with `change` applied to every string in it (descriptions nested in a parameter schema too)."""
    if isinstance(value, dict):
        return {key: _in_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_strings(item, change) for item in value]
    return change(value)


def _function(tool: Any) -> dict[str, Any] | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function if isinstance(function, dict) and isinstance(function.get("name"), str) else None

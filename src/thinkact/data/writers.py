"""Conversations out: the chat format (JSONL) and ShareGPT (LLaMA-Factory's layout, JSONL).

ShareGPT as written here loads in LLaMA-Factory with `"formatting": "sharegpt"` and its default tags: the
system prompt is the first turn (`from: system`), `tools` is a JSON string, calls are `function_call` turns
whose value is `<think>…</think>` (when there is reasoning) followed by the call JSON (one object, or a list for
parallel calls), and the results of parallel calls share one `observation` turn, joined the way LLaMA-Factory
joins them. What ShareGPT has no field for rides along as extra keys that LLaMA-Factory ignores and
`data/readers/sharegpt.py` reads back (`id`, `meta`, `facts`, `score`, call ids, text said alongside calls,
tool-result names that position cannot tell), so chat format → ShareGPT → chat format loses nothing.

Left out: LLaMA-Factory requires user/observation and assistant/function_call turns to alternate; a
conversation with two assistant messages in a row (API-Bank has some) is written as it is, and
`alternates` says which ones LLaMA-Factory will skip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from thinkact.data.conversations import Conversation, write_conversations
from thinkact.data.readers.records import join_think
from thinkact.data.readers.sharegpt import RESULT_JOINER, TOOL_MESSAGES_KEY
from thinkact.jsonsafe import dump_json

_TAGS = {"system": "system", "user": "human", "assistant": "gpt"}
_NATIVE = {"role", "content", "reasoning_content", "tool_calls"}


def write_sharegpt(path: str | Path, conversations: Iterable[Conversation]) -> int:
    """Write conversations as ShareGPT JSONL; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for conversation in conversations:
            handle.write(dump_json(to_sharegpt(conversation)) + "\n")
            count += 1
    return count


WRITERS: dict[str, Callable[[str | Path, Iterable[Conversation]], int]] = {
    "chat": write_conversations,
    "sharegpt": write_sharegpt,
}


def to_sharegpt(conversation: Conversation) -> dict[str, Any]:
    """One conversation as a ShareGPT record.

    >>> from thinkact.data.conversations import Conversation
    >>> to_sharegpt(Conversation("c", [{"role": "user", "content": "hi"},
    ...     {"role": "assistant", "content": "hello", "reasoning_content": "greet back"}]))["conversations"]
    [{'from': 'human', 'value': 'hi'}, {'from': 'gpt', 'value': '<think>\\ngreet back\\n</think>\\n\\nhello'}]
    """
    turns: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for message in conversation.messages:
        if message["role"] == "tool":
            results.append(message)
            continue
        if results:
            turns.append(_observation(results, calls))
            results = []
        turns.append(_turn(message))
        calls = message.get("tool_calls") or []
    if results:
        turns.append(_observation(results, calls))
    record: dict[str, Any] = {
        "id": conversation.id,
        "conversations": turns,
        "tools": json.dumps(conversation.tools, ensure_ascii=False),
    }
    if conversation.meta:
        record["meta"] = conversation.meta
    return record


def alternates(conversation: Conversation) -> bool:
    """Whether LLaMA-Factory accepts the turn order: user/observation and assistant turns alternate, user first."""
    turns = to_sharegpt(conversation)["conversations"]
    turns = turns[1:] if turns and turns[0]["from"] == "system" else turns
    odd = ("human", "observation")
    ordered = all((turn["from"] in odd) == (index % 2 == 0) for index, turn in enumerate(turns))
    return ordered and len(turns) % 2 == 0


def _turn(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    extras = {key: value for key, value in message.items() if key not in _NATIVE}
    calls = message.get("tool_calls") or []
    if calls:
        payload = [_call_json(call) for call in calls]
        value = json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False)
        turn = {"from": "function_call", "value": join_think(message.get("reasoning_content"), value)}
        if content != "":
            extras["content"] = content
    else:
        text = content if isinstance(content, str) else ""
        turn = {"from": _TAGS[message["role"]], "value": join_think(message.get("reasoning_content"), text)}
        if not isinstance(content, str):
            extras["content"] = content
    turn.update(extras)
    return turn


def _call_json(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    entry = {"name": function["name"], "arguments": function.get("arguments", {})}
    entry.update({key: value for key, value in call.items() if key not in ("type", "function")})
    return entry


def _observation(results: list[dict[str, Any]], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """One observation turn for the results that follow one call message."""
    contents = [message.get("content") for message in results]
    turn: dict[str, Any] = {
        "from": "observation",
        "value": RESULT_JOINER.join(content if isinstance(content, str) else "" for content in contents),
    }
    names = [call.get("function", call)["name"] for call in calls]
    fields = [
        {key: value for key, value in message.items() if key not in ("role", "content")}
        for message in results
    ]
    positional = all(
        set(item) <= {"name"} and item.get("name") == (names[index] if index < len(names) else None)
        for index, item in enumerate(fields)
    )
    splittable = all(isinstance(content, str) and RESULT_JOINER not in content for content in contents)
    if not positional or not splittable or len(results) != max(len(calls), 1):
        if not splittable:
            fields = [{**item, "content": content} for item, content in zip(fields, contents, strict=True)]
        turn[TOOL_MESSAGES_KEY] = fields
    return turn

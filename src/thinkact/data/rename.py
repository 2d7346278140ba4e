"""Fresh tool names and fresh entities for a training conversation, so that a model learns to read, not recall.

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

`fresh_entities` does the same for the values a call copies from the conversation. The bundled benchmark's test
splits use cities, people and titles that its train split never does, and a tiny model trained on a few dozen
repeated cities writes them from memory: in the demo only 52 of the 261 capitalised values that SFT without
thinking wrote were right, and 92 were a training value or began like one ("Bosting" for Bogota, "Dub" for
Dublin; docs/benchmarks.md). Each capitalised word of a copied value becomes an invented one, the same in every
message, so the value can only come from the conversation (`sft.fresh_entities`). The invented words are
English-like (`data.words.spelled_name`), not built from the corpus's few syllables: a base that only ever
copied syllable names copies syllables, and half of the later tokens of a name spelled otherwise come out wrong
(docs/benchmarks.md, "Copying words, not syllables"); `pretrain.respell` uses the same function.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.data.words import TOOL_VERBS, english_words, invent_name, spelled_name


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


def augment(
    conversations: Iterable[Conversation],
    seed: int,
    *,
    tool_share: float = 0.0,
    entity_share: float = 0.0,
    argument_share: float = 0.0,
) -> Iterator[Conversation]:
    """`conversations` in order, with a share of them given fresh tool names (`tool_share`), fresh entities
    (`entity_share`) and fresh parameter names (`argument_share`), drawn with `seed`: what the `sft` and `grpo`
    options `rename_tools`, `fresh_entities` and `rename_arguments` train on. With `argument_share` 0 the draws
    are those of the first two alone.

    >>> tools = [{"type": "function", "function": {"name": "get_weather", "description": "Forecast."}}]
    >>> conversations = [Conversation(str(i), [{"role": "user", "content": "Hi"}], tools) for i in range(4)]
    >>> [c.tools[0]["function"]["name"] == "get_weather" for c in augment(conversations, 0)]
    [True, True, True, True]
    >>> [c.tools[0]["function"]["name"] == "get_weather" for c in augment(conversations, 0, tool_share=1.0)]
    [False, False, False, False]
    """
    rng = random.Random(seed)
    for conversation in conversations:
        if tool_share and rng.random() < tool_share:
            conversation = rename_tools(conversation, rng)
        if entity_share and rng.random() < entity_share:
            conversation = fresh_entities(conversation, rng)
        if argument_share and rng.random() < argument_share:
            conversation = rename_arguments(conversation, rng)
        yield conversation


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


def fresh_argument_name(rng: random.Random, old: str, taken: set[str]) -> str:
    """A parameter name unlike `old` and not in `taken`: `old`'s last word with a new first one, or a new word.

    >>> fresh_argument_name(random.Random(0), "contact_id", {"contact_id", "text"}) not in {"contact_id", "text"}
    True
    """
    last = old.split("_")[-1].lower() or "value"
    while True:
        word = spelled_name(rng).lower()
        name = f"{word}_{last}" if rng.random() < 0.5 else word
        if name != old and name not in taken and name.isidentifier():
            return name


def rename_arguments(conversation: Conversation, rng: random.Random) -> Conversation:
    """A copy of `conversation` whose tools' parameters have fresh names, the same in each tool's schema (its
    `properties` and `required`) and in every call's arguments to that tool; values, tool names and text stay.

    After `rename_tools`, this is Hammer's whole function masking (arXiv 2410.04587): names and parameter names
    both have to be read from the tool list. A tiny model trained without it writes the training domains' keys
    (`operation`, `value`, `date`) on a held-out tool whose only parameter is `name` (docs/benchmarks.md).

    >>> schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    >>> tools = [{"type": "function", "function": {"name": "get_weather", "parameters": schema}}]
    >>> call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Quito"}}}
    >>> messages = [{"role": "user", "content": "Weather in Quito?"},
    ...             {"role": "assistant", "content": "", "tool_calls": [call]}]
    >>> renamed = rename_arguments(Conversation("c", messages, tools), random.Random(1))
    >>> key = renamed.tools[0]["function"]["parameters"]["required"][0]
    >>> key != "city" and renamed.messages[1]["tool_calls"][0]["function"]["arguments"] == {key: "Quito"}
    True
    >>> call["function"]["arguments"]  # the original is untouched
    {'city': 'Quito'}
    """
    tools = copy.deepcopy(conversation.tools)
    mappings: dict[str, dict[str, str]] = {}
    for tool in tools:
        function = _function(tool)
        parameters = function.get("parameters") if function else None
        if not function or not isinstance(parameters, dict):
            continue
        properties = parameters.get("properties")
        if not isinstance(properties, dict) or not properties:
            continue
        taken = set(properties)
        mapping = {}
        for key in properties:
            mapping[key] = fresh_argument_name(rng, str(key), taken)
            taken.add(mapping[key])
        parameters["properties"] = {mapping[key]: value for key, value in properties.items()}
        if isinstance(parameters.get("required"), list):
            parameters["required"] = [mapping.get(key, key) for key in parameters["required"]]
        mappings[function["name"]] = mapping
    if not mappings:
        return conversation
    messages = copy.deepcopy(conversation.messages)
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or function.get("name") not in mappings:
                continue
            mapping, arguments = mappings[function["name"]], function.get("arguments")
            if isinstance(arguments, dict):
                function["arguments"] = {mapping.get(key, key): value for key, value in arguments.items()}
    return Conversation(conversation.id, messages, tools, conversation.meta)


ENTITY_WORD = re.compile(r"[A-Z][a-z]{2,}")
"""A capitalised word of three letters or more: the part of an entity that `fresh_entities` replaces."""


def fresh_entities(
    conversation: Conversation, rng: random.Random, invent: Callable[[random.Random], str] = spelled_name
) -> Conversation:
    """A copy of `conversation` whose copied entities are invented words, consistently wherever they appear.

    A copied entity is a string argument of one of the assistant's calls that appears in the conversation's
    other text (the user's words, a system prompt, a tool result) and is no member of a tool's `enum`. Each of
    its capitalised words (`ENTITY_WORD`) becomes an invented one (`invent`: by default
    `data.words.spelled_name`, English-like, so that the copies learned are of any word) in every
    message's text, every call's arguments and every tool result; a word that also starts a sentence ("Rome"
    in "Rome is sunny") changes there too, which keeps the text consistent. Lower-case words, digits, codes
    (`C`, `USD`), ordinary words of the corpus (`data.words.english_words`: 'The', 'Smart') and words that
    are enum members stay. Tool schemas, names and the conversation's `meta` are not changed.

    >>> call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Quito"}}}
    >>> messages = [{"role": "user", "content": "Weather in Quito?"},
    ...             {"role": "assistant", "content": "", "reasoning_content": "Quito, so I call it.",
    ...              "tool_calls": [call]},
    ...             {"role": "tool", "name": "get_weather", "content": '{"city": "Quito", "high": 13}'}]
    >>> fresh = fresh_entities(Conversation("c", messages, []), random.Random(0))
    >>> city = fresh.messages[1]["tool_calls"][0]["function"]["arguments"]["city"]
    >>> city != "Quito" and fresh.messages[0]["content"] == f"Weather in {city}?"
    True
    >>> fresh.messages[2]["content"] == '{"city": "%s", "high": 13}' % city
    True
    >>> messages[0]["content"]  # the original is untouched
    'Weather in Quito?'
    """
    texts = [
        str(message.get(key))
        for message in conversation.messages
        for key in ("content", "reasoning_content")
        if isinstance(message.get(key), str)
    ]
    words = _copied_words(conversation, texts)
    if not words:
        return conversation
    taken = {word for text in texts for word in ENTITY_WORD.findall(text)}
    mapping: dict[str, str] = {}
    for word in sorted(words):
        new = invent(rng)
        while new in taken:
            new = invent(rng)
        mapping[word] = new
        taken.add(new)
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(w) for w in sorted(mapping, key=len, reverse=True)) + r")\b"
    )

    def in_text(text: Any) -> Any:
        return pattern.sub(lambda match: mapping[match.group(1)], text) if isinstance(text, str) else text

    messages = copy.deepcopy(conversation.messages)
    for message in messages:
        for key in ("content", "reasoning_content"):
            if key in message:
                message[key] = in_text(message[key])
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and "arguments" in function:
                function["arguments"] = _in_strings(function["arguments"], in_text)
    return Conversation(conversation.id, messages, conversation.tools, conversation.meta)


def _copied_words(conversation: Conversation, texts: list[str]) -> set[str]:
    """The capitalised words of the string arguments that the conversation's text states (enum members aside)."""
    closed = {str(member) for tool in conversation.tools for member in _enum_members(tool)}
    kept = {word for member in closed for word in ENTITY_WORD.findall(member)}  # an enum member must stay one
    ordinary = english_words()  # 'The' of 'The Tugoul Road' also starts sentences that are not the entity
    copied = {
        word
        for message in conversation.messages
        for call in message.get("tool_calls") or []
        for value in _strings(_arguments(call))
        if value not in closed and any(value in text for text in texts)
        for word in ENTITY_WORD.findall(value)
    }
    return {word for word in copied - kept if word.lower() not in ordinary}


def _arguments(call: Any) -> Any:
    """A call's arguments (stored as an object: `data/conversations.py` parses JSON strings when it reads)."""
    function = call.get("function") if isinstance(call, dict) else None
    return function.get("arguments") if isinstance(function, dict) else None


def _strings(value: Any) -> list[str]:
    """Every string in `value`, nested ones too."""
    if isinstance(value, dict):
        return [item for nested in value.values() for item in _strings(nested)]
    if isinstance(value, list):
        return [item for nested in value for item in _strings(nested)]
    return [value] if isinstance(value, str) else []


def _enum_members(value: Any) -> list[Any]:
    """Every `enum` member anywhere in a tool schema."""
    if isinstance(value, dict):
        members = list(value["enum"]) if isinstance(value.get("enum"), list) else []
        return members + [m for key, nested in value.items() if key != "enum" for m in _enum_members(nested)]
    if isinstance(value, list):
        return [member for nested in value for member in _enum_members(nested)]
    return []


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

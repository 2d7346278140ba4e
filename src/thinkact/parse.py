"""Completion text → `Action`: the policy's thinking, its tool calls and its answer.

The action format is Qwen3/Hermes (DESIGN.md, decision 2)::

    <think>reasoning</think>
    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

or, instead of calls, a final answer after the thinking. The parser is tolerant: several calls, a JSON list
inside one tag, arguments given as a JSON string, stray whitespace, a missing closing tag and trailing special
tokens are all understood. It never raises on model output: whatever deviates from the format is recorded in
`Action.problems`, and the format reward scores it. Its work is linear in the length of the text, and the JSON of
a call is read by `jsonsafe.load_json`, so the arguments it hands on are tame: nested at most 64 levels, integers
Python can make, finite numbers, strings without lone surrogates. A call outside those bounds is a problem, not
an argument that crashes a reward, a template or a file later.

Qwen3.5 and Qwen3-Coder write the inside of a `<tool_call>` as XML instead of JSON, and a model fine-tuned from
them with its own chat template keeps doing so::

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Paris
    </parameter>
    </function>
    </tool_call>

Such a call is read too (`read_xml_call`): a parameter's value is the text between its tags less the one newline
the template writes on each side, JSON-decoded when it parses as JSON (`3`, `true`, `[1, 2]`), else kept as a
string. Without the tool schemas the parser cannot tell the string `"3"` from the number 3; both come back as 3.

Left out: other tool-call dialects (Llama's python tags, Mistral's `[TOOL_CALLS]`), and XML calls outside a
`<tool_call>` tag; readers in `data/` convert those on the way in.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from thinkact.jsonsafe import JSONValueError, clean_text, dump_json, load_json

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
FUNCTION_OPEN, FUNCTION_CLOSE = "<function=", "</function>"
PARAMETER_OPEN, PARAMETER_CLOSE = "<parameter=", "</parameter>"
MAX_CALLS = 64
"""Tool calls read from one completion; no turn needs more, and each costs a JSON parse."""
MAX_PARAMETERS = 256
"""Parameters (and deviations) read from one XML call; no tool takes more."""
# Special tokens a decoder may leave at the end of a completion when it is decoded with them.
_TRAILING_SPECIALS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>")
_CALL_RE = re.compile(r"<tool_call>(.*?)(</tool_call>|(?=<tool_call>)|$)", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One tool call: a function name and its arguments as a JSON object."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        """The call in the chat format's `tool_calls` entry shape."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class Action:
    """What the policy emitted in one assistant turn (or what the reference says it should have emitted).

    `think` is None when there was no `<think>` block and "" when the block was empty. `facts` is only set on
    reference actions: strings the answer must contain (values the reference took from tool results).
    """

    think: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    content: str = ""
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    @property
    def is_call(self) -> bool:
        return bool(self.tool_calls)

    def to_message(self) -> dict[str, Any]:
        """The action as a chat-format assistant message (`reasoning_content` only when there was a think block).

        >>> Action(think="t", tool_calls=[ToolCall("f", {"a": 1})]).to_message()["tool_calls"]
        [{'type': 'function', 'function': {'name': 'f', 'arguments': {'a': 1}}}]
        """
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.think is not None:
            message["reasoning_content"] = self.think
        if self.tool_calls:
            message["tool_calls"] = [call.to_message() for call in self.tool_calls]
        return message


def parse_action(text: str) -> Action:
    """Parse a completion into an `Action`; never raises.

    >>> a = parse_action('<think>Weather.</think><tool_call>{"name": "w", "arguments": {"c": 1}}</tool_call>')
    >>> a.think, a.tool_calls, a.content, a.problems
    ('Weather.', [ToolCall(name='w', arguments={'c': 1})], '', [])
    >>> parse_action('<think>ok</think>It is sunny.').content
    'It is sunny.'
    >>> parse_action('<tool_call>{"name": "w", "arguments": {').problems
    ['tool call 1 is not valid JSON', 'tool call 1 has no closing </tool_call>']
    """
    problems: list[str] = []
    text = _strip_trailing_specials(text)
    think, rest = _split_think(text, problems)
    tool_calls: list[ToolCall] = []
    outside: list[str] = []
    position = 0
    attempted = 0
    for number, match in enumerate(_CALL_RE.finditer(rest), start=1):
        if number > MAX_CALLS:
            problems.append(f"more than {MAX_CALLS} tool calls; the rest were not read")
            break
        outside.append(rest[position : match.start()])
        position = match.end()
        attempted = number
        tool_calls.extend(_parse_call_body(match.group(1), number, problems))
        if match.group(2) != CALL_CLOSE:
            problems.append(f"tool call {number} has no closing {CALL_CLOSE}")
    outside.append(rest[position:])
    content = "".join(outside).strip()
    if CALL_CLOSE in content:
        problems.append(f"stray {CALL_CLOSE} without an opening tag")
    if THINK_OPEN in content or THINK_CLOSE in content:
        problems.append("think tags after the start of the action")
    if not tool_calls and not content and not attempted:
        problems.append("empty action: neither a tool call nor an answer")
    return Action(think=think, tool_calls=tool_calls, content=content, problems=problems)


def action_from_message(message: dict[str, Any]) -> Action:
    """The `Action` an assistant message of the chat format stands for (used for reference turns).

    >>> action_from_message({"role": "assistant", "content": "", "reasoning_content": "r",
    ...     "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}]})
    Action(think='r', tool_calls=[ToolCall(name='f', arguments={'x': 2})], content='', problems=[], facts=[])
    """
    calls = []
    for entry in message.get("tool_calls") or []:
        function = entry.get("function", entry)
        arguments = function.get("arguments") or {}
        if isinstance(arguments, str):
            arguments = load_json(arguments)
        calls.append(ToolCall(name=function["name"], arguments=arguments))
    return Action(
        think=message.get("reasoning_content"),
        tool_calls=calls,
        content=(message.get("content") or "").strip(),
        facts=list(message.get("facts") or []),
    )


def _strip_trailing_specials(text: str) -> str:
    # An end index moves left instead of slicing each time: a megabyte of special tokens stays linear.
    text = text.strip()
    end = len(text)
    changed = True
    while changed:
        changed = False
        for token in _TRAILING_SPECIALS:
            if text.endswith(token, 0, end):
                end -= len(token)
                while end and text[end - 1].isspace():
                    end -= 1
                changed = True
    return text[:end]


def _split_think(text: str, problems: list[str]) -> tuple[str | None, str]:
    """Separate a leading think block from the rest of the completion."""
    if text.startswith(THINK_OPEN):
        body = text[len(THINK_OPEN) :]
        end = body.find(THINK_CLOSE)
        if end >= 0:
            return body[:end].strip(), body[end + len(THINK_CLOSE) :].strip()
        problems.append(f"{THINK_OPEN} has no closing {THINK_CLOSE}")
        cut = body.find(CALL_OPEN)
        return (body.strip(), "") if cut < 0 else (body[:cut].strip(), body[cut:])
    end = text.find(THINK_CLOSE)
    if end >= 0 and THINK_OPEN not in text[:end]:
        # Some templates put <think> in the prompt; the completion then starts inside the block.
        before = text[:end]
        if CALL_OPEN not in before:
            problems.append(f"{THINK_CLOSE} without an opening {THINK_OPEN}")
            return before.strip(), text[end + len(THINK_CLOSE) :].strip()
    return None, text


def _parse_call_body(body: str, number: int, problems: list[str]) -> list[ToolCall]:
    body = body.strip()
    if body.startswith(FUNCTION_OPEN):
        call, found = read_xml_call(body)
        problems.extend(f"tool call {number} {problem}" for problem in found)
        return [call] if call is not None else []
    try:
        payload = load_json(body)
    except JSONValueError as error:
        reason = "" if str(error).startswith("not valid JSON") else f" ({error})"
        problems.append(f"tool call {number} is not valid JSON{reason}")
        return []
    entries = payload if isinstance(payload, list) else [payload]
    calls = []
    for entry in entries:
        call = _call_from_json(entry, number, problems)
        if call is not None:
            calls.append(call)
    return calls


def _call_from_json(entry: Any, number: int, problems: list[str]) -> ToolCall | None:
    if not isinstance(entry, dict):
        problems.append(f"tool call {number} is not a JSON object")
        return None
    if "function" in entry and isinstance(entry["function"], dict):
        entry = entry["function"]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f'tool call {number} has no "name"')
        return None
    arguments = entry.get("arguments", entry.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = load_json(arguments) if arguments.strip() else {}
        except JSONValueError:
            problems.append(f"tool call {number} ({name}): arguments are a string that is not JSON")
            return None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        problems.append(f"tool call {number} ({name}): arguments are not a JSON object")
        return None
    return ToolCall(name=name.strip(), arguments=arguments)


def read_xml_call(body: str, *, text_parameters: Collection[str] = ()) -> tuple[ToolCall | None, list[str]]:
    """A Qwen3.5/Qwen3-Coder XML call, the inside of one `<tool_call>`: (the call or None, problems); never raises.

    Values are JSON-decoded when they parse as JSON, else strings; the parameters named in `text_parameters` (those
    a schema types as strings) always stay strings. A call without a function name is None; what else deviates
    (a missing closing tag, text outside the parameters, a parameter given twice) is read as far as it goes and
    named in the problems, each phrased to follow "tool call N".

    >>> read_xml_call("<function=f>\\n<parameter=n>\\n3\\n</parameter>\\n<parameter=s>\\nOz\\n</parameter></function>")
    (ToolCall(name='f', arguments={'n': 3, 's': 'Oz'}), [])
    >>> read_xml_call("<function=f>\\n<parameter=zip>\\n2139\\n</parameter>", text_parameters={"zip"})
    (ToolCall(name='f', arguments={'zip': '2139'}), ['has no closing </function>'])
    """
    body = body.strip()
    name_end = body.find(">")
    name = (
        body[len(FUNCTION_OPEN) : name_end].strip() if body.startswith(FUNCTION_OPEN) and name_end > 0 else ""
    )
    if not name or "\n" in name or "<" in name:
        return None, [f"has no function name ({FUNCTION_OPEN}NAME>)"]
    problems: list[str] = []
    close = body.find(FUNCTION_CLOSE, name_end)
    if close < 0:
        problems.append(f"has no closing {FUNCTION_CLOSE}")
        close = len(body)
    elif body[close + len(FUNCTION_CLOSE) :].strip():
        problems.append(f"({name}) has text after {FUNCTION_CLOSE}")
    arguments: dict[str, Any] = {}
    for key, raw, problem in _xml_parameters(body[name_end + 1 : close]):
        if problem:
            problems.append(f"({name}) {problem}")
        if key is None:
            continue
        if key in arguments:
            problems.append(f"({name}) gives parameter {key!r} twice; the first is kept")
            continue
        arguments[key] = _xml_value(raw, as_text=key in text_parameters)
    return ToolCall(name, arguments), problems


def _xml_parameters(inner: str) -> list[tuple[str | None, str, str]]:
    """(name or None, raw value, problem or "") for each `<parameter=NAME>VALUE</parameter>` and each deviation.

    A value ends at its `</parameter>`, or, when that is missing, at the next `<parameter=` (as Qwen's own parser
    reads it). At most `MAX_PARAMETERS` entries are read.
    """
    find = _Finder(inner)
    found: list[tuple[str | None, str, str]] = []
    position = 0
    while position < len(inner):
        if len(found) >= MAX_PARAMETERS:
            found.append((None, "", f"has more than {MAX_PARAMETERS} parameters; the rest were not read"))
            break
        start = find.next(PARAMETER_OPEN, position)
        stray = inner[position:start].strip()
        if stray:
            found.append((None, "", f"has text outside its parameters ({stray[:40]!r})"))
        if start == len(inner):
            break
        name_start = start + len(PARAMETER_OPEN)
        name_end = min(find.next(">", name_start), find.next("\n", name_start))
        key = inner[name_start:name_end].strip()
        if name_end == len(inner) or inner[name_end] != ">" or not key or "<" in key:
            found.append((None, "", f"has a parameter without a name ({PARAMETER_OPEN}NAME>)"))
            position = name_start
            continue
        close = find.next(PARAMETER_CLOSE, name_end)
        end = min(close, find.next(PARAMETER_OPEN, name_end))
        closed = end == close < len(inner)
        found.append(
            (
                key,
                inner[name_end + 1 : end],
                "" if closed else f"has no closing {PARAMETER_CLOSE} for {key!r}",
            )
        )
        position = end + len(PARAMETER_CLOSE) if closed else end
    return found


class _Finder:
    """The next place of a few tokens in one text. A search starts past the last place found for its token, so each
    stretch of the text is scanned at most once per token and reading a call stays linear in its length."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.found: dict[str, int] = {}

    def next(self, token: str, position: int) -> int:
        """Where `token` next starts at or after `position`; the text's length when it does not."""
        place = self.found.get(token, -1)
        if place < position:
            place = self.text.find(token, position)
            place = len(self.text) if place < 0 else place
            self.found[token] = place
        return place


def _xml_value(raw: str, *, as_text: bool) -> Any:
    """A parameter's value: the text less the one newline written on each side, JSON-decoded when it parses."""
    text = clean_text(raw.removeprefix("\n").removesuffix("\n"))
    if as_text:
        return text
    try:
        return load_json(text)
    except JSONValueError:
        return text


def render_action(action: Action, *, with_think: bool = True) -> str:
    """The completion text that `parse_action` reads back as `action` (Qwen3's rendering).

    >>> text = render_action(Action(think="t", tool_calls=[ToolCall("f", {"a": 1})]))
    >>> parse_action(text).tool_calls
    [ToolCall(name='f', arguments={'a': 1})]
    """
    parts = []
    if with_think:
        parts.append(f"{THINK_OPEN}\n{(action.think or '').strip()}\n{THINK_CLOSE}\n\n")
    parts.append(action.content)
    for index, call in enumerate(action.tool_calls):
        if index or action.content:
            parts.append("\n")
        payload = dump_json({"name": call.name, "arguments": call.arguments})
        parts.append(f"{CALL_OPEN}\n{payload}\n{CALL_CLOSE}")
    return "".join(parts)

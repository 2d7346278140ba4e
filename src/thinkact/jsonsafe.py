"""JSON at thinkact's boundaries: values read in are tame, files written out never fail.

Everything JSON that enters from outside (a completion's tool calls, a data file's records, a tool's result) goes
through one of three functions, so that later stages (rewards, templates, tokenisers, tool execution, files) can
rely on what they get:

- `load_json(text)` parses and refuses what later stages cannot handle: nesting deeper than `MAX_DEPTH`, integers
  longer than `MAX_INT_DIGITS` digits (Python refuses to make them), numbers too large for a float, and the
  non-standard constants `NaN`/`Infinity`. A lone UTF-16 surrogate in a string escape (`"\\ud800"`), which no file
  or tokeniser can encode, becomes U+FFFD. It raises `JSONValueError` (a `ValueError`) with the reason.
- `json_problem(value)` says what keeps a Python value from being standard JSON within those bounds (tool results
  are checked with it), or None.
- `dump_json(value)` writes standard JSON (UTF-8 safe, no NaN) for any value thinkact writes to a file; what
  cannot be written is repaired on the way out rather than lost with the whole file: a non-finite float becomes
  null, a lone surrogate U+FFFD, a subtree past `MAX_DEPTH` or an integer past `MAX_INT_DIGITS` its description,
  any other object `str(value)`.

Every JSON Lines file thinkact reads (data, results, metrics and sample logs) is cut into records by
`jsonl_lines`, which splits at "\n" alone: `str.splitlines` also splits at U+2028, U+2029 and U+0085, which
`dump_json` (like any JSON writer that keeps non-ASCII text) leaves unescaped inside strings.

Left out: size limits (the parser sees what the generation length allows; tool results have their own cap in
`envs.execute`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from thinkact.errors import UserError

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused: no tool call or record needs more, and Python's
recursion (json, jsonschema, Jinja templates) breaks at a few hundred."""
MAX_INT_DIGITS = 4300
"""Python's own limit on converting digits to an int (`sys.get_int_max_str_digits`)."""
_MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10)) - 8
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONValueError(ValueError):
    """JSON that thinkact refuses: the message says why (and where, for syntax errors)."""


def load_json(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `text` as JSON within thinkact's bounds; `JSONValueError` says what is wrong.

    >>> load_json('{"a": [1, 2.5, "\\\\ud800x"]}')
    {'a': [1, 2.5, '\\ufffdx']}
    >>> load_json('[' * 100 + ']' * 100)
    Traceback (most recent call last):
    ...
    thinkact.jsonsafe.JSONValueError: nested deeper than 64 levels
    >>> load_json('{"x": NaN}')
    Traceback (most recent call last):
    ...
    thinkact.jsonsafe.JSONValueError: NaN is not a JSON number
    """
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float
        )
    except json.JSONDecodeError as error:
        raise JSONValueError(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise JSONValueError(f"nested deeper than {max_depth} levels") from None
    return _walk(value, 0, max_depth, repair=False)


def tame(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """`value` (already parsed, e.g. by a YAML or Python-literal reader) checked and cleaned as `load_json` does.

    >>> tame({"a": (1, 2)})
    {'a': [1, 2]}
    """
    return _walk(value, 0, max_depth, repair=False)


def make_decoder() -> json.JSONDecoder:
    """A decoder with `load_json`'s number rules, for reading a JSON array item by item (`raw_decode`)."""
    return json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float)


def read_utf8(path: Path) -> str:
    """A text file's contents without the byte-order mark some editors write first; bytes that are not UTF-8
    stop with the line they are on and what to do."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UserError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


def jsonl_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for each line of JSON Lines `text` that holds anything but JSON whitespace.

    Lines end at "\\n" only, as JSON Lines defines them; a "\\r" before it (a Windows file) and a byte-order
    mark at the start are dropped. Line numbers count "\\n", as editors and `sed -n` do.

    >>> jsonl_lines('\\ufeff{"a": "x\\u2028y\\x85"}\\r\\n \\n[1]\\n')
    [(1, '{"a": "x\\u2028y\\x85"}'), (3, '[1]')]
    """
    lines = text.removeprefix("\ufeff").split("\n")
    return [
        (number, line.removesuffix("\r")) for number, line in enumerate(lines, start=1) if line.strip(" \t\r")
    ]


def read_jsonl_lines(path: Path) -> list[tuple[int, str]]:
    """`jsonl_lines` of a UTF-8 file (`read_utf8` says where bytes that are not UTF-8 are)."""
    return jsonl_lines(read_utf8(path))


def json_problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `value` is not standard JSON within thinkact's bounds, or None.

    >>> json_problem({"a": [1.0, float("nan")]}), json_problem({"a": 1})
    ('nan is not a JSON number', None)
    """
    try:
        _walk(value, 0, max_depth, repair=False)
    except JSONValueError as error:
        return str(error)
    return None


def dump_json(value: Any, *, indent: int | None = None) -> str:
    """`value` as standard JSON text that any UTF-8 file can hold; never raises.

    >>> dump_json({"x": float("inf"), "s": "\\ud800", 3: (1, 2)})
    '{"x": null, "s": "\\ufffd", "3": [1, 2]}'
    """
    return json.dumps(
        _walk(value, 0, MAX_DEPTH, repair=True), ensure_ascii=False, allow_nan=False, indent=indent
    )


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8.

    >>> clean_text("a\\ud800b")
    'a\\ufffdb'
    """
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _walk(value: Any, depth: int, max_depth: int, *, repair: bool) -> Any:
    """A copy of `value` with strings cleaned; a problem raises, or with `repair` is replaced by a stand-in.

    Recursion stops at `max_depth`, so this never goes deeper than the bound it enforces.
    """
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() <= _MAX_INT_BITS:
            return value
        return _problem(f"an integer of more than {MAX_INT_DIGITS} digits", repair)
    if isinstance(value, float):
        return value if math.isfinite(value) else _problem(f"{value} is not a JSON number", repair, None)
    if isinstance(value, dict | list | tuple):
        if depth >= max_depth:
            return _problem(f"nested deeper than {max_depth} levels", repair)
        if not isinstance(value, dict):
            return [_walk(item, depth + 1, max_depth, repair=repair) for item in value]
        copied = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if not repair:
                    raise JSONValueError(f"object key {key!r} is not a string")
                key = str(key)
            copied[clean_text(key)] = _walk(item, depth + 1, max_depth, repair=repair)
        return copied
    return _problem(f"{type(value).__name__} is not a JSON value", repair, clean_text(str(value)))


def _problem(message: str, repair: bool, stand_in: Any = ...) -> Any:
    if not repair:
        raise JSONValueError(message)
    return f"<{message}>" if stand_in is ... else stand_in


def _refuse_constant(name: str) -> Any:
    raise JSONValueError(f"{name} is not a JSON number")


def _parse_int(digits: str) -> int:
    if len(digits) - digits.startswith("-") > MAX_INT_DIGITS:
        raise JSONValueError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONValueError(f"the number {text[:40]} is too large for a float")
    return value

"""Readers from the formats the field uses into the chat format (DESIGN.md, decision 1).

`READERS` maps a format name to a function `path → SourceItem`s; `reader_for` also passes the options a format
needs (API-Bank's API table). Each format's module says how its fields map; docs/formats.md shows them side by
side. `thinkact data convert` runs a reader through validation into a writer (`data/readers/convert.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from thinkact.data.readers.apibank import read_apibank
from thinkact.data.readers.bfcl import read_bfcl
from thinkact.data.readers.hermes import read_hermes
from thinkact.data.readers.openai import read_openai
from thinkact.data.readers.records import SourceItem
from thinkact.data.readers.sharegpt import read_sharegpt
from thinkact.data.readers.xlam import read_xlam
from thinkact.errors import UserError

Reader = Callable[[Path], Iterable[SourceItem]]


READERS: dict[str, Reader] = {
    "chat": read_openai,  # the chat format is OpenAI messages plus a few fields, which pass through as they are
    "openai": read_openai,
    "sharegpt": read_sharegpt,
    "xlam": read_xlam,
    "hermes": read_hermes,
    "apibank": read_apibank,
    "bfcl": read_bfcl,
}


def reader_for(name: str, *, apis: Path | None = None) -> Reader:
    """The reader of a format; `apis` is API-Bank's all_apis.csv when it is not found above the dialogues."""
    if name not in READERS:
        raise UserError(f"--from {name}: unknown format; choose one of {', '.join(READERS)}")
    if apis is not None and name != "apibank":
        raise UserError("--apis only applies to --from apibank; leave it out")
    if name == "apibank":
        return lambda path: read_apibank(path, apis)
    return READERS[name]

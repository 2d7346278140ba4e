"""`thinkact data convert`: read a file in some format, check every record, write the valid ones.

No record is dropped silently: a record that cannot be converted or fails validation stops the conversion
with its location and problems, or, with `skip_invalid`, goes to a rejects file (`{"where", "problems",
"record"}` per line) and is counted in the summary. The output appears only when the conversion finishes, so
a stopped run leaves no half-written file. Left out: streaming very large files (records are held in memory).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.data.conversations import Conversation
from thinkact.data.readers import reader_for
from thinkact.data.validate import validate_record
from thinkact.data.writers import WRITERS, alternates
from thinkact.errors import UserError


@dataclass
class ConvertSummary:
    read: int
    written: int
    rejected: int
    out: Path
    rejects: Path
    not_alternating: int = 0
    """ShareGPT output only: conversations whose turns do not alternate, which LLaMA-Factory skips."""


def rejects_path(out: Path) -> Path:
    """Where rejected records go by default: beside the output, `NAME.rejects.jsonl`."""
    return out.with_name(f"{out.name.removesuffix('.jsonl')}.rejects.jsonl")


def run_convert(
    source: Path,
    *,
    source_format: str,
    out: Path,
    target_format: str = "chat",
    skip_invalid: bool = False,
    rejects: Path | None = None,
    apis: Path | None = None,
) -> ConvertSummary:
    """Convert `source` into `out`; returns the counts. Raises UserError on the first invalid record unless skipping."""
    if target_format not in WRITERS:
        raise UserError(f"--to {target_format}: unknown format; choose one of {', '.join(WRITERS)}")
    rejects = rejects or rejects_path(out)
    reader = reader_for(source_format, apis=apis)
    conversations: list[Conversation] = []
    rejected: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    read = 0
    for item in reader(source):
        read += 1
        problems = item.problems or validate_record(item.record)
        record = item.record or {}
        if not problems and record["id"] in seen:
            problems = [
                f"id: {record['id']!r} repeats {seen[record['id']]}; give each conversation its own id"
            ]
        if problems and not skip_invalid:
            listed = "; ".join(problems[:5])
            raise UserError(
                f"{item.where}: {listed}\nFix the record, or pass --skip-invalid to set it aside in {rejects}."
            )
        if problems:
            rejected.append({"where": item.where, "problems": problems, "record": item.raw})
            continue
        seen[record["id"]] = item.where
        conversations.append(
            Conversation(
                id=record["id"],
                messages=record["messages"],
                tools=record.get("tools", []),
                meta=record.get("meta", {}),
            )
        )
    if rejected:
        _write_jsonl(rejects, rejected)
    if not conversations:
        raise UserError(
            f"{source}: no record could be converted"
            + (f"; the reasons are in {rejects}" if rejected else "")
        )
    partial = out.with_name(out.name + ".partial")
    try:
        written = WRITERS[target_format](partial, conversations)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)  # a failed write leaves no *.partial behind
    skipped = sum(not alternates(c) for c in conversations) if target_format == "sharegpt" else 0
    return ConvertSummary(read, written, len(rejected), out, rejects, not_alternating=skipped)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

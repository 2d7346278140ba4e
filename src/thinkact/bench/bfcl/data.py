"""BFCL's data folder: find the question file of each category and load questions with their possible answers.

The folder is BFCL's `data/` (in the `bfcl-eval` package: `bfcl_eval/data/`): one `BFCL_v<N>_<category>.json`
per category, JSON Lines despite the name, and `possible_answer/` beside them with the same file names.
Questions are matched to possible answers by id. Left out: the categories `checker.SUPPORTED` does not cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.bench.bfcl.checker import RELEVANCE, supported_categories
from thinkact.data.readers.bfcl import answers_path, bfcl_category, load_bfcl_file
from thinkact.errors import UserError

_QUESTION_FILE = re.compile(r"^BFCL_v\d+_(?P<category>\w+)\.json$")


@dataclass
class Question:
    id: str
    category: str
    functions: list[dict[str, Any]]
    turns: list[Any]
    truth: list[Any] | None
    """The ground truth: [{function: {param: [acceptable values]}}]; None for relevance categories."""


def question_files(data_dir: Path) -> dict[str, Path]:
    """Category → question file, for every `BFCL_v*_<category>.json` in the folder."""
    if not data_dir.is_dir():
        raise UserError(
            f"--data-dir {data_dir}: no such folder; pass BFCL's data/ folder (for example bfcl_eval/data)"
        )
    found: dict[str, Path] = {}
    for path in sorted(data_dir.glob("BFCL_v*_*.json")):
        match = _QUESTION_FILE.match(path.name)
        if match is None:
            continue
        category = match.group("category")
        if category in found:
            raise UserError(
                f"{data_dir}: both {found[category].name} and {path.name} hold {category}; keep one version"
            )
        found[category] = path
    if not found:
        raise UserError(f"--data-dir {data_dir}: no BFCL_v*_<category>.json files; pass BFCL's data/ folder")
    return found


def check_categories(categories: list[str]) -> None:
    unknown = [category for category in categories if category not in supported_categories()]
    if unknown:
        raise UserError(
            f"categories {', '.join(unknown)} are not checked by thinkact; "
            f"choose among {', '.join(supported_categories())}"
        )


def load_questions(data_dir: Path, categories: list[str]) -> dict[str, Question]:
    """Question id → question (with its ground truth), for the given categories."""
    check_categories(categories)
    files = question_files(data_dir)
    questions: dict[str, Question] = {}
    for category in categories:
        if category not in files:
            raise UserError(
                f"--data-dir {data_dir}: no question file for {category} (BFCL_v*_{category}.json)"
            )
        path = files[category]
        truths: dict[str, Any] = {}
        if category not in RELEVANCE:
            truths = {entry["id"]: entry.get("ground_truth") for entry in load_bfcl_file(answers_path(path))}
        for entry in load_bfcl_file(path):
            if category not in RELEVANCE and entry["id"] not in truths:
                raise UserError(
                    f"{answers_path(path)}: no possible answer for {entry['id']}; the file looks incomplete"
                )
            questions[entry["id"]] = Question(
                id=entry["id"],
                category=bfcl_category(entry["id"]),
                functions=list(entry.get("function") or []),
                turns=list(entry.get("question") or []),
                truth=truths.get(entry["id"]),
            )
    return questions

"""`thinkact bfcl score`: verdicts on a results file, and accuracy per category, as BFCL counts them.

A results file is JSON Lines, one line per question: `{"id": ..., "tool_calls": [{"name": ..., "arguments":
{...}}]}` (an OpenAI-style `{"function": {...}}` wrapper and arguments as a JSON string are accepted too) or
`{"id": ..., "completion": "<raw model text>"}`, which is parsed with thinkact's tolerant parser. The category
comes from the id, as in BFCL. A call list that is not in function-calling shape (an entry without a name,
arguments that are not an object) is what BFCL calls a decoding failure: invalid, except for irrelevance,
where it counts as no call. Accuracy is correct / scored per category; when a results file covers only part
of a category, the summary says how much.

Left out: BFCL's overall (weighted) leaderboard score, and its cost and latency columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkact.bench.bfcl.checker import Verdict, check_relevance, check_result, supported_categories
from thinkact.bench.bfcl.data import Question, load_questions
from thinkact.data.readers.bfcl import bfcl_category
from thinkact.errors import UserError
from thinkact.files import atomic_write
from thinkact.jsonsafe import JSONValueError, dump_json, load_json, read_jsonl_lines
from thinkact.parse import ToolCall, parse_action


@dataclass
class ModelResult:
    id: str
    line: int
    calls: list[ToolCall] | None
    """The model's calls; None when its output was not in function-calling shape."""
    problem: str = ""


@dataclass
class CategoryScore:
    category: str
    correct: int
    scored: int
    questions: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0


@dataclass
class ScoreReport:
    verdicts: list[dict[str, Any]]
    categories: list[CategoryScore]


def read_results(path: Path) -> list[ModelResult]:
    """A results file; a line that is not a result (no id, neither tool_calls nor completion) stops with its place."""
    if not path.is_file():
        raise UserError(
            f"--results {path}: no such file; write one line per question with id and tool_calls or completion"
        )
    results: list[ModelResult] = []
    seen: dict[str, int] = {}
    for number, line in read_jsonl_lines(path):
        where = f"{path}:{number}"
        try:
            record = load_json(line)
        except JSONValueError as error:
            raise UserError(f"{where}: {error}; write each result as one line of standard JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise UserError(f'{where}: id: expected an object with the question\'s string "id"')
        if record["id"] in seen:
            raise UserError(
                f"{where}: id: {record['id']!r} repeats line {seen[record['id']]}; keep one result per question"
            )
        seen[record["id"]] = number
        results.append(_result(record, number, where))
    if not results:
        raise UserError(f"--results {path}: the file holds no results")
    return results


def _result(record: dict[str, Any], number: int, where: str) -> ModelResult:
    if ("tool_calls" in record) == ("completion" in record):
        raise UserError(
            f'{where}: give exactly one of "tool_calls" (a list of calls) or "completion" (the model\'s text)'
        )
    if "completion" in record:
        if not isinstance(record["completion"], str):
            raise UserError(f"{where}: completion: expected the model's raw text as a string")
        return ModelResult(record["id"], number, parse_action(record["completion"]).tool_calls)
    entries = record["tool_calls"]
    if entries is None:
        return ModelResult(record["id"], number, [])
    if not isinstance(entries, list):
        raise UserError(f"{where}: tool_calls: expected a list of calls (an empty list for no call)")
    calls = []
    for index, entry in enumerate(entries):
        call = _decode_call(entry)
        if call is None:
            return ModelResult(
                record["id"],
                number,
                None,
                f"tool_calls[{index}] is not a call with a name and object arguments",
            )
        calls.append(call)
    return ModelResult(record["id"], number, calls)


def _decode_call(entry: Any) -> ToolCall | None:
    function = entry.get("function", entry) if isinstance(entry, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        return None
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = load_json(arguments)
        except JSONValueError:
            return None
    return ToolCall(function["name"], arguments) if isinstance(arguments, dict) else None


def score_results(data_dir: Path, results: list[ModelResult], source: str = "results") -> ScoreReport:
    """Verdicts for every result and accuracy per category (categories in order of first appearance)."""
    for result in results:
        if bfcl_category(result.id) not in supported_categories():
            raise UserError(
                f"{source}:{result.line}: id: {result.id!r} is in {bfcl_category(result.id)}, a category thinkact "
                f"does not check; keep results of {', '.join(supported_categories())}"
            )
    categories = list(dict.fromkeys(bfcl_category(result.id) for result in results))
    questions = load_questions(data_dir, categories)
    verdicts = []
    for result in results:
        if result.id not in questions:
            raise UserError(
                f"{source}:{result.line}: id: {result.id!r} is no question of the BFCL data in {data_dir}"
            )
        question = questions[result.id]
        verdict = score_one(question, result)
        verdicts.append(
            {"id": result.id, "category": question.category, "valid": verdict.valid, "reason": verdict.reason}
            | ({"error_type": verdict.error_type} if verdict.error_type else {})
        )
    return ScoreReport(verdicts=verdicts, categories=_summarise(categories, questions, verdicts))


def score_one(question: Question, result: ModelResult) -> Verdict:
    if result.calls is None:
        if question.truth is None:
            return check_relevance(question.category, [])
        return Verdict(
            False, f"not in function-calling format: {result.problem}", "decoder_wrong_output_format"
        )
    if question.truth is None:
        return check_relevance(question.category, result.calls)
    try:
        return check_result(question.category, question.functions, result.calls, question.truth)
    except ValueError as error:
        raise UserError(f"BFCL question {question.id}: {error}") from None


def _summarise(
    categories: list[str], questions: dict[str, Question], verdicts: list[dict[str, Any]]
) -> list[CategoryScore]:
    scores = []
    for category in categories:
        mine = [verdict for verdict in verdicts if verdict["category"] == category]
        total = sum(1 for question in questions.values() if question.category == category)
        scores.append(CategoryScore(category, sum(verdict["valid"] for verdict in mine), len(mine), total))
    return scores


def write_verdicts(path: Path, verdicts: list[dict[str, Any]]) -> None:
    with atomic_write(path) as handle:
        for verdict in verdicts:
            handle.write(dump_json(verdict) + "\n")


def format_report(report: ScoreReport) -> str:
    """The accuracy table printed by `thinkact bfcl score`."""
    lines = [f"{'category':<24} {'correct':>8} {'scored':>7} {'accuracy':>9}"]
    for score in report.categories:
        note = (
            ""
            if score.scored == score.questions
            else f"  (results for {score.scored} of {score.questions} questions)"
        )
        lines.append(
            f"{score.category:<24} {score.correct:>8} {score.scored:>7} {score.accuracy:>9.2%}{note}"
        )
    correct = sum(score.correct for score in report.categories)
    scored = sum(score.scored for score in report.categories)
    lines.append(f"{'all (micro)':<24} {correct:>8} {scored:>7} {correct / scored:>9.2%}")
    return "\n".join(lines)

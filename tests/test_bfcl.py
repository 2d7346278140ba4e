"""BFCL: hand-written cases for every rule of the AST checker (each with the verdict bfcl-eval gives it; see
test_bfcl_agreement.py), the function-doc conversion, `thinkact bfcl score`, and `thinkact bfcl eval` with the
tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinkact.bench.bfcl.checker import check_result, standardise
from thinkact.bench.bfcl.data import load_questions
from thinkact.bench.bfcl.evaluate import bfcl_prompt, run_bfcl_eval
from thinkact.bench.bfcl.score import read_results, score_results
from thinkact.cli.apps import app
from thinkact.data.readers.bfcl import bfcl_tool
from thinkact.errors import UserError
from thinkact.parse import ToolCall

FIXTURES = Path(__file__).parent / "fixtures" / "bfcl"
DATA = FIXTURES / "data"
CASES = json.loads((FIXTURES / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES["cases"], ids=[case["rule"] for case in CASES["cases"]])
def test_rule(case: dict[str, Any]) -> None:
    functions = [CASES["functions"][name] for name in case["functions"]]
    calls = [ToolCall(call["name"], call["arguments"]) for call in case["calls"]]
    verdict = check_result(case["category"], functions, calls, case["truth"])
    assert verdict.valid == case["valid"], verdict.reason
    assert verdict.valid or verdict.reason


def test_every_category_is_covered_by_cases() -> None:
    categories = {case["category"] for case in CASES["cases"]}
    assert {"simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"} <= categories
    assert {
        "live_simple",
        "live_multiple",
        "live_parallel",
        "live_parallel_multiple",
        "live_irrelevance",
    } <= categories


def test_standardise_removes_what_bfcl_removes() -> None:
    assert standardise("New York, N.Y. - 2024/05_01*2^3") == "newyorkny2024050123"
    assert standardise("'a'") == '"a"'


def test_function_docs_become_json_schema() -> None:
    tool = bfcl_tool(CASES["functions"]["fetch_records"])["function"]
    assert tool["parameters"]["type"] == "object"
    assert tool["parameters"]["properties"]["conditions"]["type"] == "object"
    assert tool["description"].endswith("Note that the provided function is in Python 3 syntax.")
    coord = bfcl_tool(CASES["functions"]["distance"])["function"]["parameters"]["properties"]["coord"]
    assert coord == {"type": "array", "items": {"type": "number"}, "description": "Lat, lon."}
    data = bfcl_tool(CASES["functions"]["store"])["function"]["parameters"]["properties"]["data"]
    assert "type" not in data


def test_question_becomes_prompt_with_system_message() -> None:
    question = load_questions(DATA, ["live_multiple"])["live_multiple_0-0-0"]
    messages, tools = bfcl_prompt(question)
    assert [message["role"] for message in messages] == ["system", "user"]
    assert [tool["function"]["name"] for tool in tools] == ["calc_area", "fetch_records"]


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_score_cli_writes_verdicts_and_prints_accuracy(tmp_path: Path) -> None:
    results = _write(
        tmp_path / "results.jsonl",
        [
            {
                "id": "simple_python_0",
                "tool_calls": [{"name": "calc_area", "arguments": {"base": 10, "height": 5}}],
            },
            {
                "id": "simple_python_1",
                "completion": '<think>go</think><tool_call>{"name": "speed", "arguments": '
                '{"distance": 100, "time": 9.58}}</tool_call>',
            },
            {
                "id": "parallel_0",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}}],
            },
            {"id": "irrelevance_0", "completion": "Shakespeare wrote it."},
            {
                "id": "live_multiple_0-0-0",
                "tool_calls": [{"name": "fetch_records", "arguments": {"conditions": {}}}],
            },
        ],
    )
    out = tmp_path / "verdicts.jsonl"
    run = CliRunner().invoke(
        app, ["bfcl", "score", "--data-dir", str(DATA), "--results", str(results), "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    verdicts = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert [verdicts[key]["valid"] for key in verdicts] == [True, True, False, True, False]
    assert "expected 2 calls" in verdicts["parallel_0"]["reason"]
    assert "simple_python                   2       2   100.00%\n" in run.output
    assert "parallel                        0       1     0.00%" in run.output
    assert "live_multiple                   0       1     0.00%" in run.output


def test_a_partly_covered_category_says_so(tmp_path: Path) -> None:
    results = _write(tmp_path / "r.jsonl", [{"id": "simple_python_1", "tool_calls": []}])
    report = score_results(DATA, read_results(results))
    assert (report.categories[0].scored, report.categories[0].questions) == (1, 2)


def test_malformed_calls_are_a_verdict_not_a_crash(tmp_path: Path) -> None:
    results = _write(
        tmp_path / "r.jsonl",
        [
            {"id": "simple_python_0", "tool_calls": [{"name": "calc_area", "arguments": "not json"}]},
            {"id": "irrelevance_0", "tool_calls": [{"arguments": {}}]},
        ],
    )
    verdicts = score_results(DATA, read_results(results)).verdicts
    assert [verdict["valid"] for verdict in verdicts] == [False, True]
    assert "function-calling format" in verdicts[0]["reason"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"tool_calls": []}', "id: expected"),
        ('{"id": "simple_python_0"}', "exactly one of"),
        ('{"id": "simple_python_9", "tool_calls": []}', "is no question"),
        ('{"id": "multi_turn_base_0", "tool_calls": []}', "a category thinkact does not check"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_results_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text(line + "\n")
    with pytest.raises(UserError, match=message) as error:
        score_results(DATA, read_results(results), source=str(results))
    assert str(results) in str(error.value)


def test_eval_runs_the_tiny_model_end_to_end(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run_bfcl_eval(
        str(tiny_model_dir), DATA, ["simple_python", "irrelevance"], tmp_path, max_new_tokens=8, batch_size=4
    )
    assert [score.scored for score in report.categories] == [2, 1]
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [
        "simple_python_0",
        "simple_python_1",
        "irrelevance_0",
    ]
    assert len((tmp_path / "verdicts.jsonl").read_text().splitlines()) == 3
    assert json.loads((tmp_path / "summary.json").read_text())["categories"][0]["category"] == "simple_python"

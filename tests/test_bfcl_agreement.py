"""Agreement of thinkact's BFCL checker with bfcl-eval's own AST checker, on BFCL's data and perturbations of it.

Runs only when THINKACT_BFCL_EVAL names a folder holding the unpacked `bfcl_eval` package (it is never a
dependency of thinkact): `pip download --no-deps bfcl-eval -d /tmp/bfcl && unzip /tmp/bfcl/*.whl -d /tmp/bfcl/pkg`,
then `THINKACT_BFCL_EVAL=/tmp/bfcl/pkg pytest tests/test_bfcl_agreement.py -s`. For every question of the
single-turn Python categories it builds the reference answer and about a dozen seeded perturbations of it
(parameters dropped, added, retyped, changed; calls reordered, duplicated, dropped, renamed), asks both
checkers, and requires the same verdict on every case. bfcl-eval's checker is imported with a stub for its
model registry, the one module that pulls its API clients.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import random
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from thinkact.bench.bfcl.checker import check_result
from thinkact.bench.bfcl.data import Question, load_questions
from thinkact.data.readers.bfcl import reference_call
from thinkact.parse import ToolCall

BFCL_EVAL = os.environ.get("THINKACT_BFCL_EVAL")
CATEGORIES = [
    "simple_python", "multiple", "parallel", "parallel_multiple",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
]  # fmt: skip
pytestmark = pytest.mark.skipif(
    not BFCL_EVAL, reason="set THINKACT_BFCL_EVAL to an unpacked bfcl_eval package"
)


def _bfcl_checker() -> Any:
    sys.path.insert(0, str(BFCL_EVAL))
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {"thinkact": types.SimpleNamespace(underscore_to_dot=False)}  # type: ignore[attr-defined]
    sys.modules["bfcl_eval.constants.model_config"] = registry
    return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")


def _reference(question: Question) -> list[ToolCall]:
    assert question.truth is not None
    docs = {function["name"]: function for function in question.functions}
    calls = [reference_call(truth, docs)["function"] for truth in question.truth]
    return [ToolCall(call["name"], call["arguments"]) for call in calls]


def _changed(value: Any, rng: random.Random) -> list[Any]:
    """Values near `value`: some BFCL accepts (case, punctuation, int for float), most it does not."""
    if isinstance(value, bool):
        return [not value, int(value), str(value).lower()]
    if isinstance(value, int):
        return [value + 1, float(value), str(value), None, True]
    if isinstance(value, float):
        return [value + 0.5, int(value), str(value)] + ([int(value)] if value.is_integer() else [])
    if isinstance(value, str):
        return [value.upper(), value.replace(" ", "-"), value + "x", "", value.replace(",", " ,"), 7]
    if isinstance(value, list):
        changed = [
            list(reversed(value)),
            [*value, value[0]] if value else ["x"],
            [],
            [str(item) for item in value],
        ]
        return [
            *changed,
            [float(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in value],
        ]
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        return [
            {k: v for k, v in value.items() if k != key},
            {**value, key: "zz"},
            {**value, "zz": 1},
            [value],
        ]
    return [None, "x"]


def _perturbations(calls: list[ToolCall], question: Any, rng: random.Random) -> list[list[ToolCall]]:
    cases = [calls, list(reversed(calls)), calls[:-1], [*calls, calls[0]]]
    for _ in range(3):
        index = rng.randrange(len(calls))
        call = calls[index]
        arguments = copy.deepcopy(call.arguments)
        accepted = next(iter(question.truth[index].values()))
        options = sorted(set(accepted) - set(arguments))
        if arguments:
            name = rng.choice(sorted(arguments))
            for value in _changed(arguments[name], rng):
                cases.append(_replace(calls, index, ToolCall(call.name, {**arguments, name: value})))
            cases.append(
                _replace(calls, index, ToolCall(call.name, {k: v for k, v in arguments.items() if k != name}))
            )
            last = [value for value in accepted.get(name, []) if value != ""]
            if last:
                cases.append(_replace(calls, index, ToolCall(call.name, {**arguments, name: last[-1]})))
        if options:
            name = rng.choice(options)
            values = [value for value in accepted[name] if value != ""]
            cases.append(
                _replace(calls, index, ToolCall(call.name, {**arguments, name: values[0] if values else 0}))
            )
        cases.append(_replace(calls, index, ToolCall(call.name, {**arguments, "zz_extra": 1})))
        cases.append(_replace(calls, index, ToolCall(call.name + "_x", arguments)))
        other = [function["name"] for function in question.functions if function["name"] != call.name]
        if other:
            cases.append(_replace(calls, index, ToolCall(rng.choice(other), arguments)))
    return cases


def _replace(calls: list[ToolCall], index: int, call: ToolCall) -> list[ToolCall]:
    return [call if position == index else item for position, item in enumerate(calls)]


def test_hand_written_cases_have_bfcl_evals_verdict() -> None:
    """The verdicts written into tests/fixtures/bfcl/cases.json are the ones bfcl-eval gives."""
    checker = _bfcl_checker()
    language = importlib.import_module("bfcl_eval.constants.enums").Language.PYTHON
    fixture = json.loads((Path(__file__).parent / "fixtures" / "bfcl" / "cases.json").read_text())
    for case in fixture["cases"]:
        if case["truth"] is None:
            continue  # relevance categories: BFCL only asks whether any call was made
        functions = [fixture["functions"][name] for name in case["functions"]]
        output = [{call["name"]: call["arguments"]} for call in case["calls"]]
        verdict = checker.ast_checker(
            functions, output, case["truth"], language, case["category"], "thinkact"
        )
        assert verdict["valid"] == case["valid"], (case["rule"], verdict)


def test_verdicts_agree_with_bfcl_eval() -> None:
    checker = _bfcl_checker()
    language = importlib.import_module("bfcl_eval.constants.enums").Language.PYTHON
    data_dir = Path(str(BFCL_EVAL)) / "bfcl_eval" / "data"
    questions = load_questions(data_dir, CATEGORIES)
    rng = random.Random(0)
    counts: Counter[str] = Counter()
    disagreements = []
    for question in questions.values():
        assert question.truth is not None
        for calls in _perturbations(_reference(question), question, rng):
            output = [{call.name: copy.deepcopy(call.arguments)} for call in calls]
            try:
                theirs = checker.ast_checker(
                    copy.deepcopy(question.functions),
                    output,
                    question.truth,
                    language,
                    question.category,
                    "thinkact",
                )["valid"]
            except Exception:  # bfcl-eval raises on a few malformed values; thinkact calls those invalid
                counts["bfcl-eval raised"] += 1
                continue
            ours = check_result(question.category, question.functions, calls, question.truth).valid
            counts["cases"] += 1
            counts[f"valid={theirs}"] += 1
            if ours != theirs:
                disagreements.append((question.id, output, theirs))
    print(
        f"\nBFCL agreement on {len(questions)} questions: {dict(counts)}, disagreements: {len(disagreements)}"
    )
    assert not disagreements, disagreements[:5]

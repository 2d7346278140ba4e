"""BFCL's AST checker, rule for rule: is a model's list of calls a valid answer to one BFCL question?

Written from the rules of the Berkeley Function Calling Leaderboard's checker (package `bfcl-eval`), for the
Python single-turn categories and their `live_` counterparts. The rules, in the order BFCL applies them:

- Count: `simple` categories need exactly one call; `multiple` needs as many calls as the ground truth (one),
  checked against the function the ground truth names; `parallel*` need as many calls as the ground truth.
- Parallel matching is order-free and greedy, like BFCL's: each ground-truth call, in order, takes the first
  still-unmatched model call that checks valid against it (no backtracking, so BFCL's verdict is kept even
  where a full matching would exist).
- One call: the function name is exact; every `required` parameter is present; every given parameter is in
  the function doc and in the possible answer; each value passes the type check and the value check; each
  possible-answer parameter that is not given must accept `""` (BFCL's mark of "may be left out").
- Types (Python): `string`, `integer`, `float`, `boolean`, `array`, `tuple`, `dict`, `any` (which BFCL checks
  as a string); exact types, so `true` is no integer. An integer where a `float` is expected is converted and
  accepted. Arrays and tuples check their items' type one level deep, against the acceptable lists. A value of
  another type is still accepted when it has the type of the possible answer's first acceptable value (BFCL's
  "variable" case); it is then compared by plain equality.
- Values: strings are compared after BFCL's standardisation (spaces and `,./-_*^` removed, lower case, `'`
  as `"`); lists compare element-wise with their string elements standardised (an acceptable `""` there
  stands for `[]`); a dict is valid when it matches one acceptable dict key by key (keys it omits must accept
  `""`); a list of dicts matches an acceptable list position by position; numbers and booleans by equality
  among the acceptable values.
- Relevance: an `irrelevance` question is answered correctly by making no call; `live_relevance` by making
  at least one.

Where BFCL's own checker would raise (a list of dicts holding a non-dict, a doc without `items`), the call is
invalid here, or checked without the missing part. Left out: Java and JavaScript type conversion, multi-turn
and agentic categories, and BFCL's renaming of dotted function names for some API models.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from thinkact.parse import ToolCall

PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_STANDARDISED = re.compile(r"[ ,./\-_*^]")
SUPPORTED = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
"""The categories checked here; each also exists with a `live_` prefix (`live_simple` for `simple_python`)."""
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")


@dataclass(frozen=True)
class Verdict:
    """Whether a result is valid, and if not, why (`error_type` uses BFCL's names for the same failures)."""

    valid: bool
    reason: str = ""
    error_type: str = ""


VALID = Verdict(True)


def supported_categories() -> list[str]:
    live = [
        "live_simple",
        *(f"live_{name}" for name in SUPPORTED if name != "simple_python"),
        "live_relevance",
    ]
    return [*SUPPORTED, *live]


def check_result(
    category: str, functions: list[dict[str, Any]], calls: list[ToolCall], truth: list[Any]
) -> Verdict:
    """The verdict on one question: its category, function docs, the model's calls and the ground truth.

    >>> doc = {"name": "area", "parameters": {"type": "dict", "required": ["r"],
    ...     "properties": {"r": {"type": "float"}}}}
    >>> check_result("simple_python", [doc], [ToolCall("area", {"r": 2})], [{"area": {"r": [2.0]}}]).valid
    True
    """
    if category in RELEVANCE:
        return check_relevance(category, calls)
    if "parallel" in category:
        return check_parallel(functions, calls, truth)
    if "multiple" in category:
        if len(calls) != len(truth):
            return Verdict(False, f"expected {len(truth)} call(s), got {len(calls)}", "wrong_count")
        return check_call(find_function(functions, next(iter(truth[0]))), calls[0], truth[0])
    if len(calls) != 1:
        return Verdict(False, f"expected 1 call, got {len(calls)}", "wrong_count")
    return check_call(functions[0], calls[0], truth[0])


def check_relevance(category: str, calls: list[ToolCall]) -> Verdict:
    if "irrelevance" in category:
        return (
            VALID if not calls else Verdict(False, "made a call where none was wanted", "irrelevance_error")
        )
    return VALID if calls else Verdict(False, "made no call where one was wanted", "relevance_error")


def find_function(functions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for function in functions:
        if function.get("name") == name:
            return function
    raise ValueError(f"the possible answer names {name!r}, which the question's functions do not declare")


def check_parallel(functions: list[dict[str, Any]], calls: list[ToolCall], truth: list[Any]) -> Verdict:
    """Order-free matching of parallel calls, greedy in ground-truth order as BFCL does it."""
    if len(calls) != len(truth):
        return Verdict(False, f"expected {len(truth)} calls, got {len(calls)}", "wrong_count")
    matched: set[int] = set()
    for index, expected in enumerate(truth):
        function = find_function(functions, next(iter(expected)))
        reasons = []
        for position, call in enumerate(calls):
            if position in matched:
                continue
            verdict = check_call(function, call, expected)
            if verdict.valid:
                matched.add(position)
                break
            reasons.append(f"call {position}: {verdict.reason}")
        else:
            return Verdict(
                False, f"no call matches ground truth {index} ({'; '.join(reasons)})", "cannot_find_match"
            )
    return VALID


def check_call(function: dict[str, Any], call: ToolCall, truth: dict[str, Any]) -> Verdict:
    """One call against one ground-truth entry `{name: {param: [acceptable values]}}`."""
    accepted: dict[str, list[Any]] = next(iter(truth.values()))
    parameters = function.get("parameters", {})
    details: dict[str, Any] = parameters.get("properties", {})
    if call.name != function["name"]:
        return Verdict(False, f"function name {call.name!r} is not {function['name']!r}", "wrong_func_name")
    for param in parameters.get("required", []):
        if param not in call.arguments:
            return Verdict(False, f"missing required parameter {param!r}", "missing_required")
    for param, value in call.arguments.items():
        if param not in details or param not in accepted:
            return Verdict(False, f"unexpected parameter {param!r}", "unexpected_param")
        verdict = check_parameter(param, value, details[param], accepted[param])
        if not verdict.valid:
            return verdict
    for param, values in accepted.items():
        if param not in call.arguments and "" not in values:
            return Verdict(False, f"parameter {param!r} is left out but not optional", "missing_optional")
    return VALID


def check_parameter(param: str, value: Any, detail: dict[str, Any], accepted: list[Any]) -> Verdict:
    """The type check, then the value check, of one parameter."""
    kind = detail.get("type")
    if kind not in PYTHON_TYPES:
        raise ValueError(
            f"parameter {param!r} has BFCL type {kind!r}, which is not one of {', '.join(PYTHON_TYPES)}"
        )
    expected = PYTHON_TYPES[kind]
    item_kind = detail.get("items", {}).get("type") if kind in ("array", "tuple") else None
    nested = PYTHON_TYPES.get(item_kind) if item_kind is not None else None
    if kind == "float" and type(value) is int:
        if abs(value) > sys.float_info.max:
            return Verdict(False, f"parameter {param!r}: the integer is too large for a float", "type_error")
        value = float(value)
    is_variable, failure = _check_type(value, accepted, expected, nested)
    if failure:
        return Verdict(False, f"parameter {param!r}: {failure}", "type_error")
    if is_variable:
        return _check_member(param, value, accepted)
    if expected is dict:
        return _check_dict(param, value, accepted)
    if expected is list and nested is dict:
        return _check_dict_list(param, value, accepted)
    if expected is str:
        return _check_string(param, value, accepted)
    if expected is list:
        return _check_list(param, value, accepted)
    return _check_member(param, value, accepted)


def _answer_type(accepted: list[Any]) -> type | None:
    """The type of the first acceptable value that is not the "may be left out" mark."""
    return next((type(answer) for answer in accepted if answer != ""), None)


def _check_type(value: Any, accepted: list[Any], expected: type, nested: type | None) -> tuple[bool, str]:
    """(is_variable, failure): BFCL's type check, including its "variable" case and one level of item types."""
    answer_type = _answer_type(accepted)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None or not isinstance(value, list):  # item types exist only for arrays and tuples
            return is_variable, ""
        for answer in accepted:
            if not isinstance(answer, list) or all(_item_type_ok(item, answer, nested) for item in value):
                return is_variable, ""
        return False, f"items of {value!r} are not all of type {nested.__name__}"
    if answer_type is not None and type(value) is answer_type:
        return True, ""
    return False, f"expected type {expected.__name__}, got {type(value).__name__} ({value!r})"


def _item_type_ok(item: Any, answer: list[Any], nested: type) -> bool:
    answer_type = _answer_type(answer)
    return type(item) is nested or (answer_type is not None and type(item) is answer_type)


def standardise(text: str) -> str:
    """BFCL's string standardisation.

    >>> standardise("April 1, 2024") == standardise("april 1 2024") == standardise("April-1-2024")
    True
    """
    return _STANDARDISED.sub("", text).lower().replace("'", '"')


def _standardise_item(item: Any) -> Any:
    return standardise(item) if type(item) is str else item


def _check_member(param: str, value: Any, accepted: list[Any]) -> Verdict:
    if value in accepted:
        return VALID
    return Verdict(False, f"parameter {param!r}: {value!r} is not one of {accepted!r}", "value_error")


def _check_string(param: str, value: str, accepted: list[Any]) -> Verdict:
    if standardise(value) in [standardise(answer) for answer in accepted if type(answer) is str]:
        return VALID
    return Verdict(
        False,
        f"parameter {param!r}: {value!r} is not one of {accepted!r} (standardised)",
        "value_error:string",
    )


def _check_list(param: str, value: list[Any], accepted: list[Any]) -> Verdict:
    # BFCL standardises each acceptable answer item by item, so an acceptable "" stands for [].
    answers = [
        [_standardise_item(item) for item in answer] for answer in accepted if isinstance(answer, list | str)
    ]
    if [_standardise_item(item) for item in value] in answers:
        return VALID
    return Verdict(
        False, f"parameter {param!r}: {value!r} is not one of {accepted!r}", "value_error:list/tuple"
    )


def _check_dict(param: str, value: dict[str, Any], accepted: list[Any]) -> Verdict:
    failure = "no acceptable dict"
    for answer in accepted:
        if answer == "":
            continue
        failure = _dict_mismatch(value, answer)
        if not failure:
            return VALID
    return Verdict(False, f"parameter {param!r}: {failure}", "value_error:dict")


def _dict_mismatch(value: Any, answer: Any) -> str:
    """Why a model's dict does not match one acceptable dict ({key: [acceptable values]}), or ""."""
    if not isinstance(value, dict) or not isinstance(answer, dict):
        return f"{value!r} is not a dict matching {answer!r}"
    for key, item in value.items():
        if key not in answer:
            return f"unexpected key {key!r}"
        if _standardise_item(item) not in [_standardise_item(option) for option in _options(answer[key])]:
            return f"key {key!r}: {item!r} is not one of {answer[key]!r}"
    for key, options in answer.items():
        if key not in value and "" not in _options(options):
            return f"missing key {key!r}"
    return ""


def _options(options: Any) -> list[Any] | str:
    """The acceptable values of one dict key: a list (a string, as in BFCL, is taken character by character)."""
    return options if isinstance(options, list | str) else [options]


def _check_dict_list(param: str, value: list[Any], accepted: list[Any]) -> Verdict:
    failure = "no acceptable list of dicts"
    for answer in accepted:
        if not isinstance(answer, list | str) or len(value) != len(answer):
            failure = (
                f"{len(value)} dicts where {len(answer) if isinstance(answer, list) else 0} are expected"
            )
            continue
        mismatches = [_dict_mismatch(item, expected) for item, expected in zip(value, answer, strict=True)]
        failure = next((reason for reason in mismatches if reason), "")
        if not failure:
            return VALID
    return Verdict(False, f"parameter {param!r}: {failure}", "value_error:list_dict")

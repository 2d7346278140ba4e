"""Reward components: pure functions of (action, reference, tools) → float in [0, 1].

Definitions users rely on (DESIGN.md, "Rewards"):

- `format`: the action parsed without problems and, when thinking is required, a non-empty think block came first.
- `tool_name`: multiset F1 between predicted and reference call names.
- `tool_args`: calls matched by name (greedy, order-insensitive); a matched call scores
  correct / (reference arguments + invented arguments), so an invented argument costs as much as a missed one;
  the sum over matches is divided by the larger of the two call counts, so extra or missing calls cost too.
- `tool_exact`: 1 if the multiset of (name, normalised arguments) equals the reference's, else 0 (Tool-N1).
- `call`: for call turns, 1 if the policy called a tool (any tool): the counterpart of `no_call`, so that a
  wrong call can be worth more than answering where a call was due.
- `no_call`: for answer turns, 1 if the policy made no call.
- `answer`: for answer turns, a text score (normalised exact match, token F1 or ROUGE-L) against the reference,
  averaged with the share of the reference's facts found in the answer when the reference lists facts. Only the
  answer's first `answer_read_limit` characters are read (four times the reference's length plus 1,000, at most
  20,000), as the parser reads at most 64 calls: a megabyte of answer is scored as its first part, padding and all.

Values compare after normalisation: numbers by value (5 == 5.0, booleans are not numbers), strings trimmed and
case-folded unless the parameter's schema pins their form (`enum`, `pattern`, `format` or `x-case-sensitive`).
Which components apply to a turn, and their weights, is `rewards/combine.py`'s business.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable
from typing import Any

from rouge_score import scoring, tokenizers

from thinkact.parse import Action, ToolCall

ToolSpecs = list[dict[str, Any]]
_ROUGE_TOKENIZER = tokenizers.DefaultTokenizer(use_stemmer=False)
_NUMBER_RE = re.compile(r"-?\d+(?:[.,]\d+)?")
ANSWER_CHARS_PER_REFERENCE_CHAR = 4
ANSWER_SLACK_CHARS = 1000
MAX_ANSWER_CHARS = 20_000
"""The most of an answer that `score_answer` reads, however long the reference (`answer_read_limit`)."""


def score_format(
    action: Action,
    reference: Action,
    tools: ToolSpecs,
    *,
    require_think: bool = True,
    truncated: bool = False,
) -> float:
    """1.0 when the action is complete and well formed (and starts with a non-empty think block if required).

    The one definition of `format`: the reward's component and the evaluation metric both call it. A completion
    cut off at the token limit scores 0 however it parses (the limit, not the model, ended it).

    >>> score_format(Action(think="plan", content="Hi"), Action(), [])
    1.0
    >>> score_format(Action(think="plan", content="Hi"), Action(), [], truncated=True)
    0.0
    >>> score_format(Action(think="", content="Hi"), Action(), [])
    0.0
    >>> score_format(Action(think=None, content="Hi"), Action(), [], require_think=False)
    1.0
    """
    if truncated or action.problems:
        return 0.0
    if require_think and not (action.think or "").strip():
        return 0.0
    return 1.0


def score_tool_name(action: Action, reference: Action, tools: ToolSpecs) -> float:
    """Multiset F1 of call names; 1.0 when neither side calls anything.

    >>> score_tool_name(Action(tool_calls=[ToolCall("a"), ToolCall("b")]), Action(tool_calls=[ToolCall("a")]), [])
    0.6666666666666666
    """
    predicted = Counter(call.name for call in action.tool_calls)
    expected = Counter(call.name for call in reference.tool_calls)
    if not predicted and not expected:
        return 1.0
    overlap = sum((predicted & expected).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(predicted.values())
    recall = overlap / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def score_tool_args(action: Action, reference: Action, tools: ToolSpecs) -> float:
    """Argument accuracy over calls matched by name (see the module docstring).

    >>> ref = Action(tool_calls=[ToolCall("w", {"city": "Paris", "days": 2})])
    >>> score_tool_args(Action(tool_calls=[ToolCall("w", {"city": " paris", "days": 2.0})]), ref, [])
    1.0
    >>> score_tool_args(Action(tool_calls=[ToolCall("w", {"city": "Paris", "days": 3, "x": 1})]), ref, [])
    0.3333333333333333
    """
    if not action.tool_calls and not reference.tool_calls:
        return 1.0
    total = sum(score for _, _, score in match_calls(action.tool_calls, reference.tool_calls, tools))
    return total / max(len(action.tool_calls), len(reference.tool_calls))


def score_tool_exact(action: Action, reference: Action, tools: ToolSpecs) -> float:
    """1.0 iff the predicted calls equal the reference calls as a multiset (order-free).

    >>> a, b = ToolCall("f", {"x": 1}), ToolCall("g", {})
    >>> score_tool_exact(Action(tool_calls=[b, a]), Action(tool_calls=[a, b]), [])
    1.0
    >>> score_tool_exact(Action(tool_calls=[a]), Action(tool_calls=[a, b]), [])
    0.0
    """
    if len(action.tool_calls) != len(reference.tool_calls):
        return 0.0
    matches = match_calls(action.tool_calls, reference.tool_calls, tools)
    exact = sum(1 for _, _, score in matches if score == 1.0)
    return 1.0 if exact == len(reference.tool_calls) else 0.0


def score_call(action: Action, reference: Action, tools: ToolSpecs) -> float:
    """1.0 when the policy called a tool (any tool, any arguments) where the reference calls one.

    >>> score_call(Action(tool_calls=[ToolCall("other")]), Action(tool_calls=[ToolCall("w")]), [])
    1.0
    >>> score_call(Action(content="It is sunny."), Action(tool_calls=[ToolCall("w")]), [])
    0.0
    """
    return 1.0 if action.tool_calls else 0.0


def score_no_call(action: Action, reference: Action, tools: ToolSpecs) -> float:
    """1.0 when the policy answered without calling a tool.

    >>> score_no_call(Action(content="Which city?"), Action(content="Which city?"), [])
    1.0
    >>> score_no_call(Action(tool_calls=[ToolCall("w")]), Action(content="Which city?"), [])
    0.0
    """
    return 0.0 if action.tool_calls else 1.0


def score_answer(action: Action, reference: Action, tools: ToolSpecs, *, metric: str = "f1") -> float:
    """Answer correctness: text similarity, averaged with fact recall when the reference lists facts.

    >>> ref = Action(content="It is 14 degrees in Oslo.", facts=["14", "Oslo"])
    >>> score_answer(Action(content="It is 14 degrees in Oslo."), ref, [])
    1.0
    >>> round(score_answer(Action(content="Oslo: 14.0 degrees"), ref, [], metric="exact"), 3)
    0.5
    >>> score_answer(Action(tool_calls=[ToolCall("w")]), ref, [])
    0.0
    """
    answer = action.content[: answer_read_limit(reference.content)]  # the rest is not read
    if action.tool_calls or not answer.strip():
        return 0.0
    text_score = TEXT_METRICS[metric](answer, reference.content)
    if not reference.facts:
        return text_score
    return 0.5 * text_score + 0.5 * fact_recall(answer, reference.facts)


def answer_read_limit(reference: str) -> int:
    """How many characters of an answer `score_answer` reads: 4 × the reference's length + 1,000, at most 20,000.

    The limit follows the reference so that no answer worth its score is cut: a clarifying question or a few
    sentences around a short reference fit in the 1,000, and a reference's answer may run to four times its
    length (the longest answers among the public samples are 3,800 characters). A longer answer is scored on its
    first part alone, as the parser reads only the first `parse.MAX_CALLS` calls: reading on costs time (a
    megabyte took 0.5-3 s, mostly in ROUGE-L) and could only change the score of text that is already mostly
    padding, which token F1 and ROUGE-L score low. The ceiling bounds an answer's cost when the reference is long
    too (benchmarks/reward_scaling.py: 70 ms at most on a loaded 2-core machine).

    >>> answer_read_limit("It is 14 degrees in Oslo."), answer_read_limit("x" * 6000)
    (1100, 20000)
    """
    return min(ANSWER_CHARS_PER_REFERENCE_CHAR * len(reference) + ANSWER_SLACK_CHARS, MAX_ANSWER_CHARS)


def normalise_text(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD's answer normalisation).

    >>> normalise_text("  The Weather, in PARIS! ")
    'weather in paris'
    """
    text = text.casefold()
    text = "".join(" " if char in string.punctuation else char for char in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalise_text(prediction) == normalise_text(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Token-level F1 after normalisation.

    >>> round(token_f1("sunny in Paris", "It is sunny in Paris"), 4)  # P = 3/3, R = 3/5
    0.75
    """
    predicted, expected = normalise_text(prediction).split(), normalise_text(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure as the `rouge-score` package computes it (API-Bank scores replies so): its tokenizer, its
    F-measure, and the same common-subsequence length, counted by `lcs_length` instead of its table.

    >>> rouge_l("the cat sat", "the cat sat")
    1.0
    """
    expected = _ROUGE_TOKENIZER.tokenize(reference)
    predicted = _ROUGE_TOKENIZER.tokenize(prediction)
    if not expected or not predicted:
        return 0.0
    common = lcs_length(expected, predicted)
    return float(scoring.fmeasure(common / len(predicted), common / len(expected)))


def lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence of two token lists, bit-parallel (Hyyrö, 2004).

    One bit per token of `first`; each token of `second` costs a few integer operations on that row, where the
    textbook table (`rouge-score`'s) fills len(first) × len(second) cells in Python: against a 3,800-character
    reference, 8,000 characters of answer took 2-4 s that way and take about 10 ms this way.

    >>> lcs_length("the cat sat on the mat".split(), "a cat sat on a mat".split())
    4
    """
    positions: dict[str, int] = {}
    for index, token in enumerate(first):
        positions[token] = positions.get(token, 0) | 1 << index
    full = (1 << len(first)) - 1
    row = full  # a cleared bit marks where the common subsequence has grown by one
    for token in second:
        matches = row & positions.get(token, 0)
        row = ((row + matches) | (row - matches)) & full
    return len(first) - row.bit_count()


TEXT_METRICS: dict[str, Callable[[str, str], float]] = {
    "exact": exact_match,
    "f1": token_f1,
    "rougeL": rouge_l,
}


def fact_recall(answer: str, facts: list[str]) -> float:
    """Share of facts found in the answer: as normalised text, or numerically for numeric facts.

    >>> fact_recall("Balance: 1,250.50 EUR, account ACC-7", ["1250.5", "acc-7", "USD"])
    0.6666666666666666
    """
    if not facts:
        return 1.0
    text = normalise_text(answer)
    numbers = {_as_number(match) for match in _NUMBER_RE.findall(answer.replace(",", ""))}
    found = 0
    for fact in facts:
        value = _as_number(fact.replace(",", ""))
        if (
            (value is not None and value in numbers)
            or normalise_text(fact) in text
            or fact.casefold() in answer.casefold()
        ):
            found += 1
    return found / len(facts)


def _as_number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def match_calls(
    predicted: list[ToolCall], expected: list[ToolCall], tools: ToolSpecs
) -> list[tuple[ToolCall, ToolCall, float]]:
    """Greedy best-first matching of predicted to reference calls with the same name."""
    properties = properties_by_tool(tools)
    scored = [
        (_score_call_args(p.arguments, e.arguments, properties.get(e.name, {})), i, j)
        for i, p in enumerate(predicted)
        for j, e in enumerate(expected)
        if p.name == e.name
    ]
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    used_p: set[int] = set()
    used_e: set[int] = set()
    matches = []
    for score, i, j in scored:
        if i not in used_p and j not in used_e:
            used_p.add(i)
            used_e.add(j)
            matches.append((predicted[i], expected[j], score))
    return matches


def _score_call_args(predicted: dict[str, Any], expected: dict[str, Any], schema: dict[str, Any]) -> float:
    invented = [key for key in predicted if key not in expected]
    if not expected and not invented:
        return 1.0
    correct = sum(
        1
        for key, value in expected.items()
        if key in predicted and values_equal(predicted[key], value, schema.get(key, {}))
    )
    return correct / (len(expected) + len(invented))


def properties_by_tool(tools: ToolSpecs) -> dict[str, dict[str, Any]]:
    table = {}
    for tool in tools:
        function = tool.get("function", tool)
        parameters = function.get("parameters") or {}
        table[function.get("name", "")] = parameters.get("properties") or {}
    return table


def numbers_close(predicted: float, expected: float) -> bool:
    """Equal within a relative 1e-9; exact for two integers, so integers of any size compare without overflow.

    >>> numbers_close(10**400, 10**400), numbers_close(10**400, 1.5), numbers_close(0.1 + 0.2, 0.3)
    (True, False, True)
    """
    if isinstance(predicted, int) and isinstance(expected, int):
        return predicted == expected
    try:
        return abs(float(predicted) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    except OverflowError:  # an integer past float range equals no float
        return False


def values_equal(predicted: Any, expected: Any, schema: dict[str, Any] | None = None) -> bool:
    """Equality after normalisation (numbers by value, strings trimmed and case-folded when the schema allows).

    >>> values_equal(5, 5.0), values_equal(" Paris ", "paris"), values_equal(True, 1)
    (True, True, False)
    >>> values_equal("ABC", "abc", {"type": "string", "enum": ["ABC", "abc"]})
    False
    """
    schema = schema or {}
    if isinstance(expected, bool) or isinstance(predicted, bool):
        return type(predicted) is type(expected) and predicted == expected
    if isinstance(expected, int | float) and isinstance(predicted, int | float):
        return numbers_close(predicted, expected)
    if isinstance(expected, str) and isinstance(predicted, str):
        if any(key in schema for key in ("enum", "pattern", "format", "x-case-sensitive")):
            return predicted.strip() == expected.strip()
        return predicted.strip().casefold() == expected.strip().casefold()
    if isinstance(expected, list) and isinstance(predicted, list):
        item_schema = schema.get("items") or {}
        return len(expected) == len(predicted) and all(
            values_equal(p, e, item_schema) for p, e in zip(predicted, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(predicted, dict):
        nested = schema.get("properties") or {}
        return expected.keys() == predicted.keys() and all(
            values_equal(predicted[key], expected[key], nested.get(key, {})) for key in expected
        )
    return bool(predicted == expected)

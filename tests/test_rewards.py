"""Reward components and their combination on hand-worked cases."""

from __future__ import annotations

import random

import pytest
from rouge_score import rouge_scorer

from thinkact.errors import UserError
from thinkact.parse import Action, ToolCall, parse_action
from thinkact.rewards import components as c
from thinkact.rewards.combine import RewardConfig, score_action

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "transfer",
            "parameters": {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                    "amount": {"type": "number"},
                    "currency": {"type": "string", "enum": ["EUR", "USD"]},
                },
            },
        },
    }
]
REF = Action(
    think="move money",
    tool_calls=[
        ToolCall("transfer", {"source": "checking", "target": "savings", "amount": 50, "currency": "EUR"})
    ],
)


def calls(*items: ToolCall) -> Action:
    return Action(think="t", tool_calls=list(items))


def test_tool_name_f1_by_hand() -> None:
    # predicted {a, a, b}, reference {a, c}: overlap 1, precision 1/3, recall 1/2, F1 = 2*(1/6)/(5/6) = 0.4
    predicted = calls(ToolCall("a"), ToolCall("a"), ToolCall("b"))
    assert c.score_tool_name(predicted, calls(ToolCall("a"), ToolCall("c")), []) == pytest.approx(0.4)
    assert c.score_tool_name(calls(), calls(), []) == 1.0
    assert c.score_tool_name(calls(ToolCall("b")), calls(ToolCall("a")), []) == 0.0


def test_tool_args_normalisation_and_enum() -> None:
    exact = calls(
        ToolCall("transfer", {"source": " Checking", "target": "SAVINGS", "amount": 50.0, "currency": "EUR"})
    )
    assert c.score_tool_args(exact, REF, TOOLS) == 1.0
    # the currency enum pins case: "eur" is wrong; 3 of 4 correct, none invented
    wrong_case = calls(
        ToolCall("transfer", {"source": "checking", "target": "savings", "amount": 50, "currency": "eur"})
    )
    assert c.score_tool_args(wrong_case, REF, TOOLS) == pytest.approx(3 / 4)


def test_tool_args_invented_argument_costs_like_a_missed_one() -> None:
    # 4 correct + 1 invented: 4 / (4 + 1)
    invented = calls(
        ToolCall(
            "transfer",
            {"source": "checking", "target": "savings", "amount": 50, "currency": "EUR", "memo": "x"},
        )
    )
    assert c.score_tool_args(invented, REF, TOOLS) == pytest.approx(0.8)


def test_tool_args_extra_call_divides_by_larger_count() -> None:
    good = REF.tool_calls[0]
    assert c.score_tool_args(calls(good, ToolCall("transfer", {})), REF, TOOLS) == pytest.approx(0.5)
    assert c.score_tool_args(calls(), REF, TOOLS) == 0.0


def test_tool_exact_is_order_free_and_strict() -> None:
    a, b = ToolCall("f", {"x": 1}), ToolCall("g", {"y": "Paris"})
    assert c.score_tool_exact(calls(b, a), calls(a, b), []) == 1.0
    assert c.score_tool_exact(calls(a, ToolCall("g", {"y": "Rome"})), calls(a, b), []) == 0.0
    assert c.score_tool_exact(calls(a, a), calls(a, b), []) == 0.0


def test_booleans_are_not_numbers() -> None:
    assert not c.values_equal(True, 1)
    assert c.values_equal([1, "A"], [1.0, "a"])
    assert not c.values_equal({"a": 1}, {"a": 1, "b": 2})


def test_answer_with_facts_by_hand() -> None:
    reference = Action(content="Your balance is 120.50 EUR.", facts=["120.50", "EUR"])
    # token F1: prediction "balance 120 5 eur" vs reference "your balance is 120 50 eur": overlap 3
    # (balance, 120, eur), P = 3/4, R = 3/6, F1 = 0.6; facts: 120.5 found by value, EUR found: recall 1
    # → 0.5 * 0.6 + 0.5 * 1 = 0.8
    assert c.score_answer(Action(content="Balance: 120.5 EUR"), reference, []) == pytest.approx(0.8)
    assert c.score_answer(Action(content=""), reference, []) == 0.0


def test_rouge_l_metric() -> None:
    # LCS of "the cat sat" and "the cat sat down" is 3; P = 1, R = 3/4 → F = 6/7
    assert c.rouge_l("the cat sat", "the cat sat down") == pytest.approx(6 / 7)


def test_rouge_l_equals_the_rouge_score_package() -> None:
    # The common subsequence is counted bit-parallel; the package fills its table. Seeded texts from a small
    # vocabulary (many repeats, punctuation, case, non-ASCII), past 64 tokens so the bit rows span several words.
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    words = ["the", "The", "cat,", "sat", "14", "14.5", "x-y", "Oslo!", "é", "--", "a", "b", "c"]
    rng = random.Random(7)
    for longest in [0, 1, 5, 40] * 150 + [200] * 20:
        prediction = " ".join(rng.choices(words, k=rng.randint(0, longest)))
        reference = " ".join(rng.choices(words, k=rng.randint(0, longest)))
        assert c.rouge_l(prediction, reference) == scorer.score(reference, prediction)["rougeL"].fmeasure


OSLO = Action(content="It is 14 degrees in Oslo.", facts=["14", "Oslo"])  # 25 characters: 1,100 are read


@pytest.mark.parametrize(("metric", "text_score"), [("f1", 0.6), ("rougeL", 0.4)])
def test_a_normal_answer_is_read_whole(metric: str, text_score: float) -> None:
    # "oslo has 14 degrees" against "it is 14 degrees in oslo": F1 overlap 3 (oslo, 14, degrees), P = 3/4, R = 3/6
    # → 0.6; ROUGE-L's common subsequence "14 degrees" is 2, P = 2/4, R = 2/6 → 0.4; both facts found
    assert c.answer_read_limit(OSLO.content) == 4 * 25 + 1000
    answer = Action(content="Oslo has 14 degrees.")
    assert c.score_answer(answer, OSLO, [], metric=metric) == pytest.approx(0.5 * text_score + 0.5)
    # 1,099 characters, one short of the limit: the reference's 6 tokens and 537 x's, all read.
    # P = 6/543, R = 1 → F = 12/549 for both metrics
    padded = Action(content=OSLO.content + " x" * 537)
    assert c.score_answer(padded, OSLO, [], metric=metric) == pytest.approx(0.5 * 12 / 549 + 0.5)


@pytest.mark.parametrize("metric", ["f1", "rougeL"])
def test_a_megabyte_answer_is_scored_on_what_the_limit_reads(metric: str) -> None:
    # Its first 1,100 characters hold the reference and 537 x's, as the answer above: F = 12/549, facts 1.
    # Read whole it would score F = 12/(2**19 + 12), and ROUGE-L's table alone would take seconds.
    flood = parse_action("<think>t</think>" + OSLO.content + " x" * 2**19)
    assert len(flood.content) > 2**20
    answer = 0.5 * 12 / 549 + 0.5
    reward = score_action(flood, OSLO, [], RewardConfig(), answer_metric=metric)
    assert reward.components == {"format": 1.0, "no_call": 1.0, "answer": pytest.approx(answer)}
    assert reward.total == pytest.approx(0.1 + 0.4 + 0.5 * answer)  # weights sum to 1 on answer turns


def test_format_requires_think_when_asked() -> None:
    assert c.score_format(parse_action("<think>x</think>Hi"), Action(), []) == 1.0
    assert c.score_format(parse_action("Hi"), Action(), []) == 0.0
    assert c.score_format(parse_action("Hi"), Action(), [], require_think=False) == 1.0
    assert c.score_format(parse_action("<think>x</think><tool_call>bad</tool_call>"), Action(), []) == 0.0


def test_combined_call_turn_by_hand() -> None:
    # format 1 (0.1), name 1 (0.2), args 3/4 (0.3), exact 0 (0.4): (0.1 + 0.2 + 0.225) / 1.0 = 0.525
    predicted = calls(
        ToolCall("transfer", {"source": "checking", "target": "savings", "amount": 5, "currency": "EUR"})
    )
    reward = score_action(predicted, REF, TOOLS, RewardConfig())
    assert reward.components == {
        "format": 1.0,
        "call": 1.0,
        "tool_name": 1.0,
        "tool_args": 0.75,
        "tool_exact": 0.0,
    }
    assert reward.total == pytest.approx(0.525)


def test_call_weight_makes_a_wrong_call_outscore_an_answer_on_a_call_turn() -> None:
    wrong_call = Action(think="t", tool_calls=[ToolCall("balance", {})])
    answer = Action(think="t", content="Done.")
    paper = RewardConfig()
    # the paper's weights: both score format only, 0.1 / 1.0
    assert score_action(wrong_call, REF, TOOLS, paper).total == pytest.approx(0.1)
    assert score_action(answer, REF, TOOLS, paper).total == pytest.approx(0.1)
    weighted = RewardConfig(weights={**paper.weights, "call": 0.3})
    # wrong call: (0.1 + 0.3) / 1.3; answer: 0.1 / 1.3; the exact call still scores 1
    assert score_action(wrong_call, REF, TOOLS, weighted).total == pytest.approx(0.4 / 1.3)
    assert score_action(answer, REF, TOOLS, weighted).total == pytest.approx(0.1 / 1.3)
    assert score_action(Action(think="t", tool_calls=REF.tool_calls), REF, TOOLS, weighted).total == 1.0


def test_combined_answer_turn_by_hand() -> None:
    reference = Action(content="Which account?")
    # calling a tool where the reference asks: format 1 (0.1), no_call 0 (0.4), answer 0 (0.5) → 0.1
    reward = score_action(calls(ToolCall("transfer", {})), reference, TOOLS, RewardConfig())
    assert reward.components == {"format": 1.0, "no_call": 0.0, "answer": 0.0}
    assert reward.total == pytest.approx(0.1)
    assert (
        score_action(Action(think="t", content="Which account?"), reference, TOOLS, RewardConfig()).total
        == 1.0
    )


def test_custom_weights_and_metric() -> None:
    config = RewardConfig(weights={"tool_exact": 1.0, "answer": 1.0}, answer_metric="exact")
    assert score_action(calls(REF.tool_calls[0]), REF, TOOLS, config).total == 1.0
    assert (
        score_action(Action(content="which account"), Action(content="Which account?"), [], config).total
        == 1.0
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": {"speed": 1.0}}, "unknown component"),
        ({"weights": {"format": -1.0, "tool_exact": 1, "answer": 1}}, ">= 0"),
        ({"weights": {"tool_exact": 1.0}}, "answer turns"),
        ({"answer_metric": "bleu"}, "answer_metric"),
    ],
)
def test_bad_reward_config_is_a_user_error(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        RewardConfig(**kwargs)

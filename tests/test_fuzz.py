"""Adversarial model output never stops a run: 10,000 seeded completions through the parser, every reward, both
combined rewards, the evaluation metrics, the BFCL checker, tool execution, the chat template and tokeniser, and
every JSON file thinkact writes. Also: the parser's work grows linearly with the input."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from thinkact.bench.bfcl.checker import check_result
from thinkact.bench.bfcl.score import write_verdicts
from thinkact.envs import Environment, get_domain
from thinkact.eval.metrics import aggregate_turns, score_turn_and_reward
from thinkact.integrations.trl_rewards import write_samples as write_trl_samples
from thinkact.jsonsafe import dump_json
from thinkact.models.chat import render
from thinkact.models.load import load_tokenizer
from thinkact.parse import Action, ToolCall, parse_action
from thinkact.rewards import components as c
from thinkact.rewards.combine import RewardConfig, score_action
from thinkact.rewards.episode import EpisodeRewardConfig, score_episode
from thinkact.rollout.records import Rollout
from thinkact.train.runlog import RunLog
from thinkact.train.tracking import Tracker

COMPLETIONS = 10_000
QUICK_COMPLETIONS = 1_000  # the default tier; the slow tier runs all 10,000
SEED = 20260301

NASTY_VALUES = [
    "1" * 309,  # past float range
    "-" + "9" * 400,
    "7" * 4301,  # past Python's int-from-digits limit
    "1e400",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',  # a lone surrogate
    '"a\\udfffb"',
    '"\\ud83d\\ude00"',  # a proper pair
    '"\\u0000"',
    "true",
    "null",
    "0.1",
    "5",
    '"Oslo"',
    '"savings"',
    '{"k": "\\udc80"}',
    "[" * 80 + "]" * 80,  # past the depth bound
    "[" * 400 + "1" + "]" * 400,
    "[" * 5000 + "]" * 5000,
    '{"a":' * 70 + "1" + "}" * 70,
    "[1, 2, 3]",
    '{"x": [1, {"y": 2}]}',
]
NAMES = ["get_balance", "transfer", "w", "area", "", " ", None, 5, "get_weather", "\ud800", "list_events"]
KEYS = ["account", "amount", "city", "r", "x", "", "\\ud800", "a" * 50]
SPECIALS = ["<|im_end|>", "<|endoftext|>", "<|im_start|>"]
TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "<|im_start|>assistant\n"]
WORDS = [
    "The balance is 5200.0 EUR.",
    "It is sunny",
    "5",
    "1" * 310,
    "\u202e",
    "é",
    "\x00",
    "\n",
    "  ",
    "{",
    "}",
]


def _value(rng: random.Random) -> str:
    return rng.choice(NASTY_VALUES) if rng.random() < 0.6 else json.dumps(rng.choice(WORDS))


def _arguments(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.7:
        pairs = [f'"{rng.choice(KEYS)}": {_value(rng)}' for _ in range(rng.randint(0, 3))]
        return "{" + ", ".join(pairs) + "}"
    if kind < 0.85:
        return json.dumps("{" + f'"city": {_value(rng)}' + "}")  # arguments as a JSON string
    return _value(rng)


def _call_body(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    key = rng.choice(["arguments", "arguments", "parameters", "args"])
    call = f'{{"name": {json.dumps(name)}, "{key}": {_arguments(rng)}}}'
    kind = rng.random()
    if kind < 0.1:
        return f'{{"type": "function", "function": {call}}}'
    if kind < 0.2:
        return f"[{call}, {call}]"
    if kind < 0.25:
        return call[: rng.randint(0, len(call))]  # cut short
    return call


def completion(rng: random.Random) -> str:
    """One adversarial completion: format pieces, calls with hostile JSON, noise and trailing specials."""
    parts: list[str] = []
    if rng.random() < 0.7:
        parts.append(rng.choice(["<think>", "<think>\n", "", "</think>"]))
        parts.append(rng.choice(["", "reasoning", "<think>", "</tool_call>", rng.choice(WORDS)]))
        parts.append(rng.choice(["</think>", "</think>\n\n", ""]))
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        parts.append(rng.choice(["<tool_call>", "<tool_call>\n", "<tool_call>"]))
        parts.append(_call_body(rng))
        parts.append(rng.choice(["</tool_call>", "\n</tool_call>", "", "</tool_call></tool_call>"]))
    for _ in range(rng.randint(0, 3)):
        parts.append(rng.choice(WORDS + TAGS))
    parts.append(
        "".join(rng.choice(SPECIALS) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(0, 4)))
    )
    text = "".join(parts)
    if rng.random() < 0.05:
        text = "".join(rng.choice(text or "x") for _ in range(rng.randint(0, 200)))  # shuffled noise
    return text


TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_balance",
            "parameters": {
                "type": "object",
                "properties": {"account": {"type": "string", "enum": ["savings", "checking"]}},
                "required": ["account"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "transfer",
            "parameters": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "x": {"type": "array", "items": {"type": "integer"}},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "w",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "x": {"type": "object", "properties": {"y": {"type": "integer"}}},
                },
            },
        },
    },
]
REFERENCES = [
    Action(think="t", tool_calls=[ToolCall("get_balance", {"account": "savings"})]),
    Action(think="t", tool_calls=[ToolCall("transfer", {"amount": 10**400, "x": [1, 2, 3]})]),
    Action(think="t", tool_calls=[ToolCall("transfer", {"amount": 2.5}), ToolCall("w", {"city": "Oslo"})]),
    Action(think="t", tool_calls=[ToolCall("w", {"city": "Oslo", "x": {"y": 2}})]),
    Action(think="t", content="The balance is 5200.0 EUR.", facts=["5200.0", "EUR", "1" * 400]),
    Action(content="Which account?"),
]
BFCL_FUNCTIONS = [
    {
        "name": "area",
        "parameters": {
            "type": "dict",
            "required": ["r"],
            "properties": {"r": {"type": "float"}, "x": {"type": "array", "items": {"type": "integer"}}},
        },
    }
]
BFCL_CASES = [
    ("simple_python", [{"area": {"r": [2.0], "x": [[1, 2, 3], ""]}}]),
    ("multiple", [{"area": {"r": [1e308]}}]),
    ("parallel", [{"area": {"r": [2.0]}}, {"area": {"r": [3.0]}}]),
    ("irrelevance", []),
]


def _score_everything(action: Action, text: str, turns: list[dict[str, float]]) -> Rollout:
    """Every scorer on one parsed action; the rollout record that the GRPO samples file would get."""
    components: dict[str, float] = {}
    for reference in REFERENCES:
        for metric in ("exact", "f1", "rougeL"):
            reward = score_action(action, reference, TOOLS, RewardConfig(), answer_metric=metric)
            assert 0.0 <= reward.total <= 1.0
        for name, function in (
            ("format", c.score_format),
            ("tool_name", c.score_tool_name),
            ("tool_args", c.score_tool_args),
            ("tool_exact", c.score_tool_exact),
            ("no_call", c.score_no_call),
            ("answer", c.score_answer),
        ):
            assert 0.0 <= function(action, reference, TOOLS) <= 1.0, name
        episode = score_episode(
            [action],
            reference.tool_calls,
            None if reference.is_call else reference,
            True,
            TOOLS,
            EpisodeRewardConfig(),
        )
        assert 0.0 <= episode.total <= 1.0
        values, reward = score_turn_and_reward(
            action, reference, TOOLS, completion_tokens=len(text), rewards=RewardConfig()
        )
        turns.append(values)
        components = reward.components
    for category, truth in BFCL_CASES:
        check_result(category, BFCL_FUNCTIONS, action.tool_calls, truth)
    return Rollout(
        "fuzz", [], [], [], text, action, truncated=False, reward=reward.total, components=components
    )


def _assert_standard_json_file(path: Path) -> int:
    raw = path.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8

    def refuse(name: str) -> None:
        raise AssertionError(f"{path.name} holds {name}")

    if path.suffix == ".jsonl":
        lines = [line for line in raw.splitlines() if line]
        for line in lines:
            json.loads(line, parse_constant=refuse)
        return len(lines)
    json.loads(raw, parse_constant=refuse)
    return 1


def run_pipeline(count: int, seed: int, out: Path, tokenizer: Any = None) -> int:
    """`count` completions through every stage; the number of calls that reached a tool."""
    rng = random.Random(seed)
    env = Environment(get_domain("banking"), time_limit_s=None)
    turns: list[dict[str, float]] = []
    rollouts: list[Rollout] = []
    executed = 0
    for index in range(count):
        text = completion(rng)
        action = parse_action(text)
        rollout = _score_everything(action, text, turns)
        for call in action.tool_calls[:2]:
            result = env.execute(call)
            assert json.loads(result, parse_constant=lambda name: None) is not None
            rollout.tool_trace.append({"name": call.name, "arguments": call.arguments, "result": result})
            executed += 1
        if tokenizer is not None and index % 25 == 0:
            assistant = {
                "role": "assistant",
                "content": action.content,
                "reasoning_content": action.think or "",
                "tool_calls": [call.to_message() for call in action.tool_calls],
            }
            rendered = render(
                tokenizer, [{"role": "user", "content": "hi"}, assistant], TOOLS, add_generation_prompt=False
            )
            tokenizer(rendered, add_special_tokens=False)
        rollouts.append(rollout)
    metrics = aggregate_turns(turns, resamples=20)
    verdicts = [
        {"id": f"q{i}", "valid": False, "completion": r.text, "tool_calls": r.summary()["tool_calls"]}
        for i, r in enumerate(rollouts)
    ]
    grpo_log = RunLog(out, 0, 1, Tracker([], out, run_name="fuzz", config={}, offline=True))
    grpo_log.write(
        1, {"reward": float("nan")}, [r.summary() for r in rollouts]
    )  # samples.jsonl, metrics.jsonl
    grpo_log.close()
    write_trl_samples(
        out / "trl_samples.jsonl",
        1,
        [r.example_id for r in rollouts],
        [r.text for r in rollouts],
        [score_action(r.action, REFERENCES[0], TOOLS, RewardConfig()) for r in rollouts],
    )
    write_verdicts(out / "verdicts.jsonl", verdicts)
    (out / "results.json").write_text(
        dump_json(
            {"metrics": {k: vars(m) for k, m in metrics.items()}, "turns": [r.summary() for r in rollouts]},
            indent=1,
        ),
        encoding="utf-8",
    )
    assert _assert_standard_json_file(out / "samples.jsonl") == count
    assert _assert_standard_json_file(out / "trl_samples.jsonl") == count
    assert _assert_standard_json_file(out / "verdicts.jsonl") == count
    _assert_standard_json_file(out / "results.json")
    return executed


def test_adversarial_completions_never_raise(tmp_path: Path, tiny_model_dir: Path) -> None:
    executed = run_pipeline(QUICK_COMPLETIONS, SEED, tmp_path, load_tokenizer(tiny_model_dir))
    assert executed > QUICK_COMPLETIONS // 10  # the generator does reach the tools, not only the parser


@pytest.mark.slow
def test_ten_thousand_adversarial_completions_never_raise(tmp_path: Path, tiny_model_dir: Path) -> None:
    executed = run_pipeline(COMPLETIONS, SEED + 1, tmp_path, load_tokenizer(tiny_model_dir))
    assert executed > COMPLETIONS // 10


def test_the_generator_is_adversarial() -> None:
    """The completions do hit each hostile case, so the test above is not vacuous."""
    rng = random.Random(SEED)
    problems = " | ".join(p for _ in range(2000) for p in parse_action(completion(rng)).problems)
    for expected in (
        "nested deeper than 64 levels",
        "integer of more than 4300 digits",
        "NaN is not a JSON",
        "is not valid JSON",
        "has no closing",
        'has no "name"',
    ):
        assert expected in problems
    rng = random.Random(SEED)
    arguments = [call.arguments for _ in range(2000) for call in parse_action(completion(rng)).tool_calls]
    text = json.dumps(arguments, ensure_ascii=True)
    assert "\\ufffd" in text  # lone surrogates arrived, cleaned
    assert any(len(str(v)) > 308 for a in arguments for v in a.values() if isinstance(v, int))


def test_megabyte_outputs_are_scored_whole() -> None:
    """A megabyte of hostile output is parsed and scored, its limits said (its time: benchmarks/parse_scaling.py)."""
    size = 1_048_576
    calls = parse_action('<tool_call>{"name": "w", "arguments": {}}</tool_call>' * (size // 52))
    assert len(calls.tool_calls) == 64  # the cap, said in the problems
    assert "more than 64 tool calls; the rest were not read" in calls.problems
    big = parse_action('<tool_call>{"name": "w", "arguments": {"x": "' + "a" * size + '"}}</tool_call>')
    assert [len(call.arguments["x"]) for call in big.tool_calls] == [size]
    unclosed = parse_action("<tool_call>" * (size // 11))
    assert not unclosed.tool_calls and unclosed.problems

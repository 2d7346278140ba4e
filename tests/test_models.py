"""The tiny local model: builds offline, loads with the Auto classes, renders and generates like Qwen3."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.envs.prompts import turn_prompts
from thinkact.errors import UserError
from thinkact.models.chat import encode_turn, render_completion, render_prompt
from thinkact.models.load import load_policy
from thinkact.models.tiny import SPECIAL_TOKENS, qwen3_chat_template
from thinkact.parse import parse_action
from thinkact.rollout.generation import sample, stop_token_ids
from thinkact.rollout.loop import Sampling
from thinkact.rollout.turns import run_turns


def test_loads_with_auto_classes_and_special_tokens_are_single_ids(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen3"
    for token in SPECIAL_TOKENS:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1
    assert tokenizer.chat_template == qwen3_chat_template()
    assert tokenizer.padding_side == "left"


def test_template_renders_tools_thinking_calls_and_results(tiny_model_dir: Path, data_dir: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    conversation = next(
        c
        for c in read_conversations(data_dir / "train.jsonl")
        if any(m["role"] == "tool" for m in c.messages)
    )
    text = render_prompt(tokenizer, conversation.messages, conversation.tools)
    assert "<tools>" in text and "<tool_call>" in text and "<tool_response>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_turn_completion_is_the_reference_action(tiny_model_dir: Path, data_dir: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    turn = next(
        t
        for t in turn_examples(read_conversations(data_dir / "train.jsonl"))
        if t.reference.get("tool_calls")
    )
    _, completion = render_completion(tokenizer, turn, think=True)
    action = parse_action(completion)
    assert action.think == turn.reference["reasoning_content"]
    assert [call.name for call in action.tool_calls] == [
        c["function"]["name"] for c in turn.reference["tool_calls"]
    ]
    assert completion.endswith("<|im_end|>")
    _, bare = render_completion(tokenizer, turn, think=False)
    assert bare.startswith("<think>\n\n</think>\n\n")
    _, completion_ids = encode_turn(tokenizer, turn)
    assert tokenizer.decode(completion_ids, skip_special_tokens=False) == completion


def test_generation_is_batched_and_deterministic_when_greedy(tiny_model_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    turns = turn_prompts(read_conversations(data_dir / "test_id.jsonl"))[:5]
    first, second = (
        [(one.text, one.tokens) for (one,) in run_turns(model, tokenizer, turns, greedy)]
        for greedy in (Sampling(12, 0.0, batch_size=2), Sampling(12, 0.0, batch_size=5))
    )
    assert first == second
    assert all(0 < length <= 12 for _, length in first)


def test_sampling_gives_groups_and_flags_truncation(tiny_model_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    prompt = tokenizer("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)[
        "input_ids"
    ]
    groups = sample(model, tokenizer, [prompt, prompt], num_samples=3, max_new_tokens=5, seed=1)
    assert [len(group) for group in groups] == [3, 3]
    stops = stop_token_ids(model, tokenizer)
    for completion in groups[0]:
        assert completion.prompt_ids == prompt
        ended = completion.completion_ids[-1] in stops
        assert completion.truncated == (not ended)
        assert ended or len(completion.completion_ids) == 5


def test_missing_model_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such model directory"):
        load_policy(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no config\.json"):
        load_policy(tmp_path / "empty")

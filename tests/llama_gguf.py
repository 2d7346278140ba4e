"""A tiny Llama GGUF written as llama.cpp writes it, for the tests of `init-model --from-gguf` and what follows.

A seeded transformers Llama (hidden 64, 2 layers, llama.cpp's q/k row order) and a byte-level BPE trained on
benchmark text go into a GGUF with the gguf package's writer: ChatML special tokens and a ChatML template in the
`tokenizer.ggml.*` keys, most tensors F32 and one each F16, Q8_0 and Q4_1 (SmolLM2's type). The fixtures that
write and convert it live in `tests/conftest.py`; this module holds no tests. It leaves out every architecture
but Llama and every tokenizer model but GPT-2's byte-level BPE.
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

from thinkact.bench.synthetic import generate_split

Q = gguf.GGMLQuantizationType
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN = 64, 2, 4, 2, 16, 128
CONTEXT = 2048
"""Room for a prompt with tools and a few turns: this vocabulary spends many tokens on each."""
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
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM, max_position_embeddings=CONTEXT,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_context_length(CONTEXT)
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

"""The pretrained tiny base: a corpus disjoint from the benchmark, a deterministic pretraining run, a tokenizer
that cuts entities the same way everywhere, and the held-out evaluation GRPO logs while it trains."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
from safetensors.torch import load_file

from thinkact.bench.corpus import DOMAINS, generate_conversations, generate_documents
from thinkact.bench.synthetic import generate_split
from thinkact.envs.registry import DOMAINS as BENCHMARK_DOMAINS
from thinkact.envs.registry import tool_specs
from thinkact.models.load import load_policy
from thinkact.models.tiny import TinyModelConfig, pretrained_base, train_tokenizer
from thinkact.rewards.combine import RewardConfig
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.heldout import HeldOut
from thinkact.train.pretrain import PretrainConfig, build_corpus, run_pretrain

SMALL = TinyModelConfig(vocab_size=600, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                        num_kv_heads=1, head_dim=16)  # fmt: skip


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_corpus_shares_no_tool_name_with_the_benchmark() -> None:
    benchmark = {spec["function"]["name"] for domain in BENCHMARK_DOMAINS for spec in tool_specs(domain)}
    corpus = {tool.name for domain in DOMAINS for tool in domain.tools}
    assert corpus and benchmark and not corpus & benchmark
    assert not {domain.name for domain in DOMAINS} & set(BENCHMARK_DOMAINS)
    called = {
        call["function"]["name"]
        for record in generate_conversations(400, seed=0)
        for message in record["messages"]
        for call in message.get("tool_calls") or []
    }
    assert called and called <= corpus


def test_corpus_shares_no_phrasing_with_the_benchmark() -> None:
    """No run of six words of a benchmark user message, system prompt or reasoning appears in the corpus."""
    benchmark: set[tuple[str, ...]] = set()
    for split in ("train", "test_ood"):
        for conversation in generate_split(split, 120, seed=0):
            for message in conversation.messages:
                text = f"{message.get('content') or ''} {message.get('reasoning_content') or ''}"
                benchmark |= _ngrams(_words(text), 6)
    corpus: set[tuple[str, ...]] = set()
    for record in generate_conversations(600, seed=0):
        for message in record["messages"]:
            if message["role"] in ("user", "assistant", "system"):
                text = f"{message.get('content') or ''} {message.get('reasoning_content') or ''}"
                corpus |= _ngrams(_words(text), 6)
    for document in generate_documents(200, seed=0):
        corpus |= _ngrams(_words(document), 6)
    assert len(benchmark) > 1000 and len(corpus) > 1000
    assert not benchmark & corpus, sorted(benchmark & corpus)[:5]
    # the benchmark's system prompt form ("Today is <date> (<weekday>).") is not one of the corpus's
    assert all(not message["content"].startswith("Today is") for r in generate_conversations(200, 1)
               for message in r["messages"] if message["role"] == "system")  # fmt: skip


def test_corpus_is_deterministic_and_calls_copy_entities_from_the_request() -> None:
    first, again = generate_conversations(50, seed=4), generate_conversations(50, seed=4)
    assert first == again != generate_conversations(50, seed=5)
    copied = total = 0
    for record in first:
        user = " ".join(m["content"] for m in record["messages"] if m["role"] == "user")
        for message in record["messages"]:
            for call in message.get("tool_calls") or []:
                for value in call["function"]["arguments"].values():
                    if isinstance(value, str) and value[:1].isupper():
                        total += 1
                        copied += value in user
    assert total > 20 and copied == total


def test_tokenizer_cuts_an_entity_the_same_in_prose_and_in_json() -> None:
    texts = [json.dumps(r) for r in generate_conversations(300, seed=0)] + generate_documents(100, seed=0)
    tokenizer = train_tokenizer(texts, vocab_size=1500)
    for entity, prose, call in (
        ("Paris", "What is the weather in Paris tomorrow?", '{"city": "Paris", "date": "2026-03-15"}'),
        ("250", "Send 250 euros to Dmitri now.", '{"amount": 250, "to": "Dmitri"}'),
        ("Dmitri", "Send 250 euros to Dmitri now.", '{"amount": 250, "to": "Dmitri"}'),
        ("2026-03-15", "Book it for 2026-03-15 please.", '{"city": "Paris", "date": "2026-03-15"}'),
    ):
        pieces = tokenizer(entity, add_special_tokens=False)["input_ids"]
        for text in (prose, call):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert any(ids[i : i + len(pieces)] == pieces for i in range(len(ids))), (entity, text)
    assert len(tokenizer("250", add_special_tokens=False)["input_ids"]) == 3  # digits one by one


def test_pretraining_is_deterministic_and_lowers_the_loss(tmp_path: Path) -> None:
    def config(out: Path) -> PretrainConfig:
        return PretrainConfig(out=str(out), conversations=120, documents=20, tokenizer_benchmark_conversations=10,
                              model=SMALL, steps=12, batch_size=4, sequence_length=128, warmup_steps=2,
                              learning_rate=1e-2, threads=1, log_steps=4)  # fmt: skip

    first = run_pretrain(config(tmp_path / "a"))
    second = run_pretrain(config(tmp_path / "b"))
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    recipe = json.loads((first / "recipe.json").read_text())
    log = [json.loads(line) for line in (first / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [4, 8, 12]
    assert log[-1]["loss"] < log[0]["loss"]
    assert recipe["config"]["steps"] == 12 and len(recipe["weights_sha256"]) == 64
    model, tokenizer = load_policy(first)  # loads like any model directory, with Qwen3's template
    assert tokenizer.chat_template and model.config.model_type == "qwen3"


def test_corpus_renders_through_the_chat_template() -> None:
    texts = build_corpus(PretrainConfig(conversations=30, documents=5))
    rendered = [text for text in texts if "<|im_start|>" in text]
    assert len(rendered) == 30
    assert any("<tool_call>" in text and "<tool_response>" in text and "<think>" in text for text in rendered)


def test_shipped_base_matches_its_recipe() -> None:
    base = pretrained_base()
    recipe = json.loads((base / "recipe.json").read_text())
    assert hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest() == recipe["weights_sha256"]
    # the shipped base was built with today's defaults, so `thinkact pretrain` rebuilds it
    assert recipe["config"] == asdict(PretrainConfig(out=recipe["config"]["out"]))
    weights = load_file(str(base / "model.safetensors"))
    assert sum(t.numel() for t in weights.values()) > 500_000
    assert (base / "model.safetensors").stat().st_size < 10 * 2**20


@pytest.fixture()
def heldout_config(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> GRPORunConfig:
    return GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "grpo"),
        steps=3,
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=8,
        mask_truncated=False,
        eval_data=str(data_dir / "test_id.jsonl"),
        eval_steps=2,
        eval_limit=5,
    )


def test_grpo_logs_the_held_out_evaluation_every_n_steps(heldout_config: GRPORunConfig) -> None:
    seen: list[tuple[int, set[str]]] = []
    run_grpo(heldout_config, on_step=lambda step, metrics: seen.append((step, set(metrics))))
    rows = [
        json.loads(line) for line in (Path(heldout_config.out) / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["step"] for row in rows] == [0, 1, 2, 3]
    with_heldout = [row["step"] for row in rows if "heldout_exact_call" in row]
    assert with_heldout == [0, 2]
    assert all(
        0.0 <= rows[0][key] <= 1.0 for key in ("heldout_reward", "heldout_exact_call", "heldout_format")
    )
    assert "reward" not in rows[0] and "reward" in rows[1]  # step 0 is the start, before any update
    assert [step for step, names in seen if "heldout_reward" in names] == [0, 2]
    assert list((Path(heldout_config.out) / "tensorboard").iterdir())


def test_held_out_scores_equal_the_evaluation_metrics(tiny_model_dir: Path, data_dir: Path) -> None:
    """The held-out numbers are the evaluation's own: the oracle's reference actions score 1 exact call."""
    from thinkact.eval.metrics import aggregate_turns
    from thinkact.eval.runner import score_record
    from thinkact.parse import action_from_message, render_action

    heldout = HeldOut(data_dir / "test_id.jsonl", limit=6, max_new_tokens=8, rewards=RewardConfig())
    assert len(heldout.turns) == 6
    records = [
        score_record(turn, render_action(action_from_message(turn.reference)), 1, RewardConfig())
        for turn in heldout.turns
    ]
    metrics = aggregate_turns([r["metrics"] for r in records], resamples=0)
    assert metrics["exact_call"].value == 1.0
    model, tokenizer = load_policy(tiny_model_dir)
    scores = heldout.evaluate(model, tokenizer)
    assert set(scores) >= {"heldout_reward", "heldout_format", "heldout_action_type"}
    assert scores == heldout.evaluate(model, tokenizer)  # greedy: the same weights score the same


def test_eval_steps_without_eval_data_is_refused() -> None:
    from thinkact.errors import UserError

    with pytest.raises(UserError, match=r"grpo\.eval_data"):
        run_grpo(GRPORunConfig(eval_steps=5))

"""The pretrained tiny base: a corpus disjoint from the benchmark, a deterministic pretraining run, a tokenizer
that cuts entities the same way everywhere, and the held-out evaluation GRPO logs while it trains."""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import pre_tokenizers

from thinkact.bench.synthetic import entities, generate_split
from thinkact.bench.synthetic.rendered import pretrain_vocabulary
from thinkact.data.words import TOOL_VERBS, english_words, invent_name, load_word_lists, spelled_name
from thinkact.envs.registry import DOMAINS as BENCHMARK_DOMAINS
from thinkact.envs.registry import tool_specs
from thinkact.errors import UserError
from thinkact.models.load import load_policy
from thinkact.models.tiny import TinyModelConfig, pretrained_base, split_identifiers, train_tokenizer
from thinkact.rewards.combine import RewardConfig
from thinkact.train.corpus import DOMAINS, generate_conversations, generate_documents
from thinkact.train.grpo import GRPORunConfig, run_grpo
from thinkact.train.grpo_config import HybridOptions
from thinkact.train.heldout import HeldOut
from thinkact.train.pretrain import (
    SECOND_STAGE,
    THIRD_STAGE,
    CallProbe,
    PretrainConfig,
    build_corpus,
    run_pretrain,
)

SMALL = TinyModelConfig(vocab_size=600, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                        num_kv_heads=1, head_dim=16)  # fmt: skip


def pretrain(config: PretrainConfig) -> Path:
    """`run_pretrain` with the benchmark text its tokenizer learns from, as `thinkact pretrain` gives it."""
    return run_pretrain(config, pretrain_vocabulary(config))


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
    for record in generate_conversations(600, seed=0) + generate_conversations(600, seed=0, invented=1.0):
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


def test_invented_tools_are_new_in_every_conversation_and_called_by_copying() -> None:
    """A conversation of invented tools can only be called right by reading its tool list and copying: every
    called name is one of that conversation's listed tools, no benchmark or fixed corpus tool is among them, the
    tool lists differ between conversations, and every string argument that is not a date comes from the user."""
    benchmark = {spec["function"]["name"] for domain in BENCHMARK_DOMAINS for spec in tool_specs(domain)}
    fixed = {tool.name for domain in DOMAINS for tool in domain.tools}
    records = generate_conversations(300, seed=3, invented=1.0)
    assert records == generate_conversations(300, seed=3, invented=1.0)
    lists = [tuple(spec["function"]["name"] for spec in record["tools"]) for record in records]
    assert len(set(lists)) > 250
    called = copied = strings = 0
    for record, names in zip(records, lists, strict=True):
        assert not set(names) & (benchmark | fixed)
        user = " ".join(m["content"] for m in record["messages"] if m["role"] == "user")
        for message in record["messages"]:
            for call in message.get("tool_calls") or []:
                called += 1
                assert call["function"]["name"] in names
                for value in call["function"]["arguments"].values():
                    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                        strings += 1
                        copied += value in user
    assert called > 200 and strings > 150 and copied == strings
    mixed = generate_conversations(400, seed=3, invented=0.5)
    share = sum(r["tools"][0]["function"]["name"] not in fixed for r in mixed) / len(mixed)
    assert 0.4 < share < 0.6


def test_opaque_tools_are_named_apart_from_the_request_and_found_by_their_description() -> None:
    """With `opaque` 1 no word of a called tool's name is in the user's words: only the tool list, whose
    description names what the user asks for, leads to the name; the reasoning names the tool before the call."""
    records = generate_conversations(300, seed=3, invented=1.0, opaque=1.0)
    assert records == generate_conversations(300, seed=3, invented=1.0, opaque=1.0)
    called = 0
    for record in records:
        user = " ".join(m["content"] for m in record["messages"] if m["role"] == "user").lower()
        described = {spec["function"]["name"]: spec["function"]["description"] for spec in record["tools"]}
        for message in record["messages"]:
            for call in message.get("tool_calls") or []:
                called += 1
                name = call["function"]["name"]
                (word,) = set(name.split("_")) - set(TOOL_VERBS)
                clashes = set(name.split("_")) & set(_words(user))
                assert word not in clashes and clashes <= {"count"}, (
                    name,
                    user,
                )  # "items count 9" is a count
                topic = re.fullmatch(r"Gives the (\w+) of a \w+\.", described[name])
                assert topic and topic[1] in user, (described[name], user)
                assert f"the tool that gives the {topic[1]} is {name}" in message["reasoning_content"]
    assert called > 200
    # opaque 0 leaves the corpus as it was (the shipped stages' hashes: the respell test below)
    assert generate_conversations(100, seed=3, invented=1.0, opaque=0.0) == generate_conversations(
        100, seed=3, invented=1.0
    )
    half = generate_conversations(300, seed=3, invented=1.0, opaque=0.5)
    share = sum(spec["function"]["description"].startswith("Gives the ") for r in half for spec in r["tools"])
    assert 0.4 < share / sum(len(r["tools"]) for r in half) < 0.6
    with pytest.raises(UserError, match=r"pretrain\.opaque"):
        PretrainConfig(opaque=-0.1)


class _Oracle(torch.nn.Module):
    """Predicts each next token exactly (`right`) or always token 0: the probe's two ends."""

    def __init__(self, right: bool) -> None:
        super().__init__()
        self.right = right

    def forward(self, input_ids: torch.Tensor) -> object:
        logits = torch.zeros(*input_ids.shape, 5000)
        if self.right:
            logits[0, :-1].scatter_(1, input_ids[0, 1:, None], 1.0)
        else:
            logits[..., 0] = 1.0
        return type("Out", (), {"logits": logits})()


def test_call_probe_scores_the_call_tokens_of_held_out_invented_tools() -> None:
    tokenizer = train_tokenizer(
        build_corpus(PretrainConfig(conversations=60, documents=5, invented=1.0)), 800
    )
    probe = CallProbe.build(tokenizer, 12, seed=0)
    assert probe.rows
    for ids, spans in probe.rows:  # spans hold the JSON of assistant calls, not the system prompt's example
        for first, last in spans:
            text = tokenizer.decode(ids[first:last])
            assert '"name": "' in text and "<function-name>" not in text
    assert probe.measure(_Oracle(right=True)) == {"call_token_accuracy": 1.0, "call_exact": 1.0}
    assert probe.measure(_Oracle(right=False)) == {"call_token_accuracy": 0.0, "call_exact": 0.0}


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


def test_split_identifiers_cuts_a_name_into_the_same_pieces_in_every_identifier() -> None:
    tokenizer = load_policy(pretrained_base())[1]

    def pieces(text: str) -> list[str]:
        return [tokenizer.decode([i]) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]

    # as trained, a training tool is one token and an unseen word is cut differently in two identifiers
    assert pieces('"get_weather"') == ['"', "get_weather", '"']
    assert pieces('"find_contact"') != ['"', *pieces("find"), "_", *pieces("contact"), '"']
    assert pieces('"contact_id"') != ['"', *pieces("contact"), "_", *pieces("id"), '"']
    split_identifiers(tokenizer)
    split_identifiers(tokenizer)  # a second time changes nothing
    assert "_" not in {p for p in pieces('"get_weather"') if p != "_"} and "_" in pieces('"get_weather"')
    contact = pieces("contact")
    assert pieces('"find_contact"') == ['"', *pieces("find"), "_", *contact, '"']
    assert pieces('"contact_id"') == ['"', *contact, "_", *pieces("id"), '"']
    text = '{"name": "find_contact", "arguments": {"contact_id": "C15"}}'
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    foreign = train_tokenizer(["some text"], vocab_size=300)
    foreign.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel()  # GPT-2's pre-split: not ours
    with pytest.raises(UserError, match="split_identifiers"):
        split_identifiers(foreign)


def test_pretraining_is_deterministic_and_lowers_the_loss(tmp_path: Path) -> None:
    def config(out: Path) -> PretrainConfig:
        return PretrainConfig(out=str(out), conversations=120, documents=20, tokenizer_benchmark_conversations=10,
                              model=SMALL, steps=12, batch_size=4, sequence_length=128, warmup_steps=2,
                              learning_rate=1e-2, threads=1, log_steps=4)  # fmt: skip

    first = pretrain(config(tmp_path / "a"))
    second = pretrain(config(tmp_path / "b"))
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    recipe = json.loads((first / "recipe.json").read_text())
    log = [json.loads(line) for line in (first / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [4, 8, 12]
    assert log[-1]["loss"] < log[0]["loss"]
    assert recipe["config"]["steps"] == 12 and len(recipe["weights_sha256"]) == 64
    model, tokenizer = load_policy(first)  # loads like any model directory, with Qwen3's template
    assert tokenizer.chat_template and model.config.model_type == "qwen3"
    assert {"call_token_accuracy", "call_exact"} <= set(log[-1])


def test_a_second_stage_continues_from_the_first_and_keeps_its_recipe(tmp_path: Path) -> None:
    first = pretrain(PretrainConfig(out=str(tmp_path / "a"), conversations=60, documents=10,
                                    tokenizer_benchmark_conversations=10, model=SMALL, steps=2, batch_size=2,
                                    sequence_length=64, warmup_steps=1, log_steps=2))  # fmt: skip
    second = pretrain(PretrainConfig(out=str(tmp_path / "b"), init=str(first), conversations=60,
                                     documents=10, invented=0.5, steps=2, batch_size=2, sequence_length=64,
                                     warmup_steps=1, log_steps=2))  # fmt: skip
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    assert (first / "model.safetensors").read_bytes() != (second / "model.safetensors").read_bytes()
    recipe = json.loads((second / "recipe.json").read_text())
    assert recipe["init"] == json.loads((first / "recipe.json").read_text())
    assert f"--init {first}" in recipe["command"] and "--set invented=0.5" in recipe["command"]
    with pytest.raises(UserError, match=r"pretrain\.init"):
        PretrainConfig(init=str(tmp_path))


def test_corpus_renders_through_the_chat_template() -> None:
    texts = build_corpus(PretrainConfig(conversations=30, documents=5))
    rendered = [text for text in texts if "<|im_start|>" in text]
    assert len(rendered) == 30
    assert any("<tool_call>" in text and "<tool_response>" in text and "<think>" in text for text in rendered)


def test_corpus_renders_a_share_of_conversations_without_reasoning() -> None:
    plain = build_corpus(PretrainConfig(conversations=200, documents=5))
    half = build_corpus(PretrainConfig(conversations=200, documents=5, no_think=0.5))
    empty = "<think>\n\n</think>"  # how Qwen3 renders the last assistant turn when it has no reasoning
    assert not any(empty in text for text in plain)
    thinkless = [text for text in half if empty in text]
    assert 60 < len(thinkless) < 140  # about half of the 200 conversations
    # a conversation without reasoning holds no reasoning at all, and its calls and answers are all still there
    assert not any(re.search(r"<think>\n[^\n]", text) for text in thinkless)
    assert sum(text.count("<tool_call>") for text in half) == sum(text.count("<tool_call>") for text in plain)
    assert build_corpus(PretrainConfig(conversations=200, documents=5, no_think=0.5)) == half  # seeded
    with pytest.raises(UserError, match=r"pretrain\.no_think"):
        PretrainConfig(no_think=2.0)


def test_spelled_names_are_new_words_cut_like_real_names() -> None:
    """`spelled_name` gives English-like entities that are no ordinary corpus word and no benchmark entity, and
    the shipped tokenizer cuts them into the pieces it cuts the benchmark's real names into far more often than
    `invent_name`'s syllables (the reason they exist: a base that copies syllables copies no real name)."""
    rng = random.Random(6)
    names = [spelled_name(rng) for _ in range(2000)]
    assert names[:50] == [spelled_name(rng) for rng in [random.Random(6)] for _ in range(50)]  # seeded
    assert all(re.fullmatch(r"[A-Z][a-z]{3,9}", name) for name in names) and len(set(names)) > 1500
    pools = json.dumps([value for key, value in vars(entities).items() if key.isupper()])
    real = set(re.findall(r"[A-Z][a-z]{2,}", pools))  # the benchmark's cities, people, products, meetings
    assert not {name.lower() for name in names} & ({word.lower() for word in real} | english_words())
    tokenizer = load_policy(str(pretrained_base()))[1]
    pieces = {piece for word in real for piece in tokenizer.tokenize(word)}

    def shared(words: list[str]) -> float:
        cut = [piece for word in words for piece in tokenizer.tokenize(word)]
        return sum(piece in pieces for piece in cut) / len(cut)

    syllables = [invent_name(rng) for _ in range(2000)]
    assert shared(names) > 0.7 and shared(syllables) < 0.55  # measured 0.78 and 0.47


def test_stored_word_lists_are_the_corpus_and_benchmark_words() -> None:
    """`data/words.json` holds the corpus's own lower-case words and the other words of the benchmark's entity
    pools, as the corpus (seed 0) and the pools give them today; `spelled_name` and `data.rename` read it."""
    text = " ".join(json.dumps(record) for record in generate_conversations(400, 0))
    words = set(re.findall(r"\b[a-z]{3,}\b", text + " ".join(generate_documents(200, 0))))
    pools = json.dumps([value for name, value in vars(entities).items() if name.isupper()])
    benchmark = {word.lower() for word in re.findall(r"[A-Za-z]+", pools)}
    corpus, others = load_word_lists()
    fix = "the corpus or the entity pools changed: rewrite src/thinkact/data/words.json from these lists"
    assert corpus == words, fix
    assert others == benchmark - words, fix


def test_corpus_respells_a_share_of_entities_and_keeps_the_stages_corpora() -> None:
    plain = build_corpus(PretrainConfig(conversations=300, documents=20))
    # the shipped stages' corpora are what they were when the base was built (their rebuild commands hold)
    digest = hashlib.sha256(json.dumps(plain).encode()).hexdigest()
    assert digest.startswith("21ca9404b1f85738")
    second = build_corpus(PretrainConfig(**{**SECOND_STAGE, "conversations": 300, "documents": 20}))
    assert hashlib.sha256(json.dumps(second).encode()).hexdigest().startswith("5e38152c8b7fcf1e")
    assert build_corpus(PretrainConfig(conversations=300, documents=20, respell=0.0)) == plain
    respelled = build_corpus(PretrainConfig(conversations=300, documents=20, respell=1.0))
    assert respelled == build_corpus(PretrainConfig(conversations=300, documents=20, respell=1.0))
    calls = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.S)
    changed = 0
    # the same order: the shuffle depends on the seed
    for before, after in zip(plain, respelled, strict=True):
        assert before.count("<tool_call>") == after.count("<tool_call>")
        changed += before != after
    assert changed > 200  # every conversation with a capitalised value to copy (not small talk, counts, sums)
    for text in respelled:  # every capitalised value a call copies is still in the user's words
        users = " ".join(re.findall(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", text, re.S))
        for body in calls.findall(text[text.find("<|im_start|>user") :]):  # not the system prompt's example
            for value in json.loads(body)["arguments"].values():
                if isinstance(value, str) and value[:1].isupper():
                    assert value in users
    # ordinary words stay ('The' of a title also starts the corpus's own sentences)
    assert sum(t.count("The ") for t in respelled) == sum(t.count("The ") for t in plain)
    with pytest.raises(UserError, match=r"pretrain\.respell"):
        PretrainConfig(respell=1.5)


def test_shipped_base_matches_its_recipe() -> None:
    base = pretrained_base()
    recipe = json.loads((base / "recipe.json").read_text())
    assert hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest() == recipe["weights_sha256"]

    # the shipped base was built in three stages whose settings are today's defaults, SECOND_STAGE and
    # THIRD_STAGE, so the three `thinkact pretrain` commands of docs/design-notes.md rebuild it (fields added
    # since default as they were)
    def settings(config: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in {**asdict(PretrainConfig()), **config}.items() if k not in ("out", "init")}

    assert settings(recipe["init"]["init"]["config"]) == settings(asdict(PretrainConfig()))
    assert settings(recipe["init"]["config"]) == settings(asdict(PretrainConfig(**SECOND_STAGE)))
    assert settings(recipe["config"]) == settings(asdict(PretrainConfig(**THIRD_STAGE)))
    assert "init" not in recipe["init"]["init"]
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


def test_watching_held_out_turns_steers_nothing(heldout_config: GRPORunConfig, tiny_model_dir: Path) -> None:
    """The held-out evaluation only reads the model: the same run without it ends on the same weights."""
    heldout_config.learning_rate = 1e-3
    heldout_config.hybrid = HybridOptions(weight=0.5)  # an SFT term, so that the untrained model surely moves
    watched = run_grpo(heldout_config)
    heldout_config.out = str(Path(heldout_config.out).with_name("grpo-unwatched"))
    heldout_config.eval_steps = 0
    unwatched = run_grpo(heldout_config)
    start = load_file(str(tiny_model_dir / "model.safetensors"))
    first = load_file(str(Path(watched) / "model.safetensors"))
    second = load_file(str(Path(unwatched) / "model.safetensors"))
    assert any(not torch.equal(start[name], first[name]) for name in start)  # the run did train
    assert all(torch.equal(first[name], second[name]) for name in first)


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

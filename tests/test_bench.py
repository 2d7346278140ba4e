"""The bundled benchmark: self-consistent data, held-out domain and phrasings, determinism, stats and CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import thinkact.cli.data_bench  # noqa: F401  (registers generate and stats on data_app)
from thinkact.bench import generate_benchmark, generate_split
from thinkact.bench.synthetic.context import seen_part
from thinkact.bench.synthetic.dialogue import PHENOMENA
from thinkact.bench.synthetic.entities import CITIES
from thinkact.bench.synthetic.phrasing import Phrases, resolve_day
from thinkact.bench.synthetic.scenarios import banking, calendar, contacts, shopping, travel, units, weather
from thinkact.bench.synthetic.splits import HELD_OUT_DOMAINS, SCENARIOS, TRAIN_DOMAINS
from thinkact.bench.synthetic.stats import compute_stats
from thinkact.cli.apps import data_app
from thinkact.data.conversations import Conversation, check_record, read_conversations
from thinkact.envs import DOMAINS, replay, tool_specs
from thinkact.errors import UserError

SIZES = {"train": 400, "valid": 40, "test_id": 120, "test_ood": 120}
SCENARIO_MODULES = (weather, calendar, banking, shopping, travel, units, contacts)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_benchmark(tmp_path_factory.mktemp("bench"), seed=0, **SIZES)


@pytest.fixture(scope="module")
def splits(files: dict[str, Path]) -> dict[str, list[Conversation]]:
    return {split: read_conversations(path) for split, path in files.items()}


def _all(splits: dict[str, list[Conversation]]) -> list[Conversation]:
    return [c for conversations in splits.values() for c in conversations]


def test_every_reference_call_reproduces_its_recorded_result(splits: dict[str, list[Conversation]]) -> None:
    for conversation in _all(splits):
        replayed = replay(conversation)
        recorded = [m for m in conversation.messages if m["role"] == "tool"]
        assert replayed.results == recorded, conversation.id
        assert replayed.final_state == conversation.meta["final_state"], conversation.id
        assert not any("error" in json.loads(m["content"]) for m in recorded), conversation.id


def test_the_splits_have_the_asked_sizes_and_follow_the_schema(splits: dict[str, list[Conversation]]) -> None:
    for split, conversations in splits.items():
        assert len(conversations) == SIZES[split]
        for conversation in conversations:
            assert check_record(conversation.to_json()) == []
            assert conversation.meta["split"] == split
            assert conversation.tools == tool_specs(conversation.meta["domain"])
            assert conversation.messages[0]["content"].startswith(f"Today is {conversation.meta['today']} (")


def test_every_assistant_turn_carries_short_reasoning_and_answers_their_facts(
    splits: dict[str, list[Conversation]],
) -> None:
    for conversation in _all(splits):
        for message in conversation.messages:
            if message["role"] != "assistant":
                continue
            words = len(message["reasoning_content"].split())
            assert 5 <= words <= 45, message["reasoning_content"]
            if message.get("tool_calls"):
                assert message["content"] == ""
            else:
                assert message["content"]
                assert all(fact in message["content"] for fact in message["facts"]), message


def test_meta_uses_the_fixed_phenomena_vocabulary_in_order(splits: dict[str, list[Conversation]]) -> None:
    for conversation in _all(splits):
        phenomena = conversation.meta["phenomena"]
        assert phenomena, conversation.id
        assert phenomena == [name for name in PHENOMENA if name in phenomena]


def test_train_covers_every_phenomenon_and_every_scenario(splits: dict[str, list[Conversation]]) -> None:
    stats = compute_stats(splits["train"])
    assert set(stats["by_phenomenon"]) == set(PHENOMENA)
    assert set(stats["by_domain"]) == set(TRAIN_DOMAINS)
    found = {(c.meta["domain"], c.meta["scenario"]) for c in splits["train"]}
    wanted = {(domain, s.name) for domain in TRAIN_DOMAINS for s in SCENARIOS[domain]}
    assert wanted <= found


def test_the_held_out_domain_never_occurs_in_train(
    files: dict[str, Path], splits: dict[str, list[Conversation]]
) -> None:
    assert HELD_OUT_DOMAINS and set(HELD_OUT_DOMAINS) <= set(DOMAINS)
    held_out_tools = {spec["function"]["name"] for d in HELD_OUT_DOMAINS for spec in tool_specs(d)}
    train_tools = {spec["function"]["name"] for d in TRAIN_DOMAINS for spec in tool_specs(d)}
    assert not held_out_tools & train_tools
    train_text = files["train"].read_text(encoding="utf-8")
    assert not [name for name in held_out_tools if name in train_text]
    ood_domains = [c.meta["domain"] for c in splits["test_ood"]]
    assert ood_domains.count("contacts") == len(ood_domains) // 2


def test_test_splits_use_entities_train_never_sees(splits: dict[str, list[Conversation]]) -> None:
    names = [city for city, _, _ in CITIES]

    def cities(conversations: list[Conversation]) -> set[str]:
        return {
            call["function"]["arguments"]["city"]
            for c in conversations
            for m in c.messages
            for call in m.get("tool_calls") or []
            if call["function"]["name"] == "get_weather"
        }

    assert cities(splits["train"]) <= set(seen_part(names, False))
    assert cities(splits["test_id"]) and cities(splits["test_id"]) <= set(seen_part(names, True))
    assert cities(splits["valid"]) and cities(splits["valid"]) <= set(seen_part(names, True))


def test_valid_is_drawn_as_test_id_is_but_holds_other_conversations(
    splits: dict[str, list[Conversation]],
) -> None:
    valid, test_id = splits["valid"], splits["test_id"]
    assert {c.meta["domain"] for c in valid} == set(TRAIN_DOMAINS)
    assert all(c.id.startswith("valid-") for c in valid)

    def dialogue(conversation: Conversation) -> str:
        return json.dumps(conversation.messages, sort_keys=True)

    assert not {dialogue(c) for c in valid} & {dialogue(c) for c in test_id + splits["train"]}


def test_phrasings_come_in_disjoint_seen_and_held_out_forms() -> None:
    for module in SCENARIO_MODULES:
        phrases = [value for value in vars(module).values() if isinstance(value, Phrases)]
        assert len(phrases) >= 5, module.__name__
        for phrase in phrases:
            assert phrase.seen and phrase.held_out
            assert not set(phrase.seen) & set(phrase.held_out)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    sizes = {"train": 30, "test_id": 10, "test_ood": 10}
    first = generate_benchmark(tmp_path / "a", seed=3, **sizes)
    second = generate_benchmark(tmp_path / "b", seed=3, **sizes)
    other = generate_benchmark(tmp_path / "c", seed=4, **sizes)
    for split in first:
        assert first[split].read_bytes() == second[split].read_bytes()
        assert first[split].read_bytes() != other[split].read_bytes()
    assert generate_split("train", 5, seed=3)[4].to_json() == generate_split("train", 10, seed=3)[4].to_json()


def test_generate_split_names_bad_input() -> None:
    with pytest.raises(UserError, match="split: 'dev' is not one of train, valid, test_id, test_ood"):
        generate_split("dev", 3, seed=0)


def test_relative_days_resolve_against_today() -> None:
    saturday = date(2026, 3, 14)
    assert resolve_day("tomorrow", saturday, 0, False).day == date(2026, 3, 15)
    assert resolve_day("weekday", saturday, 0, False).day == date(2026, 3, 16)
    assert resolve_day("weekday", saturday, 0, True).phrase == "this coming Monday"
    assert resolve_day("in_days", saturday, 5, False).day == date(2026, 3, 19)


def test_cli_generate_and_stats(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "data"
    args = ["generate", "--out", str(out), "--seed", "1", "--train", "12"]
    args += ["--test-id", "4", "--test-ood", "6"]
    result = runner.invoke(data_app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "test_id.jsonl",
        "test_ood.jsonl",
        "train.jsonl",
        "valid.jsonl",
    ]
    result = runner.invoke(data_app, ["stats", str(out / "test_ood.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["conversations"] == 6
    assert stats["by_domain"]["contacts"] == 3
    assert stats["by_action_type"]["call"] + stats["by_action_type"]["answer"] == stats["assistant_turns"]
    table = runner.invoke(data_app, ["stats", str(out / "train.jsonl")])
    assert table.exit_code == 0 and "assistant_turns" in table.output


def test_cli_stats_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi"}]}'
        "\n{not json\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(data_app, ["stats", str(bad)])
    assert isinstance(result.exception, UserError)
    assert f"{bad}:2: not valid JSON" in str(result.exception)

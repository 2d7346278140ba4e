"""Fresh tool names and entities in SFT (`sft.rename_tools`, `sft.fresh_entities`) and the SFT learning-rate
schedules (`sft.lr_scheduler`)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from thinkact.data.conversations import Conversation, read_conversations
from thinkact.data.rename import ENTITY_WORD, fresh_entities, rename_arguments, rename_tools
from thinkact.errors import UserError
from thinkact.models.load import load_policy
from thinkact.train.sft import SFTRunConfig, build_dataset, run_sft


def _calls(conversation_messages: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        call["function"]  # type: ignore[index]
        for message in conversation_messages
        for call in message.get("tool_calls") or []  # type: ignore[attr-defined]
    ]


def test_renamed_conversations_keep_everything_but_the_names(data_dir: Path) -> None:
    conversations = list(read_conversations(data_dir / "train.jsonl"))
    rng = random.Random(0)
    for conversation in conversations:
        before = json.dumps(conversation.to_json(), sort_keys=True)
        renamed = rename_tools(conversation, rng)
        assert json.dumps(conversation.to_json(), sort_keys=True) == before  # the original is untouched
        old = [tool["function"]["name"] for tool in conversation.tools]
        new = [tool["function"]["name"] for tool in renamed.tools]
        assert len(set(new)) == len(new) and not set(old) & set(new)
        mapping = dict(zip(old, new, strict=True))
        # every call, and every tool result, now names the renamed tool; arguments are unchanged
        original_calls, renamed_calls = _calls(conversation.messages), _calls(renamed.messages)
        assert [mapping[str(c["name"])] for c in original_calls] == [c["name"] for c in renamed_calls]
        assert [c["arguments"] for c in original_calls] == [c["arguments"] for c in renamed_calls]
        for was, now in zip(conversation.messages, renamed.messages, strict=True):
            if was["role"] == "tool":
                assert now["name"] == mapping[was["name"]] and now["content"] == was["content"]
            if was["role"] == "user":
                assert now == was
        # no identifier-like old name survives in what the model is trained on (a one-word name such as
        # `transfer` stays in the prose, where it is a word: "the transfer is done")
        text = json.dumps({"tools": renamed.tools, "messages": renamed.messages})
        assert not any(re.search(rf"\b{re.escape(name)}\b", text) for name in old if "_" in name)
        assert renamed.meta == conversation.meta and renamed.id == conversation.id


def test_sft_trains_a_share_of_conversations_with_fresh_names(tiny_model_dir: Path, data_dir: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    data = data_dir / "train.jsonl"
    names = {tool["function"]["name"] for c in read_conversations(data) for tool in c.tools}

    def decoded(share: float, seed: int = 0) -> list[str]:
        dataset, _ = build_dataset(
            tokenizer, data, think=False, max_length=4096, rename_share=share, seed=seed
        )
        return [tokenizer.decode(ids) for ids in dataset["input_ids"]]

    plain, renamed, again = decoded(0.0), decoded(1.0), decoded(1.0)
    assert plain == decoded(0.0, seed=5)  # nothing is drawn without renaming
    assert renamed == again and renamed != decoded(1.0, seed=1)  # seeded
    assert len(renamed) == len(plain)  # every turn is still trained, once
    assert all(any(name in row for name in names) for row in plain)
    names = {name for name in names if "_" in name}
    assert not any(re.search(rf"\b{name}\b", row) for row in renamed for name in names)
    half = decoded(0.5)
    kept = sum(any(re.search(rf"\b{name}\b", row) for name in names) for row in half)
    assert 0 < kept < len(half)
    with pytest.raises(UserError, match=r"sft.rename_tools: 1.5 is not a share"):
        SFTRunConfig(rename_tools=1.5)


def _texts(messages: list[dict[str, object]]) -> str:
    return json.dumps([[m.get("content"), m.get("reasoning_content")] for m in messages])


def test_fresh_entities_change_copied_values_everywhere_and_nothing_else(data_dir: Path) -> None:
    conversations = list(read_conversations(data_dir / "train.jsonl"))
    rng = random.Random(0)
    changed = 0
    for conversation in conversations:
        before = json.dumps(conversation.to_json(), sort_keys=True)
        fresh = fresh_entities(conversation, rng)
        assert json.dumps(conversation.to_json(), sort_keys=True) == before  # the original is untouched
        assert fresh.tools == conversation.tools and fresh.meta == conversation.meta
        assert [m["role"] for m in fresh.messages] == [m["role"] for m in conversation.messages]
        old_calls, new_calls = _calls(conversation.messages), _calls(fresh.messages)
        assert [c["name"] for c in old_calls] == [c["name"] for c in new_calls]
        replaced = set()
        for old, new in zip(old_calls, new_calls, strict=True):
            assert old["arguments"].keys() == new["arguments"].keys()  # type: ignore[attr-defined]
            for key, value in old["arguments"].items():  # type: ignore[attr-defined]
                now = new["arguments"][key]  # type: ignore[index]
                if value != now:
                    # only capitalised words change, and a changed value is still copied from the text
                    assert ENTITY_WORD.sub("W", str(value)) == ENTITY_WORD.sub("W", str(now))
                    assert str(now) in _texts(fresh.messages)
                    replaced.update(set(ENTITY_WORD.findall(str(value))) - set(ENTITY_WORD.findall(str(now))))
        # a replaced word is gone from every message, and the text is otherwise the same
        text = _texts(fresh.messages)
        assert not any(re.search(rf"\b{word}\b", text) for word in replaced)
        assert ENTITY_WORD.sub("W", _texts(conversation.messages)) == ENTITY_WORD.sub("W", text)
        changed += bool(replaced)
    assert changed > len(conversations) // 5  # the bundled benchmark's cities, titles and names


def test_fresh_entities_leave_closed_sets_and_uncopied_values() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "convert",
                "parameters": {"properties": {"to": {"type": "string", "enum": ["Euro", "Dollar"]}}},
            },
        }
    ]
    call = {
        "function": {
            "name": "convert",
            "arguments": {"to": "Euro", "note": "Frankfurt", "who": "Ada Lovelace", "club": "Euro Savers"},
        }
    }
    messages = [
        {"role": "user", "content": "Convert it to Euro for Ada Lovelace, please, from Euro Savers."},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "assistant", "content": "Done for Ada Lovelace."},
    ]
    fresh = fresh_entities(Conversation("c", messages, tools), random.Random(3))
    arguments = fresh.messages[1]["tool_calls"][0]["function"]["arguments"]
    # an enum member stays; a value the conversation never states (not copied) stays; a copied one changes
    assert arguments["to"] == "Euro" and arguments["note"] == "Frankfurt"
    first, last = arguments["who"].split()
    assert first != "Ada" and last != "Lovelace"
    # a word that is an enum member stays everywhere, also inside a copied value, so the member stays valid
    club = arguments["club"]
    assert club.startswith("Euro ") and club != "Euro Savers"
    assert fresh.messages[0]["content"] == f"Convert it to Euro for {first} {last}, please, from {club}."
    assert fresh.messages[2]["content"] == f"Done for {first} {last}."
    # an ordinary word of the corpus stays: 'The' of a title also starts other sentences
    titled = [
        {"role": "user", "content": "The hold is for The Vorn Road."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "hold", "arguments": {"title": "The Vorn Road"}}}],
        },
    ]
    fresh = fresh_entities(Conversation("t", titled, []), random.Random(0))
    title = fresh.messages[1]["tool_calls"][0]["function"]["arguments"]["title"]
    assert title.startswith("The ") and "Vorn" not in title
    assert fresh.messages[0]["content"] == f"The hold is for {title}."
    nothing = [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "4"}]
    assert fresh_entities(Conversation("d", nothing, []), random.Random(0)).messages == nothing


def test_sft_trains_a_share_of_conversations_with_fresh_entities(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    data = data_dir / "train.jsonl"

    def decoded(share: float, seed: int = 0) -> list[str]:
        dataset, _ = build_dataset(
            tokenizer, data, think=False, max_length=4096, entity_share=share, seed=seed
        )
        return [tokenizer.decode(ids) for ids in dataset["input_ids"]]

    plain, fresh = decoded(0.0), decoded(1.0)
    assert fresh == decoded(1.0) and fresh != decoded(1.0, seed=1)  # seeded
    assert len(fresh) == len(plain)
    differs = sum(a != b for a, b in zip(plain, fresh, strict=True))
    assert 0 < differs < len(plain)  # rows with copied entities change; the rest (sums, balances) do not
    with pytest.raises(UserError, match=r"sft.fresh_entities: -0.1 is not a share"):
        SFTRunConfig(fresh_entities=-0.1)


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("constant", [1e-3] * 10),
        # no warm-up, stable, then a cosine decay over the last fifth: step 9 still at the peak, step 10 halfway
        ("wsd", [1e-3] * 9 + [5e-4]),
    ],
)
def test_sft_learning_rate_schedules(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, scheduler: str, expected: list[float]
) -> None:
    config = SFTRunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "sft"),
        max_steps=10,
        batch_size=1,
        learning_rate=1e-3,
        warmup_ratio=0.0,
        logging_steps=1,
        save_steps=0,
        lr_scheduler=scheduler,
        report_to="none",
    )
    run_sft(config)
    state = json.loads((tmp_path / "sft" / "trainer_state.json").read_text())
    rates = [row["learning_rate"] for row in state["log_history"] if "learning_rate" in row]
    assert rates == pytest.approx(expected, abs=1e-9)
    with pytest.raises(UserError, match=r"sft\.lr_scheduler"):
        SFTRunConfig(lr_scheduler="step")


def test_grpo_prompts_and_references_carry_the_fresh_names(tiny_model_dir: Path, data_dir: Path) -> None:
    from thinkact.train.grpo import GRPORunConfig, GRPOTrainer

    model, tokenizer = load_policy(tiny_model_dir)
    data = data_dir / "train.jsonl"
    names = {tool["function"]["name"] for c in read_conversations(data) for tool in c.tools}

    def trainer(**shares: float) -> GRPOTrainer:
        loaded = GRPOTrainer(GRPORunConfig(**shares), model, tokenizer)  # type: ignore[arg-type]
        loaded.load_data(data)
        return loaded

    plain, renamed = trainer(), trainer(rename_tools=1.0)
    assert len(renamed.prompts) == len(plain.prompts)  # every turn is still a prompt, once
    called = 0
    for was, now, ids in zip(plain.prompts, renamed.prompts, renamed.prompt_ids, strict=True):
        listed = {tool["function"]["name"] for tool in now.tools}
        assert not listed & names and not any(name in tokenizer.decode(ids) for name in names if "_" in name)
        # the action the reward compares with names a listed tool, with the same arguments as before
        assert all(call.name in listed for call in now.action.tool_calls)
        assert [c.arguments for c in now.action.tool_calls] == [c.arguments for c in was.action.tool_calls]
        called += len(now.action.tool_calls)
    assert called > 0
    assert [p.tools for p in trainer(rename_tools=1.0).prompts] == [p.tools for p in renamed.prompts]
    with pytest.raises(UserError, match=r"grpo.rename_tools: out of range"):
        GRPORunConfig(rename_tools=1.5)
    with pytest.raises(UserError, match=r"need mode: turn"):
        GRPORunConfig(mode="episode", fresh_entities=0.5)


def test_renamed_arguments_follow_the_schema_and_keep_the_values(data_dir: Path) -> None:
    import jsonschema

    rng = random.Random(0)
    checked = 0
    for conversation in read_conversations(data_dir / "train.jsonl"):
        before = json.dumps(conversation.to_json(), sort_keys=True)
        renamed = rename_arguments(conversation, rng)
        assert json.dumps(conversation.to_json(), sort_keys=True) == before  # the original is untouched
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in renamed.tools}
        for was, now in zip(conversation.tools, renamed.tools, strict=True):
            old, new = was["function"]["parameters"], now["function"]["parameters"]
            assert now["function"]["name"] == was["function"]["name"]
            assert not set(old["properties"]) & set(new["properties"])
            assert list(old["properties"].values()) == list(new["properties"].values())  # types, enums kept
            assert len(new.get("required", [])) == len(old.get("required", []))
        for original, call in zip(_calls(conversation.messages), _calls(renamed.messages), strict=True):
            jsonschema.validate(call["arguments"], schemas[str(call["name"])])  # still a valid call
            assert list(call["arguments"].values()) == list(original["arguments"].values())  # type: ignore[attr-defined]
            checked += 1
        assert [m for m in renamed.messages if m["role"] != "assistant"] == [
            m for m in conversation.messages if m["role"] != "assistant"
        ]
    assert checked > 0


def test_sft_and_grpo_train_a_share_with_fresh_argument_names(tiny_model_dir: Path, data_dir: Path) -> None:
    from thinkact.train.grpo import GRPORunConfig, GRPOTrainer

    model, tokenizer = load_policy(tiny_model_dir)
    data = data_dir / "train.jsonl"

    def decoded(share: float) -> list[str]:
        dataset, _ = build_dataset(tokenizer, data, think=False, max_length=4096, argument_share=share)
        return [tokenizer.decode(ids) for ids in dataset["input_ids"]]

    plain, renamed = decoded(0.0), decoded(1.0)
    assert len(renamed) == len(plain) and all(a != b for a, b in zip(plain, renamed, strict=True))
    assert decoded(1.0) == renamed  # seeded
    trainer = GRPOTrainer(GRPORunConfig(rename_arguments=1.0), model, tokenizer)
    trainer.load_data(data)
    keys = 0
    for prompt in trainer.prompts:  # the reward's reference uses the keys the prompt's schema lists
        schemas = {t["function"]["name"]: t["function"]["parameters"]["properties"] for t in prompt.tools}
        for call in prompt.action.tool_calls:
            assert set(call.arguments) <= set(schemas[call.name])
            keys += len(call.arguments)
    assert keys > 0
    with pytest.raises(UserError, match=r"sft.rename_arguments: 2.0 is not a share"):
        SFTRunConfig(rename_arguments=2.0)

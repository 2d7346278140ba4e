"""Fresh tool names in SFT (`sft.rename_tools`) and the SFT learning-rate schedules (`sft.lr_scheduler`)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from thinkact.data.conversations import read_conversations
from thinkact.data.rename import rename_tools
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

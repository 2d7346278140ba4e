"""API-Bank level-1: dialogues become conversations whose test points are the original benchmark's.

The fixture dialogues are written in the benchmark's documented shape; the real 214 dialogues in
../shared/benchmarks/api-bank are used when they are there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkact.data.conversations import Conversation, read_conversations, split_turns
from thinkact.data.readers.apibank import SYSTEM_PROMPT, load_api_tools
from thinkact.data.readers.convert import run_convert
from thinkact.errors import UserError
from thinkact.eval.runner import EvalConfig, run_eval

FIXTURE = Path(__file__).parent / "fixtures" / "formats" / "apibank"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "api-bank"


def convert(source: Path, out: Path) -> list[Conversation]:
    run_convert(source, source_format="apibank", out=out, skip_invalid=True)
    return read_conversations(out)


def test_each_event_keeps_its_place(tmp_path: Path) -> None:
    agenda, _ = convert(FIXTURE / "level-1", tmp_path / "out.jsonl")
    roles = [(m["role"], bool(m.get("tool_calls")), m.get("score", True)) for m in agenda.messages]
    assert roles == [
        ("system", False, True),
        ("user", False, True),
        ("assistant", False, False),  # an AI reply before any API call: not a test point
        ("user", False, True),
        ("assistant", True, True),  # API GetUserToken
        ("tool", False, True),
        ("assistant", False, True),  # the reply that follows a call: scored with ROUGE-L
        ("assistant", True, True),  # API AddAgenda
        ("tool", False, True),
        ("assistant", False, True),
    ]
    assert agenda.messages[0]["content"] == SYSTEM_PROMPT
    assert agenda.messages[4]["tool_calls"][0]["function"]["arguments"] == {
        "username": "foo",
        "password": "bar",
    }
    assert agenda.messages[5] == {"role": "tool", "name": "GetUserToken", "content": '{"token": "z9x8"}'}
    assert agenda.messages[8]["content"] == "success"
    assert agenda.meta == {
        "source": "api-bank",
        "level": 1,
        "answer_metric": "rougeL",
        "file": "AddAgenda-level-1-1.jsonl",
    }


def test_consecutive_api_events_are_two_call_turns(tmp_path: Path) -> None:
    _, caption = convert(FIXTURE / "level-1", tmp_path / "out.jsonl")
    call_turns = [m for m in caption.messages if m.get("tool_calls")]
    assert [m["tool_calls"][0]["function"]["name"] for m in call_turns] == ["ImageCaption", "GetToday"]


def test_tools_are_the_apis_of_the_dialogue(tmp_path: Path) -> None:
    agenda, caption = convert(FIXTURE / "level-1", tmp_path / "out.jsonl")
    assert [tool["function"]["name"] for tool in agenda.tools] == ["GetUserToken", "AddAgenda"]
    token = agenda.tools[0]["function"]
    assert token["description"] == "Get user token API.\nReturns: token (str): The token."
    assert token["parameters"]["properties"]["username"] == {
        "type": "string",
        "description": "The username of the user.",
    }
    tools = {tool["function"]["name"]: tool["function"] for tool in caption.tools}
    assert tools["GetToday"]["parameters"]["properties"] == {}  # api_info declares {None}
    assert tools["ImageCaption"]["parameters"]["properties"] == {
        "image": {"type": "string", "description": ""}
    }


def test_an_empty_dialogue_is_rejected_not_dropped(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"Empty-level-1-1\.jsonl: the dialogue file is empty"):
        run_convert(FIXTURE / "level-1", source_format="apibank", out=tmp_path / "out.jsonl")
    convert(FIXTURE / "level-1", tmp_path / "out.jsonl")
    (reject,) = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert reject["problems"] == ["the dialogue file is empty"]


def test_unknown_api_and_missing_table_name_the_fix(tmp_path: Path) -> None:
    dialogue = tmp_path / "d.jsonl"
    dialogue.write_text(
        '{"role": "User", "text": "hi"}\n{"role": "API", "api_name": "Nope", "param_dict": {}, "result": {}}\n'
    )
    with pytest.raises(UserError, match="--apis"):
        run_convert(dialogue, source_format="apibank", out=tmp_path / "out.jsonl")
    with pytest.raises(UserError, match="line 2: api_name: 'Nope' is not in API-Bank's API table"):
        run_convert(
            dialogue,
            source_format="apibank",
            out=tmp_path / "o.jsonl",
            apis=FIXTURE / "data" / "all_apis.csv",
        )


def test_oracle_scores_one_on_every_test_point(tmp_path: Path) -> None:
    convert(FIXTURE / "level-1", tmp_path / "apibank.jsonl")
    metrics = run_eval(EvalConfig(data=[str(tmp_path / "apibank.jsonl")], oracle=True))["splits"]["apibank"][
        "metrics"
    ]
    assert metrics["exact_call"] == {**metrics["exact_call"], "value": 1.0, "n": 4}
    assert metrics["answer"]["value"] == 1.0 and metrics["answer"]["n"] == 3


def test_the_tiny_model_runs_through_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    convert(FIXTURE / "level-1", tmp_path / "apibank.jsonl")
    config = EvalConfig(model=str(tiny_model_dir), data=[str(tmp_path / "apibank.jsonl")], max_new_tokens=8)
    turns = run_eval(config)["splits"]["apibank"]["turns"]
    assert len(turns) == 7  # 4 API events and 3 replies to them; the reply before any call is skipped


@pytest.mark.skipif(not SHARED.is_dir(), reason="the API-Bank dialogues in ../shared are not here")
def test_the_real_level_1_dialogues(tmp_path: Path) -> None:
    source = SHARED / "lv1-lv2-samples" / "level-1-given-desc"
    summary = run_convert(source, source_format="apibank", out=tmp_path / "out.jsonl", skip_invalid=True)
    assert (summary.read, summary.written, summary.rejected) == (
        214,
        213,
        1,
    )  # SearchEngine-level-1-1 is empty
    conversations = read_conversations(tmp_path / "out.jsonl")
    events = [
        json.loads(line) for file in sorted(source.glob("*.jsonl")) for line in file.read_text().splitlines()
    ]
    api_events = sum(event["role"] == "API" for event in events)
    turns = [turn for conversation in conversations for turn in split_turns(conversation)]
    assert sum(bool(turn.reference.get("tool_calls")) for turn in turns) == api_events
    scored_replies = [
        t for t in turns if not t.reference.get("tool_calls") and t.reference.get("score") is not False
    ]
    assert all(turn.messages[-1]["role"] == "tool" for turn in scored_replies)
    assert len(load_api_tools(SHARED / "data" / "all_apis.csv")) == 101

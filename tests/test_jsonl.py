"""Every JSON Lines reader splits records at "\\n" alone: a string holding U+2028, U+2029, U+0085 (which JSON
writers leave unescaped) or another character `str.splitlines` breaks at stays one record."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from thinkact.bench.bfcl.score import read_results
from thinkact.data.conversations import read_conversations
from thinkact.data.readers.apibank import read_apibank
from thinkact.data.readers.bfcl import load_bfcl_file
from thinkact.data.readers.records import iter_json_records
from thinkact.eval.compare import read_training
from thinkact.jsonsafe import dump_json, jsonl_lines
from thinkact.train.checkpoints import RunInterrupted, truncate_steps
from thinkact.train.grpo import GRPORunConfig, run_grpo

# str.splitlines breaks at each of these; JSON escapes the control characters but not the last three
BREAKERS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
TEXTS = [f"before{char}after" for char in BREAKERS]
APIBANK = Path(__file__).parent / "fixtures" / "formats" / "apibank"


def _write(path: Path, records: list[dict[str, Any]], ending: str = "\n") -> Path:
    path.write_text("".join(dump_json(record) + ending for record in records), encoding="utf-8", newline="")
    return path


def test_written_file_holds_the_raw_characters(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", [{"text": text} for text in TEXTS])
    raw = path.read_text(encoding="utf-8")
    assert "\u2028" in raw and "\u2029" in raw and "\x85" in raw  # what made splitlines cut records in two
    assert len(raw.splitlines()) > len(TEXTS)
    assert [json.loads(line)["text"] for _, line in jsonl_lines(raw)] == TEXTS


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_conversations(tmp_path: Path, ending: str) -> None:
    records = [
        {
            "id": f"c{i}{text}",
            "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": text}],
        }
        for i, text in enumerate(TEXTS)
    ]
    conversations = read_conversations(_write(tmp_path / "chat.jsonl", records, ending))
    assert [c.id for c in conversations] == [r["id"] for r in records]
    assert [c.messages[0]["content"] for c in conversations] == TEXTS


def test_converter_records_and_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.jsonl", [{"text": text} for text in TEXTS])
    read = list(iter_json_records(path))
    assert [(where, record, error) for where, record, error in read] == [
        (f"{path}:{n}", {"text": text}, "") for n, text in enumerate(TEXTS, start=1)
    ]


@pytest.mark.parametrize("body", ['[{"a": 1},\n {"a": 2}]\n', '{"a": 1}\n{"a": 2}\n'])
def test_a_byte_order_mark_is_read_past(tmp_path: Path, body: str) -> None:
    """Editors on Windows save UTF-8 with a byte-order mark; a JSON array after one is still an array."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert list(iter_json_records(path)) == [(f"{path}:1", {"a": 1}, ""), (f"{path}:2", {"a": 2}, "")]


def test_apibank_dialogue(tmp_path: Path) -> None:
    events = [{"role": "User", "text": TEXTS[-1]}, {"role": "AI", "text": TEXTS[-2]}]
    (item,) = read_apibank(
        _write(tmp_path / "Chat-level-1-1.jsonl", events), apis=APIBANK / "data" / "all_apis.csv"
    )
    assert not item.problems and item.record is not None
    assert [m["content"] for m in item.record["messages"][1:]] == [TEXTS[-1], TEXTS[-2]]


def test_bfcl_questions_and_results(tmp_path: Path) -> None:
    questions = [{"id": f"simple_{i}", "question": text} for i, text in enumerate(TEXTS)]
    assert load_bfcl_file(_write(tmp_path / "BFCL_v3_simple.json", questions)) == questions
    results = [{"id": f"simple_{i}", "completion": text} for i, text in enumerate(TEXTS)]
    read = read_results(_write(tmp_path / "results.jsonl", results))
    assert [(r.id, r.line) for r in read] == [(f"simple_{i}", i + 1) for i in range(len(TEXTS))]


def test_training_metrics(tmp_path: Path) -> None:
    _write(tmp_path / "metrics.jsonl", [{"step": n, "note": text} for n, text in enumerate(TEXTS, start=1)])
    assert read_training(str(tmp_path)) == [{"step": n} for n in range(1, len(TEXTS) + 1)]


def test_resume_cuts_sample_log_back_to_its_steps(tmp_path: Path) -> None:
    samples = [{"step": n, "completion": text} for n, text in enumerate(TEXTS, start=1)]
    path = _write(tmp_path / "samples.jsonl", samples)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"step": 9, "completion": "cut')  # a kill tore the last line
    truncate_steps(path, 4)
    assert path.read_text(encoding="utf-8") == "".join(dump_json(s) + "\n" for s in samples[:4])


def test_grpo_run_resumes_after_logging_samples_that_hold_them(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    records = [
        json.loads(line) for _, line in jsonl_lines((data_dir / "train.jsonl").read_text(encoding="utf-8"))
    ]
    for number, record in enumerate(records):  # each sample logs its prompt's id
        record["id"] = f"{record['id']}\u2028{BREAKERS[number % len(BREAKERS)]}"
    data = _write(tmp_path / "train.jsonl", records)
    out = tmp_path / "grpo"
    config = GRPORunConfig(
        model=str(tiny_model_dir),
        data=str(data),
        out=str(out),
        steps=2,
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=6,
        save_steps=1,
        sample_steps=1,
        mask_truncated=False,
        threads=1,
    )

    def interrupt(step: int, metrics: dict[str, float]) -> None:
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: step 1 is saved and the run stops

    with pytest.raises(RunInterrupted, match="interrupted after step 1 of 2"):
        run_grpo(config, on_step=interrupt)
    assert "\u2028" in (out / "samples.jsonl").read_text(encoding="utf-8")  # left unescaped
    run_grpo(config, resume=True)
    samples = [
        json.loads(line) for _, line in jsonl_lines((out / "samples.jsonl").read_text(encoding="utf-8"))
    ]
    assert [sample["step"] for sample in samples] == [1, 1, 2, 2]
    assert all(
        "\u2028" in sample["id"] for sample in samples
    )  # a prompt's id is its conversation's, then #turn

"""Self-distilled reasoning: which samples are kept, the hint, the round's data, resuming, and one real run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinkact.cli.apps import app
from thinkact.config import load_config
from thinkact.data.conversations import normalise_record, read_conversations
from thinkact.data.prompts import Prompt
from thinkact.envs.prompts import turn_prompts
from thinkact.errors import RunInterrupted, UserError
from thinkact.models.load import load_policy
from thinkact.parse import parse_action
from thinkact.train.self_distill import (
    SelfDistillOptions,
    distill_turns,
    distilled_conversations,
    hint_text,
    judge_sample,
    run_self_distill,
)
from thinkact.train.sft import SFTRunConfig, build_dataset, run_sft

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "%s"}}</tool_call>'
RECORD = {
    "id": "w1",
    "tools": TOOLS,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
            ],
        },
        {"role": "tool", "name": "get_weather", "content": '{"temperature": 14}'},
        {"role": "assistant", "content": "It is 14 degrees in Oslo.", "facts": ["14"]},
    ],
    "meta": {},
}


def _prompts() -> list[Prompt]:
    return turn_prompts([normalise_record(RECORD)])


def _judge(text: str, turn: int, *, truncated: bool = False, threshold: float = 0.8) -> Any:
    prompt = _prompts()[turn]
    return judge_sample(
        parse_action(text), truncated, prompt.action, prompt.tools, metric="f1", threshold=threshold
    )


def test_an_exact_call_is_kept_and_a_wrong_argument_is_not() -> None:
    kept = _judge(
        "<think>The user wants Oslo.</think>" + CALL % "oslo ", 0
    )  # normalised: trimmed, case-folded
    assert (kept.kept, kept.reason, kept.score) == (True, "kept", 1.0)
    wrong = _judge("<think>Bergen it is.</think>" + CALL % "Bergen", 0)
    assert (wrong.kept, wrong.reason) == (False, "calls differ")
    answered = _judge("<think>No need.</think>It is sunny.", 0)
    assert (answered.kept, answered.reason) == (False, "answered instead of calling")


def test_malformed_cut_and_thoughtless_samples_are_rejected_without_a_crash() -> None:
    assert _judge('<think>x</think><tool_call>{"name": "get_weather", "argu', 0).reason == "malformed"
    assert _judge("<think>never closed", 0).reason == "malformed"
    assert _judge("", 0).reason == "malformed"
    assert _judge("\x00\ufffd<|im_end|>", 1).reason == "no thinking"  # garbage without a think block
    assert _judge(CALL % "Oslo", 0).reason == "no thinking"  # right call, but nothing to distil
    assert _judge("<think></think>" + CALL % "Oslo", 0).reason == "no thinking"
    assert _judge("<think>Oslo.</think>" + CALL % "Oslo", 0, truncated=True).reason == "cut at max_new_tokens"


def test_answers_are_kept_at_or_above_the_threshold() -> None:
    exact = _judge("<think>14 degrees.</think>It is 14 degrees in Oslo.", 1)
    assert (exact.kept, exact.score) == (True, 1.0)
    # token F1 of "it is 14 degrees" against "it is 14 degrees in oslo": precision 1, recall 4/6, F1 0.8;
    # averaged with fact recall 1 ("14" appears): 0.9
    short = "<think>Say the number.</think>It is 14 degrees."
    assert _judge(short, 1, threshold=0.85).score == pytest.approx(0.9)
    assert _judge(short, 1, threshold=0.85).kept
    assert not _judge(short, 1, threshold=0.95).kept
    assert _judge(short, 1, threshold=0.95).reason == "answer below threshold"
    # F1 of "it is sunny": 2 common tokens, precision 2/3, recall 2/6: 4/9; no fact: 2/9
    sunny = _judge("<think>Guess.</think>It is sunny.", 1)
    assert (sunny.kept, sunny.score) == (False, pytest.approx(2 / 9))
    assert _judge("<think>Check.</think>" + CALL % "Oslo", 1).reason == "called a tool"


class Script:
    """Scripted samples: per turn index, what the policy writes without and with the hint."""

    def __init__(self, plain: dict[int, list[str]], hinted: dict[int, list[str]]) -> None:
        self.plain, self.hinted = plain, hinted
        self.asked: list[tuple[bool, Prompt]] = []

    def __call__(self, prompts: list[Prompt], samples: int, seed: int) -> list[list[tuple[str, int, bool]]]:
        results = []
        for prompt in prompts:
            hinted = "Hint for this reply only" in prompt.messages[0]["content"]
            self.asked.append((hinted, prompt))
            texts = (self.hinted if hinted else self.plain)[prompt.turn_index][:samples]
            results.append([(text, len(text), False) for text in texts])
        return results


# turn 2 (the call) is right at once; turn 4 (the answer) only with the hint
SCRIPT = {
    2: ["<think>Bergen.</think>" + CALL % "Bergen", "<think>The city is Oslo.</think>" + CALL % "Oslo"],
    4: ["<think>Guess.</think>It is sunny.", "<tool_call>{bad"],
}
HINTED = {4: ["<think>The tool said 14.</think>It is 14 degrees in Oslo.", "<think>again</think>It is."]}


def test_the_hint_retries_only_unkept_turns_and_names_the_reference() -> None:
    script = Script(SCRIPT, HINTED)
    outcomes, tokens = distill_turns(_prompts(), script, SelfDistillOptions(enabled=True, samples=2), 1)
    call, answer = outcomes
    assert [k.think for k in call.kept] == ["The city is Oslo."] and not call.kept[0].hint
    assert [k.think for k in answer.kept] == ["The tool said 14."] and answer.kept[0].hint
    assert dict(answer.rejected) == {"answer below threshold": 2, "malformed": 1}
    assert (call.sampled, answer.sampled) == (2, 4)
    assert tokens == sum(len(t) for t in SCRIPT[2] + SCRIPT[4] + HINTED[4])
    hinted = [prompt for was_hinted, prompt in script.asked if was_hinted]
    assert [p.turn_index for p in hinted] == [4]  # the kept call turn is not retried
    assert '"It is 14 degrees in Oslo."' in hinted[0].messages[0]["content"]
    assert hinted[0].messages[0]["content"].startswith("You are a helpful assistant.")
    assert hinted[0].messages[1:] == RECORD["messages"][1:4]


def test_without_hint_nothing_is_retried() -> None:
    script = Script(SCRIPT, HINTED)
    outcomes, _ = distill_turns(
        _prompts(), script, SelfDistillOptions(enabled=True, samples=2, hint=False), 1
    )
    assert [bool(o.kept) for o in outcomes] == [True, False]
    assert not any(hinted for hinted, _ in script.asked)


def test_hint_text_for_a_call_names_the_tool_and_its_arguments() -> None:
    text = hint_text(_prompts()[0].action)
    assert 'to call get_weather with arguments {"city": "Oslo"}' in text


def _round(options: SelfDistillOptions, plain: dict[int, list[str]] | None = None) -> list[dict[str, Any]]:
    conversations = [normalise_record(RECORD)]
    outcomes, _ = distill_turns(_prompts(), Script(plain or SCRIPT, HINTED), options, 1)
    return [c.to_json() for c in distilled_conversations(conversations, outcomes, options, 1)]


def test_the_round_trains_the_reference_action_with_the_kept_thinking_and_no_hint() -> None:
    (row,) = _round(SelfDistillOptions(enabled=True, samples=2))
    call, answer = row["messages"][2], row["messages"][4]
    assert call["reasoning_content"] == "The city is Oslo." and "score" not in call
    assert call["tool_calls"] == RECORD["messages"][2]["tool_calls"]
    assert answer["reasoning_content"] == "The tool said 14."
    assert answer["content"] == "It is 14 degrees in Oslo." and answer["facts"] == ["14"]
    assert "Hint" not in json.dumps(row)
    assert row["meta"]["self_distill"]["turns"]["4"] == {"kept": True, "hint": True, "score": 1.0}


def test_unkept_turns_are_dropped_or_trained_without_thinking() -> None:
    dropped = _round(SelfDistillOptions(enabled=True, samples=2, hint=False))[0]
    assert dropped["messages"][4]["score"] is False and dropped["messages"][4]["reasoning_content"] == ""
    record = dropped["meta"]["self_distill"]["turns"]["4"]
    assert record == {
        "kept": False,
        "trained": False,
        "rejected": {"answer below threshold": 1, "malformed": 1},
    }
    plain = _round(SelfDistillOptions(enabled=True, samples=2, hint=False, unkept="no_think"))[0]
    assert "score" not in plain["messages"][4] and plain["messages"][4]["reasoning_content"] == ""


def test_more_than_one_kept_sample_per_turn_repeats_the_conversation() -> None:
    plain = {2: ["<think>A.</think>" + CALL % "Oslo", "<think>B.</think>" + CALL % "Oslo"], 4: SCRIPT[4]}
    rows = _round(SelfDistillOptions(enabled=True, samples=2, max_per_turn=2, hint=False), plain)
    assert [r["id"] for r in rows] == ["w1", "w1~2"]
    assert [r["messages"][2]["reasoning_content"] for r in rows] == ["A.", "B."]
    assert rows[1]["messages"][4]["score"] is False  # its answer turn has no second sample


def test_action_sampled_trains_the_samples_own_answer() -> None:
    plain = {2: SCRIPT[2], 4: ["<think>14.</think>It is 14 degrees."]}
    (row,) = _round(
        SelfDistillOptions(enabled=True, samples=2, action="sampled", answer_threshold=0.85), plain
    )
    assert row["messages"][4]["content"] == "It is 14 degrees." and "facts" not in row["messages"][4]


def _config(tmp_path: Path, model: str = "base", **options: Any) -> SFTRunConfig:
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(RECORD) + "\n", encoding="utf-8")
    return SFTRunConfig(
        model=model,
        data=str(data),
        out=str(tmp_path / "run"),
        self_distill=SelfDistillOptions(enabled=True, samples=2, **options),
    )


class FakeTrain:
    """Stands in for SFT: records each round's config and writes an empty model directory."""

    def __init__(self, fail_round: int = 0) -> None:
        self.calls: list[tuple[SFTRunConfig, bool, bool]] = []
        self.fail_round = fail_round

    def __call__(self, config: SFTRunConfig, resume: bool, overwrite: bool) -> Path:
        self.calls.append((config, resume, overwrite))
        if config.out.endswith(f"round-{self.fail_round}"):
            raise RunInterrupted(f"interrupted after step 1; Continue with: thinkact sft --out {config.out}")
        (Path(config.out) / "model").mkdir(parents=True)
        return Path(config.out) / "model"


def test_each_round_trains_on_its_own_file_and_samples_from_the_last_model(tmp_path: Path) -> None:
    config = _config(tmp_path, rounds=2)
    train, policies = FakeTrain(), []

    def generate_for(policy: str) -> Script:
        policies.append(policy)
        return Script(SCRIPT, HINTED)

    model = run_self_distill(config, train, generate_for=generate_for)
    run = tmp_path / "run"
    assert model == run / "model" and model.is_dir()
    assert policies == ["base", str(run / "rounds" / "round-1" / "model")]
    trained = [call[0] for call in train.calls]
    assert [c.data for c in trained] == [str(run / "distilled" / f"round-{k}.jsonl") for k in (1, 2)]
    assert [c.model for c in trained] == ["base", "base"]  # from_base: each round starts from the base
    assert all(c.think and not c.self_distill.enabled for c in trained)
    summary = json.loads((run / "self_distill.json").read_text())
    first = summary["rounds"][0]
    assert (first["turns"], first["sampled"], first["kept_turns"], first["kept_by_hint"]) == (2, 6, 2, 1)
    assert first["rejected"] == {"calls differ": 1, "answer below threshold": 2, "malformed": 1}
    assert summary["generated_tokens"] == 2 * first["generated_tokens"] > 0
    assert [r["model"] for r in summary["rounds"]] == ["rounds/round-1/model", "model"]
    samples = [
        json.loads(line) for line in (run / "distilled" / "round-1.samples.jsonl").read_text().splitlines()
    ]
    assert [(sample["turn"], sample["hint"], sample["result"]) for sample in samples] == [
        ("w1#2", False, "calls differ"),
        ("w1#2", False, "kept"),
        ("w1#4", False, "answer below threshold"),
        ("w1#4", False, "malformed"),
        ("w1#4", True, "kept"),
        ("w1#4", True, "answer below threshold"),
    ]
    assert samples[1]["completion"] == SCRIPT[2][1] and samples[1]["tokens"] == len(SCRIPT[2][1])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["generated_tokens_total"] for m in metrics] == [
        first["generated_tokens"],
        summary["generated_tokens"],
    ]


def test_from_base_false_continues_from_the_previous_round(tmp_path: Path) -> None:
    train = FakeTrain()
    config = _config(tmp_path, rounds=2, from_base=False)
    run_self_distill(config, train, generate_for=lambda policy: Script(SCRIPT, HINTED))
    assert [c[0].model for c in train.calls] == [
        "base",
        str(tmp_path / "run" / "rounds" / "round-1" / "model"),
    ]


def test_the_round_data_is_what_sft_trains_on(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(tmp_path)
    run_self_distill(config, FakeTrain(), generate_for=lambda policy: Script(SCRIPT, HINTED))
    _, tokenizer = load_policy(tiny_model_dir)
    data = tmp_path / "run" / "distilled" / "round-1.jsonl"
    dataset, _ = build_dataset(tokenizer, data, think=True, max_length=4096, share_prefixes=False)
    completions, prompts = [], []
    for ids, mask in zip(dataset["input_ids"], dataset["completion_mask"], strict=True):
        completions.append(tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m]))
        prompts.append(tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m]))
    assert len(completions) == 2
    assert "The city is Oslo." in completions[0] and '"Oslo"' in completions[0]
    assert "The tool said 14." in completions[1] and "It is 14 degrees in Oslo." in completions[1]
    assert not any("Hint" in prompt for prompt in prompts)


def test_nothing_kept_stops_with_what_to_change(tmp_path: Path) -> None:
    never = {2: ["<think>x</think>" + CALL % "Rome"] * 2, 4: ["<think>x</think>No."] * 2}
    with pytest.raises(UserError, match=r"kept no sample of 2 turns .*samples.jsonl.*lower answer_threshold"):
        run_self_distill(_config(tmp_path), FakeTrain(), generate_for=lambda policy: Script(never, never))
    assert (tmp_path / "run" / "self_distill.json").is_file()  # what was sampled is on disk


def test_an_interrupted_round_resumes_without_sampling_again(tmp_path: Path) -> None:
    config = _config(tmp_path, rounds=2)
    sampled: list[str] = []

    def generate_for(policy: str) -> Script:
        sampled.append(policy)
        return Script(SCRIPT, HINTED)

    with pytest.raises(RunInterrupted, match=r"round 2 interrupted.*--resume"):
        run_self_distill(config, FakeTrain(fail_round=2), generate_for=generate_for)
    run = tmp_path / "run"
    before = (run / "distilled" / "round-2.jsonl").read_bytes()
    with pytest.raises(UserError, match="already holds files"):
        run_self_distill(config, FakeTrain(), generate_for=generate_for)
    train = FakeTrain()
    run_self_distill(config, train, resume=True, generate_for=generate_for)
    assert len(sampled) == 2  # both rounds were sampled before the interruption, once each
    assert [c[0].out for c in train.calls] == [str(run / "rounds" / "round-2")]  # round 1 was done
    assert (run / "distilled" / "round-2.jsonl").read_bytes() == before
    assert (run / "model").is_dir()
    with pytest.raises(UserError, match="finished run"):
        run_self_distill(config, FakeTrain(), resume=True, generate_for=generate_for)


def test_settings_that_cannot_work_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"sft\.self_distill: trains on the sampled thinking"):
        load_config(SFTRunConfig, None, ["self_distill.enabled=true", "think=false"])
    with pytest.raises(UserError, match=r"sft\.self_distill\.unkept"):
        load_config(SFTRunConfig, None, ["self_distill.enabled=true", "self_distill.unkept=skip"])
    with pytest.raises(UserError, match=r"sft\.self_distill\.samples"):
        load_config(SFTRunConfig, None, ["self_distill.enabled=true", "self_distill.samples=0"])
    with pytest.raises(UserError, match=r"sft\.self_distill\.temperature"):
        load_config(SFTRunConfig, None, ["self_distill.enabled=true", "self_distill.temperature=0"])


def _real_config(tmp_path: Path, tiny_model_dir: Path, **options: Any) -> SFTRunConfig:
    config = _config(tmp_path, model=str(tiny_model_dir), max_new_tokens=16, unkept="no_think", **options)
    config.max_steps, config.save_steps, config.threads, config.report_to = 2, 0, 1, "none"
    return config


def test_real_rounds_on_the_tiny_model_resume_after_a_ctrl_c(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import TrainerCallback

    config = _real_config(tmp_path, tiny_model_dir, rounds=2)

    class CtrlC(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if args.output_dir.endswith("round-2/checkpoints") and state.global_step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    lines: list[str] = []
    with pytest.raises(RunInterrupted, match=r"round 2 interrupted.*thinkact sft --out .* --resume"):
        run_sft(config, callbacks=[CtrlC()], say=lines.append)
    run = tmp_path / "run"
    assert (run / "rounds" / "round-2" / "checkpoints" / "checkpoint-1").is_dir()
    model = run_sft(config, resume=True, say=lines.append)
    assert model == run / "model" and (model / "model.safetensors").is_file()
    assert (run / "rounds" / "round-1" / "model" / "model.safetensors").is_file()
    summary = json.loads((run / "self_distill.json").read_text())
    assert [entry["trained"] for entry in summary["rounds"]] == [True, True]
    for entry in summary["rounds"]:
        # an untrained model rarely writes the right call; whatever it did, every sample is accounted for
        assert entry["sampled"] == 2 * 2 + 2 * entry["hint_turns"]
        assert sum(entry["rejected"].values()) + entry["kept_samples"] == entry["sampled"]
        assert 0 < entry["generated_tokens"] <= entry["sampled"] * 16
    assert summary["generated_tokens"] == sum(entry["generated_tokens"] for entry in summary["rounds"])
    kept = [line for line in lines if ": kept" in line]
    assert [line.split(":")[0] for line in kept] == ["round 1", "round 2", "round 1", "round 2"]
    assert kept[2].endswith("(done before; resuming)") and kept[3].endswith("(sampled before; resuming)")
    assert len(read_conversations(run / "distilled" / "round-2.jsonl")) == 1


def test_the_sft_command_prints_each_round(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _real_config(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(
        app,
        ["sft", "--model", config.model, "--data", config.data, "--out", config.out, "--steps", "1"]
        + [
            f"--set={item}"
            for item in (
                "self_distill.enabled=true",
                "self_distill.samples=2",
                "self_distill.max_new_tokens=8",
                "self_distill.unkept=no_think",
                "report_to=none",
                "threads=1",
            )
        ],
    )
    assert result.exit_code == 0, result.output
    assert "round 1: kept" in result.output and "generated tokens" in result.output
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_the_documented_yaml_example_loads(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "docs" / "self-distillation.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "self-distill.yaml"
    path.write_text(example, encoding="utf-8")
    config = load_config(SFTRunConfig, path)
    assert config.self_distill.enabled and config.self_distill.rounds == 2 and config.think
    assert config.self_distill == SelfDistillOptions(enabled=True, rounds=2)  # every other value the default


def test_ctrl_c_while_sampling_writes_nothing_of_that_round(tmp_path: Path) -> None:
    config = _config(tmp_path, rounds=2)

    def generate_for(policy: str) -> Any:
        if policy.endswith("round-1/model"):

            def interrupted(prompts: list[Prompt], samples: int, seed: int) -> Any:
                raise KeyboardInterrupt

            return interrupted
        return Script(SCRIPT, HINTED)

    with pytest.raises(RunInterrupted, match="while sampling round 2; nothing of that round was written"):
        run_self_distill(config, FakeTrain(), generate_for=generate_for)
    run = tmp_path / "run"
    assert not (run / "distilled" / "round-2.jsonl").exists()
    assert [e["round"] for e in json.loads((run / "self_distill.json").read_text())["rounds"]] == [1]
    run_self_distill(config, FakeTrain(), resume=True, generate_for=lambda policy: Script(SCRIPT, HINTED))
    assert (run / "distilled" / "round-2.jsonl").is_file() and (run / "model").is_dir()


def test_several_processes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="runs in one process"):
        run_self_distill(_config(tmp_path), FakeTrain(), generate_for=lambda policy: Script(SCRIPT, HINTED))
    assert not (tmp_path / "run").exists()


def test_the_sampler_draws_seeded_samples_through_the_episode_loop(tiny_model_dir: Path) -> None:
    from thinkact.train.self_distill import sampler

    model, tokenizer = load_policy(tiny_model_dir)
    options = SelfDistillOptions(enabled=True, samples=3, max_new_tokens=12)
    lines: list[str] = []
    generate = sampler(model, tokenizer, options, seed=0, chunk=1, say=lines.append)
    first = generate(_prompts(), 3, 2)
    assert [len(samples) for samples in first] == [3, 3]
    assert all(0 < tokens <= 12 and truncated == (tokens == 12) for s in first for _, tokens, truncated in s)
    assert lines == ["  1 of 2 turns sampled"]
    assert generate(_prompts(), 3, 2) == first  # the same seeds, the same samples
    assert generate(_prompts(), 3, 3) != first  # another pass draws others

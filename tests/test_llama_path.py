"""The user's path on a real, non-Qwen3 architecture: a Llama converted from GGUF goes through every command.

`llama_model_dir` (tests/conftest.py) is a tiny Llama written as llama.cpp writes it and converted by
`init-model --from-gguf`; its byte-level BPE makes each action tag several tokens. A short SFT run from it is the
start of the rest, as `runs/sft-think/model` is in the demo: `grpo` in turn and episode mode, with full weights
and with LoRA, on thinkact's engine and on TRL's; `recipes`; `compare`; one scripted `chat` session; one request
to the served model. Each is checked for what a user relies on (weights move, the run directory holds a model
that loads, reports are written, the server answers what local greedy generation writes, the chat shows the
action), not for learning.

A barely trained policy's samples often score alike within a group, which makes every advantage 0 and a GRPO step
a no-op. On thinkact's engine one member of each group continues from the whole reference (`prefix.members=1`),
so each group has a spread and the step is a real policy-gradient step on the sampled tokens; TRL's engine has no
prefix, so it samples longer completions, whose answers differ.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from rich.console import Console
from safetensors.torch import load_file
from typer.testing import CliRunner

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")  # tests/servers.py runs the app with it

from tests.servers import start_server  # noqa: E402
from thinkact.chat import ChatConfig, show_action, start_messages  # noqa: E402
from thinkact.cli.apps import app  # noqa: E402
from thinkact.data.conversations import read_conversations, turn_examples  # noqa: E402
from thinkact.envs.registry import make_environment  # noqa: E402
from thinkact.errors import UserError  # noqa: E402
from thinkact.integrations.trl_rewards import make_reward_function  # noqa: E402
from thinkact.models.chat import encode_turn, render_prompt  # noqa: E402
from thinkact.models.load import load_policy  # noqa: E402
from thinkact.models.tiny import qwen3_chat_template  # noqa: E402
from thinkact.parse import action_from_message, parse_action  # noqa: E402
from thinkact.rewards.combine import RewardConfig, score_action  # noqa: E402
from thinkact.serve import ServeConfig, load_served_model  # noqa: E402
from thinkact.serve.protocol import message_from_text  # noqa: E402

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
"""The LoRA target modules thinkact names by default: Llama's projections have Qwen3's names."""
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def invoke(arguments: list[str], **kwargs: Any) -> str:
    result = CliRunner().invoke(app, arguments, **kwargs)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def sets(settings: dict[str, Any], prefix: str = "") -> list[str]:
    """`--set key=value` for each setting, nested ones under dotted keys (`prefix.members=1`)."""
    flags = []
    for key, value in settings.items():
        if isinstance(value, dict):
            flags += sets(value, f"{prefix}{key}.")
        else:
            flags += ["--set", f"{prefix}{key}={json.dumps(value)}"]
    return flags


def changed_tensors(before: Path, after: Path) -> set[str]:
    old, new = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    assert set(old) == set(new) and all(old[name].shape == new[name].shape for name in old)
    return {name for name in old if not torch.equal(old[name], new[name])}


def metric_rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_loadable(model_dir: Path) -> None:
    model, tokenizer = load_policy(model_dir)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert tokenizer.chat_template == qwen3_chat_template() and tokenizer.eos_token == "<|im_end|>"


@pytest.fixture(scope="module")
def sft_dir(llama_model_dir: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`thinkact sft` for a few steps at a high rate: enough that the policy's samples differ in reward and its
    greedy text is pieces of the action tags (`</think>`), which the chat and the server must show as parsed."""
    out = tmp_path_factory.mktemp("llama-sft") / "sft"
    settings = {"batch_size": 4, "learning_rate": 5e-3, "lr_scheduler": "constant", "warmup_ratio": 0.0}
    settings.update(logging_steps=1, save_steps=0, threads=1, report_to="none")
    arguments = ["sft", "--model", str(llama_model_dir), "--data", str(data_dir / "train.jsonl")]
    invoke([*arguments, "--out", str(out), "--steps", "8", *sets(settings)])
    assert changed_tensors(llama_model_dir, out / "model")
    return out / "model"


GRPO: dict[str, Any] = {
    "prompts_per_step": 2,
    "group_size": 2,
    "max_new_tokens": 12,
    "max_actions": 2,
    "learning_rate": 1e-2,
    "mask_truncated": False,
    "prefix": {"members": 1, "schedule": [1.0, 1.0]},
    "sample_steps": 0,
    "report_to": "none",
    "threads": 1,
}
"""One member of each group continues from the whole reference (see the module docstring)."""


@pytest.mark.parametrize(
    ("mode", "lora"), [("turn", False), ("turn", True), ("episode", False), ("episode", True)]
)
def test_grpo_step_moves_the_weights_and_leaves_a_loadable_model(
    sft_dir: Path, data_dir: Path, tmp_path: Path, mode: str, lora: bool
) -> None:
    run = tmp_path / "grpo"
    settings = {**GRPO, "mode": mode, "lora": {"enabled": lora, "rank": 4, "alpha": 8}}
    arguments = ["grpo", "--model", str(sft_dir), "--data", str(data_dir / "train.jsonl"), "--out", str(run)]
    output = invoke([*arguments, "--steps", "1", *sets(settings)])
    assert f"model written to {run / 'model'}" in " ".join(output.split())
    (row,) = metric_rows(run)
    assert row["step"] == 1 and row["reward_prefixed"] > row["reward_free"]
    changed = changed_tensors(sft_dir, run / "model")
    if lora:  # the adapter wrapped Llama's projections and was merged into them; nothing else moved
        assert changed and {name.split(".")[-2] for name in changed} <= PROJECTIONS
    else:
        assert "model.embed_tokens.weight" in changed and "model.norm.weight" in changed
    assert_loadable(run / "model")


def test_lora_on_the_top_layers_trains_only_those_layers(
    sft_dir: Path, data_dir: Path, tmp_path: Path, llama_model_dir: Path
) -> None:
    layers = json.loads((sft_dir / "config.json").read_text())["num_hidden_layers"]
    assert layers >= 2
    lora = {"enabled": True, "rank": 4, "alpha": 8, "top_layers": 1}
    run = tmp_path / "grpo"
    arguments = ["grpo", "--model", str(sft_dir), "--data", str(data_dir / "train.jsonl"), "--out", str(run)]
    invoke([*arguments, "--steps", "1", *sets({**GRPO, "lora": lora})])
    changed = changed_tensors(sft_dir, run / "model")
    assert changed and all(name.startswith(f"model.layers.{layers - 1}.") for name in changed), changed
    sft_out = tmp_path / "sft"
    arguments = ["sft", "--model", str(llama_model_dir), "--data", str(data_dir / "train.jsonl"), "--out"]
    settings = {"lora": lora, "learning_rate": 1e-2, "batch_size": 2, "save_steps": 0, "report_to": "none"}
    invoke([*arguments, str(sft_out), "--steps", "2", *sets({**settings, "threads": 1})])
    changed = changed_tensors(llama_model_dir, sft_out / "model")
    assert changed and all(name.startswith(f"model.layers.{layers - 1}.") for name in changed), changed


def test_action_only_loss_is_refused_where_the_think_tags_are_several_tokens(
    sft_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    arguments = ["grpo", "--model", str(sft_dir), "--data", str(data_dir / "train.jsonl")]
    arguments += ["--out", str(tmp_path / "grpo"), "--steps", "1", *sets({**GRPO, "loss_tokens": "action"})]
    result = CliRunner().invoke(app, arguments)
    assert isinstance(result.exception, UserError), result.output
    assert "grpo.loss_tokens: action needs <think> as one token" in str(result.exception)
    assert "loss_tokens: all" in str(result.exception)
    assert not (tmp_path / "grpo" / "model").exists()


@pytest.mark.parametrize("lora", [False, True])
def test_trl_engine_step_moves_the_weights(sft_dir: Path, data_dir: Path, tmp_path: Path, lora: bool) -> None:
    pytest.importorskip("trl")
    run = tmp_path / "trl"
    settings = {"prompts_per_step": 2, "group_size": 4, "max_new_tokens": 48, "mask_truncated": False}
    settings.update(
        sample_steps=0, save_steps=0, report_to="none", lora={"enabled": lora, "rank": 4, "alpha": 8}
    )
    arguments = ["grpo", "--engine", "trl", "--model", str(sft_dir), "--data", str(data_dir / "train.jsonl")]
    invoke([*arguments, "--out", str(run), "--steps", "1", *sets(settings)])
    (row,) = metric_rows(run)
    assert row["step"] == 1 and row["reward_std"] > 0 and "reward/format" in row
    changed = changed_tensors(sft_dir, run / "model")
    assert changed
    if lora:
        assert {name.split(".")[-2] for name in changed} <= PROJECTIONS
    assert_loadable(run / "model")


def test_trl_reward_scores_a_cut_completion_as_thinkacts_engine_does(
    llama_model_dir: Path, data_dir: Path
) -> None:
    model, tokenizer = load_policy(llama_model_dir)
    stops = list(model.generation_config.eos_token_id)
    reward = make_reward_function(tokenizer, lambda step: RewardConfig(), stops)
    turns = turn_examples(read_conversations(data_dir / "train.jsonl"))
    turn = next(t for t in turns if t.reference.get("tool_calls"))
    _, ids = encode_turn(tokenizer, turn)
    columns = {"reference": [json.dumps(turn.reference)] * 2, "tools": [json.dumps(turn.tools)] * 2}
    whole, cut = reward(completion_ids=[ids, ids[:-1]], answer_metric=["", ""], **columns)
    # Without its end-of-turn token the completion was cut at the length limit: the action parses, format is 0.
    text = tokenizer.decode(ids[:-1], skip_special_tokens=False)
    action, reference = parse_action(text), action_from_message(turn.reference)
    assert action.tool_calls == reference.tool_calls and action.problems == []
    assert (
        whole
        == 1.0
        > cut
        == score_action(action, reference, turn.tools, RewardConfig(), truncated=True).total
    )


def test_recipes_train_and_report(sft_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    document = {
        "data": str(data_dir / "train.jsonl"),
        "eval_data": [str(data_dir / "test_id.jsonl")],
        "max_generated_tokens": 40,
        "limit": 2,
        "max_new_tokens": 8,
        "grpo": {**GRPO, "steps": 5},
        "recipes": [
            {"name": "grpo", "grpo": {}},
            {"name": "grpo-lora", "grpo": {"lora": {"enabled": True, "rank": 4, "alpha": 8}}},
        ],
    }
    config = tmp_path / "recipes.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    out = tmp_path / "recipes"
    invoke(["recipes", "--config", str(config), "--model", str(sft_dir), "--out", str(out)])
    report = (out / "report.md").read_text()
    assert "# Recipes under equal compute" in report and "| grpo-lora |" in report
    summary = json.loads((out / "recipes.json").read_text())
    assert set(summary["metrics"]) == {"start", "grpo", "grpo-lora"}
    for row in summary["recipes"]:
        assert row["stopped_by"] == "budget" and row["generated_tokens"] >= 40
        assert changed_tensors(sft_dir, out / "runs" / row["name"] / "grpo" / "model")


def test_compare_evaluates_both_models_and_writes_its_report(
    llama_model_dir: Path, sft_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compare"
    arguments = ["compare", str(llama_model_dir), str(sft_dir), "--name", "base", "--name", "sft"]
    arguments += ["--data", str(data_dir / "test_id.jsonl"), "--out", str(out), "--limit", "2"]
    invoke([*arguments, "--set", "max_new_tokens=8"])
    comparison = json.loads((out / "comparison.json").read_text())
    assert set(comparison["metrics"]) == {"base", "sft"}
    assert comparison["metrics"]["sft"]["test_id"]["turn"]["format"]["n"] == 2
    assert "sft" in (out / "report.md").read_text() and (out / "report.html").is_file()


def greedy_text(
    model_dir: Path, messages: list[dict[str, Any]], tools: list[dict[str, Any]], tokens: int
) -> str:
    """What the model writes greedily for the prompt, with transformers' own `generate`."""
    model, tokenizer = load_policy(model_dir)
    prompt = tokenizer(render_prompt(tokenizer, messages, tools), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        ids = model.generate(torch.tensor([prompt]), max_new_tokens=tokens, do_sample=False)[0, len(prompt) :]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    return text.removesuffix("<|im_end|>")


def test_chat_shows_the_action_the_model_writes(sft_dir: Path) -> None:
    arguments = ["chat", "--model", str(sft_dir), "--domain", "weather", "--today", "2026-03-01"]
    question = "What's the weather in Oslo tomorrow?"
    output = invoke([*arguments, "--set", "max_new_tokens=16"], input=f"{question}\n")
    config = ChatConfig(domain="weather", today="2026-03-01")
    messages = [*start_messages(config), {"role": "user", "content": question}]
    text = greedy_text(sft_dir, messages, make_environment({"domain": "weather"}).tools, 16)
    shown = Console(record=True, width=200, file=io.StringIO())
    show_action(parse_action(text), shown)
    expected = shown.export_text().split()
    assert expected and " ".join(expected) in " ".join(output.split())  # the terminal wraps lines
    # Sampling, the model writes text; a second message extends the same token stream.
    sampled = invoke(
        [*arguments, "--temperature", "1", "--set", "max_new_tokens=16"], input="Hi\nAnd Bergen?\n"
    )
    assert sampled.count("agent>") + sampled.count("empty action") == 2 and "session ends" not in sampled


def test_served_model_answers_what_local_greedy_generation_writes(sft_dir: Path) -> None:
    served = load_served_model(ServeConfig(model=str(sft_dir), name="llama", max_new_tokens=8))
    server, thread, url = start_server(served)
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    try:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        response = client.chat.completions.create(
            model="llama", messages=messages, tools=[WEATHER_TOOL], max_tokens=12, temperature=0
        )
    finally:
        server.should_exit = True
        thread.join()
        served.engine.close()
    expected = message_from_text(greedy_text(sft_dir, messages, [WEATHER_TOOL], 12))
    message = response.choices[0].message
    assert response.object == "chat.completion" and message.role == "assistant"
    assert message.content == expected["content"]
    assert message.model_extra.get("reasoning_content") == expected["reasoning_content"]
    assert message.tool_calls == expected.get("tool_calls")
    _, tokenizer = load_policy(sft_dir)
    prompt = render_prompt(tokenizer, messages, [WEATHER_TOOL])
    assert response.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert 0 < response.usage.completion_tokens <= 12

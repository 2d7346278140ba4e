"""The TRL engine: settings map or are refused, rows and tools render as thinkact renders them, the reward is
thinkact's, TRL's loss on a batch equals thinkact's under the mapped config, TRL's tool loop runs a call in its
domain, and TRL's GRPOTrainer runs two steps (with and without executing tools)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers.utils import get_json_schema
from typer.testing import CliRunner

from thinkact.cli import commands  # noqa: F401  (registers the commands)
from thinkact.cli.apps import app as typer_app
from thinkact.data.conversations import read_conversations, turn_examples
from thinkact.envs.base import Environment
from thinkact.envs.episodes import reference_calls, tool_messages
from thinkact.envs.registry import get_domain, make_environment
from thinkact.errors import UserError
from thinkact.integrations import trl_rewards
from thinkact.integrations.trl_data import dataset_rows
from thinkact.integrations.trl_envs import environment_class
from thinkact.integrations.trl_rewards import make_reward_function
from thinkact.integrations.trl_settings import split_engine_settings, trl_arguments
from thinkact.models.chat import encode_prompt, encode_turn, render
from thinkact.models.load import load_policy
from thinkact.parse import Action, ToolCall, action_from_message
from thinkact.rewards.combine import RewardConfig
from thinkact.rollout.generation import stop_token_ids
from thinkact.train.batches import layout
from thinkact.train.grpo import GRPORunConfig, GRPOTrainer
from thinkact.train.losses import policy_loss
from thinkact.train.sft import LoraOptions


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def _config(**fields: object) -> GRPORunConfig:
    return GRPORunConfig(drop_equal_groups=False, **fields)  # type: ignore[arg-type]


def test_settings_map_one_step_to_one_generation_and_passes_to_iterations() -> None:
    config = _config(
        steps=5, prompts_per_step=3, group_size=4, micro_batch=4, passes=2, loss="dapo", kl_coef=0.01
    )
    args = trl_arguments(config, num_processes=2)
    # 12 completions per step, 6 per process, in micro-batches of 3 (the largest divisor of 6 within 4)
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (3, 2)
    assert args["steps_per_generation"] == args["gradient_accumulation_steps"]
    assert (args["max_steps"], args["num_iterations"]) == (10, 2)  # TRL counts optimiser steps
    assert (args["loss_type"], args["beta"], args["use_bias_correction_kl"]) == ("dapo", 0.01, False)
    assert (args["use_cpu"], args["bf16"], args["gradient_checkpointing"]) == (True, False, False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"drop_equal_groups": True}, "grpo.drop_equal_groups: TRL has no dynamic sampling"),
        ({"advantage_scale": "batch"}, 'grpo.advantage_scale: TRL scales "batch"'),
        ({"prompts_per_step": 3, "group_size": 3}, "do not split evenly over 2 processes"),
        ({"mode": "episode"}, "grpo.mode: the TRL engine trains turns"),
        ({"save_steps": 5}, "grpo.save_steps: the TRL engine saves only the final model"),
    ],
)
def test_settings_refuse_what_trl_cannot_do(fields: dict[str, object], message: str) -> None:
    config = GRPORunConfig(**{"drop_equal_groups": False, **fields})  # type: ignore[arg-type]
    with pytest.raises(UserError, match=re.escape(message)):
        trl_arguments(config, num_processes=2)


def test_trl_settings_cannot_shadow_mapped_fields() -> None:
    assert trl_arguments(_config(), extra={"use_vllm": True})["use_vllm"] is True
    with pytest.raises(UserError, match=r"trl\.beta: thinkact sets it from grpo\.kl_coef"):
        trl_arguments(_config(), extra={"beta": 0.1})
    with pytest.raises(UserError, match="only apply with --engine trl"):
        split_engine_settings("thinkact", ["trl.use_vllm=true"])
    with pytest.raises(UserError, match="choose one of thinkact, trl"):
        split_engine_settings("verl", [])
    with pytest.raises(UserError, match="--resume: the TRL engine keeps no checkpoints"):
        split_engine_settings("trl", [], resume=True)


def test_vllm_without_vllm_installed_is_a_user_error() -> None:
    from thinkact.integrations.trl import make_grpo_config

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(UserError, match="vLLM is not installed"):
        make_grpo_config(_config(), {"use_vllm": True})


def test_cli_refuses_trl_engine_settings_it_cannot_honour(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["grpo", "--engine", "trl", "--out", str(tmp_path / "run"), "--set", "drop_equal_groups=true"]
    result = runner.invoke(typer_app, args)
    assert isinstance(result.exception, UserError)
    assert "set drop_equal_groups=false to use --engine trl" in str(result.exception)
    assert not (tmp_path / "run").exists()
    result = runner.invoke(typer_app, ["grpo", "--set", "trl.use_vllm=true"])
    assert "TRL settings only apply with --engine trl" in str(result.exception)


def test_turn_rows_carry_the_engine_prompt_and_episode_rows_render_the_same(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    path = data_dir / "train.jsonl"
    turns = [t for t in turn_examples(read_conversations(path)) if t.reference.get("score") is not False]
    rows, too_long = dataset_rows(tokenizer, path, max_prompt_tokens=100_000)
    assert too_long == 0 and len(rows) == len(turns)
    assert rows[3]["prompt"] == render(
        tokenizer, turns[3].messages, turns[3].tools, add_generation_prompt=True
    )
    # TRL tokenises text prompts with the tokenizer's defaults: the same ids thinkact's engine generates from
    trl_ids = tokenizer(text=[rows[3]["prompt"]])["input_ids"][0]
    assert trl_ids == encode_prompt(tokenizer, turns[3].messages, turns[3].tools)
    episodes, _ = dataset_rows(tokenizer, path, max_prompt_tokens=100_000, environments=True)
    # through Arrow (as TRL reads it), the history renders to the same text with the same tools
    for row, turn in zip(Dataset.from_list(episodes), turns, strict=True):
        assert row["environment"] == turn.meta["domain"]
        text = tokenizer.apply_chat_template(
            row["prompt"], tools=turn.tools, add_generation_prompt=True, tokenize=False
        )
        assert text == render(tokenizer, turn.messages, turn.tools, add_generation_prompt=True)


def test_reward_function_is_thinkacts_reward_of_the_first_action(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    stops = stop_token_ids(model, tokenizer)
    reward = make_reward_function(tokenizer, lambda step: RewardConfig(), stops)
    turns = [
        t
        for t in turn_examples(read_conversations(data_dir / "train.jsonl"))
        if t.reference.get("tool_calls")
    ]
    turn = turns[0]
    _, reference_ids = encode_turn(tokenizer, turn)
    wrong_ids = list(
        tokenizer("<think>x</think>I cannot help.<|im_end|>", add_special_tokens=False)["input_ids"]
    )
    # in TRL's tool loop a completion goes on after the first action; only the first is scored
    trailing = list(tokenizer("<|im_start|>user\nmore<|im_end|>", add_special_tokens=False)["input_ids"])
    columns = {
        "reference": [json.dumps(turn.reference)] * 3,
        "tools": [json.dumps(turn.tools)] * 3,
        "answer_metric": [""] * 3,
    }
    logged: dict[str, float] = {}
    scores = reward(
        completion_ids=[reference_ids, wrong_ids, reference_ids + trailing],
        log_metric=logged.__setitem__,
        **columns,
    )
    assert scores[0] == scores[2] == 1.0 > scores[1]
    assert logged["reward/tool_exact"] == pytest.approx(2 / 3)


def test_reward_function_parses_each_reference_once(
    tiny_model_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    turns = turn_examples(read_conversations(data_dir / "train.jsonl"))[:2]
    parses: list[object] = []

    def counted(message: dict[str, object]) -> Action:
        parses.append(message)
        return action_from_message(message)

    monkeypatch.setattr(trl_rewards, "action_from_message", counted)
    reward = make_reward_function(tokenizer, lambda step: RewardConfig(), stop_token_ids(model, tokenizer))
    columns = {
        "reference": [json.dumps(turn.reference) for turn in turns for _ in range(3)],
        "tools": [json.dumps(turn.tools) for turn in turns for _ in range(3)],
        "answer_metric": [""] * 6,
    }
    completion = list(tokenizer("<think>x</think>No.<|im_end|>", add_special_tokens=False)["input_ids"])
    first = reward(completion_ids=[completion] * 6, **columns)
    second = reward(completion_ids=[completion] * 6, **columns)  # a later step sees the same rows again
    assert (
        len(parses) == len(set(zip(columns["reference"], columns["tools"], strict=True))) and first == second
    )


def test_domain_environment_exposes_the_tools_and_runs_them() -> None:
    domain = get_domain("banking")
    env_class = environment_class("banking")
    env = env_class()
    reference = Environment(domain)
    for spec in domain.specs():
        method = getattr(env, spec["function"]["name"])
        rendered = get_json_schema(method)["function"]
        expected = spec["function"]
        assert rendered["name"] == expected["name"]
        assert rendered["description"] == expected["description"]
        params = expected["parameters"]
        assert list(rendered["parameters"]["properties"]) == list(params["properties"])
        assert rendered["parameters"].get("required", []) == params["required"]
    assert env.get_balance(account="savings") == reference.execute(
        ToolCall("get_balance", {"account": "savings"})
    )
    assert '"error"' in env.transfer(from_account="savings", to_account="checking", amount=-5)
    env.reset(state=json.dumps({"accounts": {}, "transactions": []}))
    assert '"error"' in env.get_balance(account="savings")


@pytest.mark.slow
def test_trl_engine_runs_two_steps(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from thinkact.integrations.trl import run_trl_grpo

    config = _config(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "trl"),
        steps=2,
        prompts_per_step=2,
        group_size=3,
        max_new_tokens=8,
        learning_rate=1e-3,
        mask_truncated=False,
        kl_coef=0.01,
        sample_steps=1,
    )
    reported: list[int] = []
    final = run_trl_grpo(config, on_step=lambda step, metrics: reported.append(step))
    assert (final / "model.safetensors").is_file() and (tmp_path / "trl" / "config.yaml").is_file()
    lines = [json.loads(line) for line in (tmp_path / "trl" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == reported == [1, 2]
    assert {"reward", "loss", "kl", "reward/format", "step_seconds", "tokens_per_second"} <= set(lines[0])
    samples = [json.loads(line) for line in (tmp_path / "trl" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(0.0 <= sample["reward"] <= 1.0 for sample in samples)


@pytest.mark.slow
def test_trl_engine_runs_two_steps_in_environments_with_lora(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    from thinkact.integrations.trl import run_trl_grpo

    config = _config(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "trl-env"),
        steps=2,
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=8,
        max_actions=2,
        sample_steps=0,
        kl_coef=0.01,
        lora=LoraOptions(enabled=True, rank=4, alpha=8),
    )
    final = run_trl_grpo(config, trl_args={"environments": True})
    assert (final / "model.safetensors").is_file()  # the adapter merged, as thinkact's engine saves it
    assert set(_weights(final)) == set(_weights(tiny_model_dir))
    lines = [json.loads(line) for line in (tmp_path / "trl-env" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2] and "tools/call_frequency" in lines[0]


@pytest.mark.slow
def test_trl_tool_loop_runs_the_reference_call_in_its_domain(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generation scripted (as TRL's own tool-loop tests do): the policy emits the reference call, TRL parses it,
    runs it through the domain environment, and the turn's reward scores that first action."""
    from thinkact.integrations.trl import MetricsCallback, build_trainer, make_grpo_config

    conversation = next(
        c for c in read_conversations(data_dir / "train.jsonl") if c.messages[2].get("tool_calls")
    )
    data = tmp_path / "one-turn.jsonl"
    record = {"id": conversation.id, "tools": conversation.tools, "messages": conversation.messages[:3]}
    data.write_text(json.dumps({**record, "meta": conversation.meta}) + "\n", encoding="utf-8")
    config = _config(
        model=str(tiny_model_dir),
        data=str(data),
        out=str(tmp_path / "run"),
        steps=1,
        prompts_per_step=1,
        group_size=2,
        max_new_tokens=256,
        max_actions=2,
        sample_steps=1,
    )
    (tmp_path / "run").mkdir()
    trainer = build_trainer(
        config,
        make_grpo_config(config, {}, environments=True),
        environments=True,
        callbacks=[MetricsCallback(tmp_path / "run", 2, 1, None)],
    )
    _, tokenizer = load_policy(tiny_model_dir)
    turn = turn_examples(read_conversations(data))[0]
    _, call_ids = encode_turn(tokenizer, turn)
    answer_ids = list(tokenizer("<think>ok</think>Done.<|im_end|>", add_special_tokens=False)["input_ids"])
    calls: list[list[list[int]]] = []

    def scripted(
        prompt_ids: list[list[int]], *args: object, **kwargs: object
    ) -> tuple[list[list[int]], None]:
        calls.append(prompt_ids)
        return [list(call_ids) if len(calls) == 1 else list(answer_ids) for _ in prompt_ids], None

    monkeypatch.setattr(trainer, "_generate_single_turn", scripted)
    trainer.train()
    metrics = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert len(calls) == 2  # the action, then the answer after the tool results
    # the second generation continues from the call and the domain's own result for it
    expected = tool_messages(make_environment(turn.meta), reference_calls(turn.reference))
    continued = tokenizer.decode(calls[1][0], skip_special_tokens=False)
    assert all(
        f"<tool_response>\n{message['content']}\n</tool_response>" in continued for message in expected
    )
    assert metrics["tools/call_frequency"] > 0 and metrics["tools/failure_frequency"] == 0
    assert metrics["reward"] == 1.0 and metrics["reward/tool_exact"] == 1.0
    sample = json.loads((tmp_path / "run" / "samples.jsonl").read_text().splitlines()[0])
    assert sample["tool_calls"] == [
        {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in turn.reference["tool_calls"]
    ]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["grpo", "dapo", "dr_grpo"])
def test_trl_loss_equals_thinkacts_on_the_same_batch(
    loss: str, tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The mapped GRPOConfig makes TRL compute thinkact's loss: same clipping, KL, temperature and aggregation."""
    from thinkact.integrations.trl import build_trainer, make_grpo_config

    config = _config(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "run"),
        prompts_per_step=2,
        group_size=2,
        max_new_tokens=8,
        temperature=0.7,
        kl_coef=0.05,
        clip_low=0.2,
        clip_high=0.28,
        loss=loss,
        mask_truncated=False,
    )
    model, tokenizer = load_policy(tiny_model_dir)
    ours = GRPOTrainer(config, model, tokenizer)
    ours.load_data(config.data)
    rollouts = ours.rollout(0, [0, 1])
    rollouts[1].loss_mask = [1] * (len(rollouts[1].loss_mask) - 2) + [0, 0]  # a masked tail counts nowhere
    batch = layout(rollouts, tokenizer.pad_token_id)
    with torch.no_grad():
        logp_BT = ours.update.forward_logprobs(ours.model, batch)
    steps_BT = torch.linspace(-0.5, 0.5, logp_BT.numel()).view_as(logp_BT)
    old_BT, ref_BT = logp_BT + steps_BT, logp_BT - 0.3 * steps_BT.flip(1)  # ratios on both sides of the clip
    advantages_B = torch.tensor([1.0, -0.5, 0.25, -0.75])
    expected = policy_loss(
        logp_BT,
        old_BT,
        advantages_B,
        batch["mask_BC"],
        clip_low=config.clip_low,
        clip_high=config.clip_high,
        aggregation=loss,
        ref_logp_BT=ref_BT,
        kl_coef=config.kl_coef,
        max_completion_length=config.max_new_tokens,
    ).loss

    trl = build_trainer(config, make_grpo_config(config, {}))
    trl.current_gradient_accumulation_steps = 1  # set by TRL's training loop; one micro-batch here
    width = batch["input_ids_BL"].shape[1] - batch["completion_ids_BC"].shape[1]
    inputs = {
        "prompt_ids": batch["input_ids_BL"][:, :width],
        "prompt_mask": batch["attention_BL"][:, :width],
        "completion_ids": batch["completion_ids_BC"],
        "completion_mask": batch["mask_BC"].long(),
        "advantages": advantages_B,
        "old_per_token_logps": old_BT,
        "ref_per_token_logps": ref_BT,
        "num_items_in_batch": batch["mask_BC"].sum(),
    }
    with torch.no_grad():
        actual = trl._compute_loss(trl.model, inputs)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-6)

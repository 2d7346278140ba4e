"""Two processes on CPU (gloo, started by torchrun) train the same model: after every GRPO step the parameters
on both ranks are identical, the ranks took different prompts, and the step moved the parameters.

The test launches this very file as the training script (`main` below), so the launched code and the assertions
sit side by side. The shipped accelerate configs are checked to load. Left out: running on GPUs, DeepSpeed and
FSDP (not testable here).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

STEPS = 2


def parameter_digest(model: torch.nn.Module) -> torch.Tensor:
    """Per parameter tensor: its sum and its sum of squares (float64), so any difference between copies shows."""
    values = []
    for parameter in model.parameters():
        data = parameter.detach().to(torch.float64)
        values += [data.sum(), (data * data).sum()]
    return torch.stack(values)


def main(model_dir: str, data: str, report: str, schedule: str = "") -> None:
    """Run STEPS GRPO steps on this process's share of the prompts; rank 0 writes what every rank saw.

    With `schedule` the prompts are drawn by deficiency and the reference is reset after every step."""
    from thinkact.models.load import load_policy
    from thinkact.train.grpo import GRPORunConfig, GRPOTrainer
    from thinkact.train.schedule import PromptSampling

    config = GRPORunConfig(
        model=model_dir,
        data=data,
        steps=STEPS,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=24,
        learning_rate=5e-3,
        kl_coef=0.01,
        micro_batch=4,
        mask_truncated=False,
        sample_steps=0,
        sampling=PromptSampling(kind="deficiency" if schedule else "uniform"),
        reference_reset_steps=1 if schedule else 0,
    )
    model, tokenizer = load_policy(model_dir)
    trainer = GRPOTrainer(config, model, tokenizer)
    trainer.load_data(data)
    accelerator = trainer.accelerator
    policy = accelerator.unwrap_model(trainer.model)
    records = [{"digests": accelerator.gather(parameter_digest(policy)[None]).tolist()}]
    for step in range(STEPS):
        prompts = torch.tensor(trainer.prompts_for_step(step))  # before the step: its scores decide the draw
        metrics, _ = trainer.step(step)
        scores = torch.tensor(
            [[-1.0 if score is None else score for score in trainer.scores]], dtype=torch.float64
        )
        assert trainer.reference is not None
        records.append(
            {
                "digests": accelerator.gather(parameter_digest(policy)[None]).tolist(),
                "prompts": accelerator.gather(prompts[None]).tolist(),
                "kept_groups": accelerator.gather(torch.tensor([metrics["kept_groups"]])).tolist(),
                "scores": accelerator.gather(scores).tolist(),
                "reference": accelerator.gather(parameter_digest(trainer.reference)[None]).tolist(),
                "generated_tokens": accelerator.gather(torch.tensor([trainer.generated_tokens])).tolist(),
            }
        )
    if accelerator.is_main_process:
        Path(report).write_text(
            json.dumps({"world_size": accelerator.num_processes, "records": records}), encoding="utf-8"
        )
    # Tear the process group down before the interpreter exits: left to the interpreter's shutdown, gloo's
    # threads were seen to abort one rank now and then ("terminate called without an active exception").
    accelerator.wait_for_everyone()
    accelerator.end_training()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_two_processes_agree_on_the_model_after_each_step(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    records = _launch(tiny_model_dir, data_dir, tmp_path, "")
    for record in records:
        rank0, rank1 = record["digests"]
        assert rank0 == rank1  # bit-identical parameters on both ranks
    for record in records[1:]:
        assert set(record["prompts"][0]).isdisjoint(record["prompts"][1])  # each rank took its own prompts
    assert records[-1]["digests"][0] != records[0]["digests"][0]  # the steps trained the model
    assert any(kept > 0 for record in records[1:] for kept in record["kept_groups"])


@pytest.mark.slow
def test_two_processes_share_the_deficiency_scores_and_the_reset_reference(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    records = _launch(tiny_model_dir, data_dir, tmp_path, "schedule")
    for record in records[1:]:
        assert record["scores"][0] == record["scores"][1]  # both ranks folded in both ranks' groups
        drawn = record["prompts"][0] + record["prompts"][1]
        assert all(record["scores"][0][index] >= 0 for index in drawn)  # every drawn prompt has a score
        assert set(record["prompts"][0]).isdisjoint(record["prompts"][1])  # one draw, split between the ranks
        assert record["reference"][0] == record["reference"][1] == record["digests"][0]  # reset to the policy
        assert record["generated_tokens"][0] == record["generated_tokens"][1] > 0  # summed over the ranks
    assert records[2]["generated_tokens"][0] > records[1]["generated_tokens"][0]


def _launch(tiny_model_dir: Path, data_dir: Path, tmp_path: Path, schedule: str) -> list[dict[str, Any]]:
    report = tmp_path / "report.json"
    # accelerate launch runs several CPU processes only through mpirun; torchrun starts them directly, and
    # accelerate's Accelerator(cpu=True) joins them with gloo, exactly as under `accelerate launch` on GPUs.
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        __file__,
        str(tiny_model_dir),
        str(data_dir / "train.jsonl"),
        str(report),
        *([schedule] if schedule else []),
    ]
    # One thread per process: two processes share the machine's cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    # Known flake (found 2026-12-01, root cause not yet found): since the hardening merge, about one launch in
    # five aborts a rank at start-up or shutdown ("terminate called without an active exception") or hangs in
    # gloo. The agreement checked below is deterministic when a launch completes, so a failed launch is retried
    # (at most three launches) rather than hiding a wrong result; the flake itself is an open bug.
    errors = []
    for _ in range(3):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=120, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            errors.append("timed out after 120 s")
            continue
        if result.returncode == 0:
            break
        errors.append(result.stderr[-3000:])
        command[command.index("--master_port") + 1] = str(_free_port())
    assert len(errors) < 3, "\n---\n".join(errors)
    seen = json.loads(report.read_text(encoding="utf-8"))
    assert seen["world_size"] == 2
    records: list[dict[str, Any]] = seen["records"]
    return records


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ddp", "MULTI_GPU"),
        ("deepspeed_zero2", "DEEPSPEED"),
        ("deepspeed_zero3", "DEEPSPEED"),
        ("fsdp", "FSDP"),
    ],
)
def test_shipped_accelerate_configs_load(name: str, kind: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(__file__).parents[1] / "configs" / "accelerate" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type.value == kind and config.num_processes == 8
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == int(name[-1])


if __name__ == "__main__":
    main(*sys.argv[1:5])

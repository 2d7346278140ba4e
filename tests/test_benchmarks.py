"""Every script in benchmarks/ runs at toy size, so that a refactor cannot break one unseen.

The scripts are found by listing the directory: a file with a `__main__` block is a script, the others
(`workspace.py`, `throughput.py`) are modules the scripts share. Each runs in this process, as `python
benchmarks/NAME.py` would (the libraries are imported once, which keeps the file within a minute or two), with
THINKACT_BENCH_TOY=1, `--toy` where the script defines that flag itself, and the temporary directory pointed into
the test's own, so its inputs and results land there, never in benchmarks/results. The scripts that take
`--model` run once more with the tests' tiny model and once with the tiny Llama converted from GGUF.
"""

from __future__ import annotations

import json
import runpy
import sys
import tempfile
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SKIPPED = 77  # benchmarks/workspace.py's SKIPPED: the toy run's data (../shared) is absent
SLOW = {"seed_repeats.py"}  # two toy demos in subprocesses, about 40 s of CPU
MODEL_SCRIPTS = ("rollout_throughput.py", "grpo_step.py")  # those that take `--model`
TOY_MARKS = ("parse_toy_args(", "parse_probe_args(", "THINKACT_BENCH_TOY", '"--toy"')


def benchmark_scripts() -> list[Path]:
    return sorted(
        p for p in BENCHMARKS.glob("*.py") if '__name__ == "__main__"' in p.read_text(encoding="utf-8")
    )


def missing_toy_mode(script: Path) -> str | None:
    """What the author of `script` must add, or None when it has a toy mode."""
    if any(mark in script.read_text(encoding="utf-8") for mark in TOY_MARKS):
        return None
    return (
        f"benchmarks/{script.name} has no toy mode, and tests/test_benchmarks.py runs every script in benchmarks/ "
        "at toy size. Parse its command line with `workspace.parse_toy_args(parser, {...})` (it adds `--toy` and "
        "reads THINKACT_BENCH_TOY=1), giving the smallest sizes that still run the whole script; with no inputs "
        "given, build them in `workspace.toy_directory()` (`toy_data`, `toy_results`, `build_workspace(..., "
        "toy=True)`) and write results with `write_results(..., toy=True)`. See docs/benchmarks.md."
    )


def run_toy(script: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...] = ()) -> int:
    """Runs `script` at toy size in this process, with `options` on its command line; its exit status."""
    own_flag = '"--toy"' in script.read_text(encoding="utf-8")
    monkeypatch.setattr(sys, "argv", [str(script), *(["--toy"] if own_flag else []), *options])
    monkeypatch.setenv("THINKACT_BENCH_TOY", "1")
    monkeypatch.setenv("TMPDIR", str(tmp))  # for the subprocesses a script starts
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.syspath_prepend(
        str(BENCHMARKS)
    )  # `from workspace import ...`, as from the script's directory
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            return exit.code or 0
        print(exit.code, file=sys.stderr)  # sys.exit("message") exits 1 with the message
        return 1
    finally:
        torch.set_num_threads(threads)  # the scripts set their own; the rest of the session keeps its
    return 0


def results_files() -> dict[Path, float]:
    return {path: path.stat().st_mtime for path in (BENCHMARKS / "results").glob("*")}


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(path, id=path.name, marks=[pytest.mark.slow] if path.name in SLOW else [])
        for path in benchmark_scripts()
    ],
)
def test_every_script_runs_at_toy_size(
    script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    if problem := missing_toy_mode(script):
        pytest.fail(problem)
    results_before = results_files()
    status = run_toy(script, tmp_path, monkeypatch)
    out, err = capfd.readouterr()
    if status == SKIPPED:
        pytest.skip(next((line for line in out.splitlines() if line.startswith("skipped")), "inputs absent"))
    assert status == 0, f"benchmarks/{script.name} at toy size exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    assert out.strip(), "a benchmark prints what it measured"
    for line in out.splitlines():
        if line.startswith("written to "):
            assert Path(line.removeprefix("written to ")).is_relative_to(tmp_path), line
    assert results_files() == results_before, "a toy run wrote into benchmarks/results"


@pytest.mark.parametrize("script", MODEL_SCRIPTS)
def test_a_throughput_script_takes_a_model_directory(
    script: str,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    status = run_toy(BENCHMARKS / script, tmp_path, monkeypatch, ("--model", str(tiny_model_dir)))
    out, err = capfd.readouterr()
    assert status == 0, f"{script} --model at toy size exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    assert f" of {tiny_model_dir}:" in out
    for column in ("tokens_per_s", "prefill_s", "decode_s", "bytes_per_token", "of_bandwidth"):
        assert column in out, column


@pytest.mark.parametrize("script", MODEL_SCRIPTS)
def test_a_throughput_script_runs_another_architecture(
    script: str,
    llama_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The tiny Llama converted from GGUF (its own head size, KV heads and tokenizer): the decode cost comes from
    its config."""
    status = run_toy(BENCHMARKS / script, tmp_path, monkeypatch, ("--model", str(llama_model_dir)))
    out, err = capfd.readouterr()
    assert status == 0, f"{script} on a Llama exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    assert f" of {llama_model_dir}:" in out and "bytes_per_token" in out


def test_a_script_without_a_toy_mode_is_told_what_to_add(tmp_path: Path) -> None:
    script = tmp_path / "new_probe.py"
    script.write_text('import sys\n\nif __name__ == "__main__":\n    print(sys.argv)\n', encoding="utf-8")
    problem = missing_toy_mode(script)
    assert problem is not None
    assert "benchmarks/new_probe.py has no toy mode" in problem and "parse_toy_args" in problem


def test_workspace_is_a_shared_module_not_a_script() -> None:
    names = [path.name for path in benchmark_scripts()]
    assert "workspace.py" not in names and "throughput.py" not in names and "grpo_step.py" in names


def test_a_toy_run_without_its_shared_data_exits_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "shared_probe.py"
    script.write_text(
        "from workspace import shared_path\n\n"
        'if __name__ == "__main__":\n'
        '    print(shared_path("benchmarks/no-such-set"))\n',
        encoding="utf-8",
    )
    assert run_toy(script, tmp_path, monkeypatch) == SKIPPED
    assert "skipped: " in capfd.readouterr().out


def test_a_lora_step_times_the_decode_of_the_wrapped_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """With LoRA, `generate` runs the model inside peft's wrapper: its decode steps are still counted; a
    `--variant` adds the engine again with a field changed."""
    options = ("--model", str(tiny_model_dir), "--set", "lora.enabled=true", "--set", "lora.top_layers=1")
    options += ("--variant", "update_dtype=bfloat16")  # a third row: the same engine with a changed field
    status = run_toy(BENCHMARKS / "grpo_step.py", tmp_path, monkeypatch, options)
    out, err = capfd.readouterr()
    assert status == 0, f"grpo_step.py with LoRA exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    written = next(
        line.removeprefix("written to ") for line in out.splitlines() if line.startswith("written to ")
    )
    rows = {row["engine"]: row for row in json.loads(Path(written).read_text())[-1]["rows"]}
    assert rows["thinkact"]["decode_s"] > 0 and rows["thinkact"]["prefill_s"] > 0
    variant = rows["thinkact update_dtype=bfloat16"]
    assert (
        variant["update_s"] > 0
        and variant["decode_s"] > 0
        and set(rows)
        == {
            "thinkact",
            "trl",
            "thinkact update_dtype=bfloat16",
        }
    )


def test_the_probe_script_tables_pass_rates_against_the_reference_probability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    status = run_toy(BENCHMARKS / "grpo_probe.py", tmp_path, monkeypatch, ("--pass-rates", "3"))
    out, err = capfd.readouterr()
    assert status == 0, f"grpo_probe.py --pass-rates exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    assert "| reference action log-prob | p | sampled exact | groups that disagree |" in out
    assert "of 3 groups of 2 disagree on the exact call" in out


def test_the_probe_script_runs_its_schedule_over_its_own_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A decaying rate ends with the probe run's `--steps`, not with the config's default length (a run of 60
    steps once trained only 30: the cosine had reached 0 by then)."""
    options = ("--steps", "2", "--set", "lr_schedule=linear", "--set", "learning_rate=0.001")
    status = run_toy(BENCHMARKS / "grpo_probe.py", tmp_path, monkeypatch, options)
    out, err = capfd.readouterr()
    assert status == 0, f"grpo_probe.py exited {status}:\n{out[-3000:]}\n{err[-3000:]}"
    points = [json.loads(line) for line in out.splitlines() if line.startswith('{"step"')]
    assert [p.get("learning_rate") for p in points] == [None, 0.001, 0.0005]  # 1 - 1/2 at the second step

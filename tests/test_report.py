"""The HTML report without a browser: one self-contained file, tables, embedded plots, escaped model output,
sample conversations where models differ, and training curves when a run is given."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.test_compare import write_scripted_results
from thinkact.eval.compare import CompareConfig, run_compare


@pytest.fixture(scope="module")
def report_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A comparison of a weak and a strong scripted model, the strong one from a run with a training log."""
    root = tmp_path_factory.mktemp("report")
    run = root / "runs" / "grpo"
    run.mkdir(parents=True)
    steps = [{"step": step, "reward": 0.1 * step, "kl": 0.001 * step} for step in range(1, 6)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in steps))
    data = [str(data_dir / "test_id.jsonl"), str(data_dir / "test_ood.jsonl")]
    weak = write_scripted_results(data, root / "weak.json", "weak", wrong_every=2)
    strong = write_scripted_results(data, root / "strong.json", str(run / "model"))
    results = json.loads(Path(strong).read_text())
    # a model whose output tries to inject markup into the page
    results["splits"]["test_id"]["turns"][0]["completion"] = (
        "<think><script>alert(1)</script></think>Hi <b>x</b>"
    )
    Path(strong).write_text(json.dumps(results))
    out = root / "comparison"
    run_compare(CompareConfig(inputs=[weak, strong], names=["weak", "grpo"], out=str(out), samples=5))
    return out


def test_report_is_one_self_contained_file(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), (
        "the report must not load anything remote"
    )
    assert re.search(r"<link[^>]+stylesheet", page) is None and "<script src" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # metrics per split, thinking, training
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    for name in ("metrics_test_id", "metrics_test_ood", "thinking", "training"):
        assert (report_dir / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_report_holds_tables_and_conversations(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('<table class="metrics"') == 0 and page.count("<table class='metrics'") == 4
    assert "Δ grpo" in page and "✱" in page
    samples = re.findall(r'<details class="sample" data-split="([^"]+)" data-view="([^"]+)"', page)
    assert {view for _, view in samples} == {"turn", "episode"} and len(samples) == 20  # 5 per split and view
    assert page.count('data-differs="1"') == 20
    assert 'class="think"' in page and 'class="call"' in page and 'class="msg tool"' in page
    assert "tool_exact" in page and "state_match" in page  # reward components, episode checks


def test_model_output_is_escaped(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own filter script


def test_training_curves_come_from_the_run(report_dir: Path) -> None:
    comparison = json.loads((report_dir / "comparison.json").read_text())
    assert [row["step"] for row in comparison["training"]["grpo"]] == [1, 2, 3, 4, 5]
    assert "weak" not in comparison["training"]

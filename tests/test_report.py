"""The HTML report without a browser: one self-contained file that opens with the claims (as report.md states
them) beside the held-out curve, then tables, embedded plots, escaped model output, sample conversations where
models differ, and training curves when a run is given."""

from __future__ import annotations

import base64
import json
import re
from html import unescape
from pathlib import Path

import pytest

from tests.test_compare import write_scripted_results
from thinkact.demo import check_claims
from thinkact.eval.compare import CompareConfig, run_compare
from thinkact.eval.report.html import render_page
from thinkact.eval.tables import render_markdown


@pytest.fixture(scope="module")
def report_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A comparison of a weak and a strong scripted model with the demo's claims, the strong one from a run with
    a training log that holds held-out rows at steps 0, 3 and 5."""
    root = tmp_path_factory.mktemp("report")
    run = root / "runs" / "grpo"
    run.mkdir(parents=True)
    steps = [{"step": 0, "heldout_reward": 0.25, "heldout_exact_call": 0.125}]
    steps += [{"step": step, "reward": 0.1 * step, "kl": 0.001 * step} for step in range(1, 6)]
    steps[3] |= {"heldout_reward": 0.5, "heldout_exact_call": 0.375}
    steps[5] |= {"heldout_reward": 0.75, "heldout_exact_call": 0.625}
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
    config = CompareConfig(inputs=[weak, strong], names=["sft-nothink", "grpo"], out=str(out), samples=5)
    run_compare(config, check_claims=check_claims)
    return out


def test_report_is_one_self_contained_file(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), (
        "the report must not load anything remote"
    )
    assert re.search(r"<link[^>]+stylesheet", page) is None and "<script src" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5  # the held-out curve, metrics per split, thinking, training
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    for name in ("heldout", "metrics_test_id", "metrics_test_ood", "thinking", "training"):
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
    assert [row["step"] for row in comparison["training"]["grpo"]] == [0, 1, 2, 3, 4, 5]
    assert "sft-nothink" not in comparison["training"]


def test_the_page_opens_with_the_claims_as_report_md_states_them(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    # report.md: the title, then the claims with their figures, before any metric table
    claims = re.findall(r"^\| (.+?) \| (.+?) \| (yes|no) \|$", markdown, flags=re.MULTILINE)
    assert markdown.index("## Claims") < markdown.index("## Turn view")
    assert [claim for claim, _, _ in claims] == [claim["claim"] for claim in read_claims(report_dir)]
    # the scripted GRPO model writes every reference call: 1.000 exact calls on test_id, above the 0.30 asked
    assert claims[0] == ("GRPO writes exact calls on test_id (>= 0.30)", "1.000", "yes")
    # no think-SFT model in this comparison: its claim has no figure and does not hold
    assert ("GRPO beats its think-SFT start on exact calls, test_ood", "—", "no") in claims
    assert {verdict for _, _, verdict in claims} == {"yes", "no"}
    # report.html: the same rows, cell for cell, in a table that comes before the first metric table
    rows = re.findall(
        r'<tr><td class="label">([^<]+)</td><td>([^<]+)</td><td class="(?:ok|fail)">(yes|no)</td></tr>', page
    )
    assert [tuple(unescape(cell) for cell in row) for row in rows] == claims
    assert page.index('<section id="claims"') < page.index("<table class='metrics'")
    assert page.index('<table class="claims"') < page.index("<table class='metrics'")
    # beside them, the held-out curve: its plot and its values at the logged steps
    lead = page[page.index('<section id="claims"') : page.index('<section id="table"')]
    assert 'alt="heldout"' in lead
    heldout = re.findall(r"<tr><td>(\d+)</td><td>([\d.]+)</td><td>([\d.]+)</td></tr>", lead)
    assert heldout == [("0", "0.250", "0.125"), ("3", "0.500", "0.375"), ("5", "0.750", "0.625")]
    assert "| 3 | 0.500 | 0.375 |" in markdown


def read_claims(report_dir: Path) -> list[dict[str, object]]:
    claims: list[dict[str, object]] = json.loads((report_dir / "comparison.json").read_text())["claims"]
    return claims


def test_a_comparison_without_claims_or_held_out_rows_opens_with_the_table(report_dir: Path) -> None:
    comparison = json.loads((report_dir / "comparison.json").read_text())
    del comparison["claims"]
    comparison["training"] = {"grpo": [{"step": 1, "reward": 0.5}]}
    page, markdown = render_page(comparison, {}, []), render_markdown(comparison)
    assert 'id="claims"' not in page and 'href="#claims"' not in page
    assert "## Claims" not in markdown and "Held-out" not in markdown
    assert markdown.splitlines()[2].startswith("Splits:")

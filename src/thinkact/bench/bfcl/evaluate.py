"""`thinkact bfcl eval`: answer BFCL questions with a model, then score the answers as BFCL does.

Each question becomes a chat prompt: its messages as BFCL gives them, and its function docs as JSON Schema tools
(`data/readers/bfcl.bfcl_tool`: BFCL types renamed, BFCL's Python note appended to each description), rendered by
the model's own chat template, which is how BFCL prompts function-calling ("FC") models such as Qwen3. Completions
are generated greedily (the turn view, `rollout/turns.py`), written as a results file (`{"id", "completion"}` per
line), and scored by `score.py` (thinkact's tolerant parser reads the calls). The run directory gets
`results.jsonl`, `verdicts.jsonl` and `summary.json`.

Left out: BFCL's prompt-style ("prompting") mode, in which the tools go into a system prompt and the model
answers in Python syntax; multi-turn categories.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from thinkact.bench.bfcl.data import Question, load_questions
from thinkact.bench.bfcl.score import ModelResult, ScoreReport, score_results, write_verdicts
from thinkact.data.readers.bfcl import bfcl_tool
from thinkact.errors import UserError
from thinkact.files import atomic_write, atomic_write_text
from thinkact.jsonsafe import dump_json
from thinkact.parse import parse_action


def bfcl_prompt(question: Question) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(messages, tools) for one single-turn question.

    >>> question = Question("simple_python_0", "simple_python", [{"name": "f", "description": "F.",
    ...     "parameters": {"type": "dict", "properties": {"x": {"type": "float"}}, "required": ["x"]}}],
    ...     [[{"role": "user", "content": "Call f with 2."}]], [{"f": {"x": [2.0]}}])
    >>> messages, tools = bfcl_prompt(question)
    >>> messages, tools[0]["function"]["parameters"]["properties"]
    ([{'role': 'user', 'content': 'Call f with 2.'}], {'x': {'type': 'number'}})
    """
    if len(question.turns) != 1:
        raise UserError(f"BFCL question {question.id}: only single-turn questions can be evaluated")
    messages = [{"role": message["role"], "content": message["content"]} for message in question.turns[0]]
    return messages, [bfcl_tool(function) for function in question.functions]


def select_questions(data_dir: Path, categories: list[str], limit: int | None) -> list[Question]:
    """The questions of each category, in file order, at most `limit` per category."""
    questions = list(load_questions(data_dir, categories).values())
    if limit is None:
        return questions
    kept: list[Question] = []
    for category in categories:
        kept.extend([question for question in questions if question.category == category][:limit])
    return kept


def run_bfcl_eval(
    model_dir: str,
    data_dir: Path,
    categories: list[str],
    out: Path,
    *,
    limit: int | None = None,
    max_new_tokens: int = 512,
    batch_size: int = 8,
) -> ScoreReport:
    """Generate an answer to every selected question with the model at `model_dir`, and score them."""
    from thinkact.models.load import load_policy  # torch and transformers load only when a model runs
    from thinkact.rollout.loop import Sampling
    from thinkact.rollout.turns import chat_prompt, run_turns

    questions = select_questions(data_dir, categories, limit)
    prompts = [chat_prompt(*bfcl_prompt(question), id=question.id) for question in questions]
    model, tokenizer = load_policy(model_dir)
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)
    completions = [one.text for (one,) in run_turns(model, tokenizer, prompts, sampling)]
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    with atomic_write(results_path) as handle:
        for question, completion in zip(questions, completions, strict=True):
            handle.write(dump_json({"id": question.id, "completion": completion}) + "\n")
    results = [
        ModelResult(question.id, line, parse_action(completion).tool_calls)
        for line, (question, completion) in enumerate(zip(questions, completions, strict=True), start=1)
    ]
    report = score_results(data_dir, results, source=str(results_path))
    write_verdicts(out / "verdicts.jsonl", report.verdicts)
    summary = {"model": model_dir, "categories": [asdict(score) for score in report.categories]}
    atomic_write_text(out / "summary.json", dump_json(summary, indent=2) + "\n")
    return report

"""Compare several models on the same splits: evaluate them (or reuse stored results), then test differences.

Inputs are results JSON files (written by `thinkact eval --out`), model directories, run directories (holding
`model/`; their `metrics.jsonl` gives the training curves) or hub ids already in the local cache. A model is
evaluated with `run_eval` into `<out>/eval/<name>.json`; a stored file there is reused when its fingerprint
(model files, decoding and scoring settings, data hashes) matches, so a comparison re-run costs nothing.

Every pair of models is compared on the turns (or episodes) both were scored on: the difference of each metric
with a paired-bootstrap 95% interval, *beyond noise* when the interval excludes 0 (`eval/bootstrap.py`). The
comparison document (`comparison.json`) holds the models' metrics, the differences, the thinking analysis, the
breakdowns, the training curves and how each model was scored (`scoring`: models named in `no_think` are
scored without requiring a think block, so a model trained to answer directly is not marked malformed for it)
and, when a caller checks claims against it (the demo), the claims; `eval/tables.py` renders it as markdown and
`eval/report/` as HTML, both opening with the claims and the held-out curve.
Left out: corrections for multiple comparisons (the report says how many false alarms to expect).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from thinkact.errors import UserError, check_choice
from thinkact.eval.bootstrap import (
    RESAMPLES,
    SEED,
    Interval,
    bootstrap_paired_difference,
    bootstrap_paired_f1_difference,
)
from thinkact.eval.breakdown import break_down
from thinkact.eval.endpoint import EndpointConfig
from thinkact.eval.episodes import DEFAULT_MAX_ACTIONS
from thinkact.eval.metrics import ARG_COUNTS, collect_argument_counts, compute_micro_f1
from thinkact.eval.runner import VIEWS, EvalConfig, describe_data, fingerprint_eval, run_eval
from thinkact.eval.thinking import analyse_thinking
from thinkact.files import atomic_write_text
from thinkact.jsonsafe import dump_json, read_jsonl_lines
from thinkact.models.load import DTYPES
from thinkact.rewards.combine import RewardConfig


@dataclass
class CompareConfig:
    RENAMED: ClassVar[dict[str, str]] = {"max_steps": "max_actions"}
    """Old name of `max_actions` (policy steps per user turn), read for one more release with a message."""

    inputs: list[str] = field(default_factory=list)
    """Results JSON files, model directories, run directories or cached hub ids, in table order."""
    data: list[str] = field(default_factory=list)
    """Data files to evaluate models on (each a split); needed unless every input is a results file."""
    out: str = "runs/compare"
    """Directory for comparison.json, report.md, report.html, plots/ and eval/ (the models' results)."""
    names: list[str] = field(default_factory=list)
    """Labels of the inputs, in order (default: the run or directory name, or the results' model)."""
    baseline: str = ""
    """The model the others are measured against (default: the first)."""
    view: str = "turn"
    """turn, episode or both (for models that are evaluated here)."""
    max_new_tokens: int = 160
    batch_size: int = 16
    limit: int = 0
    """At most this many turns (and conversations in the episode view) per split (0: all)."""
    dtype: str = "float32"
    """float32 or bfloat16: the precision every local model is evaluated in (eval's `dtype`: bf16 is faster on a
    CPU with AVX-512 BF16 and changes some greedy completions)."""
    max_actions: int = DEFAULT_MAX_ACTIONS
    resamples: int = RESAMPLES
    seed: int = SEED
    samples: int = 40
    """Sample conversations per split in the HTML report (those where the models differ most)."""
    html: bool = True
    """Write report.html and the PNG plots."""
    rewards: RewardConfig = field(default_factory=RewardConfig)
    no_think: list[str] = field(default_factory=list)
    """Models (by name) that answer without thinking, such as SFT without thinking: scored with
    `rewards.require_think` off, so `format` asks them for a complete, well-formed action and not for a think
    block they were trained not to write. The others are scored with `rewards` as given."""
    endpoints: list[str] = field(default_factory=list)
    """OpenAI-compatible APIs to evaluate as further models (columns after the inputs), one URL each."""
    served_models: list[str] = field(default_factory=list)
    """The served model's name at each endpoint, in the same order."""
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    """Settings shared by the endpoints (api_key_env, concurrency, retries, timeout); url and model unused."""

    def __post_init__(self) -> None:
        if len(self.endpoints) != len(self.served_models):
            raise UserError(
                f"compare: {len(self.endpoints)} --endpoint for {len(self.served_models)} --served-model; "
                "give one served model name per endpoint, in the same order"
            )
        total = len(self.inputs) + len(self.endpoints)
        if self.names and len(self.names) != total:
            raise UserError(
                f"compare: {len(self.names)} --name for {total} inputs and endpoints; give one name per model"
            )
        check_choice("compare.view", self.view, VIEWS)
        check_choice("compare.dtype", self.dtype, DTYPES)


@dataclass
class Source:
    """One compared model: where its results come from, and its training run if there is one."""

    name: str
    input: str
    results_file: str = ""
    model: str = ""
    run: str = ""
    endpoint: str = ""
    """The API the model is served behind (with `model` its served name)."""


Progress = Callable[[str, str, int, int], None]
"""(model, split, done, total)."""
ClaimCheck = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""The comparison → claims, each `{"claim", "holds"}` with its figure: `value`, or `diff`, `ci_low`, `ci_high`, `n`
(`demo.check_claims`); report.md and report.html open with them."""


def run_compare(
    config: CompareConfig, progress: Progress | None = None, check_claims: ClaimCheck | None = None
) -> dict[str, Any]:
    """Evaluate or load every input, compare them and write the comparison files; returns the comparison (with
    `claims` when `check_claims` is given)."""
    from thinkact.eval.report import write_report
    from thinkact.eval.tables import render_markdown

    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"compare: --out {out} is a file; give a directory for the report")
    sources = resolve_sources(config)
    results = {source.name: obtain_results(source, config, progress) for source in sources}
    check_comparable(sources, results, config)
    comparison = compare_results(sources, results, config)
    if check_claims is not None:
        comparison["claims"] = check_claims(comparison)
    atomic_write_text(out / "comparison.json", dump_json(comparison, indent=1))
    atomic_write_text(out / "report.md", render_markdown(comparison))
    if config.html:
        write_report(comparison, results, out, samples=config.samples)
    return comparison


def resolve_sources(config: CompareConfig) -> list[Source]:
    """What each input is, and the name it goes by (at least two models: the config alone may name none, as the
    demo's and the recipes' evaluation settings do)."""
    if len(config.inputs) + len(config.endpoints) < 2:
        raise UserError("compare: give at least two runs, models, results files or endpoints to compare")
    sources = []
    served = [
        Source(name, url, model=name, endpoint=url)
        for url, name in zip(config.endpoints, config.served_models, strict=True)
    ]
    for index, source in enumerate([resolve_input(text) for text in config.inputs] + served):
        if config.names:
            source.name = config.names[index]
        sources.append(source)
    names = [source.name for source in sources]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(
            f"compare: several inputs are named {repeated[0]!r}; label them with --name, one each"
        )
    if config.baseline and config.baseline not in names:
        raise UserError(f"compare: baseline {config.baseline!r} is none of the models ({', '.join(names)})")
    unknown = [name for name in config.no_think if name not in names]
    if unknown:
        raise UserError(f"compare: --no-think {unknown[0]!r} is none of the models ({', '.join(names)})")
    return sources


def resolve_input(text: str) -> Source:
    """A results file, a model directory, a run directory (with `model/`) or a hub id."""
    path = Path(text)
    if path.suffix == ".json":
        if not path.is_file():
            raise UserError(f"{text}: no such results file; write one with `thinkact eval --out {text}`")
        document = _load_results(path)
        model = str((document.get("config") or {}).get("model", ""))
        run = _run_of(Path(model)) if model else ""
        return Source(_name_results(document, path), text, results_file=text, run=run)
    if path.is_dir() and (path / "model" / "config.json").is_file():
        return Source(path.resolve().name, text, model=str(path / "model"), run=str(path))
    if path.is_dir() and not (path / "config.json").is_file():
        raise UserError(
            f"{text}: neither a model directory (config.json) nor a run directory (model/config.json); "
            "pass a model saved with save_pretrained, a run directory, or a results JSON"
        )
    if not path.is_dir():
        return Source(text, text, model=text)
    resolved = path.resolve()
    # `<run>/model` is named after its run (runs/sft-nothink/model → sft-nothink), logged or not
    name = resolved.parent.name if resolved.name == "model" else resolved.name
    return Source(name, text, model=text, run=_run_of(path))


def _run_of(model: Path) -> str:
    """The run directory a model directory was saved in (`<run>/model` beside `<run>/metrics.jsonl`)."""
    parent = model.parent
    return str(parent) if model.name == "model" and (parent / "metrics.jsonl").is_file() else ""


def _name_results(document: dict[str, Any], path: Path) -> str:
    """The results' model label, or the run's name when the label is a `<run>/model` path."""
    name = str(document.get("model") or path.stem)
    return Path(name).parent.name if Path(name).name == "model" else name


def _load_results(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("splits"), dict):
        raise UserError(f'{path}: not a results file (no "splits"); write one with `thinkact eval --out`')
    return document


def obtain_results(source: Source, config: CompareConfig, progress: Progress | None) -> dict[str, Any]:
    """The source's results: read from its file, reused from `<out>/eval/`, or evaluated now."""
    if source.results_file:
        results = _load_results(Path(source.results_file))
        _check_scoring(source, results, config)
        return results
    if not config.data:
        raise UserError(
            f"compare: {source.input} is a model; give --data FILE to evaluate it, or pass its results JSON"
        )
    stored = stored_path(config, source.name)
    eval_config = eval_config_for(source, config)
    if stored.is_file():
        previous = _load_results(stored)
        if previous.get("config") == fingerprint_eval(eval_config) and _same_data(previous, config.data):
            return previous

    def report(split: str, done: int, total: int) -> None:
        if progress is not None:
            progress(source.name, split, done, total)

    return run_eval(eval_config, progress=report)


def eval_config_for(source: Source, config: CompareConfig) -> EvalConfig:
    """How a model is evaluated: each `EvalConfig` field that `CompareConfig` also has takes compare's value (view,
    max_new_tokens, batch_size, limit, dtype, max_actions, resamples, seed), except those that are the model's own: its
    model or endpoint (compare's endpoint settings with its URL and served name), its stored results file
    (`stored_path`), its name and its rewards (`rewards_for`). The others keep eval's defaults."""
    compared = {entry.name for entry in fields(CompareConfig)}
    shared = {
        entry.name: getattr(config, entry.name) for entry in fields(EvalConfig) if entry.name in compared
    }
    own = {
        "model": "" if source.endpoint else source.model,
        "endpoint": replace(
            config.endpoint, url=source.endpoint, model=source.model if source.endpoint else ""
        ),
        "data": list(config.data),
        "out": str(stored_path(config, source.name)),
        "name": source.name,
        "rewards": rewards_for(source.name, config),
    }
    return EvalConfig(**{**shared, **own})


def rewards_for(name: str, config: CompareConfig) -> RewardConfig:
    """The reward settings a model is scored with: `rewards`, without the think block for `no_think` models."""
    return replace(config.rewards, require_think=False) if name in config.no_think else config.rewards


def _check_scoring(source: Source, results: dict[str, Any], config: CompareConfig) -> None:
    """A stored results file named in `no_think` must have been scored without requiring thinking."""
    if source.name in config.no_think and _requires_think(results):
        raise UserError(
            f"compare: {source.results_file} was scored with rewards.require_think on, but --no-think names "
            f"{source.name!r}; re-evaluate it with `thinkact eval --set rewards.require_think=false`, or pass "
            "its model directory instead"
        )


def _requires_think(results: dict[str, Any]) -> bool:
    rewards = (results.get("config") or {}).get("rewards") or {}
    return bool(rewards.get("require_think", True))


def _describe_source(source: Source) -> dict[str, str]:
    described = {"input": source.input, "model": source.model, "run": source.run}
    return {**described, "endpoint": source.endpoint} if source.endpoint else described


def stored_path(config: CompareConfig, name: str) -> Path:
    """Where a model's results are stored: `<out>/eval/<name>.json` (a hub id's slashes become `__`)."""
    return Path(config.out) / "eval" / f"{name.replace('/', '__')}.json"


def _same_data(results: dict[str, Any], paths: list[str]) -> bool:
    """Whether stored results were computed on exactly these data files (same split names, same bytes)."""
    recorded = {split: record.get("sha256") for split, record in (results.get("data") or {}).items()}
    return recorded == {Path(path).stem: describe_data(path, 0)["sha256"] for path in paths}


def check_comparable(
    sources: list[Source], results: dict[str, dict[str, Any]], config: CompareConfig
) -> None:
    """The same splits everywhere, from the same data when the results record it; a `UserError` otherwise."""
    first = sources[0]
    _check_same_limit(sources, results, config)
    splits = set(results[first.name]["splits"])
    expected = {Path(path).stem: describe_data(path, 0)["sha256"] for path in config.data}
    for source in sources:
        where = source.results_file or str(stored_path(config, source.name))
        own = set(results[source.name]["splits"])
        if own != splits:
            raise UserError(
                f"compare: {where} has splits {sorted(own)} but {first.input} has {sorted(splits)}; "
                "evaluate every model on the same data files"
            )
        for split, record in results[source.name].get("data", {}).items():
            digest = record.get("sha256")
            if split in expected and digest and digest != expected[split]:
                raise UserError(
                    f"compare: {where} was evaluated on another {split} file than {record.get('path')} "
                    f"(the data's sha256 differs); re-evaluate it, or leave out --data {split}"
                )
            expected.setdefault(split, digest)


def _check_same_limit(
    sources: list[Source], results: dict[str, dict[str, Any]], config: CompareConfig
) -> None:
    """Results evaluated with different `--limit` cover different turns: refuse to set them side by side."""
    limits = {
        source.name: (results[source.name].get("config") or {}).get("limit", 0) or 0 for source in sources
    }
    if len(set(limits.values())) > 1:
        described = ", ".join(f"{name}: {limit or 'none'}" for name, limit in limits.items())
        raise UserError(
            f"compare: the results were evaluated with different --limit ({described}), so they cover different "
            "turns; evaluate every model with the same --limit"
        )


def compare_results(
    sources: list[Source], results: dict[str, dict[str, Any]], config: CompareConfig
) -> dict[str, Any]:
    """The comparison document (see the module docstring)."""
    names = [source.name for source in sources]
    baseline = config.baseline or names[0]
    splits = list(results[names[0]]["splits"])
    comparison: dict[str, Any] = {
        "models": names,
        "baseline": baseline,
        "splits": splits,
        "bootstrap": {"method": "percentile", "resamples": config.resamples, "seed": config.seed},
        "sources": {s.name: _describe_source(s) for s in sources},
        "metrics": {},
        "differences": [],
        "thinking": {},
        "breakdown": {},
        "training": {s.name: read_training(s.run) for s in sources if s.run},
        "scoring": {name: {"require_think": _requires_think(results[name])} for name in names},
    }
    for name in names:
        blocks = results[name]["splits"]
        comparison["metrics"][name] = {split: _view_metrics(blocks[split]) for split in splits}
        comparison["thinking"][name] = {
            split: blocks[split].get("thinking")
            or analyse_thinking(
                [turn["metrics"] for turn in blocks[split]["turns"]], resamples=config.resamples
            )
            for split in splits
            if blocks[split]["turns"]
        }
        comparison["breakdown"][name] = {split: _view_breakdowns(blocks[split]) for split in splits}
    for first, second in pair_models(names, baseline):
        for split in splits:
            for view, records in (("turn", _records), ("episode", _episode_records)):
                comparison["differences"].extend(
                    compare_pair(
                        records(results[first], split),
                        records(results[second], split),
                        config,
                        labels={"split": split, "view": view, "a": first, "b": second},
                    )
                )
    return comparison


def pair_models(names: list[str], baseline: str) -> list[tuple[str, str]]:
    """Every pair of models once: the baseline first in its pairs, otherwise in table order.

    >>> pair_models(["a", "b", "c"], "b")
    [('b', 'a'), ('b', 'c'), ('a', 'c')]
    """
    pairs = [(baseline, name) for name in names if name != baseline]
    others = [name for name in names if name != baseline]
    pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    return pairs


def compare_pair(
    first: list[dict[str, Any]], second: list[dict[str, Any]], config: CompareConfig, labels: dict[str, str]
) -> list[dict[str, Any]]:
    """Paired differences (second − first) of every metric over the records both models have."""
    by_id = {record["id"]: record["metrics"] for record in first}
    pairs = [(by_id[record["id"]], record["metrics"]) for record in second if record["id"] in by_id]
    resamples = max(config.resamples, 1)
    rows = []
    names = sorted({name for a, b in pairs for name in a if name in b} - set(ARG_COUNTS))
    for name in names:
        values_a = [a[name] for a, b in pairs if name in a and name in b]
        values_b = [b[name] for a, b in pairs if name in a and name in b]
        value, interval = bootstrap_paired_difference(
            values_a, values_b, resamples=resamples, seed=config.seed
        )
        rows.append(
            _difference(labels, name, value, interval, values_a, sum(values_a) / len(values_a), config)
        )
    call_pairs = [(a, b) for a, b in pairs if "arg_correct" in a and "arg_correct" in b]
    if call_pairs:
        counts_a = collect_argument_counts([a for a, _ in call_pairs])
        counts_b = collect_argument_counts([b for _, b in call_pairs])
        value, interval = bootstrap_paired_f1_difference(
            counts_a, counts_b, resamples=resamples, seed=config.seed
        )
        rows.append(
            _difference(labels, "arg_f1", value, interval, counts_a, compute_micro_f1(counts_a), config)
        )
    return rows


def _difference(
    labels: dict[str, str],
    metric: str,
    value: float,
    interval: Interval,
    paired: list[Any],
    base: float,
    config: CompareConfig,
) -> dict[str, Any]:
    tested = config.resamples > 0
    return {
        **labels,
        "metric": metric,
        "diff": value,
        "ci_low": interval.low if tested else None,
        "ci_high": interval.high if tested else None,
        "n": len(paired),
        "relative": value / base if base else None,
        "beyond_noise": interval.excludes_zero() if tested else None,
    }


def _records(results: dict[str, Any], split: str) -> list[dict[str, Any]]:
    return list(results["splits"][split].get("turns") or [])


def _episode_records(results: dict[str, Any], split: str) -> list[dict[str, Any]]:
    return list((results["splits"][split].get("episodes") or {}).get("records") or [])


def _view_metrics(block: dict[str, Any]) -> dict[str, Any]:
    return {"turn": block.get("metrics") or {}, "episode": (block.get("episodes") or {}).get("metrics") or {}}


def _view_breakdowns(block: dict[str, Any]) -> dict[str, Any]:
    turns = block.get("breakdown") or (break_down(block["turns"], resamples=0) if block.get("turns") else {})
    episodes = block.get("episodes") or {}
    return {"turn": turns, "episode": episodes.get("breakdown") or {}}


def read_training(run: str) -> list[dict[str, float]]:
    """A run's `metrics.jsonl` (one JSON object per step), or nothing when the run wrote none."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for number, line in read_jsonl_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path}:{number}: not valid JSON; the run's metrics log is damaged") from None
        rows.append({key: value for key, value in row.items() if isinstance(value, int | float)})
    return rows

"""Pretraining of the tiny base: next-token training on the generated corpus (`train/corpus/`).

The paper starts from a capable base model; a randomly initialised tiny model is not one. `run_pretrain` makes the
embedded default the analogue of vanilla Qwen3-1.7B: it renders the corpus through Qwen3's chat template (tools in
the system prompt, think blocks, calls, tool results), trains the tiny tokenizer on that text, initialises the
tiny Qwen3 and trains it on every token of the packed text. The result knows the format, copies entities into
calls and reads dates, and has never seen the benchmark's domains, tools or phrasings.

A plain loop rather than HF's Trainer: one packed tensor, AdamW with warm-up and cosine decay, a fixed torch thread
count, nothing else; so the run is bit-for-bit reproducible on the same software (`recipe.json` records what is
needed to check: versions, threads, the weights' SHA-256). Left out: evaluation during pretraining, mixed
precision and several processes (the tiny model trains in minutes on a CPU).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import transformers

from thinkact.data.conversations import Conversation
from thinkact.data.rename import fresh_entities
from thinkact.errors import UserError
from thinkact.files import atomic_write_text
from thinkact.models.tiny import (
    BASE_SHAPE,
    SPECIAL_TOKENS,
    TinyModelConfig,
    build_model,
    split_identifiers,
    train_tokenizer,
)
from thinkact.train.corpus import generate_conversations, generate_documents


@dataclass
class PretrainConfig:
    out: str = "runs/base"
    """Directory for the pretrained model, its tokenizer, recipe.json and metrics.jsonl."""
    seed: int = 0
    conversations: int = 16000
    """Generated tool-use conversations in the corpus."""
    documents: int = 4000
    """Generated plain-text documents in the corpus."""
    invented: float = 0.0
    """Share of conversations whose tools are invented for that conversation (`corpus.invent_domain`): the
    only way to call them right is to read the tool list and copy from the request."""
    opaque: float = 0.0
    """Share of the invented tools whose name shares no word with the request (`corpus._invent_tool`): only the
    tool list ties what the user asks for to the name, so the base learns to read the list rather than to
    compose a name from the request's words (docs/benchmarks.md, "Names read from the list")."""
    no_think: float = 0.0
    """Share of conversations rendered without their reasoning (Qwen3's template then writes an empty think block
    in the last assistant turn and none in the earlier ones), so that the base also calls and copies straight
    from the request, as a model trained without thinking must."""
    respell: float = 0.0
    """Share of conversations whose copied entities are respelled as English-like words (`corpus.spelled_name`,
    through `data.rename.fresh_entities`), the same everywhere in the conversation. The corpus's own names are
    built from a few syllables, and a base trained on them alone copies those syllables, not words: half of the
    later tokens of a name spelled otherwise (docs/benchmarks.md, "Copying words, not syllables")."""
    split_identifiers: bool = False
    """Cut `_` off as a piece of its own in the tokenizer (`models.tiny.split_identifiers`; with `init`, the
    init's tokenizer gets the rule and keeps its vocabulary), so that every tool and parameter name is its words
    in the same pieces wherever it stands, the training tools' names as much as unseen ones."""
    init: str | None = None
    """Continue from this pretrained directory (its tokenizer and weights) instead of a fresh tokenizer and
    random weights: a second pretraining stage. Its recipe is kept inside this run's recipe."""
    probe_conversations: int = 32
    """Held-out invented-tool conversations on which every log step measures the call probe (0: none)."""
    model: TinyModelConfig = field(default_factory=lambda: replace(BASE_SHAPE))
    tokenizer_benchmark_conversations: int = 600
    """Bundled-benchmark `train` conversations added to the tokenizer's text, so that the vocabulary covers the
    benchmark's words in few tokens; the model never trains on them here. A token found only in that text keeps
    its initial embedding: with the default, 505 of the benchmark's 1,279 token types (its tool names among them)
    are never trained (docs/benchmarks.md). 0 builds the vocabulary from the corpus alone: every token trained,
    the benchmark's text half as long again, and measured no better after SFT."""
    steps: int = 1200
    batch_size: int = 8
    sequence_length: int = 512
    """Tokens per packed training sequence."""
    learning_rate: float = 2e-3
    warmup_steps: int = 60
    weight_decay: float = 0.01
    threads: int = 1
    """torch threads; part of the recipe, since the float sums (and so the bits) depend on it."""
    log_steps: int = 50

    def __post_init__(self) -> None:
        for name in ("conversations", "steps", "batch_size", "sequence_length", "threads"):
            if getattr(self, name) < 1:
                raise UserError(f"pretrain.{name}: must be >= 1")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise UserError("pretrain.learning_rate: must be a positive number")
        for name in ("invented", "opaque", "no_think", "respell"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"pretrain.{name}: must be a share between 0 and 1")
        if self.init is not None and not (Path(self.init) / "recipe.json").is_file():
            raise UserError(
                f"pretrain.init: {self.init} holds no recipe.json; give a directory written by `thinkact pretrain`"
            )


SECOND_STAGE: dict[str, Any] = {
    "conversations": 24000,
    "documents": 3000,
    "invented": 0.75,
    "steps": 2000,
    "learning_rate": 1e-3,
    "warmup_steps": 50,
    "log_steps": 100,
    "probe_conversations": 48,
}
"""The settings of the shipped base's second stage (`--init` the first stage, defaults): three quarters of its
conversations use tools invented for them, so the base learns to read the tool list and copy."""

THIRD_STAGE: dict[str, Any] = {**SECOND_STAGE, "seed": 3, "respell": 0.75, "threads": 2}
"""The settings of the shipped base's third stage (`--init` the second): the second stage's corpus with three
quarters of its conversations' copied entities respelled as English-like words, so that the base copies words
and not the corpus's syllables (docs/benchmarks.md, "Copying words, not syllables")."""


def build_corpus(config: PretrainConfig) -> list[str]:
    """The corpus as text: conversations rendered with Qwen3's chat template, then the documents, shuffled."""
    from thinkact.models.chat import render

    renderer = train_tokenizer(["bootstrap"], vocab_size=len(SPECIAL_TOKENS) + 256)  # renders, never encodes
    records = generate_conversations(config.conversations, config.seed, config.invented, config.opaque)
    if config.respell:
        drawn = random.Random(f"respell/{config.seed}")
        for number, record in enumerate(records):
            if drawn.random() < config.respell:
                conversation = Conversation(f"corpus-{number}", record["messages"], record["tools"], {})
                record["messages"] = fresh_entities(conversation, drawn).messages
    if config.no_think:
        drawn = random.Random(f"no_think/{config.seed}")
        for record in records:
            if drawn.random() < config.no_think:
                for message in record["messages"]:
                    message.pop("reasoning_content", None)
    texts = [
        render(renderer, record["messages"], record["tools"], add_generation_prompt=False)
        for record in records
    ]
    texts += generate_documents(config.documents, config.seed)
    random.Random(f"shuffle/{config.seed}").shuffle(texts)
    return texts


def pack(ids: list[list[int]], separator: int, length: int) -> torch.Tensor:
    """The texts' ids joined with `separator` after each, cut into rows of `length` (the tail dropped).

    >>> pack([[1, 2], [3, 4, 5]], 0, 3).tolist()
    [[1, 2, 0], [3, 4, 5]]
    """
    stream = [token for text in ids for token in (*text, separator)]
    rows = len(stream) // length
    return torch.tensor(stream[: rows * length], dtype=torch.long).view(rows, length)


def learning_rate_at(step: int, config: PretrainConfig) -> float:
    """Linear warm-up to the peak, then cosine decay to a tenth of it.

    >>> cfg = PretrainConfig(steps=100, warmup_steps=10, learning_rate=1.0)
    >>> [round(learning_rate_at(s, cfg), 3) for s in (0, 9, 10, 55, 99)]
    [0.1, 1.0, 1.0, 0.542, 0.1]
    """
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(config.steps - config.warmup_steps - 1, 1)
    return config.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def run_pretrain(
    config: PretrainConfig,
    vocabulary: list[str],
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Build the corpus and tokenizer, pretrain the tiny model, and save it to `config.out`.

    `vocabulary` is the benchmark text the tokenizer learns from besides the corpus, which the caller renders
    (`bench.synthetic.rendered.pretrain_vocabulary(config)`: the benchmark is a later stage than training); it is
    empty when `config.init` gives the model and tokenizer."""
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    texts = build_corpus(config)
    if config.init is not None:
        from thinkact.models.load import load_policy

        model, tokenizer = load_policy(config.init)
        torch.manual_seed(config.seed)
    else:
        tokenizer = train_tokenizer(texts + vocabulary, config.model.vocab_size, config.model.max_token_chars)
        model = build_model(tokenizer, config.model, config.seed)
    if config.split_identifiers:
        split_identifiers(tokenizer)
    probe = CallProbe.build(tokenizer, config.probe_conversations, config.seed, config.opaque)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    data = pack(encoded, tokenizer.pad_token_id, config.sequence_length)
    if len(data) < config.batch_size:
        raise UserError(
            "pretrain: the corpus packs into fewer rows than one batch; raise pretrain.conversations"
        )
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(0.9, 0.95),
    )
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(data), generator=generator)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").unlink(missing_ok=True)  # the output was claimed (`--overwrite`) before this
    log: list[dict[str, float]] = []
    model.train()
    running = 0.0
    for step in range(config.steps):
        start = (step * config.batch_size) % len(data)
        if start + config.batch_size > len(data):  # a new epoch: a new order
            order = torch.randperm(len(data), generator=generator)
            start = 0
        batch = data[order[start : start + config.batch_size]]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config)
        loss = model(input_ids=batch, labels=batch).loss  # the model shifts the labels itself
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running += loss.item()
        if (step + 1) % config.log_steps == 0 or step + 1 == config.steps:
            count = (step % config.log_steps) + 1
            entry = {"step": step + 1, "loss": running / count, "lr": learning_rate_at(step, config)}
            entry.update(probe.measure(model))
            entry["seconds"] = time.perf_counter() - started
            log.append(entry)
            with (out / "metrics.jsonl").open("a", encoding="utf-8") as handle:  # visible while it runs
                handle.write(json.dumps(entry) + "\n")
            running = 0.0
            if on_log:
                on_log(step + 1, entry)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    seconds = time.perf_counter() - started
    _write_recipe(out, config, seconds=seconds, rows=len(data), log=log)
    return out


@dataclass
class CallProbe:
    """Teacher-forced accuracy on the tool-call tokens of held-out invented-tool conversations: whether the
    model, given everything before each token of a call, predicts it (greedy). `call_token_accuracy` is the
    share of call tokens predicted; `call_exact` the share of calls whose every token is. Tool names and
    arguments there can only come from the prompt, so this is how the copying skill shows in the log."""

    rows: list[tuple[torch.Tensor, list[tuple[int, int]]]]
    """(token ids, [start, end) spans of the calls' tokens)."""

    @classmethod
    def build(cls, tokenizer: Any, count: int, seed: int, opaque: float = 0.0) -> CallProbe:
        """The probe of the pretraining log: `count` invented-tool corpus conversations from a held-out seed (a
        share `opaque` of their tools named apart from the request, as in the corpus)."""
        records = generate_conversations(count, seed + 10_000, invented=1.0, opaque=opaque)
        return cls.from_conversations(
            tokenizer, [(record["messages"], record["tools"]) for record in records]
        )

    @classmethod
    def from_conversations(
        cls, tokenizer: Any, conversations: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]
    ) -> CallProbe:
        """A probe over the calls of the assistant turns of these (messages, tools) pairs."""
        from thinkact.models.chat import render

        rows = []
        opening, closing = "<tool_call>", "</tool_call>"
        for messages, tools in conversations:
            text = render(tokenizer, messages, tools, add_generation_prompt=False)
            encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = encoded["offset_mapping"]
            spans, at = [], text.find("<|im_start|>assistant")  # not the system prompt's format example
            while at >= 0 and (begin := text.find(opening, at)) >= 0:
                end = text.find(closing, begin)
                first = next(i for i, (a, _) in enumerate(offsets) if a >= begin + len(opening))
                last = next(i for i, (a, _) in enumerate(offsets) if a >= end)
                if last > first:
                    spans.append((first, last))
                at = end + len(closing)
            if spans:
                rows.append((torch.tensor(encoded["input_ids"]), spans))
        return cls(rows)

    @torch.no_grad()
    def measure(self, model: torch.nn.Module) -> dict[str, float]:
        if not self.rows:
            return {}
        was_training = model.training
        model.eval()
        right = total = exact = calls = 0
        for ids, spans in self.rows:
            predicted = model(input_ids=ids[None]).logits[0].argmax(-1)
            for first, last in spans:
                hits = (predicted[first - 1 : last - 1] == ids[first:last]).tolist()
                right, total = right + sum(hits), total + len(hits)
                exact, calls = exact + all(hits), calls + 1
        model.train(was_training)
        return {"call_token_accuracy": right / max(total, 1), "call_exact": exact / max(calls, 1)}


def weights_digest(directory: Path) -> str:
    """SHA-256 of the saved weights file."""
    return hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


def _write_recipe(
    out: Path, config: PretrainConfig, *, seconds: float, rows: int, log: list[dict[str, float]]
) -> None:
    defaults = asdict(PretrainConfig())
    changed = [
        f"--set {key}={value}"
        for key, value in asdict(config).items()
        if key not in ("out", "seed", "init", "model") and value != defaults[key]
    ]
    command = [f"thinkact pretrain --out {config.out} --seed {config.seed}"]
    command += [f"--init {config.init}"] if config.init else []
    recipe: dict[str, Any] = {
        "what": "the tiny base, pretrained by `thinkact pretrain` on the generated corpus of train/corpus/",
        "command": " ".join(command + changed),
        "config": asdict(config),
        "seconds": round(seconds, 1),
        "tokens_seen": config.steps * config.batch_size * config.sequence_length,
        "corpus_rows": rows,
        "final_loss": log[-1]["loss"] if log else None,
        "weights_sha256": weights_digest(out),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "machine": {"cpus": os.cpu_count(), "processor": platform.machine(), "threads": config.threads},
    }
    if config.init is not None:
        recipe["init"] = json.loads((Path(config.init) / "recipe.json").read_text(encoding="utf-8"))
    atomic_write_text(out / "recipe.json", json.dumps(recipe, indent=1) + "\n")

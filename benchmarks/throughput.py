"""What the throughput scripts (`rollout_throughput.py`, `grpo_step.py`) share: a GRPO config on any model, where a
step's generation time goes, the bytes a decode step reads and the memory bandwidth it is held against.

Phases are timed around the model's real forward calls (forward hooks, `timed_forwards`): a call that feeds one
position per row with a KV cache is a decode step, one that feeds several positions to fill a cache (`use_cache`
or a cache passed in) is a prefill, and any other call (a training forward) is not counted. What a decode step
reads is taken from the model and its config, not estimated from time: every weight once for the whole batch
(the input embedding table only when it is not tied to the LM head: a lookup reads a few rows of it) plus, for
each row of the step, the keys and values of every cached position (padding included: attention reads it). The
bandwidth is measured in the same process, with the same threads, by summing (reading) and copying a large float32
tensor, best of a few repeats; "fraction of the bandwidth limit" is the decode steps' bytes per second over the
summing rate. Left out: activations, the logits and sampling (small beside the weights for a decode step) and
caches that are not read whole (sliding windows).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from scaling import write_variant
from transformers import PreTrainedModel
from workspace import build_workspace, machine, print_table, write_results

from thinkact.config import load_config
from thinkact.models.load import load_policy
from thinkact.train.grpo import GRPORunConfig

GB = 1e9


def add_run_arguments(parser: argparse.ArgumentParser, prompts: int) -> None:
    """The options the throughput scripts share: the batch (`--prompts`, `--group`, `--new-tokens`,
    `--schema-tokens`), `--model`, `--threads`, `--bandwidth-mib` and `--set` (GRPO config fields)."""
    parser.add_argument("--prompts", type=int, default=prompts)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument(
        "--schema-tokens",
        type=int,
        default=0,
        help="pad the tools to about this many tokens (0: as they are)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="a transformers causal-LM directory thinkact loads (default: the tiny model, built fresh)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    parser.add_argument(
        "--bandwidth-mib",
        type=int,
        default=256,
        help="size of the tensor the memory bandwidth is measured on",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a GRPO config field for the run, e.g. lora.enabled=true lora.top_layers=6 (repeatable)",
    )


def grpo_setup(root: Path, args: argparse.Namespace) -> tuple[GRPORunConfig, int]:
    """The run's GRPO config on `--model` (or the tiny model built under `root`) and the bundled training split,
    or with `--schema-tokens` its weather turns with tools padded to about that many tokens (then also returned;
    0 when the tools are as bundled); one generation batch holds every completion of a step."""
    workspace = build_workspace(root, toy=args.toy, model=args.model)
    data = workspace.data
    schema = 0
    if args.schema_tokens:
        data = root / "schemas.jsonl"
        _, tokenizer = load_policy(workspace.model_dir)
        schema = write_variant(workspace.data, data, tokenizer, args.schema_tokens, args.prompts)
    fields = {
        "model": str(workspace.model_dir),
        "data": str(data),
        "max_prompt_tokens": 100_000,
        "prompts_per_step": args.prompts,
        "group_size": args.group,
        "max_new_tokens": args.new_tokens,
        "micro_batch": args.prompts * args.group,
        "report_to": "none",
    }
    overrides = [f"{name}={value}" for name, value in fields.items()] + list(args.set)
    return load_config(GRPORunConfig, None, overrides), schema


@dataclass
class ForwardTimes:
    """Seconds and work of the generation forwards of one span."""

    prefill_s: float = 0.0
    decode_s: float = 0.0
    decode_steps: int = 0
    decoded_rows: int = 0
    """Rows of all decode steps: the tokens the decode steps computed."""
    cached_positions: int = 0
    """Sum over decode steps of rows x cached positions read."""


def combined(spans: list[ForwardTimes]) -> ForwardTimes:
    """The figures of several spans together."""
    return ForwardTimes(
        prefill_s=sum(span.prefill_s for span in spans),
        decode_s=sum(span.decode_s for span in spans),
        decode_steps=sum(span.decode_steps for span in spans),
        decoded_rows=sum(span.decoded_rows for span in spans),
        cached_positions=sum(span.cached_positions for span in spans),
    )


class ForwardLog:
    """The forwards seen since the last `take`."""

    def __init__(self) -> None:
        self.times = ForwardTimes()

    def take(self) -> ForwardTimes:
        """The span's figures; the next span starts from zero."""
        taken, self.times = self.times, ForwardTimes()
        return taken


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def timed_forwards(model: torch.nn.Module) -> Iterator[ForwardLog]:
    """Times every prefill and decode forward of `model` while the block runs (see the module's docstring)."""
    log = ForwardLog()
    device = next(model.parameters()).device
    started = [0.0]

    def before(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _synchronize(device)
        started[0] = time.perf_counter()

    def after(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        _synchronize(device)
        elapsed = time.perf_counter() - started[0]
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        rows, width = ids.shape
        cache, times = getattr(output, "cache", None), log.times
        if width == 1 and cache is not None:
            times.decode_s += elapsed
            times.decode_steps += 1
            times.decoded_rows += rows
            times.cached_positions += rows * cache.get_seq_length()
        elif width > 1 and (kwargs.get("use_cache") or kwargs.get("cache") is not None):
            times.prefill_s += elapsed

    # With LoRA, generate runs the wrapped model's forward, not the peft wrapper's: time the innermost model.
    unwrap = getattr(model, "get_base_model", None)
    inner: torch.nn.Module = unwrap() if callable(unwrap) else model
    handles = [
        inner.register_forward_pre_hook(before, with_kwargs=True),
        inner.register_forward_hook(after, with_kwargs=True),
    ]
    try:
        yield log
    finally:
        for handle in handles:
            handle.remove()


def weight_bytes(model: PreTrainedModel) -> int:
    """Bytes of the weights one decode step reads: every parameter (tied ones once), less an untied input
    embedding table, of which a step reads only its rows."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    if head is None or head.weight is not embedding.weight:
        total -= sum(p.numel() * p.element_size() for p in embedding.parameters())
    return total


def kv_bytes_per_position(model: PreTrainedModel) -> int:
    """Bytes of keys and values one cached position holds over all layers, from the config and the dtype."""
    config = model.config.get_text_config()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    element = next(model.parameters()).element_size()
    return 2 * config.num_hidden_layers * kv_heads * head_dim * element


def memory_bandwidth(mib: int, device: torch.device, repeats: int = 5) -> dict[str, float]:
    """GB/s of summing (bytes read) and of copying (bytes read and written) a `mib` MiB float32 tensor."""
    source = torch.ones(mib * 2**20 // 4, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    size = source.numel() * source.element_size()
    rates: dict[str, list[float]] = {"sum_gb_s": [], "copy_gb_s": []}
    for _ in range(repeats):
        for name, run, moved in (
            ("sum_gb_s", source.sum, size),
            ("copy_gb_s", lambda: target.copy_(source), 2 * size),
        ):
            _synchronize(device)
            started = time.perf_counter()
            run()
            _synchronize(device)
            rates[name].append(moved / (time.perf_counter() - started) / GB)
    return {"mib": float(mib), **{name: max(values) for name, values in rates.items()}}


def decode_cost(times: ForwardTimes, model: PreTrainedModel, limit_gb_s: float) -> dict[str, Any]:
    """Bytes the decode steps in `times` read per decoded token, their GB/s and its fraction of `limit_gb_s`."""
    read = times.decode_steps * weight_bytes(model) + times.cached_positions * kv_bytes_per_position(model)
    rate = read / times.decode_s / GB if times.decode_s else float("nan")
    return {
        "decode_steps": times.decode_steps,
        "decoded_tokens": times.decoded_rows,
        "bytes_per_token": read / times.decoded_rows if times.decoded_rows else float("nan"),
        "decode_gb_s": rate,
        "of_bandwidth": rate / limit_gb_s,
    }


def start_record(args: argparse.Namespace) -> dict[str, Any]:
    """Sets the torch threads; the run's record so far: the machine, the arguments and the model."""
    torch.set_num_threads(args.threads)
    return {"machine": machine(), "args": vars(args), "model": args.model or "the tiny model"}


def batch_title(heading: str, args: argparse.Namespace, record: dict[str, Any], detail: str) -> str:
    """`heading` of the model, the batch, the schema tokens, `detail` and the threads, for the first table."""
    return (
        f"{heading} of {record['model']}: {args.prompts} prompts x {args.group} samples x <= {args.new_tokens} new "
        f"tokens, schema tokens {record['schema_tokens'] or 'as bundled'}, {detail}, {args.threads} thread(s)"
    )


def finish(
    name: str,
    title: str,
    record: dict[str, Any],
    spans: dict[str, list[ForwardTimes]],
    model: PreTrainedModel,
) -> None:
    """Prints the record's rows under `title` and, per name in `spans` (its spans together), the decode cost
    (`decode_cost`), then appends the record with both (and the load now) to the results file `name`."""
    bandwidth = record["bandwidth"]
    record["cost_rows"] = [
        {"name": span, **decode_cost(combined(times), model, bandwidth["sum_gb_s"])}
        for span, times in spans.items()
    ]
    print_table(title, record["rows"])
    print_table(
        f"decode steps: {weight_bytes(model)} weight bytes a step, {kv_bytes_per_position(model)} KV bytes a "
        f"cached position; memory bandwidth {bandwidth['sum_gb_s']:.2f} GB/s summing (the limit), "
        f"{bandwidth['copy_gb_s']:.2f} GB/s copying",
        record["cost_rows"],
    )
    record["load_after"] = machine()["load_average"]
    print(f"\nwritten to {write_results(name, record, toy=record['args']['toy'])}")

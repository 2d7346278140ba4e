"""Whether a model reads tool names from the tool list: the call turns of one `thinkact eval` result, per domain.

For each domain of a split: the call turns, how many have exactly the reference's tool names, how many name
only tools of the conversation's own list, and the names most often written instead of the right ones. A model
that recalls the training domains' names instead of reading the list writes names that are not in it. A
measurement, not a test.

    .venv/bin/python benchmarks/call_names.py RESULTS.json [--split test_ood] [--data FILE] [--top 5]

With `--toy` and no results, it reads the shipped pretrained base's results on a few generated turns.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from workspace import parse_toy_args, toy_directory, toy_results

from thinkact.data.conversations import read_conversations
from thinkact.parse import parse_action


def domain_rows(results: dict[str, Any], split: str, data: Path) -> dict[str, dict[str, Any]]:
    offered = {c.id: {tool["function"]["name"] for tool in c.tools} for c in read_conversations(data)}
    rows: dict[str, dict[str, Any]] = {}
    for turn in results["splits"][split]["turns"]:
        if "exact_call" not in turn["metrics"]:
            continue
        listed = offered.get(turn["conversation_id"], set())
        expected = sorted(call["function"]["name"] for call in turn["reference"]["tool_calls"])
        written = sorted(call.name for call in parse_action(turn["completion"]).tool_calls)
        row = rows.setdefault(
            turn["domain"],
            {"calls": 0, "right": 0, "in_list": 0, "exact": 0, "instead": collections.Counter()},
        )
        row["calls"] += 1
        row["exact"] += turn["metrics"]["exact_call"] == 1.0
        row["right"] += written == expected
        row["in_list"] += bool(written) and all(name in listed for name in written)
        if written != expected:
            row["instead"].update(name for name in written if name not in expected)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="a `thinkact eval` results file")
    parser.add_argument("--split", default="test_ood")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--data", help="the split's data file (default: the path the results record)")
    args = parse_toy_args(parser, {})
    if args.toy and not args.results:
        args.results = toy_results(toy_directory(), "base")
    if not args.results:
        parser.error("give a results file (`thinkact eval --out FILE`)")
    results = json.loads(Path(args.results).read_text(encoding="utf-8"))
    data = Path(args.data or results["data"][args.split]["path"])
    print(
        f"{'domain':10s} {'calls':>5s} {'exact':>5s} {'names right':>11s} {'from the list':>13s}  written instead"
    )
    for domain, row in sorted(domain_rows(results, args.split, data).items()):
        instead = ", ".join(f"{name} {count}" for name, count in row["instead"].most_common(args.top))
        print(
            f"{domain:10s} {row['calls']:5d} {row['exact']:5d} {row['right']:11d} {row['in_list']:13d}  {instead}"
        )


if __name__ == "__main__":
    main()

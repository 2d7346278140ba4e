"""Where thinking costs calls: two `thinkact eval` results of the same turns, without and with thinking.

Counts the call turns that are exact in WITHOUT and not in WITH (and the other way), and, in the calls WITH got
wrong, how many of the wrong argument values and tool names were written in its thinking first: a call that
follows wrong thinking. Prints a few of those turns side by side. A measurement, not a test.

    .venv/bin/python benchmarks/think_follow.py WITHOUT.json WITH.json [--split test_id] [--show 6]

With `--toy` and no results, WITHOUT is the reference actions' (`thinkact eval --oracle`: every call exact) and
WITH the shipped pretrained base's, on a few generated turns.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workspace import parse_toy_args, toy_directory, toy_results

from thinkact.parse import parse_action
from thinkact.rewards.components import values_equal


def turns(path: str, split: str) -> dict[str, dict[str, Any]]:
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    return {turn["id"]: turn for turn in results["splits"][split]["turns"]}


def wrong_parts(completion: str, reference: dict[str, Any]) -> tuple[str, list[str]]:
    """The thinking of a completion and the names and values of its calls that differ from the reference."""
    action = parse_action(completion)
    expected = {
        call["function"]["name"]: call["function"].get("arguments") or {}
        for call in reference.get("tool_calls") or []
    }
    wrong = []
    for call in action.tool_calls:
        if call.name not in expected:
            wrong.append(call.name)
            continue
        for key, value in call.arguments.items():
            if key not in expected[call.name] or not values_equal(value, expected[call.name][key]):
                wrong.append(str(value))
    return action.think or "", wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("without", nargs="?", help="results without thinking (`thinkact eval --out FILE`)")
    parser.add_argument("with_thinking", nargs="?", metavar="with", help="results with thinking")
    parser.add_argument("--split", default="test_id")
    parser.add_argument("--show", type=int, default=6)
    args = parse_toy_args(parser, {})
    if args.toy and not args.without:
        root = toy_directory()
        args.without = toy_results(root, "oracle", oracle=True)
        args.with_thinking = toy_results(root, "base")
    if not args.with_thinking:
        parser.error("give two results files: WITHOUT thinking and WITH it")
    plain, thought = turns(args.without, args.split), turns(args.with_thinking, args.split)
    calls = [key for key, turn in plain.items() if "exact_call" in turn["metrics"] and key in thought]
    lost = [
        k
        for k in calls
        if plain[k]["metrics"]["exact_call"] == 1 and thought[k]["metrics"]["exact_call"] == 0
    ]
    gained = [
        k
        for k in calls
        if plain[k]["metrics"]["exact_call"] == 0 and thought[k]["metrics"]["exact_call"] == 1
    ]
    wrong = echoed = 0
    for key in lost:
        think, parts = wrong_parts(thought[key]["completion"], thought[key]["reference"])
        wrong += len(parts)
        echoed += sum(part.lower() in think.lower() for part in parts)
    print(
        f"{args.split}: {len(calls)} call turns; exact only without thinking {len(lost)}, only with {len(gained)}"
    )
    print(
        f"in the {len(lost)} calls lost: {wrong} wrong values or names, {echoed} written in the thinking first"
    )
    for key in lost[: args.show]:
        print(f"\n{key}\n  without: {plain[key]['completion'][:200]!r}")
        print(f"  with:    {thought[key]['completion'][:300]!r}")


if __name__ == "__main__":
    main()

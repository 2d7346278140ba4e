"""Where exact calls are lost: the call turns of `thinkact eval` results, split by what a right call needs.

For each model and split, every call turn falls in one group: the domains `--held-out` names (a domain the model
never trained on), turns whose reference passes a `date` (the request says "tomorrow" or "on Friday" and the call
needs the calendar date, worked out from the system prompt's "Today is ..."), and the rest. Per group: exact
calls, and where the others went (no call, a wrong tool name, the right name with a wrong value). Then, over the
turns whose tool name is right, how often each kind of value is right: dates, other strings, numbers. For a
thinking model, the date turns are checked once more: does the think block copy today's date, does it reach the
reference date, and does the call copy a date the think block wrote. A measurement, not a test.

    .venv/bin/python benchmarks/call_errors.py RUN/eval/sft-nothink.json RUN/eval/grpo.json [--held-out contacts]

With `--toy` and no results, it reads the shipped pretrained base's results on a few generated turns.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path
from typing import Any

from workspace import parse_toy_args, toy_directory, toy_results

from thinkact.data.conversations import read_conversations
from thinkact.parse import parse_action

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def turn_rows(results: dict[str, Any], split: str, held_out: set[str]) -> dict[str, collections.Counter[str]]:
    """Counters per group (held-out, date, other) and per value kind, over one split's call turns."""
    systems = {
        c.id: next((m.get("content") or "" for m in c.messages if m["role"] == "system"), "")
        for c in read_conversations(results["data"][split]["path"])
    }
    rows: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for turn in results["splits"][split]["turns"]:
        if "exact_call" not in turn["metrics"]:
            continue
        expected = [call["function"] for call in turn["reference"]["tool_calls"]]
        action = parse_action(turn["completion"])
        first = expected[0]["arguments"]
        group = "held-out" if turn["domain"] in held_out else ("date" if "date" in first else "other")
        row = rows[group]
        row["calls"] += 1
        if turn["metrics"]["exact_call"] == 1.0:
            row["exact"] += 1
        elif not action.tool_calls:
            row["no call"] += 1
        elif turn["metrics"]["tool_name"] != 1.0:  # the eval's own check: the multiset of names
            row["wrong name"] += 1
        else:
            row["wrong value"] += 1
        written = {c.name: c.arguments for c in action.tool_calls}
        for call in expected:
            if call["name"] not in written:
                continue
            for key, value in call["arguments"].items():
                kind = "date" if key == "date" else ("string" if isinstance(value, str) else "number")
                rows["values"][kind] += 1
                rows["values"][f"{kind} right"] += written[call["name"]].get(key) == value
        if "date" in first and action.think:
            today = DATE.search(systems.get(turn["conversation_id"], ""))
            dates = DATE.findall(action.think)
            thinking = rows["thinking about dates"]
            thinking["turns"] += 1
            thinking["today copied"] += today is not None and today.group(0) in dates
            thinking["reference date reached"] += first["date"] in dates
            call_date = written.get(expected[0]["name"], {}).get("date")
            thinking["call copies a date it thought"] += call_date in dates
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", help="`thinkact eval` results files")
    parser.add_argument("--held-out", default="contacts", help="comma-separated domains no training saw")
    args = parse_toy_args(parser, {})
    if args.toy and not args.results:
        args.results = [toy_results(toy_directory(), "base")]
    if not args.results:
        parser.error("give at least one results file (`thinkact eval --out FILE`)")
    held_out = set(filter(None, args.held_out.split(",")))
    for path in args.results:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
        for split in results["splits"]:
            rows = turn_rows(results, split, held_out)
            print(f"{results['model']} {split}")
            for group in ("held-out", "date", "other"):
                row = rows.get(group)
                if row:
                    lost = ", ".join(f"{k} {row[k]}" for k in ("no call", "wrong name", "wrong value"))
                    print(f"  {group:9s} exact {row['exact']:3d} of {row['calls']:3d}; lost: {lost}")
            values = rows["values"]
            print(
                "  values right where the name is: "
                + ", ".join(
                    f"{kind} {values[kind + ' right']}/{values[kind]}"
                    for kind in ("date", "string", "number")
                )
            )
            if "thinking about dates" in rows:
                thinking = rows["thinking about dates"]
                print(
                    f"  date turns thought about: {thinking['turns']}; "
                    + ", ".join(f"{k} {thinking[k]}" for k in thinking if k != "turns")
                )


if __name__ == "__main__":
    main()

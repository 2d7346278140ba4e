"""The four splits and the files: which domains, phrasings and entities each split draws from.

- `train`: the training domains, seen phrasings, seen entities.
- `valid`: drawn as `test_id` is, other conversations: what a training run watches (`grpo.eval_data`) and may
  choose by, so that the test splits are scored once, at the end.
- `test_id`: the same domains and phrasings, entities never used in train (in-distribution).
- `test_ood`: half the conversations in the held-out domain(s), whose tools never occur in train; the other half
  in the training domains with held-out phrasings (and unseen entities): generalisation under distribution shift.

Conversation `index` of a split takes its domain round-robin and its own RNG from (seed, split, index), so a
seed gives byte-identical files. Left out: the scenarios themselves (one module per domain).
"""

from __future__ import annotations

from pathlib import Path

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.scenarios import banking, calendar, contacts, shopping, travel, units, weather
from thinkact.bench.synthetic.scenarios.common import Scenario
from thinkact.data.conversations import Conversation, write_conversations
from thinkact.errors import UserError

SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "weather": weather.SCENARIOS,
    "calendar": calendar.SCENARIOS,
    "banking": banking.SCENARIOS,
    "shopping": shopping.SCENARIOS,
    "travel": travel.SCENARIOS,
    "units": units.SCENARIOS,
    "contacts": contacts.SCENARIOS,
}
HELD_OUT_DOMAINS: tuple[str, ...] = ("contacts",)
TRAIN_DOMAINS: tuple[str, ...] = tuple(name for name in SCENARIOS if name not in HELD_OUT_DOMAINS)
SPLITS = ("train", "valid", "test_id", "test_ood")
DEFAULT_SIZES = {"train": 2000, "valid": 100, "test_id": 300, "test_ood": 300}


def generate_conversation(split: str, index: int, seed: int) -> Conversation:
    """Conversation `index` of `split` for `seed`."""
    held_out_turn = split == "test_ood" and index % 2 == 0 and bool(HELD_OUT_DOMAINS)
    domains = HELD_OUT_DOMAINS if held_out_turn else TRAIN_DOMAINS
    domain = domains[(index // 2 if split == "test_ood" else index) % len(domains)]
    ctx = Context.create(
        seed,
        split,
        index,
        held_out_phrasing=split == "test_ood" and not held_out_turn,
        unseen_entities=split != "train",
    )
    scenarios = SCENARIOS[domain]
    (scenario,) = ctx.rng.choices(scenarios, weights=[s.weight for s in scenarios])
    dialogue = scenario.build(ctx)
    return dialogue.finish(f"{split}-{index:05d}-{domain}", scenario.name)


def generate_split(split: str, n: int, seed: int = 0) -> list[Conversation]:
    """`n` conversations of `split` ("train", "valid", "test_id" or "test_ood")."""
    if split not in SPLITS:
        raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    if n < 0:
        raise UserError(f"{split}: the number of conversations must be 0 or more, not {n}")
    return [generate_conversation(split, index, seed) for index in range(n)]


def generate_benchmark(
    out_dir: Path,
    seed: int = 0,
    train: int = DEFAULT_SIZES["train"],
    test_id: int = DEFAULT_SIZES["test_id"],
    test_ood: int = DEFAULT_SIZES["test_ood"],
    valid: int = DEFAULT_SIZES["valid"],
) -> dict[str, Path]:
    """Write `train.jsonl`, `valid.jsonl`, `test_id.jsonl` and `test_ood.jsonl` under `out_dir`; their paths by
    split."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: exists and is not a directory; give a directory path")
    paths = {}
    for split, n in (("train", train), ("valid", valid), ("test_id", test_id), ("test_ood", test_ood)):
        path = out_dir / f"{split}.jsonl"
        write_conversations(path, generate_split(split, n, seed))
        paths[split] = path
    return paths

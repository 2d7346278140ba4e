"""How many CPU threads torch uses: a config field (`threads`), by default one per core this process may run on.

`os.sched_getaffinity` counts the cores the process is allowed on (a container's or `taskset`'s limit), where
`os.cpu_count` counts the machine's. On a machine shared with other busy processes, fewer threads than cores are
faster: OpenMP threads wait on each other when one of them is descheduled (measured in `docs/benchmarks.md`), so set
`threads: 1` there. `OMP_NUM_THREADS`, when set, is the default in place of the core count. Left out: inter-op
threads (torch's default) and GPU work, which this does not touch.
"""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    """Cores this process may run on (at least 1)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # platforms without affinity (macOS)
        return os.cpu_count() or 1


def apply_threads(threads: int) -> int:
    """Set torch's thread count to `threads` (0: `OMP_NUM_THREADS` when set, else `available_cores()`); returns
    the count set."""
    count = threads if threads > 0 else _from_environment() or available_cores()
    torch.set_num_threads(count)
    return count


def _from_environment() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0

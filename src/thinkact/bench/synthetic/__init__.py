"""The bundled benchmark: seeded synthetic tool-use conversations over simulated domains, in three splits."""

from thinkact.bench.synthetic.splits import (
    DEFAULT_SIZES,
    HELD_OUT_DOMAINS,
    SPLITS,
    generate_benchmark,
    generate_split,
)

__all__ = ["DEFAULT_SIZES", "HELD_OUT_DOMAINS", "SPLITS", "generate_benchmark", "generate_split"]

"""Benchmarks: the bundled synthetic benchmark (`bench.synthetic`) and adapters for public suites."""

from thinkact.bench.synthetic import generate_benchmark, generate_split

__all__ = ["generate_benchmark", "generate_split"]

"""Evaluation: per-turn metrics (`metrics.py`) and the runner (`runner.py`)."""

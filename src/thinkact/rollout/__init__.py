"""Rollouts: batched generation from chat prompts (`generation.py`) and their scored records (`records.py`)."""

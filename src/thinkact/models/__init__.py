"""Policies: the tiny local model (`tiny.py`) and loading any HF causal LM with its chat template (`load.py`)."""

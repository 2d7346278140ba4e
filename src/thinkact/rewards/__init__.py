"""Rewards: one pure function per component (`components.py`) and their weighted combination (`combine.py`)."""

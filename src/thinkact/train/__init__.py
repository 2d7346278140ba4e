"""Training: SFT on TRL (`sft.py`), the GRPO engine (`grpo.py`) and its pure loss functions (`losses.py`)."""

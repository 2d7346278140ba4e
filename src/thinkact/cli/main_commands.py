"""Top-level commands: init-model, sft, grpo, eval, demo."""

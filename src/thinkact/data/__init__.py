"""Conversations in the chat format, their validation, and their split into per-turn examples."""

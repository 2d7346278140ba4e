"""Scenarios: one module per domain, each a list of small functions that write one conversation."""

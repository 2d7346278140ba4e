"""`thinkact bfcl score` and `thinkact bfcl eval`."""

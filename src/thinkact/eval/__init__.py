"""Evaluation, in pipeline order: per-turn metrics (`metrics.py`) with bootstrap intervals (`bootstrap.py`), the
episode view with tools executed (`episodes.py`), breakdowns and the thinking analysis (`breakdown.py`,
`thinking.py`), the runner and its results document (`runner.py`), comparison of several models (`compare.py`),
its tables (`tables.py`) and the HTML report (`report/`). See docs/evaluation.md."""

"""The Berkeley Function Calling Leaderboard (BFCL): its AST checker, scoring of results files, and evaluation.

`checker` decides validity the way BFCL's AST checker does; `data` reads BFCL's data folder; `score` turns a
results file into verdicts and accuracy per category; `evaluate` generates the results with a model first.
The rules and how they were cross-checked against `bfcl-eval` are in docs/bfcl.md.
"""

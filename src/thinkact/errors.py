"""The error a user can fix: bad input files, configs, flags and paths.

`UserError` carries a message that names the file, line or field and what to do. The CLI prints it and exits
with status 2; every other exception is a bug in thinkact and keeps its traceback (DESIGN.md, decision 6).
"""


class UserError(Exception):
    """Bad input from the user: a message naming the place (file, line, field) and the fix."""


class RunInterrupted(UserError):
    """A run stopped by Ctrl-C after saving a checkpoint; the message says how to continue it.

    Defined here, not beside the checkpoints, so the command line can catch it without importing torch.
    """

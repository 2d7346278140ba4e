"""The error a user can fix: bad input files, configs, flags and paths.

`UserError` carries a message that names the file, line or field and what to do. The CLI prints it and exits
with status 2; every other exception is a bug in thinkact and keeps its traceback (DESIGN.md, decision 6).
"""

from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: a message naming the place (file, line, field) and the fix."""


class RunInterrupted(UserError):
    """A run stopped by Ctrl-C after saving a checkpoint; the message says how to continue it.

    Defined here, not beside the checkpoints, so the command line can catch it without importing torch.
    """


def check_choice(field: str, value: object, choices: Iterable[str]) -> None:
    """A UserError naming the config `field` unless `value` is one of `choices`.

    >>> check_choice("grpo.loss", "dapo", ["grpo", "dapo"])
    >>> check_choice("grpo.loss", "ppo", ["grpo", "dapo"])
    Traceback (most recent call last):
    ...
    thinkact.errors.UserError: grpo.loss: 'ppo'; choose one of grpo, dapo
    """
    allowed = list(choices)
    if value not in allowed:
        raise UserError(f"{field}: {value!r}; choose one of {', '.join(allowed)}")

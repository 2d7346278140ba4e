"""Files a user keeps: written atomically, and never written over by surprise.

`atomic_write(path)` yields a handle on a temporary file beside `path`; on success the file is flushed, fsynced
and renamed over `path` (and the directory fsynced), so a reader or a crash sees the old file or the new one,
never half of one. An exception inside the block removes the temporary file and leaves `path` as it was.
`install_dir(staging, path)` does the same for a directory written in full beside `path` (a final model): on Linux
an existing `path` is swapped for it in one step, so `path` is never missing.

`check_output_file` and `check_output_dir` run before a command does any work: an `--out` of the wrong kind (a
directory where a file is wanted, or the reverse) and an existing output are refused with a `UserError` that
names the way on (`--resume` where the command resumes, `--overwrite` to replace it). `replace_dir` empties a
directory the user agreed to replace; `atomic_dir(path)` checks an output directory, yields a temporary one beside
it and installs it with `install_dir` once the block has written everything. Left out: locking against two
commands writing the same output at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from thinkact.errors import UserError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[str]]:
    """A text handle whose contents replace `path` only once the block finishes without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        with os.fdopen(descriptor, mode, encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically (see `atomic_write`)."""
    with atomic_write(path) as handle:
        handle.write(text)


def fsync_dir(directory: str | Path) -> None:
    """Make a rename or a new entry in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def fsync_tree(directory: str | Path) -> None:
    """fsync every file under `directory`, then each directory, deepest first."""
    root = Path(directory)
    for file in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        elif file.is_dir():
            fsync_dir(file)
    fsync_dir(root)


def install_dir(staging: str | Path, path: str | Path) -> None:
    """Move the complete directory `staging` to `path`, replacing an existing `path` in one step.

    On Linux one `renameat2(RENAME_EXCHANGE)` swaps the two, so a reader or a crash sees the old directory or the
    new one, never neither; the old one is removed after. Where the system or file system cannot swap, the old
    directory is moved aside first, and a crash between the two renames leaves it as `.NAME.old` beside `path`.
    """
    staging, path = Path(staging), Path(path)
    if path.is_dir() and _exchange(staging, path):
        shutil.rmtree(staging)  # it holds the old directory now
    else:
        aside = path.with_name(f".{path.name}.old")
        shutil.rmtree(aside, ignore_errors=True)
        if path.exists():
            os.replace(path, aside)
        os.replace(staging, path)
        shutil.rmtree(aside, ignore_errors=True)
    fsync_dir(path.parent)


_AT_FDCWD = -100  # paths relative to the working directory (linux/fcntl.h)
_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically; False where the system or the file system has no such rename."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        rename = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except AttributeError:
        return False
    rename.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if rename(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def check_output_file(path: str | Path, *, overwrite: bool, option: str = "--out") -> Path:
    """Refuse an output file that is a directory, or that exists without `--overwrite`."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path}: is a directory; give a file path (e.g. {path / 'results.json'})")
    if path.parent.exists() and not path.parent.is_dir():
        raise UserError(f"{option} {path}: {path.parent} is a file, not a directory")
    if path.exists() and not overwrite:
        raise UserError(f"{option} {path}: exists; pass --overwrite to replace it, or choose another path")
    return path


def check_output_dir(
    path: str | Path, *, overwrite: bool, resume: bool | None = None, option: str = "--out"
) -> Path:
    """Refuse an output directory that is a file, or that holds files, unless resuming or overwriting.

    `resume` is None for commands that cannot resume; the message then offers only `--overwrite`.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file; give a directory path")
    if resume and overwrite:
        raise UserError(f"{option} {path}: give --resume or --overwrite, not both")
    if path.is_dir() and any(path.iterdir()) and not overwrite and not resume:
        ways = "pass --resume to continue it, --overwrite" if resume is not None else "pass --overwrite"
        raise UserError(f"{option} {path}: already holds files; {ways} to replace it, or choose another path")
    return path


def replace_dir(path: str | Path) -> None:
    """Remove a directory the user asked to replace (`--overwrite`), so no file of the old run remains."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = False, option: str = "--out") -> Iterator[Path]:
    """A temporary directory beside `path`, put in its place (`install_dir`) once the block finishes without an
    exception; an exception removes it and leaves `path` as it was.

    The output is checked first (`check_output_dir`): an existing `path` that holds files needs `overwrite`.
    """
    path = Path(path)
    check_output_dir(path, overwrite=overwrite, option=option)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; give it a normal directory's mode
        yield staging
        fsync_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    install_dir(staging, path)

"""Exclusive access to an output folder, and a commit step that signals cannot split.

Two runs writing the same folder at once take turns: each holds an exclusive
lock on the folder while it writes its staging copy and moves the files into
place. The moves run with SIGINT and SIGTERM deferred, so Ctrl-C cannot leave
half of one run's files beside half of another's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from geo.errors import OutputError

LOCK_TIMEOUT = 600.0
"""Seconds a run waits for another run writing the same folder before giving up."""
STAGING_PREFIX = ".geo-run-"
"""Name prefix of the staging folders written inside the output folder."""
_POLL = 0.05


@contextlib.contextmanager
def output_lock(folder: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the ``with`` block.

    On POSIX the folder itself is locked with ``flock`` (no file is added to
    it); elsewhere a lock file beside the folder is used.

    Raises
    ------
    OutputError
        If another process holds the lock for longer than ``timeout`` seconds.
    """
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        with _lock_file(folder.parent / f".{folder.name}.geo-lock", timeout, folder):
            yield
        return
    import fcntl

    handle = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _busy(folder, timeout) from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


@contextlib.contextmanager
def _lock_file(path: Path, timeout: float, folder: Path) -> Iterator[None]:  # pragma: no cover
    deadline = time.monotonic() + timeout
    while True:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise _busy(folder, timeout) from None
            time.sleep(_POLL)
    try:
        yield
    finally:
        os.close(handle)
        path.unlink(missing_ok=True)


def _busy(folder: Path, timeout: float) -> OutputError:
    return OutputError(
        f"--out {folder}: another geo run has been writing this folder for over "
        f"{timeout:.0f} s; wait for it to finish, or choose another --out"
    )


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Defer SIGINT and SIGTERM until the block ends (POSIX); a no-op elsewhere."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove_stale_staging(folder: Path) -> None:
    """Remove staging folders left by runs that were killed (call while holding the lock)."""
    for path in folder.glob(f"{STAGING_PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)

"""Progress of a command's steps on standard error: a bar on a terminal, lines when verbose.

A command that has several steps (read, analyse, write each output, zip)
announces each with :meth:`Steps.step`. What the reader sees depends on the
verbosity:

- ``0`` (``--quiet``): nothing;
- ``1`` (default): on a terminal, one line redrawn at each step,
  ``[#######-------] 5/12 report.xlsx  3.1 s``, cleared at the end; nothing
  when standard error is not a terminal (logs and CI stay clean);
- ``2`` (``--verbose``): one line per finished step with its duration.

Standard output is left to the command's results (the verdict table), so
``geo run > verdicts.txt`` still shows the bar.

(Not to be confused with :mod:`geo.progress`, the roadmap progress of criteria.)
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["QUIET", "VERBOSE", "Steps", "configure_logging", "verbosity"]

QUIET = 0
"""Verbosity of ``--quiet``: no progress at all."""
VERBOSE = 2
"""Verbosity of ``--verbose``: one line per step, with its duration."""
_WIDTH = 24


def verbosity(*, quiet: bool = False, verbose: bool = False) -> int:
    """Return the verbosity of ``--quiet`` / ``--verbose`` flags (quiet wins)."""
    if quiet:
        return QUIET
    return VERBOSE if verbose else 1


def configure_logging(level: int) -> None:
    """Show geo's log messages for a verbosity: info with ``--verbose``, errors only when quiet.

    Warnings (e.g. ``report.pdf not written``) are shown by default.
    """
    logger = logging.getLogger("geo")
    if level >= VERBOSE:
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("geo: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    elif level == QUIET:
        logger.setLevel(logging.ERROR)
    else:
        logger.setLevel(logging.NOTSET)


class Steps:
    """Report the steps of a command on standard error.

    Parameters
    ----------
    total : int
        Number of steps announced (more may be announced: the total grows).
    verbosity : int, default 1
        0 quiet, 1 a bar on a terminal, 2 a line per step.
    stream : file, optional
        Where to write (default ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Steps(2, verbosity=2, stream=out) as steps:
    ...     steps.step("đọc dữ liệu / reading")
    ...     steps.step("map.html")
    >>> "[1/2] đọc dữ liệu / reading" in out.getvalue()
    True
    """

    def __init__(self, total: int, *, verbosity: int = 1, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.verbosity = verbosity
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.current: str | None = None
        self.started = time.perf_counter()
        self._step_started = self.started
        self._drawn = 0
        isatty = getattr(self.stream, "isatty", None)
        self._bar = verbosity == 1 and bool(isatty and isatty())

    def step(self, text: str) -> None:
        """Finish the current step (if any) and start the next one, named ``text``."""
        self._finish_current()
        self.current = text
        self._step_started = time.perf_counter()
        self.total = max(self.total, self.done + 1)
        if self._bar:
            self._draw()

    def outputs(self, name: str, done: int, total: int) -> None:
        """Announce an output file; the signature of ``geo.outputs.write_outputs(progress=)``."""
        del done, total
        self.step(name)

    def close(self) -> None:
        """Finish the last step and clear the bar."""
        self._finish_current()
        if self._bar and self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0
        if self.verbosity >= VERBOSE:
            elapsed = time.perf_counter() - self.started
            self._write(f"  {self.done} bước / steps, {elapsed:.1f} s\n")

    def __enter__(self) -> Steps:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        elif self._bar and self._drawn:  # leave the terminal clean for the error message
            self._write("\r" + " " * self._drawn + "\r")

    def _finish_current(self) -> None:
        if self.current is None:
            return
        self.done += 1
        if self.verbosity >= VERBOSE:
            seconds = time.perf_counter() - self._step_started
            self._write(f"  [{self.done}/{self.total}] {self.current}: {seconds:.2f} s\n")
        self.current = None

    def _draw(self) -> None:
        filled = round(_WIDTH * self.done / self.total)
        elapsed = time.perf_counter() - self.started
        line = (
            f"[{'#' * filled}{'-' * (_WIDTH - filled)}] {self.done + 1}/{self.total} "
            f"{self.current}  {elapsed:.1f} s"
        )
        padding = " " * max(self._drawn - len(line), 0)
        self._write("\r" + line + padding)
        self._drawn = len(line)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except UnicodeEncodeError:  # a console that cannot show Vietnamese
            self.stream.write(text.encode("ascii", "replace").decode("ascii"))
            self.stream.flush()

"""Run vectorised GEOS work on a few threads.

Shapely's vectorised functions release the GIL while GEOS works, so slices of
one array can be processed on threads at the same time. Only functions that
read plain (unprepared) geometries are run this way: GEOS builds a prepared
geometry's index lazily on first use, and two threads doing that at once on
the same prepared geometry can crash the process.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

THREADS = int(os.environ.get("GEO_THREADS", "0")) or min(2, os.cpu_count() or 1)
"""Threads used for GEOS work: two (the laptops this tool is written for have two cores), or
the ``GEO_THREADS`` environment variable; read at each call, so it can be changed at run time."""

MIN_PER_THREAD = 2_000
"""Below this many items per thread, the work runs on the calling thread."""

_LOCAL = threading.local()
"""``threads``: set on a thread whose work runs there alone (:func:`serial`)."""


def _threads(threads: int | None) -> int:
    """Return the threads to use: ``threads``, else 1 inside :func:`serial`, else THREADS."""
    if threads is not None:
        return threads
    return getattr(_LOCAL, "threads", None) or THREADS


@contextmanager
def serial() -> Iterator[None]:
    """Run this thread's :func:`map_slices` and :func:`map_items` on the thread itself.

    For work beside the main thread (the coverage checks while the parcels are
    split): the main thread spreads its own work on the cores already, and
    more threads only contend for them and for the GIL. At L, the coverage
    checks on their one thread took 0.4–0.5 s less from the run than on two.
    """
    saved = getattr(_LOCAL, "threads", None)
    _LOCAL.threads = 1
    try:
        yield
    finally:
        _LOCAL.threads = saved


def serially(function: Callable[P, R]) -> Callable[P, R]:
    """Return ``function`` run inside :func:`serial` (to submit to a background thread)."""

    @functools.wraps(function)
    def alone(*args: P.args, **kwargs: P.kwargs) -> R:
        with serial():
            return function(*args, **kwargs)

    return alone


def map_slices(
    function: Callable[..., np.ndarray],
    *arrays: np.ndarray,
    threads: int | None = None,
    cuts: np.ndarray | None = None,
) -> np.ndarray:
    """Apply a vectorised function to aligned arrays in slices on threads; concatenate.

    Parameters
    ----------
    function : callable
        Takes slices of ``arrays`` (same positions) and returns one array of
        that length, e.g. ``lambda a, b: shapely.area(shapely.intersection(a, b))``.
    *arrays : numpy.ndarray
        Aligned arrays.
    threads : int, optional
        Default :data:`THREADS` (1 inside :func:`serial`); 1 runs
        ``function(*arrays)`` on the calling thread.
    cuts : numpy.ndarray of int, optional
        Positions where a slice may start (sorted); slices are cut at the
        allowed positions nearest to equal shares (for example where a group
        of rows sharing a geometry begins, so no geometry is used by two
        threads). Default: anywhere.

    Returns
    -------
    numpy.ndarray
        ``function(*arrays)``, computed slice by slice.
    """
    size = len(arrays[0])
    threads = _threads(threads)
    if threads <= 1 or size < threads * MIN_PER_THREAD:
        return function(*arrays)
    bounds = np.linspace(0, size, threads + 1).round().astype(np.intp)
    if cuts is not None and len(cuts):
        allowed = np.asarray(cuts, dtype=np.intp)
        nearest = np.searchsorted(allowed, bounds[1:-1])
        bounds[1:-1] = allowed[np.minimum(nearest, len(allowed) - 1)]
        bounds = np.maximum.accumulate(np.minimum(bounds, size))
    slices = [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    if len(slices) <= 1:
        return function(*arrays)
    with ThreadPoolExecutor(len(slices)) as pool:
        parts = list(pool.map(lambda part: function(*(a[part] for a in arrays)), slices))
    return np.concatenate(parts)


def map_items(
    function: Callable[[T], R], items: Sequence[T], *, threads: int | None = None
) -> list[R]:
    """Apply ``function`` to each item on ``threads`` threads; results in the items' order.

    For tasks that spend their time in GEOS (a union, a difference) on
    geometries no other task uses prepared.
    """
    threads = _threads(threads)
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(function, items))

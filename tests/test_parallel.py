"""Slices of vectorised work on threads, and the threads that keep their work to themselves."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from geo import parallel


def _recorded(calls: list[tuple[str, int]]):
    def area(part: np.ndarray) -> np.ndarray:
        calls.append((threading.current_thread().name, len(part)))
        return shapely.area(part)

    return area


def test_map_slices_splits_the_work_and_serial_keeps_it_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(parallel, "THREADS", 2)
    boxes = shapely.box(0, 0, np.arange(1, 10_001), 1.0)
    expected = shapely.area(boxes)
    calls: list[tuple[str, int]] = []
    assert np.array_equal(parallel.map_slices(_recorded(calls), boxes), expected)
    assert sorted(size for _, size in calls) == [5_000, 5_000]
    assert all(name != threading.current_thread().name for name, _ in calls)
    calls.clear()
    with parallel.serial():
        assert np.array_equal(parallel.map_slices(_recorded(calls), boxes), expected)
        assert (
            parallel.map_items(lambda x: threading.current_thread().name, [1, 2, 3])
            == [threading.current_thread().name] * 3
        )
        # an explicit count still wins: a pool of its own
        here = threading.current_thread().name
        names = parallel.map_items(lambda x: threading.current_thread().name, [1, 2], threads=2)
        assert here not in names
    assert calls == [(threading.current_thread().name, 10_000)]
    calls.clear()
    parallel.map_slices(_recorded(calls), boxes)  # after it, two slices again
    assert len(calls) == 2


def test_serially_applies_to_the_thread_that_runs_the_function_only(monkeypatch):
    monkeypatch.setattr(parallel, "THREADS", 2)
    boxes = shapely.box(0, 0, np.arange(1, 10_001), 1.0)
    beside: list[tuple[str, int]] = []
    main: list[tuple[str, int]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="beside") as pool:
        done = pool.submit(parallel.serially(parallel.map_slices), _recorded(beside), boxes)
        parallel.map_slices(_recorded(main), boxes)  # meanwhile, here: two slices
        assert done.result().sum() == shapely.area(boxes).sum()
    assert [size for _, size in beside] == [10_000]
    assert beside[0][0].startswith("beside")
    assert sorted(size for _, size in main) == [5_000, 5_000]
    # the wrapper keeps the function's name, and nests: the outer serial() still holds
    assert parallel.serially(parallel.map_slices).__name__ == "map_slices"
    with parallel.serial():
        parallel.serially(len)([1])
        assert parallel._threads(None) == 1
    assert parallel._threads(None) == 2

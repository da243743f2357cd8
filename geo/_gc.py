"""Python's cycle collector, paused while a run makes and drops millions of objects.

Each shapely geometry made counts towards the collector's next pass, and every
pass walks the young objects again (the full passes, all of them): a from_wkb
of a million polygons takes 0.76 s collecting and 0.47 s paused, the read of
the benchmark's L (a million parcels) 2.3 s and 1.5-2.0 s, for no garbage:
geometries hold no references. :func:`geo.run` and :func:`geo.write_outputs`
pause it; cycles made meanwhile (pandas' caches) are collected once it is
resumed. The peak memory at L stays the same (1.76-1.80 GB both ways).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable :mod:`gc` inside the block, if it was enabled; re-enable it on leaving."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

"""Run the per-commune land-use pass on a dask.distributed cluster (``engine="dask"``).

The chunks of :mod:`geo.chunked` (one unit with its hamlets each) are put in
a space-filling order, the Hilbert distance of their centres
(:meth:`dask_geopandas.GeoSeries.hilbert_distance`), and cut into
*partitions* of neighbouring units: one dask task each. A task reads the
parcels of each of its units by window, validates and splits them and returns
the sums (:func:`geo.chunked.run_chunks`); neighbouring units share the
parcels along their common boundary, which the same worker then reads from
the same pages of the file. The sums travel back, and the units' land-use
pieces for the GeoPackage, written to disk here as each partition comes back
(:class:`geo.landuse_layer.PiecesSpill`).

Without a scheduler address, a :class:`distributed.LocalCluster` of
:data:`geo.engines.LOCAL_WORKERS` single-threaded worker processes is started
for the run and closed after it. With ``scheduler="tcp://HOST:8786"`` the run
uses that cluster: every worker must have this package installed (the same
version) and read the land-use file at the same path (a shared folder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

import geo
from geo.chunked import Chunk, ChunkResult, ChunkRunner, ResultSink, Task, run_chunks
from geo.engines import LOCAL_WORKERS, EngineError

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a scheduler given by address."""
TASKS_PER_THREAD = 4
"""Partitions per worker thread by default: small enough tasks to balance uneven communes."""


def dask_runner(
    scheduler: str | None = None,
    *,
    workers: int = LOCAL_WORKERS,
    partitions: int | None = None,
) -> ChunkRunner:
    """Return a chunk runner for :func:`geo.chunked.landuse_per_unit` that uses dask.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``); default: a local
        cluster of ``workers`` processes for the duration of the run.
    workers : int, default :data:`geo.engines.LOCAL_WORKERS`
        Worker processes of the local cluster (one thread each).
    partitions : int, optional
        Tasks to cut the units into (default :data:`TASKS_PER_THREAD` per
        worker thread, at most one per unit).

    Returns
    -------
    callable
        ``runner(task, chunks, sink) -> (results, partitions)``.
    """

    def runner(
        task: Task, chunks: list[Chunk], sink: ResultSink | None = None
    ) -> tuple[list[ChunkResult], int]:
        return run_dask(
            task, chunks, scheduler=scheduler, workers=workers, partitions=partitions, sink=sink
        )

    return runner


def spatial_partitions(chunks: list[Chunk], count: int) -> list[list[Chunk]]:
    """Group chunks into ``count`` partitions of neighbours, along a Hilbert curve.

    Parameters
    ----------
    chunks : list of Chunk
    count : int
        Partitions wanted (fewer if there are fewer chunks).

    Returns
    -------
    list of list of Chunk
        Each partition's chunks in Hilbert order; no partition is empty.
    """
    import dask_geopandas

    if not chunks:
        return []
    centres = shapely.points(np.array([c.centre for c in chunks], dtype="float64"))
    points = gpd.GeoSeries(centres)
    x0, y0, x1, y1 = points.total_bounds
    pad = max(x1 - x0, y1 - y0, 1.0) * 1e-6  # a single point still has a box
    distance = (
        dask_geopandas.from_geopandas(points, npartitions=1)
        .hilbert_distance(total_bounds=(x0 - pad, y0 - pad, x1 + pad, y1 + pad), level=16)
        .compute(scheduler="sync")
        .to_numpy()
    )
    order = np.argsort(distance, kind="stable")
    parts = np.array_split(order, max(1, min(count, len(chunks))))
    return [[chunks[int(i)] for i in part] for part in parts if len(part)]


def run_dask(
    task: Task,
    chunks: list[Chunk],
    *,
    scheduler: str | None = None,
    workers: int = LOCAL_WORKERS,
    partitions: int | None = None,
    sink: ResultSink | None = None,
) -> tuple[list[ChunkResult], int]:
    """Process the chunks on a dask cluster, one task per spatial partition.

    Parameters
    ----------
    task : geo.chunked.Task
    chunks : list of geo.chunked.Chunk
    scheduler, workers, partitions
        As for :func:`dask_runner`.
    sink : callable, optional
        Called with each result as its partition comes back (in the order
        they finish), so that the large parts need not wait for the others.

    Returns
    -------
    results : list of ChunkResult
    partitions : int
        The number of tasks.

    Raises
    ------
    EngineError
        If the scheduler cannot be reached, or a worker cannot import this
        package or read the land-use file.
    GeoInputError
        Raised by a task on bad parcels (the same error as a local run).
    """
    with _client(scheduler, workers) as client:
        _check_workers(client, task)
        threads = sum(client.nthreads().values()) or 1
        count = partitions or TASKS_PER_THREAD * threads
        parts = spatial_partitions(chunks, count)
        log.info(
            "dask: %d units in %d partitions on %d worker thread(s) at %s",
            len(chunks),
            len(parts),
            threads,
            client.scheduler.address if client.scheduler else "?",
        )
        [shared] = client.scatter([task], broadcast=True, hash=False)
        from distributed import as_completed

        futures = [client.submit(run_chunks, shared, part, pure=False) for part in parts]
        results = []
        for future in as_completed(futures, loop=client.loop):
            for result in future.result():
                if sink is not None:
                    sink(result)
                results.append(result)
            future.release()
    return results, len(parts)


@contextmanager
def _client(scheduler: str | None, workers: int) -> Iterator[Client]:
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise EngineError(
                f"scheduler: cannot reach {scheduler} ({' '.join(str(error).split())}); start "
                f"one (dask scheduler) and its workers (dask worker {scheduler}), or leave "
                "--scheduler out for a local cluster"
            ) from error
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


def _worker_check(path: str) -> dict[str, Any]:
    """Run on each worker: which geo it imports, and whether it sees the land-use file."""
    import geo as worker_geo

    return {"version": worker_geo.__version__, "file": Path(path).exists()}


def _check_workers(client: Client, task: Task) -> None:
    """Refuse workers without this package's version or without the land-use file."""
    try:
        answers = client.run(_worker_check, str(task.spec.path))
    except ImportError as error:
        raise EngineError(
            f"scheduler: a worker cannot import geo ({error}); install this package on every "
            "worker (pip install 'geo-ward-check[dask]')"
        ) from error
    if not answers:
        raise EngineError("scheduler: the cluster has no worker; start some (dask worker ADDRESS)")
    for worker, answer in sorted(answers.items()):
        if answer["version"] != geo.__version__:
            raise EngineError(
                f"scheduler: worker {worker} runs geo {answer['version']}, this run "
                f"{geo.__version__}; install the same version on every worker"
            )
        if not answer["file"]:
            raise EngineError(
                f"{task.spec.key}.path = {task.spec.path}: not found on worker {worker}; the "
                "workers read the parcels themselves: put the project on a folder every worker "
                "sees at the same path"
            )

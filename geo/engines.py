"""Engines: which library reads the layers, and where the land-use work runs.

``geo.run(project, engine=..., scheduler=..., parcels_in_memory=...)`` (and
``geo run --engine … --scheduler …``) picks one of :data:`ENGINES`:

``pyogrio`` (default)
    Every layer read whole by pyogrio (GeoPackages through GDAL's Arrow
    interface), processed in this process.
``fiona``
    The same, read by fiona: the same GDAL underneath, so the same layers,
    columns, geometries and findings; several times slower on large layers.
``dask``
    The land-use parcels, the heavy part, are read, validated and split one
    commune at a time on the workers of a dask.distributed cluster
    (:mod:`geo.distributed`): a :class:`distributed.LocalCluster` of
    :data:`LOCAL_WORKERS` processes by default, or the cluster whose scheduler
    is at ``scheduler`` (``tcp://HOST:8786``). Each task returns small sums;
    the rest of the analysis runs here, as with the other engines, and the
    results are the same.

Independently of the engine, a land-use layer holding more than
``parcels_in_memory`` parcels (:data:`PARCELS_IN_MEMORY` by default; 0 for
always) is read and processed one commune at a time in this process
(:mod:`geo.chunked`), so that memory is bounded by the largest commune
instead of the whole layer; the results are the same as reading it whole.
Any land-use format can be read so: GDAL layers through their spatial index,
GeoParquet by row group (its parcel count from the file's metadata).
With per-commune reads the run keeps no parcel table, and its map is still
the whole-layer run's: up to :data:`geo.chunked.MAP_PARCELS` parcels the
communes return their parcels for it; beyond, it shows the land use as each
hamlet's shares, as a whole-layer run's map does at that size. ``results.gpkg``'s
``landuse_by_hamlet`` is the same as a whole-layer run's, written from the
pieces each commune put on disk (:class:`geo.landuse_layer.PiecesSpill`).
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.errors import GeoInputError
from geo.project import Project
from geo.read import READ_ENGINES, layer_info

ENGINES = (*READ_ENGINES, "dask")
"""The engines ``geo.run`` accepts: ``pyogrio`` (default), ``fiona``, ``dask``."""
DEFAULT_ENGINE = "pyogrio"
PARCELS_IN_MEMORY = 2_000_000
"""Above this many land-use parcels, they are read one commune at a time.

A parcel costs about 1.5 kB in memory once read and validated (1.5 GB for the
1,000,000 parcels of benchmark scale L), so this keeps the whole-layer path
under about 3 GB; ``parcels_in_memory=0`` always reads per commune.
"""
LOCAL_WORKERS = 2
"""Worker processes of the local dask cluster started when no scheduler is given."""


class EngineError(GeoInputError, ValueError):
    """An engine or scheduler option is wrong, or the scheduler cannot be reached."""


@dataclass(frozen=True)
class Plan:
    """How a run reads and processes its layers.

    Attributes
    ----------
    engine : str
        One of :data:`ENGINES`.
    read_engine : str
        The library that reads whole layers here (``pyogrio`` for ``dask``).
    per_unit : bool
        Whether the land-use layer is read and processed one commune at a time.
    scheduler : str or None
        The dask scheduler's address (``dask`` only); None for a local cluster.
    reason : str
        Why the land use is read per commune (empty when it is not), for the log.
    """

    engine: str
    read_engine: str
    per_unit: bool
    scheduler: str | None = None
    reason: str = ""


def plan(
    project: Project,
    *,
    engine: str = DEFAULT_ENGINE,
    scheduler: str | None = None,
    parcels_in_memory: int | None = None,
) -> Plan:
    """Check the engine options of a run and decide how the land use is read.

    Parameters
    ----------
    project : Project
    engine : str, default "pyogrio"
        One of :data:`ENGINES`.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://HOST:8786``); ``dask`` only.
    parcels_in_memory : int, optional
        Read the land use per commune above this many parcels (default
        :data:`PARCELS_IN_MEMORY`; 0: always). Not used with ``dask``, which
        always works per commune.

    Returns
    -------
    Plan

    Raises
    ------
    EngineError
        If the engine is unknown, a scheduler is given without ``dask``,
        or ``parcels_in_memory`` is negative.
    LayerReadError
        If the land-use layer cannot be opened to count its parcels.
    """
    if engine not in ENGINES:
        raise EngineError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if scheduler is not None and engine != "dask":
        raise EngineError(f"scheduler: {scheduler!r} is only used with engine dask (--engine dask)")
    if scheduler is not None and "://" not in scheduler:
        raise EngineError(
            f"scheduler: {scheduler!r} is not a scheduler address; write tcp://HOST:8786"
        )
    if parcels_in_memory is not None and parcels_in_memory < 0:
        raise EngineError(f"parcels_in_memory: {parcels_in_memory} is negative")
    read_engine = DEFAULT_ENGINE if engine == "dask" else engine
    spec = project.layers.get("landuse")
    if spec is None:
        return Plan(engine, read_engine, per_unit=False, scheduler=scheduler)
    if engine == "dask":
        return Plan(engine, read_engine, True, scheduler, "engine dask")
    limit = PARCELS_IN_MEMORY if parcels_in_memory is None else parcels_in_memory
    try:
        count = int(layer_info(spec).get("features", -1) or -1)  # type: ignore[call-overload]
    except GeoInputError:  # reported by the read itself, in the layers' order
        count = -1
    if limit == 0 or count > limit:
        reason = (
            "parcels_in_memory=0"
            if limit == 0
            else f"{count:,} parcels, more than parcels_in_memory={limit:,}"
        )
        return Plan(engine, read_engine, True, None, reason)
    return Plan(engine, read_engine, per_unit=False)

"""Land use one commune at a time: memory bounded by the largest commune.

A province holds about a million land-use parcels, the country a hundred
times more: more than one machine's memory. Everything the analysis needs from
the parcels is a sum per zone, so the parcels need not be in memory together:

1. the communes (units) are cut into *chunks*, one unit with its hamlets, each
   with a *mask*: the outline of its zones, widened by a margin, in the
   land-use layer's own CRS;
2. each chunk reads the parcels meeting its mask (GDAL's spatial filter: the
   layer's spatial index, then an exact test), validates them as the whole layer would be
   (:func:`geo.validate.validate_layer`), splits them exactly against its own
   unit and hamlets (:func:`geo.indicators.split_polygons`), finds its unit's
   land not covered by parcels, places its hamlets' people on their residential
   parcels (:func:`geo.dasymetric.allocate_population`, keeping one point per
   residential piece), and returns these small tables, with its zones' parcel
   pieces for ``results.gpkg`` (put on disk here as each chunk comes back:
   :class:`geo.landuse_layer.PiecesSpill`) and a count and area per code of
   the parcels it owns (for the map);
3. the sums are put together here. Each zone belongs to one chunk, so a parcel
   crossing a unit boundary is read by both units' chunks but each of its
   pieces is counted once, in its own zone. What is said once per parcel (a
   repair, an unknown code) comes from the first chunk whose mask meets it
   (its *owner*); the parcels no chunk owns (outside every mask, or without
   geometry) are read by id at the end, in batches, for their findings.

Chunks run here, two at a time on threads (:func:`run_serial`), or on a dask cluster
(:func:`geo.distributed.run_dask`). Parcels are processed in the layer's order,
and split by the hamlets once, as a whole-layer run splits them, so each zone's
sums add the same numbers in the same order: the tables are identical
(``tests/test_engines.py``, ``tests/test_dask.py``; at M, ``criteria.csv``
byte for byte). Only a unit its hamlets do not tile exactly is split directly
within its chunk, as :func:`geo.pipeline.run` splits such a unit.
:func:`run_per_unit` is :func:`geo.pipeline.run` with this land-use pass.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo import coverage, dasymetric, indicators, parallel
from geo.engines import Plan
from geo.errors import GeoInputError
from geo.join import assign_hamlets, join_table
from geo.landuse_layer import LanduseSummary, PiecesSpill, pieces_layer, pieces_table
from geo.layer_writer import ArrowLayer
from geo.pipeline import (
    RunResult,
    _landuse_pieces,
    _unit_pieces,
    _with_area_checks,
    _with_indicators,
    _with_population,
    _with_residents_and_access,
    evaluate_criteria,
)
from geo.project import LayerSpec, Project
from geo.read import layer_bounds, layer_info, read_notes, read_table, read_window
from geo.read import read_layer as read_whole
from geo.resources import landuse_codes
from geo.validate import Finding, validate_layer, validate_layer_rows

log = logging.getLogger(__name__)

WINDOW_MARGIN_M = 50.0
"""Metres added around a chunk's zones (its mask) before its parcels are read.

Reprojection between the layer's CRS and the project's is the same in both
directions to well under a millimetre; the margin only makes sure no parcel
meeting a zone is outside the mask. Reading a few more parcels costs nothing
in the results: parts outside the chunk's zones have no area in them.
"""
REST_BATCH = 100_000
"""Parcels read at once in the last pass, over the parcels no chunk owns."""

MAP_PARCELS = 75_000
"""Up to this many parcels in the layer, the chunks return their parcels for the map.

Then the map draws or merges them as a whole-layer run's map does. Beyond it the map
can do neither (it draws at most :data:`geo.webmap.PARCEL_DETAIL_LIMIT` parcels and
merges at most :data:`geo.webmap.LANDUSE_VERTEX_LIMIT` vertices, four or more a
parcel) and shows each zone's shares, which the chunks' summaries give."""

_POSITION = re.compile(r"#(\d+)")
_FID_LABEL = "#<fid {}>"
_FID = re.compile(r"#<fid (-?\d+)>")
_CONVERTED = re.compile(r"(\d+) value\(s\) converted")


@dataclass(frozen=True)
class Task:
    """What every chunk needs to know: the layer, the project CRS and province.

    Attributes
    ----------
    spec : LayerSpec
        The land-use layer.
    crs : pyproj.CRS
        The project CRS.
    province : str or None
        As for :func:`geo.validate.validate_layer`.
    engine : str
        ``pyogrio`` or ``fiona``.
    keep_parcels : bool
        Return the owned parcels (code, geometry) for the map (:data:`MAP_PARCELS`).
    """

    spec: LayerSpec
    crs: CRS
    province: str | None
    engine: str
    keep_parcels: bool = False


@dataclass(frozen=True)
class Chunk:
    """One unit with its hamlets.

    Attributes
    ----------
    index : int
        Its place in the chunk order: a parcel is owned by the first chunk whose mask meets it.
    units : geopandas.GeoDataFrame
        ``id``, ``name`` and geometry; indexed by position among all units.
    hamlets : geopandas.GeoDataFrame or None
        ``id``, ``name``, ``population`` and geometry; indexed by position
        among all hamlets (None without a hamlet layer).
    mask : shapely.Geometry or None
        The zones' outline widened by :data:`WINDOW_MARGIN_M`, in the layer's
        CRS (:func:`with_masks`): the parcels meeting it are read.
    earlier : tuple of shapely.Geometry
        The masks of the chunks before this one that may meet this one's: the
        parcels meeting one of them are owned by an earlier chunk (None: all are).
    """

    index: int
    units: gpd.GeoDataFrame
    hamlets: gpd.GeoDataFrame | None
    mask: shapely.Geometry | None = None
    earlier: tuple[shapely.Geometry | None, ...] = ()

    @property
    def centre(self) -> tuple[float, float]:
        """The centre of the chunk's zones' bounding box, in the project CRS."""
        x0, y0, x1, y1 = _zone_bounds(self)
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass
class ChunkResult:
    """What one chunk returns: sums and findings, small whatever the parcels.

    Attributes
    ----------
    index : int
        The chunk's index.
    parcels : int
        Parcels read (those meeting the mask).
    claimed : numpy.ndarray of int64
        Feature ids of the parcels this chunk owns.
    unit_sums, hamlet_sums : pandas.DataFrame
        Land-use km² by zone position (rows) and code (columns).
    uncovered : geopandas.GeoDataFrame
        :func:`geo.coverage.landuse_uncovered` of the chunk's unit.
    residents : pandas.DataFrame or None
        ``Allocation.hamlets`` by hamlet position.
    pieces : geopandas.GeoDataFrame or None
        ``Allocation.pieces`` with a point inside each piece for geometry (what
        :func:`geo.access.piece_distances` measures from), ``hamlet`` (position)
        and ``parcel`` (feature id).
    resident_findings : list of (int, Finding)
        By hamlet position.
    parcel_findings : list of (int, Finding)
        Validation findings of owned parcels, by feature id; their ``feature``
        reads ``#<fid N>`` until :func:`merge` numbers it as the whole layer would.
    notes : list of Finding
        Validation findings about the layer as a whole (reading notes, text encodings).
    unknown : pandas.DataFrame
        ``fid``, ``code``, ``km2`` of the owned parcels whose code is not in the table.
    peak_rss_mb : float
        The largest resident memory of the process that ran the chunk, so far.
    worker : str
        ``host:pid`` of that process.
    seconds : float
    landuse_layer : (ArrowLayer, set of int) or None
        The chunk's pieces of ``results.gpkg``'s ``landuse_by_hamlet`` layer
        (:func:`geo.landuse_layer.pieces_table`: its zones' pieces of every
        parcel read, ``parcel`` holding feature ids); None once spilled to
        disk by :func:`landuse_per_unit`.
    summary : LanduseSummary
        Count and area per code of the parcels this chunk owns, for the map.
    parcels_kept : geopandas.GeoDataFrame or None
        With ``Task.keep_parcels``: the owned parcels, validated (``fid``,
        ``code``, geometry), for the map.
    """

    index: int
    parcels: int
    claimed: np.ndarray
    unit_sums: pd.DataFrame
    hamlet_sums: pd.DataFrame
    uncovered: gpd.GeoDataFrame
    residents: pd.DataFrame | None
    pieces: gpd.GeoDataFrame | None
    resident_findings: list[tuple[int, Finding]]
    parcel_findings: list[tuple[int, Finding]]
    notes: list[Finding]
    unknown: pd.DataFrame
    peak_rss_mb: float
    worker: str
    seconds: float
    landuse_layer: tuple[ArrowLayer, set[int]] | None = None
    summary: LanduseSummary = field(default_factory=LanduseSummary)
    parcels_kept: gpd.GeoDataFrame | None = None


@dataclass
class Stats:
    """How a per-commune land-use pass went (logged at INFO, ``extra={"stats": …}``).

    Attributes
    ----------
    engine : str
    chunks : int
        Units processed one at a time.
    partitions : int
        Tasks the chunks were grouped into (1 when run here).
    parcels : int
        Parcels in the layer.
    parcels_read : int
        Parcels read by the chunks (those on a boundary are read by each side).
    rest : int
        Parcels owned by no chunk, read by id at the end.
    peak_rss_mb : dict of str to float
        Peak resident memory of each process that ran chunks (``host:pid``).
    seconds : float
        Wall time of the pass.
    """

    engine: str
    chunks: int
    partitions: int
    parcels: int
    parcels_read: int
    rest: int
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class LandUse:
    """The merged results of a per-commune land-use pass.

    Attributes
    ----------
    units, hamlets : pandas.DataFrame
        :func:`geo.indicators.landuse_indicators` of the units and hamlets.
    uncovered : geopandas.GeoDataFrame
        :func:`geo.coverage.landuse_uncovered` of every unit.
    allocation : geo.dasymetric.Allocation or None
        With hamlets; the pieces' geometry is a point inside each piece.
    layer_findings : list of Finding
        What validating the whole layer would have found, in the same order.
    unknown_findings : list of Finding
        :func:`geo.indicators.unknown_landuse_codes` of the whole layer.
    stats : Stats
    pieces : geo.landuse_layer.PiecesSpill or None
        The ``landuse_by_hamlet`` layer's pieces, on disk.
    summary : geo.landuse_layer.LanduseSummary or None
        Count and area per code of every parcel, for the map.
    parcels : geopandas.GeoDataFrame or None
        Up to :data:`MAP_PARCELS` parcels: all of them validated (``code``,
        geometry) in the layer's order, for the map.
    """

    units: pd.DataFrame
    hamlets: pd.DataFrame | None
    uncovered: gpd.GeoDataFrame
    allocation: dasymetric.Allocation | None
    layer_findings: list[Finding]
    unknown_findings: list[Finding]
    stats: Stats
    pieces: PiecesSpill | None = None
    summary: LanduseSummary | None = None
    parcels: gpd.GeoDataFrame | None = None


ResultSink = Callable[[ChunkResult], None]
"""Called with each chunk's result as soon as it is there (it may drop the large parts)."""
ChunkRunner = Callable[[Task, list[Chunk], ResultSink], tuple[list[ChunkResult], int]]
"""Runs chunks (here or on a cluster), passing each result to the sink as it comes; returns
the results and the number of partitions."""


# --------------------------------------------------------------------------- one chunk


def process_chunk(task: Task, chunk: Chunk) -> ChunkResult:
    """Read, validate and split the parcels of one chunk; return its sums.

    Parameters
    ----------
    task : Task
    chunk : Chunk

    Returns
    -------
    ChunkResult

    Raises
    ------
    GeoInputError
        As :func:`geo.validate.validate_layer` on the parcels read; a parcel is
        named ``#<fid N>`` (:func:`landuse_per_unit` numbers it as a
        whole-layer run would).
    """
    start = time.perf_counter()
    raw = read_window(task.spec, engine=task.engine, mask=chunk.mask)
    notes = read_notes(raw)
    geometries = raw.geometry.to_numpy()
    present = ~(pd.isna(geometries) | shapely.is_empty(geometries))
    raw = raw.loc[present]
    fids = raw.index.to_numpy(dtype="int64")
    owned = np.ones(len(raw), dtype=bool)
    if any(mask is None for mask in chunk.earlier):
        owned[:] = False
    elif chunk.earlier and len(raw):
        earlier = np.array(chunk.earlier, dtype=object)
        # the tree on the parcels: each earlier commune's mask is prepared once and tested
        # against the parcels in its box (the other way, each parcel against whole masks)
        _, hits = shapely.STRtree(raw.geometry.to_numpy()).query(earlier, predicate="intersects")
        owned[hits] = False
    raw = raw.reset_index(drop=True)
    raw.attrs["geo.notes"] = notes
    layer, found, kept = _validate(raw, task, fids, task.province)
    layer_fids, layer_owned = fids[kept], owned[kept]
    parcel_findings: list[tuple[int, Finding]] = []
    layer_notes: list[Finding] = []
    for finding in found:
        match = _POSITION.fullmatch(finding.feature)
        if match is None:
            layer_notes.append(finding)
        elif owned[int(match.group(1)) - 1]:
            fid = int(fids[int(match.group(1)) - 1])
            parcel_findings.append((fid, _relabel(finding, _FID_LABEL.format(fid))))
    codes = layer["code"].fillna("?")
    unknown = ~codes.isin(list(landuse_codes())).to_numpy() & layer_owned
    unknown_table = pd.DataFrame(
        {
            "fid": layer_fids[unknown],
            "code": codes.to_numpy(dtype=object)[unknown],
            "km2": shapely.area(layer.geometry.to_numpy()[unknown]) / indicators.M2_PER_KM2,
        }
    )
    residents = pieces = None
    resident_findings: list[tuple[int, Finding]] = []
    hamlets = chunk.hamlets if chunk.hamlets is not None and len(chunk.hamlets) else None
    # one split by the hamlets, as the whole-layer run: for the hamlets, the unit (summed
    # when its hamlets tile it) and the dasymetric's residential pieces
    hamlet_pieces = None if hamlets is None else _landuse_pieces(hamlets, {"landuse": layer})
    unit_pieces = _unit_pieces(chunk.units, hamlets, {"landuse": layer}, hamlet_pieces)
    if hamlets is not None:
        residents, pieces, resident_findings = _residents(hamlets, layer, layer_fids, hamlet_pieces)
    zones, zone_pieces = (chunk.units, unit_pieces) if hamlets is None else (hamlets, hamlet_pieces)
    landuse_layer = None
    if zone_pieces is not None and zone_pieces.item.size:
        frame = pieces_layer(
            layer, zones, zone_pieces, by_hamlet=hamlets is not None, parcel_numbers=layer_fids
        )
        landuse_layer = pieces_table(frame)
    return ChunkResult(
        index=chunk.index,
        parcels=len(raw),
        claimed=fids[owned],
        unit_sums=_sums(layer, chunk.units, unit_pieces),
        hamlet_sums=(
            _sums(layer, chunk.hamlets, hamlet_pieces)
            if chunk.hamlets is not None
            else pd.DataFrame()
        ),
        uncovered=coverage.landuse_uncovered(chunk.units, layer, pieces=unit_pieces),
        residents=residents,
        pieces=pieces,
        resident_findings=resident_findings,
        parcel_findings=parcel_findings,
        notes=layer_notes,
        unknown=unknown_table,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        seconds=time.perf_counter() - start,
        landuse_layer=landuse_layer,
        summary=LanduseSummary.of(
            layer["code"].loc[layer_owned], layer.geometry.to_numpy()[layer_owned]
        ),
        parcels_kept=_kept(layer, layer_fids, layer_owned) if task.keep_parcels else None,
    )


def _kept(layer: gpd.GeoDataFrame, fids: np.ndarray, keep: np.ndarray) -> gpd.GeoDataFrame:
    """Return the validated parcels ``keep`` selects: ``fid``, ``code`` and geometry."""
    return gpd.GeoDataFrame(
        {"fid": fids[keep], "code": layer["code"].to_numpy()[keep]},
        geometry=layer.geometry.to_numpy()[keep],
        crs=layer.crs,
    )


def run_chunks(task: Task, chunks: Sequence[Chunk]) -> list[ChunkResult]:
    """Process chunks one after the other, in this process (what a dask task runs)."""
    return [process_chunk(task, chunk) for chunk in chunks]


def run_serial(
    task: Task, chunks: list[Chunk], sink: ResultSink | None = None
) -> tuple[list[ChunkResult], int]:
    """Process every chunk here, in order (each result to ``sink`` first); one partition.

    Up to :data:`geo.parallel.THREADS` chunks are processed at once, on threads:
    a commune's chunk is too small for its own intersections to be shared
    between threads, and its reads and GEOS work leave the interpreter free.
    Results are taken in the chunks' order, so at most that many communes'
    parcels, and the results waiting behind the oldest, are in memory.
    """
    results: list[ChunkResult] = []
    threads = max(1, min(parallel.THREADS, len(chunks)))

    def take(result: ChunkResult) -> None:
        if sink is not None:
            sink(result)
        results.append(result)

    if threads == 1:
        for chunk in chunks:
            take(process_chunk(task, chunk))
        return results, 1
    with ThreadPoolExecutor(threads) as pool:
        running: deque[Future[ChunkResult]] = deque()
        try:
            for chunk in chunks:
                running.append(pool.submit(process_chunk, task, chunk))
                if len(running) >= threads:
                    take(running.popleft().result())
            while running:
                take(running.popleft().result())
        finally:
            for future in running:
                future.cancel()
    return results, 1


def _validate(
    raw: gpd.GeoDataFrame, task: Task, fids: np.ndarray, province: str | None
) -> tuple[gpd.GeoDataFrame, list[Finding], np.ndarray]:
    """Validate parcels read by id or mask; name a parcel in an error by its feature id.

    Returns the parcels, the findings (``#N``: the row in ``raw``) and the rows
    in ``raw`` of the parcels kept.
    """
    try:
        return validate_layer_rows(raw, task.spec, task.crs, province=province)
    except GeoInputError as error:
        message = _POSITION.sub(
            lambda m: (
                _FID_LABEL.format(int(fids[int(m.group(1)) - 1]))
                if 0 < int(m.group(1)) <= len(fids)
                else m.group(0)
            ),
            str(error),
        )
        raise type(error)(message) from error


def _relabel(finding: Finding, feature: str) -> Finding:
    return Finding(finding.layer, feature, finding.kind, finding.message, finding.value)


def _sums(
    layer: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, split: indicators.Pieces | None = None
) -> pd.DataFrame:
    """Land-use km² by zone and code, summed as landuse_indicators sums them.

    Returns a long table (``zone``: the zones' index, ``code``, ``km2``), one row per
    zone and code, which :func:`_landuse_table` pivots again as the whole-layer run does.
    ``split``: the parcels already split by ``zones`` (else split here).
    """
    if len(zones) == 0 or len(layer) == 0:
        return pd.DataFrame({"zone": [], "code": [], "km2": []})
    if split is None:
        split = indicators.split_pieces(layer.geometry.to_numpy(), zones.geometry.to_numpy())
    parcel, zone, area = split.item, split.zone, split.amount
    if parcel.size == 0:
        return pd.DataFrame({"zone": [], "code": [], "km2": []})
    code_at, codes = indicators.landuse_code_numbers(layer)
    found, km2 = indicators.sum_by_key(  # by zone, then code, as landuse_table sums them
        area / indicators.M2_PER_KM2, zone.astype(np.int64) * len(codes) + code_at[parcel]
    )
    return pd.DataFrame(
        {
            "zone": zones.index.to_numpy()[found // len(codes)],
            "code": np.asarray(codes, dtype=object)[found % len(codes)],
            "km2": km2,
        }
    )


def _residents(
    hamlets: gpd.GeoDataFrame,
    layer: gpd.GeoDataFrame,
    fids: np.ndarray,
    split: indicators.Pieces | None = None,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, list[tuple[int, Finding]]]:
    allocation = dasymetric.allocate_population(hamlets, layer, pieces=split)
    pieces = allocation.pieces
    position = dict(zip(hamlets["id"].astype(str), hamlets.index, strict=True))
    parcel = pieces["parcel"].to_numpy(dtype="int64")
    fallback = parcel == dasymetric.FALLBACK_PARCEL
    light = pd.DataFrame(pieces.drop(columns=pieces.geometry.name))
    own = fids[parcel[~fallback]]
    light["parcel"] = dasymetric.FALLBACK_PARCEL
    light.loc[~fallback, "parcel"] = own
    light["hamlet"] = light["hamlet_id"].map(position).to_numpy(dtype="int64")
    points = gpd.GeoDataFrame(
        light,
        geometry=shapely.point_on_surface(pieces.geometry.to_numpy()),
        crs=pieces.crs,
    )
    findings = [(int(position[f.feature]), f) for f in allocation.findings]
    return allocation.hamlets, points, findings


# --------------------------------------------------------------------------- the pass


def build_chunks(units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame | None) -> list[Chunk]:
    """Cut the zones into chunks: one per unit, with the hamlets assigned to it (``unit_id``)."""
    unit_zones = gpd.GeoDataFrame(
        {
            "id": units["id"].to_numpy(),
            "name": units["name"].to_numpy() if "name" in units.columns else units["id"].to_numpy(),
        },
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    )
    hamlet_zones = None
    owner = None
    if hamlets is not None:
        hamlet_zones = gpd.GeoDataFrame(
            {
                "id": hamlets["id"].to_numpy(),
                "name": hamlets["name"].to_numpy(),
                "population": (
                    hamlets["population"].to_numpy(dtype="float64")
                    if "population" in hamlets.columns
                    else np.nan
                ),
                "unit_id": hamlets["unit_id"].astype(str).to_numpy(),
            },
            geometry=hamlets.geometry.to_numpy(),
            crs=hamlets.crs,
        )
        owner = hamlets["unit_id"].astype(str).to_numpy()
    ids = units["id"].astype(str).to_numpy()
    return [
        Chunk(
            index=u,
            units=unit_zones.iloc[[u]],
            hamlets=(
                hamlet_zones.iloc[np.flatnonzero(owner == ids[u])]
                if hamlet_zones is not None and owner is not None
                else None
            ),
        )
        for u in range(len(units))
    ]


def _zone_bounds(chunk: Chunk) -> tuple[float, float, float, float]:
    frames = [chunk.units] if chunk.hamlets is None else [chunk.units, chunk.hamlets]
    bounds = np.vstack([shapely.bounds(f.geometry.to_numpy()) for f in frames])
    return (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )


def with_masks(chunks: Sequence[Chunk], crs: CRS, layer_crs: object) -> list[Chunk]:
    """Give each chunk its mask, in the layer's CRS, and the earlier masks that may meet it.

    Parameters
    ----------
    chunks : sequence of Chunk
    crs : pyproj.CRS
        The project CRS (projected, metres).
    layer_crs : object
        The layer's CRS as GDAL reports it (None: taken as the project CRS).

    Returns
    -------
    list of Chunk
        The mask of a chunk is the union of its zones widened by
        :data:`WINDOW_MARGIN_M`; in another CRS, its edges are first cut every
        :data:`WINDOW_MARGIN_M` metres so that they follow the reprojection.
    """
    masks = []
    for chunk in chunks:
        zones = [chunk.units] if chunk.hamlets is None else [chunk.units, chunk.hamlets]
        geometries = np.concatenate([z.geometry.to_numpy() for z in zones])
        masks.append(shapely.buffer(shapely.union_all(geometries), WINDOW_MARGIN_M, quad_segs=2))
    target = CRS.from_user_input(layer_crs) if layer_crs is not None else crs
    if target != crs:
        transformer = Transformer.from_crs(crs, target, always_xy=True)
        dense = shapely.segmentize(np.array(masks, dtype=object), WINDOW_MARGIN_M)
        moved = shapely.transform(
            dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
        if not np.isfinite(shapely.bounds(moved)).all():
            # a layer in a CRS that cannot hold these zones: read it all, validation says why
            moved = np.array([None] * len(masks), dtype=object)
        masks = list(moved)
    if any(m is None for m in masks):
        # chunk 0 reads everything (and validation says what is wrong); the others own nothing
        return [
            replace(chunk, mask=None, earlier=(None,) if k else ())
            for k, chunk in enumerate(chunks)
        ]
    tree = shapely.STRtree(masks)
    out = []
    for k, chunk in enumerate(chunks):
        near = sorted(int(j) for j in tree.query(masks[k]) if j < k)
        out.append(replace(chunk, mask=masks[k], earlier=tuple(masks[j] for j in near)))
    return out


def landuse_per_unit(
    spec: LayerSpec,
    project: Project,
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    *,
    engine: str = "pyogrio",
    runner: ChunkRunner = run_serial,
) -> LandUse:
    """Run the land-use part of the analysis one unit at a time.

    Parameters
    ----------
    spec : LayerSpec
        The land-use layer (any GDAL format with a spatial index is fast:
        GeoPackage, FlatGeobuf).
    project : Project
    units : geopandas.GeoDataFrame
        Validated units (``id``, ``name``), in the project CRS.
    hamlets : geopandas.GeoDataFrame or None
        Validated hamlets with ``unit_id`` (:func:`geo.join.assign_hamlets`)
        and ``population``.
    engine : {"pyogrio", "fiona"}, default "pyogrio"
        The library reading the parcels.
    runner : callable, default :func:`run_serial`
        Runs the chunks: :func:`run_serial`, or
        :func:`geo.distributed.dask_runner` for a dask cluster.

    Returns
    -------
    LandUse

    Raises
    ------
    GeoInputError
        On bad parcels, as a whole-layer run would (the parcel named by its
        row in the layer, ``#N``).
    """
    start = time.perf_counter()
    info = layer_info(spec)
    sample = read_window(spec, engine=engine, max_features=1)
    if len(sample):  # field, CRS and datum errors before anything runs
        validate_layer(sample, spec, project.crs, province=None)
    fids = _scan(spec)
    chunks = build_chunks(units, hamlets)
    chunks = with_masks(chunks, project.crs, info.get("crs"))
    task = Task(spec, project.crs, project.province, engine, len(fids) <= MAP_PARCELS)
    spill = PiecesSpill(project.crs)

    def keep_on_disk(result: ChunkResult) -> None:
        if result.landuse_layer is not None:
            spill.add(*result.landuse_layer)
            result.landuse_layer = None

    try:
        results, partitions = runner(task, chunks, keep_on_disk)
    except GeoInputError as error:
        numbers = _Numbers(fids)
        raise type(error)(_FID.sub(lambda m: numbers.label(int(m.group(1))), str(error))) from None
    claimed = np.concatenate([r.claimed for r in results]) if results else np.empty(0, "int64")
    # the parcels no commune claimed (np.isin tallies integers in a table: 1.2 s -> 0.01 s at L)
    rest = np.unique(fids[np.isin(fids, claimed, invert=True)])
    read_any = any(r.parcels for r in results)
    rest_findings: list[tuple[int, Finding]] = []
    rest_notes: list[Finding] = []
    rest_unknown = []
    summary = LanduseSummary()
    kept_parcels = []
    for result in sorted(results, key=lambda r: r.index):
        summary += result.summary
        if result.parcels_kept is not None:
            kept_parcels.append(result.parcels_kept)
    numbers = _Numbers(fids)
    for first in range(0, len(rest), REST_BATCH):
        batch = rest[first : first + REST_BATCH]
        try:
            found, notes, unknown, rest_summary, rest_parcels = _rest_batch(
                task, batch, province_check=not read_any
            )
        except GeoInputError as error:
            raise type(error)(
                _FID.sub(lambda m: numbers.label(int(m.group(1))), str(error))
            ) from None
        rest_findings += found
        rest_notes += notes
        rest_unknown.append(unknown)
        summary += rest_summary
        if rest_parcels is not None:
            kept_parcels.append(rest_parcels)
    zones = units if hamlets is None else hamlets
    rank = indicators.tree_order(zones.geometry.to_numpy())
    zone_ids = zones["id"].astype(str).to_numpy()
    spill.close(
        fids,
        np.arange(1, len(fids) + 1),  # a parcel's number: its row in the layer, as read
        zone_ids if rank is None else zone_ids[np.argsort(rank, kind="stable")],
        by_hamlet=hamlets is not None,
    )
    merged = merge(
        results,
        units,
        hamlets,
        numbers,
        rest_findings=rest_findings,
        rest_notes=rest_notes,
        rest_unknown=rest_unknown,
    )
    merged.pieces = spill
    merged.summary = summary
    if task.keep_parcels:
        merged.parcels = _in_layer_order(kept_parcels, fids, project.crs)
    peaks: dict[str, float] = {}
    for r in results:
        peaks[r.worker] = max(peaks.get(r.worker, 0.0), r.peak_rss_mb)
    merged.stats = Stats(
        engine=engine,
        chunks=len(chunks),
        partitions=partitions,
        parcels=len(fids),
        parcels_read=sum(r.parcels for r in results),
        rest=len(rest),
        peak_rss_mb=peaks,
        seconds=time.perf_counter() - start,
    )
    log.info(
        "land use per unit: %d parcels in %d chunks (%d partitions), %d read, %d by id; "
        "peak memory per process %s; %.1f s",
        merged.stats.parcels,
        merged.stats.chunks,
        merged.stats.partitions,
        merged.stats.parcels_read,
        merged.stats.rest,
        ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(peaks.items())),
        merged.stats.seconds,
        extra={"stats": merged.stats},
    )
    return merged


def _in_layer_order(parts: list[gpd.GeoDataFrame], fids: np.ndarray, crs: CRS) -> gpd.GeoDataFrame:
    """Join the kept parcels of the chunks and the last pass in the layer's order.

    ``fids``: every feature id in layer order (:func:`_scan`).
    """
    parts = [part for part in parts if len(part)]
    if not parts:
        return gpd.GeoDataFrame({"code": pd.Series([], dtype=object)}, geometry=[], crs=crs)
    parcels = pd.concat(parts, ignore_index=True)
    order = np.argsort(pd.Index(fids).get_indexer(parcels["fid"]), kind="stable")
    return gpd.GeoDataFrame(
        {"code": parcels["code"].to_numpy()[order]},
        geometry=parcels.geometry.to_numpy()[order],
        crs=crs,
    )


def _scan(spec: LayerSpec) -> np.ndarray:
    """Return every feature id in layer order."""
    fid_parts = [fids for fids, _ in layer_bounds(spec)]
    return np.concatenate(fid_parts) if fid_parts else np.empty(0, "int64")


class _Numbers:
    """Number parcels as a whole-layer run does: ``#N``, N a feature's 1-based row in the layer."""

    def __init__(self, fids: np.ndarray) -> None:
        self.fids = fids
        self.sorted = bool(np.all(np.diff(fids) > 0))
        self.order = None if self.sorted else np.argsort(fids, kind="stable")

    def positions(self, fids: np.ndarray) -> np.ndarray:
        """Return the positions in the layer of some feature ids."""
        fids = np.asarray(fids, dtype="int64")
        if self.sorted:
            return np.searchsorted(self.fids, fids)
        assert self.order is not None
        return self.order[np.searchsorted(self.fids[self.order], fids)]

    def label(self, fid: int) -> str:
        """Return ``#N``: a feature's 1-based row in the layer."""
        return f"#{int(self.positions(np.array([fid]))[0]) + 1}"


def _rest_batch(
    task: Task, fids: np.ndarray, *, province_check: bool
) -> tuple[
    list[tuple[int, Finding]],
    list[Finding],
    pd.DataFrame,
    LanduseSummary,
    gpd.GeoDataFrame | None,
]:
    """Validate parcels no chunk owns, by id.

    Returns their findings, unknown codes, their summary for the map and, with
    ``task.keep_parcels``, the parcels (:func:`_kept`).
    """
    raw = read_window(task.spec, engine=task.engine, fids=fids)
    notes = read_notes(raw)
    read = raw.index.to_numpy(dtype="int64")
    raw = raw.reset_index(drop=True)
    raw.attrs["geo.notes"] = notes
    # the province check is the whole layer's: some parcel must lie in the province; when the
    # chunks read parcels, they were checked there
    layer, found, kept = _validate(raw, task, read, task.province if province_check else None)
    layer_fids = read[kept]
    findings: list[tuple[int, Finding]] = []
    layer_notes: list[Finding] = []
    for finding in found:
        match = _POSITION.fullmatch(finding.feature)
        if match is None:
            layer_notes.append(finding)
            continue
        fid = int(read[int(match.group(1)) - 1])
        findings.append((fid, _relabel(finding, _FID_LABEL.format(fid))))
    codes = layer["code"].fillna("?")
    unknown = ~codes.isin(list(landuse_codes())).to_numpy()
    table = pd.DataFrame(
        {
            "fid": layer_fids[unknown],
            "code": codes.to_numpy(dtype=object)[unknown],
            "km2": shapely.area(layer.geometry.to_numpy()[unknown]) / indicators.M2_PER_KM2,
        }
    )
    summary = LanduseSummary.of(layer["code"], layer.geometry.to_numpy())
    parcels = _kept(layer, layer_fids, np.ones(len(layer), bool)) if task.keep_parcels else None
    return findings, layer_notes, table, summary, parcels


# --------------------------------------------------------------------------- merging


def merge(
    results: Sequence[ChunkResult],
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    numbers: _Numbers,
    *,
    rest_findings: Sequence[tuple[int, Finding]] = (),
    rest_notes: Sequence[Finding] = (),
    rest_unknown: Sequence[pd.DataFrame] = (),
) -> LandUse:
    """Put the chunks' sums and findings together, in the order of a whole-layer run."""
    results = sorted(results, key=lambda r: r.index)
    unit_table = _landuse_table([r.unit_sums for r in results], units.index)
    hamlet_table = None
    allocation = None
    if hamlets is not None:
        hamlet_table = _landuse_table([r.hamlet_sums for r in results], hamlets.index)
        allocation = _allocation(results, hamlets)
    parts = [r.uncovered for r in results if not r.uncovered.empty]
    uncovered = (
        gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=units.crs)
        if parts
        else _no_findings(units.crs)
    )
    # whole-layer order: reading notes, text conversions, then features in layer order
    notes = _merge_notes([n for r in results for n in r.notes] + list(rest_notes))
    per_parcel = [item for r in results for item in r.parcel_findings] + list(rest_findings)
    # features without geometry are reported before the repairs, each in layer order
    positions = numbers.positions(np.array([fid for fid, _ in per_parcel], dtype="int64"))
    later = np.array([f.kind != "empty_geometry_dropped" for _, f in per_parcel], dtype=bool)
    order = np.lexsort((positions, later))
    layer_findings = notes + [
        _relabel(
            per_parcel[i][1],
            numbers.label(per_parcel[i][0]),
        )
        for i in order
    ]
    unknown = pd.concat(
        [r.unknown for r in results] + list(rest_unknown), ignore_index=True
    ).astype({"fid": "int64", "km2": "float64"})
    unknown["position"] = numbers.positions(unknown["fid"].to_numpy())
    unknown = unknown.sort_values("position", kind="stable")
    totals = pd.Series(unknown["km2"].to_numpy(), index=unknown["code"].to_numpy())
    unknown_findings = indicators.unknown_code_findings(totals.groupby(level=0).sum())
    return LandUse(
        units=unit_table,
        hamlets=hamlet_table,
        uncovered=uncovered,
        allocation=allocation,
        layer_findings=layer_findings,
        unknown_findings=unknown_findings,
        stats=Stats("", 0, 0, 0, 0, 0),
    )


def _no_findings(crs: object) -> gpd.GeoDataFrame:
    """Return an empty coverage findings table (:data:`geo.coverage.FINDING_COLUMNS`)."""
    columns = {name: pd.Series(dtype="object") for name in coverage.FINDING_COLUMNS[:-1]}
    for name in ("area_m2", "value", "point_x", "point_y"):
        columns[name] = pd.Series(dtype="float64")
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _merge_notes(notes: list[Finding]) -> list[Finding]:
    """Keep each reading note once; add up text conversions found in several chunks."""
    out: list[Finding] = []
    converted: dict[tuple[str, str, str], int] = {}
    for note in notes:
        if note.kind == "encoding_converted" and _CONVERTED.search(note.message):
            key = (note.layer, note.feature, _CONVERTED.sub("", note.message))
            if key in converted:
                i = converted[key]
                total = out[i].value + note.value
                message = _CONVERTED.sub(f"{total:.0f} value(s) converted", out[i].message)
                out[i] = Finding(note.layer, note.feature, note.kind, message, total)
                continue
            converted[key] = len(out)
            out.append(note)
        elif note not in out:
            out.append(note)
    return out


def _landuse_table(sums: Sequence[pd.DataFrame], index: pd.Index) -> pd.DataFrame:
    """Build :func:`geo.indicators.landuse_indicators`' table from per-zone sums.

    The same steps on the same numbers (each zone's sum comes from one chunk,
    pivoted again: a sum of one number is that number), so the covered areas
    and shares are added in the same order.
    """
    pieces = pd.concat(
        [s for s in sums if not s.empty]
        or [
            pd.DataFrame(
                {
                    "zone": pd.Series(dtype="int64"),
                    "code": pd.Series(dtype=object),
                    "km2": pd.Series(dtype="float64"),
                }
            )
        ],
        ignore_index=True,
    )
    return indicators.landuse_table(pieces, index)


def _allocation(results: Sequence[ChunkResult], hamlets: gpd.GeoDataFrame) -> dasymetric.Allocation:
    tables = [r.residents for r in results if r.residents is not None]
    table = pd.concat(tables).reindex(range(len(hamlets))) if tables else pd.DataFrame()
    table.index = hamlets.index
    piece_parts = [r.pieces for r in results if r.pieces is not None and not r.pieces.empty]
    if piece_parts:
        pieces = pd.concat(piece_parts, ignore_index=True)
        pieces = pieces.sort_values(["fallback", "parcel", "hamlet"], kind="stable")
        pieces = gpd.GeoDataFrame(
            pieces.drop(columns="hamlet").reset_index(drop=True),
            geometry="geometry",
            crs=hamlets.crs,
        )
    else:
        pieces = gpd.GeoDataFrame(
            {c: [] for c in dasymetric.PIECE_COLUMNS}, geometry=[], crs=hamlets.crs
        )
    found = sorted(
        (item for r in results for item in r.resident_findings), key=lambda item: item[0]
    )
    return dasymetric.Allocation(pieces, table, [f for _, f in found])


# --------------------------------------------------------------------------- the run


def run_per_unit(project: Project, plan: Plan) -> RunResult:
    """Run the analysis with the land use read one unit at a time.

    The same steps as :func:`geo.pipeline.run`, in the same order, with
    :func:`landuse_per_unit` in place of the whole land-use layer; the result
    holds no parcel layer (``landuse`` is None) but the pieces of the GeoPackage's
    ``landuse_by_hamlet`` layer, on disk (``landuse_pieces``), and the parcels'
    count and area per code for the map (``landuse_summary``); up to
    :data:`MAP_PARCELS` parcels, the parcels themselves for the map
    (``landuse_parcels``).

    Parameters
    ----------
    project : Project
    plan : geo.engines.Plan
        With ``per_unit`` set; ``engine="dask"`` runs the chunks on a cluster.

    Returns
    -------
    RunResult
    """
    spec = project.layers["landuse"]
    findings: list[Finding] = []
    layers: dict[str, gpd.GeoDataFrame] = {}
    landuse_at = 0
    for role, layer_spec in project.layers.items():
        if role == "landuse":
            landuse_at = len(findings)
            continue
        layer, found = validate_layer(
            read_whole(layer_spec, engine=plan.read_engine),
            layer_spec,
            project.crs,
            province=project.province,
        )
        layers[role] = layer
        findings += found
    for table in project.tables.values():
        layers[table.joins], found = join_table(layers[table.joins], read_table(table), table)
        findings += found
    unknown_at = len(findings)
    units = layers["units"].rename(columns={"official_area": "official_area_km2"})
    hamlets = layers.get("hamlets")
    if hamlets is not None:
        hamlets, found = assign_hamlets(hamlets, units)
        findings += found
    runner: ChunkRunner = run_serial
    if plan.engine == "dask":
        from geo.distributed import dask_runner

        runner = dask_runner(plan.scheduler)
    land = landuse_per_unit(spec, project, units, hamlets, engine=plan.read_engine, runner=runner)
    findings[unknown_at:unknown_at] = land.unknown_findings
    findings[landuse_at:landuse_at] = land.layer_findings
    if hamlets is not None:
        hamlets = _with_indicators(hamlets, layers, landuse_table=land.hamlets)
    units = _with_indicators(units, layers, landuse_table=land.units)
    units = _with_population(units, hamlets, project, findings)
    problems = coverage.check_coverage(
        units, hamlets, None, official_area_km2=units.get("official_area_km2")
    )
    problems = coverage.combine([problems, land.uncovered], problems.crs)
    findings += coverage.to_findings(problems)
    units = _with_area_checks(units, hamlets)
    if hamlets is not None and land.allocation is not None:
        hamlets = _with_residents_and_access(hamlets, layers, findings, allocation=land.allocation)
    return evaluate_criteria(
        project,
        units=units,
        hamlets=hamlets,
        coverage_problems=problems,
        findings=findings,
        layers=layers,
        landuse=None,
        landuse_pieces=land.pieces,
        landuse_summary=land.summary,
        landuse_parcels=land.parcels,
    )

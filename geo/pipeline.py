"""The whole analysis: read → validate → join → indicators → criteria.

:func:`run` takes a :class:`~geo.project.Project` and returns a
:class:`RunResult`; :mod:`geo.outputs` writes it. Data flows one way.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import access, coverage, dasymetric, engines, indicators, inputs, parallel
from geo import criteria as crit
from geo._gc import collector_paused
from geo.crs import require_projected
from geo.errors import CriteriaFileError, GeoInputError
from geo.join import assign_hamlets, join_table
from geo.layer_writer import SourceWkb
from geo.project import Project
from geo.read import read_layer_wkb, read_table
from geo.validate import Finding, validate_layer_rows

if TYPE_CHECKING:
    from geo.landuse_layer import LanduseSummary, PiecesSpill

POPULATION_TOLERANCE = 0.005
"""Relative difference between a unit's population and its hamlets' sum that is reported."""


class LanduseSplit(NamedTuple):
    """The run's parcels split by its zones, kept for the outputs.

    Attributes
    ----------
    zones : numpy.ndarray of shapely geometries
        The zones the parcels were split by: the hamlets, or the units
        without a hamlet layer, in the layer's order.
    pieces : geo.indicators.Pieces
        The split (:func:`geo.indicators.split_pieces`): which pairs cross a
        zone boundary (``pieces.crossing``), and the cut parts of the
        residential parcels (``pieces.geometry``, None without them).
    """

    zones: np.ndarray
    pieces: indicators.Pieces


@dataclass
class RunResult:
    """Everything one run computed, in the project CRS.

    Attributes
    ----------
    project : Project
    standard : CriteriaSet
        The ward standard in force on ``project.as_of``.
    units, hamlets : geopandas.GeoDataFrame
        Features with their indicators (``hamlets`` is None without a hamlet layer).
        ``units`` carries ``ward_verdict``.
    criteria : pandas.DataFrame
        One row per feature and criterion (:data:`geo.criteria.CRITERIA_COLUMNS`).
    findings : pandas.DataFrame
        Repairs, unmatched rows and other data-quality notes.
    contributions : pandas.DataFrame
        Each hamlet's share of its commune's gap on ratio criteria
        (:data:`geo.criteria.CONTRIBUTION_COLUMNS`).
    coverage : geopandas.GeoDataFrame or None
        Coverage findings with their geometry: gaps and overlaps between
        hamlets, land not covered by land use, area mismatches
        (:data:`geo.coverage.FINDING_COLUMNS`).
    landuse, infrastructure, roads : geopandas.GeoDataFrame or None
        The validated inputs, for the map.
    sets : list of CriteriaSet
        Every criteria set evaluated (one per family in force).
    landuse_split : LanduseSplit or None
        The parcels of ``landuse`` split by the hamlets (the units without
        hamlets), so that the GeoPackage's
        ``landuse_by_hamlet`` layer (:func:`geo.outputs.landuse_by_zone`) does
        not split them again; None when the run did not keep it (per-commune
        runs, no land-use layer).
    landuse_pieces : geo.landuse_layer.PiecesSpill or None
        Per-commune runs: that layer's pieces, written to a scratch file
        commune by commune (deleted with this object).
    landuse_summary : geo.landuse_layer.LanduseSummary or None
        Per-commune runs: the parcels' count and area per code, for the map
        (which shows the land use as each zone's shares when the run has no
        ``landuse_parcels``).
    landuse_parcels : geopandas.GeoDataFrame or None
        Per-commune runs of a layer small enough for the map to draw or merge
        its parcels (:data:`geo.chunked.MAP_PARCELS`): the validated parcels'
        ``code`` and geometry, in the layer's order, so the map is the one a
        whole-layer run draws.
    landuse_wkb : geo.layer_writer.SourceWkb or None
        The WKB ``landuse``'s parcels were read as, where validation left them
        as read, so that ``results.gpkg`` writes the uncut ones without
        encoding them again; None when the reader gave none.
    landuse_rows : numpy.ndarray of int or None
        Aligned with ``landuse``: each parcel's 0-based row in the input layer
        (validation drops empty and collapsed features), for the parcel numbers
        of ``results.gpkg``; None: their positions in ``landuse``.
    """

    project: Project
    standard: crit.CriteriaSet
    units: gpd.GeoDataFrame
    hamlets: gpd.GeoDataFrame | None
    criteria: pd.DataFrame
    findings: pd.DataFrame
    contributions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=crit.CONTRIBUTION_COLUMNS)
    )
    coverage: gpd.GeoDataFrame | None = None
    landuse: gpd.GeoDataFrame | None = None
    infrastructure: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    sets: list[crit.CriteriaSet] = field(default_factory=list)
    landuse_split: LanduseSplit | None = None
    landuse_pieces: PiecesSpill | None = None
    landuse_summary: LanduseSummary | None = None
    landuse_parcels: gpd.GeoDataFrame | None = None
    landuse_wkb: SourceWkb | None = None
    landuse_rows: np.ndarray | None = None


@collector_paused()
def run(
    project: Project,
    *,
    engine: str = "pyogrio",
    scheduler: str | None = None,
    parcels_in_memory: int | None = None,
) -> RunResult:
    """Run the analysis of a project.

    Parameters
    ----------
    project : Project
        A loaded project (:func:`geo.project.load_project`).
    engine : {"pyogrio", "fiona", "dask"}, default "pyogrio"
        Which library reads the layers, and where the land-use work runs
        (:mod:`geo.engines`); every engine gives the same results.
    scheduler : str, optional
        With ``engine="dask"``: a running scheduler, ``tcp://HOST:8786``
        (default: a local cluster).
    parcels_in_memory : int, optional
        Read the land use one unit at a time (:mod:`geo.chunked`) above this
        many parcels (default :data:`geo.engines.PARCELS_IN_MEMORY`; 0: always).

    Returns
    -------
    RunResult

    Raises
    ------
    GeoInputError
        On any bad input, with a message naming the file and feature or row.

    Notes
    -----
    Two steps run beside the main thread, each on a thread of its own: the
    road graph while the parcels are read, and the coverage checks (first,
    which units their hamlets tile) while the parcels are split and the
    indicators, people and access worked out. The results and their order
    are those of one thread.
    """
    plan = engines.plan(
        project, engine=engine, scheduler=scheduler, parcels_in_memory=parcels_in_memory
    )
    if plan.per_unit:
        from geo.chunked import run_per_unit

        return run_per_unit(project, plan)
    layers, findings, network, landuse_wkb, landuse_rows = _read_layers(project, plan.read_engine)
    for table in project.tables.values():
        layers[table.joins], found = join_table(layers[table.joins], read_table(table), table)
        findings += found
    if "landuse" in layers:
        findings += indicators.unknown_landuse_codes(layers["landuse"])
    units = layers["units"].rename(columns={"official_area": "official_area_km2"})
    hamlets = layers.get("hamlets")
    hamlet_pieces = None
    if hamlets is not None:
        hamlets, found = assign_hamlets(hamlets, units)
        findings += found
    # the coverage checks need only the zones as assigned, and the land-use cover the
    # pieces: they run on a thread of their own (:func:`_coverage_ready`), alone on it
    # (:func:`geo.parallel.serial`), while the parcels are split and the indicators, the
    # people and their access worked out; their findings keep their place in the list
    with ThreadPoolExecutor(1, thread_name_prefix="coverage") as background:
        own_units = _own_geometries(units)
        own_hamlets = None if hamlets is None else _own_geometries(hamlets)
        # first on that thread, which units their hamlets tile: the units' split needs it
        # once the hamlets' is done
        tiling = (
            background.submit(coverage.hamlets_tile_units, own_units, own_hamlets)
            if own_hamlets is not None and "landuse" in layers
            else None
        )
        checks = [
            background.submit(
                parallel.serially(coverage.check_coverage),
                own_units,
                own_hamlets,
                official_area_km2=units.get("official_area_km2"),
            )
        ]
        if hamlets is not None:
            hamlet_pieces = _landuse_pieces(hamlets, layers)
        unit_pieces = _unit_pieces(units, hamlets, layers, hamlet_pieces, tiling=tiling)
        if "landuse" in layers:
            checks.append(
                background.submit(
                    parallel.serially(coverage.check_coverage),
                    own_units,
                    landuse=layers["landuse"],
                    landuse_pieces=unit_pieces,
                )
            )
        if hamlets is not None:
            hamlets = _with_indicators(hamlets, layers, hamlet_pieces)
        split = None
        if hamlet_pieces is not None and hamlets is not None:
            split = LanduseSplit(hamlets.geometry.to_numpy(), hamlet_pieces)
        elif unit_pieces is not None and hamlets is None:
            split = LanduseSplit(units.geometry.to_numpy(), unit_pieces)
        units = _with_indicators(units, layers, unit_pieces)
        units = _with_population(units, hamlets, project, findings)
        later: list[Finding] = []
        try:
            units = _with_area_checks(units, hamlets)
            if hamlets is not None and "landuse" in layers:
                hamlets = _with_residents_and_access(
                    hamlets, layers, later, hamlet_pieces, network=network
                )
        except BaseException:
            _coverage_ready(checks, units.crs)  # the checks' error first, as when they ran before
            raise
        problems = _coverage_ready(checks, units.crs)
    findings += coverage.to_findings(problems)
    findings += later
    return evaluate_criteria(
        project,
        units=units,
        hamlets=hamlets,
        coverage_problems=problems,
        findings=findings,
        layers=layers,
        landuse=layers.get("landuse"),
        landuse_split=split,
        landuse_wkb=landuse_wkb,
        landuse_rows=landuse_rows,
    )


def evaluate_criteria(
    project: Project,
    *,
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    coverage_problems: gpd.GeoDataFrame,
    findings: list[Finding],
    layers: dict[str, gpd.GeoDataFrame],
    landuse: gpd.GeoDataFrame | None,
    landuse_split: LanduseSplit | None = None,
    landuse_pieces: PiecesSpill | None = None,
    landuse_summary: LanduseSummary | None = None,
    landuse_parcels: gpd.GeoDataFrame | None = None,
    landuse_wkb: SourceWkb | None = None,
    landuse_rows: np.ndarray | None = None,
) -> RunResult:
    """Evaluate the criteria in force on units and hamlets with their indicators.

    The second half of :func:`run`, shared with the per-commune engines
    (:mod:`geo.chunked`): inputs table, ratio indicators, criteria rows,
    verdicts and hamlet contributions.

    Parameters
    ----------
    project : Project
        The project (criteria files, date, families, inputs, variants).
    units, hamlets : geopandas.GeoDataFrame
        Zones with their indicators; ``hamlets`` may be None.
    coverage_problems : geopandas.GeoDataFrame
        The coverage findings, kept on the result.
    findings : list of Finding
        The findings so far; the inputs table's are appended.
    layers : dict
        The validated layers (``infrastructure`` and ``roads`` are kept).
    landuse : geopandas.GeoDataFrame, optional
        The parcels to keep on the result (None when they were read per unit).
    landuse_split : LanduseSplit, optional
        Their split by the hamlets (the units without hamlets), kept on the
        result for the outputs.
    landuse_pieces : geo.landuse_layer.PiecesSpill, optional
        A per-commune run's pieces of that split, on disk, for the outputs.
    landuse_summary : geo.landuse_layer.LanduseSummary, optional
        A per-commune run's parcel count and area per code, for the map.
    landuse_parcels : geopandas.GeoDataFrame, optional
        A per-commune run's parcels (code and geometry) for the map, when few.
    landuse_wkb : geo.layer_writer.SourceWkb, optional
        The WKB ``landuse``'s parcels were read as, for the outputs.
    landuse_rows : numpy.ndarray of int, optional
        ``landuse``'s rows in the input layer, for the outputs.

    Returns
    -------
    RunResult

    Raises
    ------
    CriteriaFileError
        If no ward standard is in force on the project's date.
    """
    sets = crit.sets_in_force(
        crit.load_sets(project.criteria_files), project.as_of, project.families
    )
    standards = [s for s in sets if s.family == "ward"]
    if not standards:
        raise CriteriaFileError(
            f"no ward standard in force on {project.as_of} (project.criteria must include ward)"
        )
    if project.inputs is not None:
        units, hamlets = _with_inputs(project.inputs, sets, units, hamlets, findings)
    units, hamlets = _with_ratio_indicators(sets, units, hamlets)
    rows = [crit.evaluate(s, units, level="unit", variants=project.variants) for s in sets]
    if hamlets is not None:
        rows += [crit.evaluate(s, hamlets, level="hamlet", variants=project.variants) for s in sets]
    criteria_rows = pd.concat([r for r in rows if not r.empty], ignore_index=True)
    units = _with_verdicts(units, criteria_rows.loc[criteria_rows["level"] == "unit"])
    contributions = pd.DataFrame(columns=crit.CONTRIBUTION_COLUMNS)
    if hamlets is not None:
        hamlets = _with_verdicts(hamlets, criteria_rows.loc[criteria_rows["level"] == "hamlet"])
        unit_rows = criteria_rows.loc[criteria_rows["level"] == "unit"]
        parts = [
            crit.hamlet_contributions(s, hamlets, unit_rows.loc[unit_rows["set"] == s.id])
            for s in sets
        ]
        contributions = pd.concat([contributions, *[p for p in parts if not p.empty]])
    return RunResult(
        project=project,
        standard=standards[0],
        units=_ordered(units),
        hamlets=None if hamlets is None else _ordered(hamlets),
        criteria=criteria_rows,
        contributions=contributions.reset_index(drop=True),
        coverage=coverage_problems,
        findings=pd.DataFrame(
            [f.__dict__ for f in findings], columns=["layer", "feature", "kind", "message", "value"]
        ),
        landuse=landuse,
        infrastructure=layers.get("infrastructure"),
        roads=layers.get("roads"),
        sets=sets,
        landuse_split=landuse_split,
        landuse_pieces=landuse_pieces,
        landuse_summary=landuse_summary,
        landuse_parcels=landuse_parcels,
        landuse_wkb=landuse_wkb,
        landuse_rows=landuse_rows,
    )


def _with_inputs(
    path: Path,
    sets: list[crit.CriteriaSet],
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    findings: list[Finding],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Add the inputs table's figures to units and hamlets."""
    table = inputs.read_inputs(path)
    known = inputs.input_indicators(sets)
    units, found = inputs.merge_inputs(units, table, "unit", known)
    findings += found
    if hamlets is not None:
        hamlets, found = inputs.merge_inputs(hamlets, table, "hamlet", known)
        findings += found
    return units, hamlets


def _with_ratio_indicators(
    sets: list[crit.CriteriaSet], units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Add the indicators that criteria compute from other columns (ratios) as columns."""
    ratios = {c.indicator: c for s in sets for c in s.criteria if c.ratio is not None}

    def add(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame = frame.copy()
        for indicator, criterion in sorted(ratios.items()):
            if indicator not in frame.columns:
                frame[indicator] = crit.indicator_values(criterion, frame)
        return frame

    return add(units), None if hamlets is None else add(hamlets)


def _with_verdicts(zones: gpd.GeoDataFrame, rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Add one verdict column per criteria family (``ward_verdict``, ``ntm_verdict``, …)."""
    zones = zones.copy()
    for family, group in rows[["family", "id", "status"]].groupby("family", sort=True):
        column = f"{str(family).replace('-', '_')}_verdict"
        zones[column] = zones["id"].map(crit.verdicts(group)).fillna("not_assessed")
    return zones


def _with_area_checks(
    units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """Add the hamlets' area sum and the official-area difference to the units."""
    parts = []
    if hamlets is not None:
        parts.append(coverage.hamlet_area_sums(units, hamlets))
    if "official_area_km2" in units.columns:
        official = coverage.official_area_difference(units, units["official_area_km2"])
        parts.append(official.drop(columns="official_area_km2"))
    return units.join(parts) if parts else units


_ACCESS_LAYERS = frozenset({"hamlets", "landuse", "infrastructure", "roads"})
"""The layers with which a run measures access along the roads."""


def _read_layers(
    project: Project, engine: str
) -> tuple[
    dict[str, gpd.GeoDataFrame],
    list[Finding],
    Future[access.RoadGraph] | None,
    SourceWkb | None,
    np.ndarray | None,
]:
    """Read and validate the project's layers; start building the road graph.

    The land use is read last: its parcels are read (GDAL, then WKB decoding:
    one core) while the road graph is built on another thread (noding is GEOS
    work without the GIL). The layers and their findings come back in the
    project's order, and with several bad layers the error raised is the
    first one's in that order, as if they were read in it.

    Returns
    -------
    layers : dict of str to geopandas.GeoDataFrame
    findings : list of Finding
    network : concurrent.futures.Future of geo.access.RoadGraph, or None
        The road graph being built, when the run will measure access by road.
    landuse_wkb : geo.layer_writer.SourceWkb or None
        The WKB the land-use parcels were read as (:meth:`SourceWkb.matching`).
    landuse_rows : numpy.ndarray of int or None
        The land-use parcels' rows in their input layer.
    """
    position = {role: at for at, role in enumerate(project.layers)}
    read: dict[str, gpd.GeoDataFrame] = {}
    found_in: dict[str, list[Finding]] = {}
    failed: dict[str, GeoInputError] = {}
    network = landuse_wkb = landuse_rows = None
    for role in sorted(project.layers, key=lambda role: role == "landuse"):
        if failed and position[role] > min(position[r] for r in failed):
            continue  # a layer before it in the project failed: its error comes first
        spec = project.layers[role]
        try:
            raw, wkb = read_layer_wkb(spec, engine=engine, keep_wkb=role == "landuse")
            read[role], found_in[role], rows = validate_layer_rows(
                raw, spec, project.crs, province=project.province
            )
            if role == "landuse":
                landuse_rows = rows
                landuse_wkb = SourceWkb.matching(
                    raw.geometry.to_numpy(), wkb, read[role].geometry.to_numpy(), rows
                )
            del raw, wkb  # the parcels as read (and their bytes, unless kept) go now
        except GeoInputError as error:
            failed[role] = error
            continue
        if role == "roads" and _ACCESS_LAYERS.issubset(project.layers):
            network = _start_road_graph(read[role])
    if failed:
        raise failed[min(failed, key=position.__getitem__)]
    layers = {role: read[role] for role in project.layers}
    findings = [finding for role in project.layers for finding in found_in[role]]
    return layers, findings, network, landuse_wkb, landuse_rows


def _start_road_graph(roads: gpd.GeoDataFrame) -> Future[access.RoadGraph]:
    """Build the road graph of the access step on a thread of its own."""
    background = ThreadPoolExecutor(1, thread_name_prefix="road-graph")
    try:
        return background.submit(_road_graph, roads)
    finally:
        background.shutdown(wait=False)  # the thread ends with its one task


def _road_graph(roads: gpd.GeoDataFrame) -> access.RoadGraph:
    """Build the road graph; a large one (routed by scipy) with its snapping indexes too.

    The indexes would be built when the distances are measured, on the main
    thread; here they are built beside the read (0.16–0.37 s at L).
    """
    network = access.road_graph(roads)
    if network.nodes >= access.SPARSE_MIN_NODES:
        network.build_indexes()
    return network


def _own_geometries(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the zones with geometries of their own: copies, through WKB (bit for bit).

    For work on another thread: GEOS builds a prepared geometry's indexes
    when it is first used, so one prepared geometry used by two threads at
    once may be built twice and freed while in use (a crash, seen at L).
    """
    geometries = zones.geometry.to_numpy()
    copies = shapely.from_wkb(shapely.to_wkb(geometries))
    own = zones.copy(deep=False)
    own[zones.geometry.name] = gpd.GeoSeries(copies, index=zones.index, crs=zones.crs)
    return own


def _coverage_ready(checks: list[Future[gpd.GeoDataFrame]], crs: object) -> gpd.GeoDataFrame:
    """Wait for the coverage checks :func:`run` started (and raise what they raised).

    They run on a thread of their own beside the split, the indicators and
    the access: most of their time is GEOS unions and differences, which
    release the GIL, beside work that mostly holds it. Their findings are
    put together as one :func:`geo.coverage.check_coverage` call orders them.
    """
    return coverage.combine([check.result() for check in checks], crs)


def _tiling_ready(tiling: Future[np.ndarray]) -> np.ndarray:
    """Wait for :func:`geo.coverage.hamlets_tile_units` started by :func:`run` (or its error)."""
    return tiling.result()


def _road_graph_ready(network: Future[access.RoadGraph]) -> access.RoadGraph:
    """Wait for the road graph of :func:`_start_road_graph` (and raise what it raised)."""
    return network.result()


def _with_residents_and_access(
    hamlets: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    findings: list[Finding],
    pieces: indicators.Pieces | None = None,
    *,
    allocation: dasymetric.Allocation | None = None,
    network: Future[access.RoadGraph] | None = None,
) -> gpd.GeoDataFrame:
    """Put each hamlet's people on its residential land, then measure their access.

    ``allocation``: made already (the per-commune runs), else made here from
    ``layers["landuse"]`` and ``pieces``. ``network``: the road graph being
    built (:func:`_read_layers`), else built here from ``layers["roads"]``.
    """
    if allocation is None:
        allocation = dasymetric.allocate_population(hamlets, layers["landuse"], pieces=pieces)
    findings += allocation.findings
    hamlets = hamlets.join(allocation.hamlets.drop(columns="dasymetric_fallback"))
    if "infrastructure" in layers:
        table, found = access.hamlet_access(
            hamlets,
            allocation.pieces,
            layers["infrastructure"],
            roads=_road_graph_ready(network) if network is not None else layers.get("roads"),
        )
        findings += found
        hamlets = hamlets.join(table)
    return hamlets


def _landuse_pieces(
    hamlets: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame]
) -> indicators.Pieces | None:
    """Split the parcels by the hamlets, once: for the hamlets, their units and the dasymetric.

    The cut part of every parcel crossing a hamlet boundary is kept: the
    residential ones for :func:`geo.dasymetric.allocate_population`, all of
    them for the GeoPackage's ``landuse_by_hamlet`` layer
    (:func:`geo.outputs.landuse_by_zone`). Keeping a part costs nothing but
    its memory (the intersection is computed to measure it anyway); cutting
    the parts again for the outputs took 3 s at a million parcels.
    """
    landuse = layers.get("landuse")
    if landuse is None:
        return None
    require_projected(landuse.crs, "land-use areas")
    return indicators.split_pieces(
        landuse.geometry.to_numpy(),
        hamlets.geometry.to_numpy(),
        keep=np.ones(len(landuse), dtype=bool),
    )


def _unit_pieces(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    layers: dict[str, gpd.GeoDataFrame],
    hamlet_pieces: indicators.Pieces | None,
    *,
    tiling: Future[np.ndarray] | None = None,
) -> indicators.Pieces | None:
    """Split the parcels by the units: summed from the hamlet pieces where hamlets tile a unit.

    The rule (:func:`geo.coverage.hamlets_tile_units`): where the hamlets
    assigned to a unit form a valid coverage whose union is the unit, each
    parcel's part in the unit is the sum of its parts in those hamlets (equal
    to a direct split up to float rounding: 1e-13 relative at most on the benchmark data,
    invisible at the 10 significant digits of the CSV tables); the other
    units are split directly. ``tiling``: that rule's answer being worked
    out on another thread (:func:`run`), else worked out here.
    """
    landuse = layers.get("landuse")
    if landuse is None:
        return None
    require_projected(landuse.crs, "land-use areas")
    parcels = landuse.geometry.to_numpy()
    unit_geoms = units.geometry.to_numpy()
    if hamlets is None or hamlet_pieces is None:  # the GeoPackage's parcel layer is by unit
        return indicators.split_pieces(parcels, unit_geoms, keep=np.ones(len(parcels), bool))
    tiled = (
        _tiling_ready(tiling) if tiling is not None else coverage.hamlets_tile_units(units, hamlets)
    )
    position = pd.Series(np.arange(len(units)), index=units["id"].astype(str).to_numpy())
    position = position[tiled[position.to_numpy()]]
    group = hamlets["unit_id"].astype(str).map(position).fillna(-1).to_numpy(dtype=np.int64)
    summed = indicators.sum_pieces(hamlet_pieces, group, len(units))
    rest = np.flatnonzero(~tiled)
    if rest.size == 0:
        return summed
    direct = indicators.split_pieces(parcels, unit_geoms[rest])
    index = np.r_[summed.item, direct.item]
    zone = np.r_[summed.zone, rest[direct.zone]]
    order = np.lexsort((zone, index))
    return indicators.Pieces(index[order], zone[order], np.r_[summed.amount, direct.amount][order])


def _with_indicators(
    zones: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    pieces: indicators.Pieces | None = None,
    *,
    landuse_table: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Add area, land-use, service and road indicators to the zones.

    ``landuse_table``: the land-use indicators summed already (the per-commune
    runs, aligned with ``zones``), else computed from ``layers["landuse"]``.
    """
    zones = zones.copy()
    zones["area_km2"] = indicators.area_km2(zones)
    for column in ("population", "households"):
        if column not in zones.columns:
            zones[column] = np.nan
    parts = []
    if landuse_table is not None:
        parts.append(landuse_table.set_axis(zones.index))
    elif "landuse" in layers:
        parts.append(indicators.landuse_indicators(layers["landuse"], zones, pieces=pieces))
    if "infrastructure" in layers:
        parts.append(indicators.infrastructure_counts(layers["infrastructure"], zones))
    if "roads" in layers:
        parts.append(indicators.road_indicators(layers["roads"], zones))
    if parts:
        zones = pd.concat([zones, *parts], axis=1)
    return gpd.GeoDataFrame(zones, geometry="geometry", crs=layers["units"].crs)


def _with_population(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    project: Project,
    findings: list[Finding],
) -> gpd.GeoDataFrame:
    """Fill unit population (:func:`_unit_population`), then each level's density.

    Returns the units; the hamlets get their ``density_per_km2`` in place.
    """
    units = _unit_population(units, hamlets, project, findings)
    for zones in (units, hamlets):
        if zones is not None:
            zones["density_per_km2"] = indicators.density_per_km2(
                zones["population"], zones["area_km2"]
            )
    return units


def _unit_population(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    project: Project,
    findings: list[Finding],
) -> gpd.GeoDataFrame:
    """Fill unit population and households from the layer, a table, or the sum of hamlets.

    A unit figure given in the units layer or a table joined to units is kept;
    otherwise, when every hamlet of the unit has a figure, their sum is used.
    ``population_source`` says which, per unit.
    """
    units = units.copy()
    given = units["population"].notna()
    unit_tables = [t.key for t in project.tables.values() if t.joins == "units"]
    label = unit_tables[-1] if unit_tables else "layers.units"
    source = pd.Series(np.where(given, label, "none"), index=units.index, dtype="object")
    if hamlets is None:
        units["population_source"] = source
        return units
    for column in ("population", "households"):
        hamlet_sum = _complete_sums(hamlets, column, units["id"])
        known = units[column].notna()
        fill = ~known & hamlet_sum.notna()
        units.loc[fill, column] = hamlet_sum[fill]
        if column == "population":
            source[fill] = "sum of hamlets"
        differ = (
            known
            & hamlet_sum.notna()
            & ((units[column] - hamlet_sum).abs() > POPULATION_TOLERANCE * units[column])
        )
        findings += [
            Finding(
                "units",
                str(ident),
                f"{column}_mismatch",
                f"unit {column} {value:.0f} differs from the sum of its hamlets {summed:.0f}; "
                "the unit figure is used",
                float(value - summed),
            )
            for ident, value, summed in zip(
                units.loc[differ, "id"], units.loc[differ, column], hamlet_sum[differ], strict=True
            )
        ]
    units["population_source"] = source
    return units


def _complete_sums(hamlets: pd.DataFrame, column: str, unit_ids: pd.Series) -> pd.Series:
    """Sum a hamlet column per unit, NaN where any hamlet of the unit lacks a value."""
    grouped = hamlets.groupby("unit_id")[column]
    complete = grouped.count() == grouped.size()
    sums = grouped.sum().where(complete)
    return unit_ids.map(sums).astype("float64")


_LEADING = [
    "id",
    "name",
    "unit_id",
    "area_km2",
    "population",
    "population_source",
    "households",
    "density_per_km2",
]


def _ordered(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    leading = [c for c in _LEADING if c in zones.columns]
    verdicts = sorted(c for c in zones.columns if c.endswith("_verdict"))
    trailing = [*verdicts, "geometry"]
    middle = [c for c in zones.columns if c not in leading and c not in trailing]
    return zones[leading + middle + trailing]

"""Coverage checks, run before any indicator: do the layers tile the communes.

Hamlet indicators only add up to their commune's when the hamlets tile it
exactly: no part of the commune left to no hamlet (a *gap*), no part given to
two hamlets (an *overlap*). Land-use shares are only shares of the commune when
parcels cover it. And computed areas should agree with the official figures.

Every check returns rows of one findings table (:data:`FINDING_COLUMNS`), a
GeoDataFrame in the project CRS whose geometry is the problem polygon (gap,
overlap, uncovered land) or, for a per-unit mismatch, the unit's
representative point. :func:`check_coverage` runs them all;
:func:`to_findings` turns the table into :class:`~geo.validate.Finding`
records for ``findings.csv``.

All areas are planimetric, in m² or km² of the projected CRS (never degrees).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import parallel
from geo.crs import require_projected, require_same_crs
from geo.indicators import Pieces, sorted_has, split_pieces
from geo.labels import format_number_vi as _vi
from geo.validate import Finding

M2_PER_KM2 = 1_000_000.0

MIN_AREA_M2 = 1.0
"""Slivers smaller than this (m²) are ignored: gaps, overlaps and uncovered parts.

One square metre is below the precision of cadastral boundaries at 1:2,000
(a 0.1 m misfit along a 10 m edge); parts left by floating-point noise in
shared edges (10⁻⁶ m² and less) are far below it.
"""

MIN_WIDTH_M = 0.05
"""Slivers thinner than this on average (2 × area ÷ perimeter, m) are ignored too.

Layers that went through different reprojections disagree by up to about a
millimetre along their shared edges: over a 2 km edge that is a 2 m² sliver,
which the area floor alone would report. A real gap or overlap is wider.
"""

HAMLET_SUM_TOLERANCE_PCT = 0.5
"""Relative difference (%) between the sum of hamlet areas and the unit area that is flagged."""

OFFICIAL_AREA_TOLERANCE_PCT = 1.0
"""Relative difference (%) between computed and official unit areas that is flagged."""

NEIGHBOUR_DISTANCE_M = 0.01
"""A hamlet within this distance (m) of a gap is named as bordering it."""

FINDING_KINDS = ("gap", "overlap", "area_mismatch", "hamlet_sum_mismatch", "landuse_uncovered")
"""The kinds of coverage findings."""

FINDING_COLUMNS = [
    "kind",
    "layer",
    "unit_id",
    "feature",
    "area_m2",
    "value",
    "value_unit",
    "point_x",
    "point_y",
    "message_vi",
    "message_en",
    "message",
    "geometry",
]
"""Columns of a coverage findings table.

``kind``
    One of :data:`FINDING_KINDS`.
``layer``
    The layer at fault: ``hamlets`` (gap, overlap, hamlet_sum_mismatch),
    ``units`` (area_mismatch) or ``landuse`` (landuse_uncovered).
``unit_id``
    The unit concerned (for an overlap, the unit holding its representative point).
``feature``
    Ids concerned, comma-separated: the hamlets of an overlap, the hamlets
    bordering a gap, the unit of a per-unit mismatch.
``area_m2``
    Gap, overlap or uncovered area (m²); for a mismatch, the signed area
    difference (computed − reference, m²).
``value``, ``value_unit``
    The figure compared with the tolerance: ``m2`` for gaps and overlaps (the
    area again), ``pct`` for mismatches (signed relative difference) and
    uncovered land (share of the unit).
``point_x``, ``point_y``
    A representative point of the problem (inside it), in the project CRS.
``message_vi``, ``message_en``, ``message``
    The finding in words; ``message`` is ``"<vi> / <en>"``.
"""


def check_coverage(
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None = None,
    landuse: gpd.GeoDataFrame | None = None,
    *,
    official_area_km2: pd.Series | None = None,
    unit_column: str = "unit_id",
    min_area_m2: float = MIN_AREA_M2,
    hamlet_sum_tolerance_pct: float = HAMLET_SUM_TOLERANCE_PCT,
    official_area_tolerance_pct: float = OFFICIAL_AREA_TOLERANCE_PCT,
    landuse_pieces: Pieces | None = None,
) -> gpd.GeoDataFrame:
    """Run every coverage check and return the findings.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Communes with an ``id`` column, in a projected CRS in metres.
    hamlets : geopandas.GeoDataFrame, optional
        Hamlets with ``id`` and ``unit_column``, same CRS. Without them, gaps,
        overlaps and hamlet sums are not checked.
    landuse : geopandas.GeoDataFrame, optional
        Land-use parcels, same CRS. Without them, land-use cover is not checked.
    official_area_km2 : pandas.Series, optional
        Official area of each unit in km², aligned with ``units`` (NaN where
        unknown), e.g. the ``areaKm2`` field of ``layers/thai-nguyen-2025``.
    unit_column : str, default "unit_id"
        Column of ``hamlets`` naming the unit each hamlet belongs to.
    min_area_m2 : float, default :data:`MIN_AREA_M2`
        Gap, overlap and uncovered parts smaller than this are ignored.
    hamlet_sum_tolerance_pct : float, default :data:`HAMLET_SUM_TOLERANCE_PCT`
        Flag a unit whose hamlets' areas sum to more than this % away from its area.
    official_area_tolerance_pct : float, default :data:`OFFICIAL_AREA_TOLERANCE_PCT`
        Flag a unit whose computed area is more than this % away from the official one.
    landuse_pieces : geo.indicators.Pieces, optional
        The parcels split by the units, when already done (see
        :func:`landuse_uncovered`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per finding, columns :data:`FINDING_COLUMNS`, in the units' CRS;
        ordered by kind (as in :data:`FINDING_KINDS`), unit and feature. Empty
        (with those columns) when everything tiles and matches.

    Raises
    ------
    GeographicCrsError
        If the CRS is not projected in metres.
    ValidationError
        If the layers are not all in the same CRS.
    """
    require_projected(units.crs, "coverage areas")
    parts = []
    if hamlets is not None:
        parts += [
            hamlet_gaps(units, hamlets, min_area_m2=min_area_m2),
            hamlet_overlaps(hamlets, units, min_area_m2=min_area_m2),
        ]
        sums = hamlet_area_sums(units, hamlets, unit_column=unit_column)
        parts.append(
            _mismatches(
                units,
                "hamlet_sum_mismatch",
                sums["hamlet_area_km2"],
                sums["hamlet_area_diff_pct"],
                hamlet_sum_tolerance_pct,
            )
        )
    if landuse is not None:
        parts.append(
            landuse_uncovered(units, landuse, min_area_m2=min_area_m2, pieces=landuse_pieces)
        )
    if official_area_km2 is not None:
        official = official_area_difference(units, official_area_km2)
        parts.append(
            _mismatches(
                units,
                "area_mismatch",
                official["official_area_km2"],
                official["area_diff_pct"],
                official_area_tolerance_pct,
            )
        )
    return combine(parts, units.crs)


def combine(tables: list[gpd.GeoDataFrame], crs: object) -> gpd.GeoDataFrame:
    """Put coverage findings together in the order of :func:`check_coverage`.

    Parameters
    ----------
    tables : list of geopandas.GeoDataFrame
        Findings (:data:`FINDING_COLUMNS`), e.g. of :func:`check_coverage`
        run on the hamlets and on the land use apart; no kind in two tables.
    crs : object
        The CRS of the result (the units').

    Returns
    -------
    geopandas.GeoDataFrame
        Ordered by kind (as in :data:`FINDING_KINDS`), unit and feature; each
        table's rows in their order otherwise. Empty (with those columns) when
        every table is.
    """
    parts = [table for table in tables if not table.empty]
    if not parts:
        return _empty(crs)
    table = pd.concat(parts, ignore_index=True)
    table["_order"] = table["kind"].map({kind: i for i, kind in enumerate(FINDING_KINDS)})
    table = table.sort_values(["_order", "unit_id", "feature"], kind="stable")
    table = table.drop(columns="_order").reset_index(drop=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=crs)


def hamlet_gaps(
    units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame, *, min_area_m2: float = MIN_AREA_M2
) -> gpd.GeoDataFrame:
    """Find the parts of each unit that no hamlet covers.

    Parameters
    ----------
    units, hamlets : geopandas.GeoDataFrame
        Polygons with an ``id`` column, in one projected CRS.
    min_area_m2 : float, default :data:`MIN_AREA_M2`
        Gap parts smaller than this are ignored.

    Returns
    -------
    geopandas.GeoDataFrame
        Findings of kind ``gap`` (:data:`FINDING_COLUMNS`), one per connected
        gap part; ``feature`` lists the hamlets within
        :data:`NEIGHBOUR_DISTANCE_M` of it.

    Notes
    -----
    A unit's gap is the unit minus the union of every hamlet that intersects
    it, whichever unit the hamlet was assigned to. Where that union lies in
    the unit and leaves less than half of ``min_area_m2`` of it (areas
    subtracted), no gap can be reported and the difference is not computed
    (at L: 100 units, 0.40 -> 0.22 s).
    """
    require_projected(units.crs, "gap areas")
    require_same_crs("gaps", units, hamlets)
    unit_geoms = units.geometry.to_numpy()
    hamlet_geoms = hamlets.geometry.to_numpy()

    def unit_gaps(position: int, members: np.ndarray) -> list[shapely.Geometry]:
        unit = unit_geoms[position]
        if members.size == 0:
            return _polygon_parts(unit, min_area_m2)
        union = _union(hamlet_geoms[members])
        left_m2 = shapely.area(unit) - shapely.area(union)
        if left_m2 < min_area_m2 / 2 and shapely.covers(unit, union):
            return []  # the hamlets lie in the unit and leave less of it than one gap reported
        return _polygon_parts(shapely.difference(unit, union), min_area_m2)

    inside = list(enumerate(_inside(unit_geoms, hamlet_geoms)))
    found = parallel.map_items(lambda item: unit_gaps(*item), inside)  # a unit a task
    rows = [(position, part) for position, parts in enumerate(found) for part in parts]
    if not rows:
        return _empty(units.crs)
    positions, gaps = zip(*rows, strict=True)
    unit_ids = [str(units["id"].iloc[p]) for p in positions]
    labels = _unit_labels(units)[list(positions)]
    gap_geoms = np.array(gaps, dtype=object)
    neighbours = _neighbours(gap_geoms, hamlet_geoms, hamlets["id"])
    area = shapely.area(gap_geoms)
    messages = [
        (
            f"Khoảng hở {_vi(a)} m² trong {u} không thuộc thôn, xóm nào"
            + (f" (giáp {n})" if n else ""),
            f"Gap of {a:,.0f} m² in {u} covered by no hamlet" + (f" (next to {n})" if n else ""),
        )
        for u, a, n in zip(labels, area, neighbours, strict=True)
    ]
    return _frame(
        "gap",
        layer="hamlets",
        unit_ids=unit_ids,
        features=neighbours,
        area_m2=area,
        value=area,
        value_unit="m2",
        messages=messages,
        geometries=gap_geoms,
        crs=units.crs,
    )


def hamlet_overlaps(
    hamlets: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    *,
    min_area_m2: float = MIN_AREA_M2,
) -> gpd.GeoDataFrame:
    """Find the parts covered by two hamlets or more.

    Parameters
    ----------
    hamlets : geopandas.GeoDataFrame
        Polygons with an ``id`` column, in a projected CRS.
    units : geopandas.GeoDataFrame, optional
        Units with ``id``; each overlap gets the unit holding its
        representative point (empty without units).
    min_area_m2 : float, default :data:`MIN_AREA_M2`
        Overlap parts smaller than this are ignored.

    Returns
    -------
    geopandas.GeoDataFrame
        Findings of kind ``overlap`` (:data:`FINDING_COLUMNS`), one per pair of
        hamlets and connected part of their intersection; ``feature`` is
        ``"<id1>, <id2>"``.

    Notes
    -----
    Candidate pairs come from an STRtree; a DE-9IM test keeps the pairs whose
    interiors share an area, and only those are intersected. A part covered
    by three hamlets appears once in each of the three pairs.
    """
    require_projected(hamlets.crs, "overlap areas")
    require_same_crs("overlaps", hamlets, units)
    geoms = hamlets.geometry.to_numpy()
    first, second = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    ordered = first < second
    first, second = first[ordered], second[ordered]
    order = np.lexsort((second, first))
    first, second = first[order], second[order]
    shapely.prepare(geoms)
    interior = shapely.relate_pattern(geoms[first], geoms[second], "2********")
    first, second = first[interior], second[interior]
    shared = shapely.intersection(geoms[first], geoms[second])
    ids = hamlets["id"].astype(str).to_numpy()
    rows = [
        (f"{ids[a]}, {ids[b]}", part)
        for a, b, geometry in zip(first, second, shared, strict=True)
        for part in _polygon_parts(geometry, min_area_m2)
    ]
    crs = hamlets.crs
    if not rows:
        return _empty(crs)
    features, parts = zip(*rows, strict=True)
    overlap_geoms = np.array(parts, dtype=object)
    unit_ids = _unit_at(overlap_geoms, units) if units is not None else [""] * len(overlap_geoms)
    area = shapely.area(overlap_geoms)
    messages = [
        (
            f"Chồng lấn {_vi(a)} m² giữa các thôn, xóm {f}",
            f"Overlap of {a:,.0f} m² between hamlets {f}",
        )
        for a, f in zip(area, features, strict=True)
    ]
    return _frame(
        "overlap",
        layer="hamlets",
        unit_ids=unit_ids,
        features=features,
        area_m2=area,
        value=area,
        value_unit="m2",
        messages=messages,
        geometries=overlap_geoms,
        crs=crs,
    )


def hamlet_area_sums(
    units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame, *, unit_column: str = "unit_id"
) -> pd.DataFrame:
    """Compare the sum of each unit's hamlet areas with the unit's area.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units with ``id``, in a projected CRS.
    hamlets : geopandas.GeoDataFrame
        Hamlets with ``unit_column``, same CRS.
    unit_column : str, default "unit_id"
        Column of ``hamlets`` naming the unit.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``units``: ``hamlet_area_km2`` (sum of the areas of the
        hamlets assigned to the unit; 0 without hamlets) and
        ``hamlet_area_diff_pct`` = (hamlet sum − unit area) / unit area × 100.
    """
    require_projected(units.crs, "hamlet area sums")
    hamlet_km2 = pd.Series(
        shapely.area(hamlets.geometry.to_numpy()) / M2_PER_KM2, index=hamlets.index
    )
    sums = hamlet_km2.groupby(hamlets[unit_column].astype(str).to_numpy()).sum()
    summed = units["id"].astype(str).map(sums).fillna(0.0).to_numpy(dtype="float64")
    unit_km2 = shapely.area(units.geometry.to_numpy()) / M2_PER_KM2
    with np.errstate(invalid="ignore", divide="ignore"):
        diff_pct = np.where(unit_km2 > 0, (summed - unit_km2) / unit_km2 * 100.0, np.nan)
    return pd.DataFrame(
        {"hamlet_area_km2": summed, "hamlet_area_diff_pct": diff_pct}, index=units.index
    )


def hamlets_tile_units(
    units: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame, *, unit_column: str = "unit_id"
) -> np.ndarray:
    """Tell, for each unit, whether the hamlets assigned to it tile it exactly.

    The rule: the unit's hamlets (``unit_column`` equal to its ``id``) form a
    valid coverage (``shapely.coverage_is_valid``: no two overlap, and shared
    edges have the same vertices) and their union is the unit
    (``shapely.equals``, an exact topological test). Then any parcel's part in
    the unit is the union of its parts in those hamlets, which share no
    area: the unit's land-use areas are the sums of its hamlets', up to float
    rounding (see :func:`geo.indicators.sum_pieces`). No tolerance: a unit
    that its hamlets tile only up to slivers (which :func:`hamlet_gaps` and
    :func:`hamlet_overlaps` ignore) is not tiled here.

    Parameters
    ----------
    units, hamlets : geopandas.GeoDataFrame
        Units with ``id``; hamlets with ``unit_column``; one projected CRS.
    unit_column : str, default "unit_id"

    Returns
    -------
    numpy.ndarray of bool
        Aligned with ``units``.
    """
    unit_ids = units["id"].astype(str).to_numpy()
    owner = hamlets[unit_column].astype(str).to_numpy()
    hamlet_geoms = hamlets.geometry.to_numpy()
    members: dict[str, list[int]] = {}
    for position, ident in enumerate(owner):
        members.setdefault(ident, []).append(position)
    tiled = np.zeros(len(units), dtype=bool)
    for position, (ident, unit) in enumerate(zip(unit_ids, units.geometry.to_numpy(), strict=True)):
        parts = hamlet_geoms[members.get(ident, [])]
        if parts.size == 0 or unit is None or shapely.is_empty(unit):
            continue
        if not shapely.is_valid(unit) or not shapely.coverage_is_valid(parts):
            continue
        try:
            union = shapely.coverage_union_all(parts)
        except shapely.errors.GEOSException:
            continue
        tiled[position] = bool(shapely.equals(union, unit))
    return tiled


def official_area_difference(
    units: gpd.GeoDataFrame, official_area_km2: pd.Series | Sequence[float]
) -> pd.DataFrame:
    """Compare each unit's computed area with its official figure.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units in a projected CRS in metres.
    official_area_km2 : pandas.Series or sequence of float
        Official areas in km², aligned with ``units`` (by position); NaN where unknown.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``units``: ``official_area_km2``, ``area_diff_km2``
        (computed − official) and ``area_diff_pct`` (that difference as a %
        of the official area; NaN where the official area is unknown or 0).

    Examples
    --------
    >>> from shapely import box
    >>> units = gpd.GeoDataFrame(geometry=[box(0, 0, 1000, 1010)], crs="EPSG:9213")
    >>> official_area_difference(units, [1.0]).round(4).to_dict("records")
    [{'official_area_km2': 1.0, 'area_diff_km2': 0.01, 'area_diff_pct': 1.0}]
    """
    require_projected(units.crs, "unit areas")
    official = pd.to_numeric(pd.Series(np.asarray(official_area_km2)), errors="coerce").to_numpy(
        dtype="float64"
    )
    computed = shapely.area(units.geometry.to_numpy()) / M2_PER_KM2
    diff = computed - official
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(official > 0, diff / official * 100.0, np.nan)
    return pd.DataFrame(
        {"official_area_km2": official, "area_diff_km2": diff, "area_diff_pct": pct},
        index=units.index,
    )


def landuse_uncovered(
    units: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame,
    *,
    min_area_m2: float = MIN_AREA_M2,
    pieces: Pieces | None = None,
) -> gpd.GeoDataFrame:
    """Find the part of each unit that no land-use parcel covers.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units with ``id``, in a projected CRS.
    landuse : geopandas.GeoDataFrame
        Parcels, same CRS.
    min_area_m2 : float, default :data:`MIN_AREA_M2`
        Uncovered parts smaller than this are ignored.
    pieces : geo.indicators.Pieces, optional
        The parcels split by the units (:func:`geo.indicators.split_pieces`,
        or summed from hamlets that tile them); computed when not given.

    Returns
    -------
    geopandas.GeoDataFrame
        Findings of kind ``landuse_uncovered`` (:data:`FINDING_COLUMNS`), one
        per unit with uncovered land: the uncovered (multi)polygon,
        ``area_m2`` its area and ``value`` its share of the unit (%).

    Notes
    -----
    The parcels sharing an area with a unit are unioned and subtracted from
    the unit. A parcel of a neighbouring unit that overlaps this one by
    floating-point noise (less than ``min_area_m2``, and not wholly inside)
    is left out: it would add nothing above the threshold, and without it
    the unit's parcels form a coverage, whose union GEOS computes much faster
    (:func:`_coverage_union`).
    """
    require_projected(units.crs, "land-use cover")
    require_same_crs("land-use cover", units, landuse)
    unit_geoms = units.geometry.to_numpy()
    parcels = landuse.geometry.to_numpy()
    if pieces is None:
        pieces = split_pieces(parcels, unit_geoms)

    def uncovered(position: int, members: np.ndarray) -> list[shapely.Geometry]:
        unit = unit_geoms[position]
        if members.size == 0:
            return _polygon_parts(unit, min_area_m2)
        return _polygon_parts(
            shapely.difference(unit, _coverage_union(parcels[members])), min_area_m2
        )

    members = _members(pieces, unit_geoms, parcels, min_area_m2)
    found = parallel.map_items(lambda item: uncovered(*item), list(enumerate(members)))
    rows = [
        (position, shapely.multipolygons(parts)) for position, parts in enumerate(found) if parts
    ]
    if not rows:
        return _empty(units.crs)
    positions, geometries = zip(*rows, strict=True)
    geoms = np.array(geometries, dtype=object)
    unit_ids = [str(units["id"].iloc[p]) for p in positions]
    labels = _unit_labels(units)[list(positions)]
    area = shapely.area(geoms)
    share = area / shapely.area(unit_geoms[list(positions)]) * 100.0
    messages = [
        (
            f"{_vi(a)} m² ({_vi(s, 2)} %) của {u} chưa có dữ liệu sử dụng đất",
            f"{a:,.0f} m² ({s:.2f} %) of {u} has no land-use parcel",
        )
        for u, a, s in zip(labels, area, share, strict=True)
    ]
    return _frame(
        "landuse_uncovered",
        layer="landuse",
        unit_ids=unit_ids,
        features=unit_ids,
        area_m2=area,
        value=share,
        value_unit="pct",
        messages=messages,
        geometries=geoms,
        crs=units.crs,
    )


def to_findings(problems: pd.DataFrame) -> list[Finding]:
    """Turn a coverage findings table into records for ``findings.csv``.

    Parameters
    ----------
    problems : pandas.DataFrame
        A table returned by :func:`check_coverage` (or one of the checks).

    Returns
    -------
    list of Finding
        ``layer``, ``feature``, ``kind`` and ``message`` as in the table;
        ``value`` is the table's ``value`` (m² or %, see ``value_unit``).
    """
    return [
        Finding(str(layer), str(feature), str(kind), str(message), float(value))
        for layer, feature, kind, message, value in zip(
            problems["layer"],
            problems["feature"],
            problems["kind"],
            problems["message"],
            problems["value"].to_numpy(dtype="float64"),
            strict=True,
        )
    ]


# --------------------------------------------------------------------------- helpers


def _mismatches(
    units: gpd.GeoDataFrame,
    kind: str,
    reference_km2: pd.Series,
    diff_pct: pd.Series,
    tolerance_pct: float,
) -> gpd.GeoDataFrame:
    """Per-unit findings where ``|diff_pct|`` exceeds the tolerance, at the unit's point."""
    flagged = np.flatnonzero(np.abs(diff_pct.to_numpy(dtype="float64")) > tolerance_pct)
    if flagged.size == 0:
        return _empty(units.crs)
    unit_geoms = units.geometry.to_numpy()[flagged]
    computed = shapely.area(unit_geoms) / M2_PER_KM2
    reference = reference_km2.to_numpy(dtype="float64")[flagged]
    pct = diff_pct.to_numpy(dtype="float64")[flagged]
    unit_ids = [str(units["id"].iloc[p]) for p in flagged]
    labels = _unit_labels(units)[flagged]
    if kind == "hamlet_sum_mismatch":
        layer = "hamlets"
        diff_m2 = (reference - computed) * M2_PER_KM2
        messages = [
            _hamlet_sum_message(u, r, c, p, tolerance_pct)
            for u, r, c, p in zip(labels, reference, computed, pct, strict=True)
        ]
    else:
        layer = "units"
        diff_m2 = (computed - reference) * M2_PER_KM2
        messages = [
            _official_area_message(u, r, c, p, tolerance_pct)
            for u, r, c, p in zip(labels, reference, computed, pct, strict=True)
        ]
    return _frame(
        kind,
        layer=layer,
        unit_ids=unit_ids,
        features=unit_ids,
        area_m2=diff_m2,
        value=pct,
        value_unit="pct",
        messages=messages,
        geometries=shapely.point_on_surface(unit_geoms),
        crs=units.crs,
    )


def _hamlet_sum_message(
    unit: str, hamlet_km2: float, unit_km2: float, pct: float, tolerance_pct: float
) -> tuple[str, str]:
    vi = (
        f"Tổng diện tích các thôn, xóm {_vi(hamlet_km2, 4)} km² lệch {_vi(pct, 2, sign=True)} % "
        f"so với diện tích của {unit} {_vi(unit_km2, 4)} km² (ngưỡng {_vi(tolerance_pct, 2)} %)"
    )
    en = (
        f"Hamlet areas sum to {hamlet_km2:.4f} km², {pct:+.2f} % off the area of {unit}, "
        f"{unit_km2:.4f} km² (tolerance {tolerance_pct:g} %)"
    )
    return vi, en


def _official_area_message(
    unit: str, official_km2: float, computed_km2: float, pct: float, tolerance_pct: float
) -> tuple[str, str]:
    diff = computed_km2 - official_km2
    vi = (
        f"Diện tích tính được của {unit} {_vi(computed_km2, 2)} km² lệch "
        f"{_vi(diff, 2, sign=True)} km² ({_vi(pct, 2, sign=True)} %) so với số liệu chính thức "
        f"{_vi(official_km2, 2)} km² (ngưỡng {_vi(tolerance_pct, 2)} %)"
    )
    en = (
        f"Computed area of {unit} {computed_km2:.2f} km² differs by {diff:+.2f} km² "
        f"({pct:+.2f} %) from the official {official_km2:.2f} km² (tolerance {tolerance_pct:g} %)"
    )
    return vi, en


def _frame(
    kind: str,
    *,
    layer: str,
    unit_ids: Sequence[str],
    features: Sequence[str],
    area_m2: np.ndarray,
    value: np.ndarray,
    value_unit: str,
    messages: Sequence[tuple[str, str]],
    geometries: np.ndarray,
    crs: object,
) -> gpd.GeoDataFrame:
    """Assemble findings rows in the :data:`FINDING_COLUMNS` layout."""
    points = shapely.point_on_surface(geometries)
    vi = [m[0] for m in messages]
    en = [m[1] for m in messages]
    return gpd.GeoDataFrame(
        {
            "kind": kind,
            "layer": layer,
            "unit_id": list(unit_ids),
            "feature": list(features),
            "area_m2": np.asarray(area_m2, dtype="float64"),
            "value": np.asarray(value, dtype="float64"),
            "value_unit": value_unit,
            "point_x": shapely.get_x(points),
            "point_y": shapely.get_y(points),
            "message_vi": vi,
            "message_en": en,
            "message": [f"{a} / {b}" for a, b in zip(vi, en, strict=True)],
        },
        geometry=list(geometries),
        crs=crs,
    )


def _empty(crs: object) -> gpd.GeoDataFrame:
    """Return an empty findings table with the right columns and dtypes (a fresh copy)."""
    try:
        template = _EMPTY.get(crs)
    except TypeError:  # a CRS that cannot be hashed
        template = None
    if template is None:
        columns = {name: pd.Series(dtype="object") for name in FINDING_COLUMNS[:-1]}
        for name in ("area_m2", "value", "point_x", "point_y"):
            columns[name] = pd.Series(dtype="float64")
        template = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
        with contextlib.suppress(TypeError):
            _EMPTY[crs] = template
    return template.copy()


_EMPTY: dict[object, gpd.GeoDataFrame] = {}
"""Empty findings tables by CRS (building one takes milliseconds; copying it, far less)."""


def _inside(zones: np.ndarray, geometries: np.ndarray) -> list[np.ndarray]:
    """Return, for each zone, the positions of the geometries whose interior meets it.

    Geometries that only touch the zone from outside are left out, so a
    neighbour's edge does not spoil the coverage union of the zone's own parts.
    """
    zone_index, index = shapely.STRtree(geometries).query(zones, predicate="intersects")
    shapely.prepare(zones)
    keep = ~shapely.touches(zones[zone_index], geometries[index])
    zone_index, index = zone_index[keep], index[keep]
    order = np.argsort(zone_index, kind="stable")
    bounds = np.searchsorted(zone_index[order], np.arange(len(zones) + 1))
    return [index[order[a:b]] for a, b in itertools.pairwise(bounds)]


def _members(
    pieces: Pieces, zones: np.ndarray, geometries: np.ndarray, min_area_m2: float
) -> list[np.ndarray]:
    """For each zone, the geometries sharing at least ``min_area_m2`` with it or inside it.

    A geometry sharing less is kept only if the zone properly contains it (a
    tiny parcel); the others are the boundary noise of a neighbour.
    """
    small = np.flatnonzero(pieces.amount < min_area_m2)
    keep = np.ones(pieces.item.size, dtype=bool)
    if small.size:
        keep[small] = shapely.contains_properly(
            zones[pieces.zone[small]], geometries[pieces.item[small]]
        )
    zone, index = pieces.zone[keep], pieces.item[keep]
    order = np.argsort(zone, kind="stable")
    bounds = np.searchsorted(zone[order], np.arange(len(zones) + 1))
    return [index[order[a:b]] for a, b in itertools.pairwise(bounds)]


COVERAGE_AREA_TOLERANCE = 1e-9
"""Relative difference between a coverage union's area and the sum of its parts that is accepted."""


def _coverage_union(geometries: np.ndarray) -> shapely.Geometry:
    """Union polygons expected to form a coverage (no overlaps); else fall back to union_all.

    First from the polygons on the coverage's edge only (:func:`_edge_union`);
    else ``shapely.coverage_union_all`` of all, accepted when GEOS does not
    refuse it, the result is valid and its area is the sum of the parts'
    (within :data:`COVERAGE_AREA_TOLERANCE`): overlapping parts would be
    counted twice in the sum. Otherwise ``shapely.union_all`` gives the union.
    """
    if geometries.size == 0:
        return shapely.Polygon()
    union = _edge_union(geometries)
    if union is not None:
        return union
    return _checked_coverage_union(geometries)


def _checked_coverage_union(geometries: np.ndarray) -> shapely.Geometry:
    """``coverage_union_all`` if valid and of the parts' area, else ``union_all``."""
    try:
        union = shapely.coverage_union_all(geometries)
    except shapely.errors.GEOSException:
        union = None
    if union is not None and shapely.is_valid(union):
        parts = float(shapely.area(geometries).sum())
        if abs(float(shapely.area(union)) - parts) <= COVERAGE_AREA_TOLERANCE * parts:
            return union
    return shapely.union_all(geometries)


_MIX = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
)
"""Odd 64-bit constants (splitmix64's) that spread coordinates' bits into edge keys."""


class _Edges(NamedTuple):
    """The edges of some geometries' rings (:func:`_edges`)."""

    key: np.ndarray  # uint64, the same for an edge and its reverse
    owner: np.ndarray  # the geometry of each edge
    low: np.ndarray  # uint64 keys of the edges' two ends
    high: np.ndarray


def _edges(geometries: np.ndarray) -> _Edges:
    """Return a key for each edge of the geometries' rings, and the geometry it is in.

    Points get 64 bits mixed from the exact bits of their coordinates, edges
    64 bits mixed from their two ends' (the same both ways). Edges of no
    length are left out. The coordinates of a geometry of one ring are taken
    as they come; a geometry whose coordinates do not end where they start
    (several parts or rings) is taken ring by ring, so no edge joins two.
    """
    xy, owner = shapely.get_coordinates(geometries, return_index=True)
    ring = owner
    first = np.flatnonzero(np.r_[owner.size > 0, owner[1:] != owner[:-1]])
    last = np.r_[first[1:], owner.size][: first.size] - 1
    open_ = (xy[first] != xy[last]).any(axis=1)
    if open_.any():  # several rings: their coordinates, each ring its own
        several = owner[first[open_]]
        parts, part_of = shapely.get_parts(geometries[several], return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        ring_xy, at = shapely.get_coordinates(rings, return_index=True)
        one = ~np.isin(owner, several)
        xy = np.concatenate([xy[one], ring_xy])
        ring = np.concatenate([owner[one], geometries.size + at])  # ring ids past the owners'
        owner = np.concatenate([owner[one], several[part_of[ring_of[at]]]])
    bits = np.ascontiguousarray(xy).view(np.uint64)
    m1, m2, m3 = _MIX
    with np.errstate(over="ignore"):
        point = bits[:, 0] * m1 ^ (bits[:, 1] + m2) * m3
        point ^= point >> np.uint64(31)
        point *= m2
        point ^= point >> np.uint64(29)
        edge = (ring[:-1] == ring[1:]) & (point[:-1] != point[1:])
        low = np.minimum(point[:-1], point[1:])[edge]
        high = np.maximum(point[:-1], point[1:])[edge]
        key = low * m1 + (high ^ (high >> np.uint64(27))) * m3
        key ^= key >> np.uint64(33)
    return _Edges(key, owner[:-1][edge], low, high)


def _edge_union(geometries: np.ndarray) -> shapely.Geometry | None:
    """Union polygons that form a coverage from those on its edge; None if it does not hold.

    In a coverage, an edge two polygons share is inside the union; the union's
    boundary is made of the edges only one polygon has. So the polygons with
    such an edge (the coverage's rim, and the rims of its holes) are unioned
    (``coverage_union_all``), and a hole of that union bounded by shared
    edges only is land the other polygons fill, so it is filled; the others
    are the coverage's holes (:func:`_filled`). Where a hole of that union
    has edges of both kinds (a gap and land that touch at a corner), the
    polygons with a corner on a one-sided edge join the rim, once. The
    result is kept when it is valid and its area is the sum of all the
    polygons' (within :data:`COVERAGE_AREA_TOLERANCE`): a polygon overlapping
    another, a hole wrongly filled or kept (one a polygon touches in the
    middle of an edge), or two edges of different ends that got the same key
    all change one or the other.
    """
    edges = _edges(geometries)
    code, distinct = pd.factorize(edges.key)  # a hash table: a sort took twice as long
    count = np.bincount(code)
    one_sided = count[code] != 2
    shared = np.sort(distinct[count == 2])
    rim = np.zeros(geometries.size, dtype=bool)
    rim[edges.owner[one_sided]] = True
    union, mixed = _rim_union(geometries, rim, shared)
    if mixed:  # a hole of the rim's union holds land and a gap: they touch at a corner
        ends = np.unique(np.r_[edges.low[one_sided], edges.high[one_sided]])
        corner = np.isin(edges.low, ends) | np.isin(edges.high, ends)
        rim[edges.owner[corner]] = True
        union, mixed = _rim_union(geometries, rim, shared)
    if union is None or mixed or not shapely.is_valid(union):
        return None
    area = float(shapely.area(geometries).sum())
    if abs(float(shapely.area(union)) - area) > COVERAGE_AREA_TOLERANCE * area:
        return None
    return union


def _rim_union(
    geometries: np.ndarray, rim: np.ndarray, shared: np.ndarray
) -> tuple[shapely.Geometry | None, bool]:
    """Union the ``rim`` polygons and fill their holes (:func:`_filled`); None if it fails."""
    if not rim.any() or rim.all():
        return None, False
    try:
        rim_union = shapely.coverage_union_all(geometries[rim])
    except shapely.errors.GEOSException:
        return None, False
    return _filled(rim_union, shared)


def _filled(
    rim_union: shapely.Geometry, shared: np.ndarray
) -> tuple[shapely.Geometry | None, bool]:
    """Fill the holes of ``rim_union`` whose edges all have keys in ``shared`` (sorted).

    The parts of the rim inside a filled hole are gone in it; the holes they
    have are kept, in the part that then holds them. Returns the union (None
    when a kept hole is in no part or in two: polygons inside a hole of the
    coverage), and whether a hole has edges of both kinds (then None).
    """
    polygons = shapely.get_parts(rim_union)
    polygons = polygons[shapely.get_type_id(polygons) == shapely.GeometryType.POLYGON]
    if not polygons.size:
        return None, False
    outlines = shapely.get_exterior_ring(polygons)
    holes_of = shapely.get_num_interior_rings(polygons)
    rings = shapely.get_interior_ring(
        np.repeat(polygons, holes_of), np.concatenate([np.arange(n) for n in holes_of])
    )
    ring_key, ring = _edges(rings)[:2]
    known = sorted_has(shared, ring_key)
    unshared = np.bincount(ring[~known], minlength=rings.size)
    edges_of = np.bincount(ring, minlength=rings.size)
    if ((unshared > 0) & (unshared < edges_of)).any():
        return None, True
    gap_rings = rings[unshared > 0]
    # each big polygon asks a tree of the small ones, so that it is prepared once
    shells = np.asarray(shapely.polygons(outlines), dtype=object)
    filled = shapely.polygons(rings[unshared == 0])
    kept = np.ones(shells.size, dtype=bool)
    kept[shapely.STRtree(shells).query(filled, predicate="contains")[1]] = False
    shells, outlines = shells[kept], outlines[kept]
    gaps = np.asarray(shapely.polygons(gap_rings), dtype=object)
    shell, gap = shapely.STRtree(gaps).query(shells, predicate="contains")
    if not outlines.size or gap.size != gap_rings.size or np.unique(gap).size != gap.size:
        return None, False
    holes: list[list[shapely.Geometry]] = [[] for _ in range(outlines.size)]
    for k, g in zip(shell, gap, strict=True):
        holes[k].append(gap_rings[g])
    parts = [shapely.polygons(one, hole or None) for one, hole in zip(outlines, holes, strict=True)]
    return (shapely.multipolygons(parts) if len(parts) > 1 else parts[0]), False


def _union(geometries: np.ndarray) -> shapely.Geometry:
    """Union polygons; a coverage union when they form a valid coverage (much faster)."""
    if geometries.size == 0:
        return shapely.Polygon()
    if shapely.coverage_is_valid(geometries):
        return shapely.coverage_union_all(geometries)
    return shapely.union_all(geometries)


def _polygon_parts(geometry: shapely.Geometry, min_area_m2: float) -> list[shapely.Geometry]:
    """Return the polygons of a geometry of at least ``min_area_m2`` and :data:`MIN_WIDTH_M`."""
    parts = shapely.get_parts(geometry)
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    area = shapely.area(parts)
    width = 2.0 * area / np.maximum(shapely.length(parts), 1e-12)
    return list(parts[(area >= min_area_m2) & (width >= MIN_WIDTH_M)])


def _neighbours(geometries: np.ndarray, hamlets: np.ndarray, ids: pd.Series) -> list[str]:
    """Comma-separated ids of the hamlets within :data:`NEIGHBOUR_DISTANCE_M` of each geometry."""
    index, hamlet_index = shapely.STRtree(hamlets).query(
        geometries, predicate="dwithin", distance=NEIGHBOUR_DISTANCE_M
    )
    labels = ids.astype(str).to_numpy()
    found: list[list[str]] = [[] for _ in range(len(geometries))]
    for i, h in zip(index, hamlet_index, strict=True):
        found[i].append(labels[h])
    return [", ".join(sorted(names)) for names in found]


def _unit_at(geometries: np.ndarray, units: gpd.GeoDataFrame) -> list[str]:
    """Return the id of the unit holding each geometry's representative point ("" if none)."""
    points = shapely.point_on_surface(geometries)
    index, unit_index = shapely.STRtree(units.geometry.to_numpy()).query(
        points, predicate="intersects"
    )
    ids = units["id"].astype(str).to_numpy()
    found = [""] * len(geometries)
    for i, u in zip(index[::-1], unit_index[::-1], strict=True):
        found[i] = ids[u]
    return found


def _unit_labels(units: pd.DataFrame) -> np.ndarray:
    """Return ``"<name> (<id>)"`` for each unit, or the id alone without names."""
    ids = units["id"].astype(str).to_numpy()
    if "name" not in units.columns:
        return ids
    names = units["name"].astype(object).to_numpy()
    return np.array(
        [f"{n} ({i})" if isinstance(n, str) and n else i for n, i in zip(names, ids, strict=True)],
        dtype=object,
    )

"""Indicators per zone (commune or hamlet): area, population, land use, services, roads.

Every measure is computed in the project's projected CRS. Parcels and road
lines are split exactly across zone boundaries (by intersection, never by
centroid); only the pairs that cross a boundary are intersected.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import chords, parallel
from geo.crs import require_projected
from geo.resources import LandUseCode, landuse_codes
from geo.validate import Finding

M2_PER_KM2 = 1_000_000.0
M_PER_KM = 1_000.0
LANDUSE_GROUPS = ("agricultural", "non_agricultural", "unused")


def area_km2(zones: gpd.GeoDataFrame) -> pd.Series:
    """Return the planimetric area of each zone in km².

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons in a projected CRS in metres.

    Returns
    -------
    pandas.Series
        Aligned with ``zones``.

    Raises
    ------
    GeographicCrsError
        If the CRS is geographic: areas in degrees are refused, not warned about.
    """
    require_projected(zones.crs, "areas")
    return pd.Series(shapely.area(zones.geometry.to_numpy()) / M2_PER_KM2, index=zones.index)


def split_polygons(
    parcels: np.ndarray, zones: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split polygons exactly across zones.

    Parameters
    ----------
    parcels, zones : numpy.ndarray of shapely geometries
        Polygons in one projected CRS.

    Returns
    -------
    parcel_index, zone_index : numpy.ndarray of int
        One entry per (parcel, zone) pair with a positive shared area.
    area_m2 : numpy.ndarray of float
        The area of the part of the parcel inside the zone.

    Notes
    -----
    The pairs are those whose shapes intersect, ordered by parcel and, for
    one parcel, as ``STRtree(zones).query`` lists its zones. A parcel properly
    inside its zone keeps its own area, and only pairs crossing a boundary are
    cut: a convex parcel that the zone's boundary crosses once along a chain
    of its vertices with NumPy (:func:`geo.chords.cut_convex`), the others by
    GEOS (on :data:`geo.parallel.THREADS` threads); most parcels are
    classified on a grid without a GEOS predicate (:func:`_polygon_pairs`).
    A parcel lying across one edge between two zones is measured in one of
    them, its part in the other is the rest of its area
    (``split_pieces(derive=True)``). Areas are an overlay's within the
    rounding of its cuts (at most 4.2e-8 m² a hamlet and land-use code at
    VN-2000 coordinates on the benchmark's scale L).
    """
    pieces = _split(np.asarray(parcels, dtype=object), np.asarray(zones, dtype=object), derive=True)
    return pieces.item, pieces.zone, pieces.amount


def split_lines(lines: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split lines exactly across zones.

    Parameters
    ----------
    lines, zones : numpy.ndarray of shapely geometries
        Lines and polygons in one projected CRS.

    Returns
    -------
    line_index, zone_index : numpy.ndarray of int
        One entry per (line, zone) pair with a positive shared length.
    length_m : numpy.ndarray of float
        Length of the part of the line inside the zone.

    Notes
    -----
    A stretch of road lying exactly on an edge shared by two zones belongs to
    both as an intersection; it is counted once, for the zone listed first.
    """
    split = _split(
        np.asarray(lines, dtype=object), np.asarray(zones, dtype=object), measure=shapely.length
    )
    line_index, zone_index, length = split.item, split.zone, split.amount
    pairs = np.flatnonzero(~shapely.contains_properly(zones[zone_index], lines[line_index]))
    edges = np.full(len(zones), None, dtype=object)
    used = np.unique(zone_index[pairs])
    edges[used] = shapely.boundary(zones[used])
    on_edge = intersection_measure(
        lines[line_index[pairs]], edges[zone_index[pairs]], shapely.length, group=zone_index[pairs]
    )
    shared = pairs[on_edge > 0]
    if shared.size:
        length = length.copy()
        assigned: dict[int, shapely.Geometry] = {}
        for pair in shared[np.lexsort((zone_index[shared], line_index[shared]))]:
            line = int(line_index[pair])
            edge = shapely.intersection(lines[line], shapely.boundary(zones[zone_index[pair]]))
            earlier = assigned.get(line)
            if earlier is not None:
                length[pair] -= shapely.length(shapely.intersection(edge, earlier))
                assigned[line] = shapely.union(earlier, edge)
            else:
                assigned[line] = edge
    keep = length > 1e-9
    return line_index[keep], zone_index[keep], length[keep]


class Pieces(NamedTuple):
    """An exact split: each geometry's part in each zone (:func:`split_pieces`).

    Attributes
    ----------
    item, zone : numpy.ndarray of int
        One entry per (geometry, zone) pair with a positive shared amount
        (``item``: the geometry's position),
        ordered by geometry and, for one geometry, in the zones' STRtree order.
    amount : numpy.ndarray of float
        Area (m²) or length (m) of the part.
    geometry : numpy.ndarray of object or None
        With ``keep``: the part (the intersection) of each kept geometry cut
        by a zone boundary, None elsewhere (a whole geometry is its own part).
    crossing : numpy.ndarray of bool or None
        From a split (:func:`split_pieces`): True where the geometry crosses
        the zone's boundary (its part is the intersection), False where the
        zone properly contains it (its part is the whole geometry); None
        when not known (:func:`sum_pieces`).
    """

    item: np.ndarray
    zone: np.ndarray
    amount: np.ndarray
    geometry: np.ndarray | None = None
    crossing: np.ndarray | None = None


def split_pieces(
    parcels: np.ndarray,
    zones: np.ndarray,
    *,
    keep: np.ndarray | None = None,
    derive: bool = False,
) -> Pieces:
    """Split polygons exactly across zones, keeping the cut parts of some of them.

    Parameters
    ----------
    parcels, zones : numpy.ndarray of shapely geometries
        Polygons in one projected CRS.
    keep : numpy.ndarray of bool, optional
        Aligned with ``parcels``: whose cut parts to return as geometries.
    derive : bool, default False
        Measure one part of a parcel (not kept) lying across nothing but an
        edge between two zones, and derive the other from the parcel's area
        (at the benchmark's scale L, 80,887 of 185,713 crossing pairs). Each
        part is then off its cut's area by the rounding of the cut (up to
        3e-8 m² there), so a parcel's parts depend on which zones are split
        together: off where results must not (the per-unit engine splits by
        one unit at a time).

    Returns
    -------
    Pieces
        As :func:`split_polygons`, with the kept parts. Unless ``derive``, a
        pair's part depends on its parcel and zone only: cut along the
        zone's boundary (:func:`geo.chords.cut_convex`) or by GEOS.
    """
    return _split(
        np.asarray(parcels, dtype=object), np.asarray(zones, dtype=object), keep, derive=derive
    )


def intersection_measure(
    left: np.ndarray,
    right: np.ndarray,
    measure: Callable[[np.ndarray], np.ndarray] = shapely.area,
    *,
    group: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Return ``measure(intersection(left, right))`` pairwise, on ``threads`` threads.

    Parameters
    ----------
    left, right : numpy.ndarray of shapely geometries
        Aligned.
    measure : callable, default shapely.area
    group : numpy.ndarray of int, optional
        Aligned: pairs of one group (e.g. one zone) go to the same thread.
    threads : int, optional
        Default :data:`geo.parallel.THREADS`.

    Returns
    -------
    numpy.ndarray of float
    """

    def work(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(measure(shapely.intersection(a, b)), dtype="float64")

    if group is None or len(group) == 0:
        return parallel.map_slices(work, left, right, threads=threads)
    order = np.argsort(group, kind="stable")
    grouped = group[order]
    cuts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    values = parallel.map_slices(work, left[order], right[order], threads=threads, cuts=cuts)
    result = np.empty(len(values), dtype="float64")
    result[order] = values
    return result


def _split(
    geometries: np.ndarray,
    zones: np.ndarray,
    keep: np.ndarray | None = None,
    measure: Callable[[np.ndarray], np.ndarray] = shapely.area,
    *,
    derive: bool = False,
) -> Pieces:
    """Measure each geometry's part in each zone; intersect only boundary-crossing pairs.

    The pairs are those of ``STRtree(zones).query(geometries, predicate="intersects")``,
    in its order; a pair is *inside* when the zone ``contains_properly`` the
    geometry (its own measure is the part's) and *crossing* otherwise (the
    part is cut). Polygons are classified by :func:`_polygon_pairs` without
    testing every pair; other geometries (lines, and multi-part polygons
    near a zone boundary) by those two predicates. The crossing
    polygon pairs are measured (:func:`_measure_crossing`, on threads) in
    the background as soon as they are known, while the rest is classified.
    With ``derive``, a polygon lying across nothing but one edge between two
    zones, and whose parts are not kept, is measured in one of them: its
    part in the other is the rest of its area (:func:`_crossing`; at the
    benchmark's scale L, 80,887 of the 185,713 crossing pairs, of which
    10,840 are then intersected all the same: nothing, or slivers).
    """
    none = np.empty(0, dtype=np.intp)
    rank = tree_order(zones)
    if len(geometries) == 0 or rank is None:
        return Pieces(
            none,
            none,
            np.empty(0),
            None if keep is None else np.empty(0, object),
            np.empty(0, dtype=bool),
        )
    polygonal = np.zeros(len(geometries), dtype=bool)
    if measure is shapely.area and _polygonal(zones):
        polygonal = np.isin(shapely.get_type_id(geometries), [_POLYGON, _MULTIPOLYGON])
    found = []
    measured: list[Future[tuple[np.ndarray, np.ndarray | None]]] = []
    rest = np.flatnonzero(~polygonal)
    derived = _PolygonPairs(*[np.empty(0, dtype=np.intp)] * 8)
    with ThreadPoolExecutor(1) as background:
        # every geometry's own measure (an inside pair's), while the first pairs are sought
        whole = background.submit(measure, geometries)

        def start(index: np.ndarray, zone: np.ndarray, chains: _Chains) -> None:
            # the crossing pairs are measured while the rest is classified
            measured.append(
                background.submit(
                    _measure_crossing,
                    geometries,
                    zones,
                    index,
                    zone,
                    keep=keep,
                    measure=measure,
                    chains=chains,
                )
            )

        if polygonal.any():
            derivable = None
            if derive:
                derivable = np.ones(len(geometries), dtype=bool) if keep is None else ~keep
            derived = _polygon_pairs(geometries, np.flatnonzero(polygonal), zones, start, derivable)
            found.append(list(derived[:4]))
            rest = np.union1d(rest, derived.multi)
        background_pairs = len(found)  # the entries of found measured by the futures
        if rest.size:
            found.append(list(_generic_pairs(geometries, rest, zones)))
        inside = np.concatenate([f[0] for f in found])
        index = np.concatenate([inside] + [f[2] for f in found] + [derived.derived_index])
        zone = np.concatenate(
            [f[1] for f in found] + [f[3] for f in found] + [derived.derived_zone]
        )
        # a few sorted runs: merged (the default sort took 0.07 s of 0.013 at L)
        order = np.argsort(index.astype(np.int64) * len(zones) + rank[zone], kind="stable")
        amount = np.empty(index.size, dtype="float64")
        own = whole.result()
        amount[: inside.size] = own[inside]
        parts = None if keep is None else np.full(index.size, None, dtype=object)
        at = inside.size
        index, zone, crossing = index[order], zone[order], order >= inside.size
        done = [future.result() for future in measured]  # in the order of the crossing pairs
        done += [
            _measure_crossing(geometries, zones, f[2], f[3], keep=keep, measure=measure)
            for f in found[background_pairs:]
        ]
        for value, part in done:  # the crossing pairs, after the inside ones
            amount[at : at + value.size] = value
            if parts is not None and part is not None:
                parts[at : at + value.size] = part
            at += value.size
        if derived.derived_index.size:  # last: the geometry's own less its other part
            d_index, d_zone = derived.derived_index, derived.derived_zone
            amount[at:] = own[d_index] - amount[inside.size + derived.partner]
            small = np.flatnonzero(amount[at:] <= DERIVED_EXACT * _rounding(geometries[d_index]))
            if small.size:  # nothing, or a sliver: intersected, as if not derived
                amount[at + small] = intersection_measure(
                    geometries[d_index[small]], zones[d_zone[small]], measure
                )
    amount = amount[order]
    positive = amount > 0
    return Pieces(
        index[positive],
        zone[positive],
        amount[positive],
        None if parts is None else parts[order][positive],
        crossing[positive],
    )


DERIVED_EXACT = 16.0
"""A derived part (:func:`_crossing`) of at most this many times its polygon's rounding
(:func:`_rounding`) is intersected instead: it may be nothing (the polygon only touches
that zone) or a sliver, which an intersection measures better. At the benchmark's scale L
a derived part differs from the intersection's by 0.2 times the rounding at most."""


def _rounding(polygons: np.ndarray) -> np.ndarray:
    """Return how far an intersection's area may move with the rounding of its cut, in m².

    The spacing of floats at the polygon's coordinates times its perimeter.
    """
    bounds = shapely.bounds(polygons)
    return np.spacing(np.abs(bounds).max(axis=1)) * shapely.length(polygons)


def _measure_crossing(
    geometries: np.ndarray,
    zones: np.ndarray,
    index: np.ndarray,
    zone: np.ndarray,
    *,
    keep: np.ndarray | None,
    measure: Callable[[np.ndarray], np.ndarray],
    chains: _Chains | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Measure the parts of crossing pairs; the kept parts too.

    A convex polygon that its zone's boundary crosses once, along a chain
    (``chains``), is cut by :func:`geo.chords.cut_convex`; the other pairs
    are intersected on threads. Returns the amounts and, with ``keep``, the
    parts (None where not kept).
    """
    amount = np.empty(index.size, dtype="float64")
    parts = np.full(index.size, None, dtype=object)
    todo = np.ones(index.size, dtype=bool)
    if chains is not None and measure is shapely.area:
        pick = np.flatnonzero(chains.length > 0)
        cut = chords.cut_convex(
            geometries[index[pick]],
            chains.xy,
            chains.first[pick],
            chains.length[pick],
            chains.left[pick],
        )
        made = ~shapely.is_missing(cut)
        done = pick[made]
        amount[done] = measure(cut[made])
        parts[done] = cut[made]
        todo[done] = False
    kept = np.zeros(index.size, dtype=bool) if keep is None else keep[index]
    parts[~kept] = None
    rest = np.flatnonzero(todo & kept)
    if rest.size:
        parts[rest] = parallel.map_slices(
            shapely.intersection, geometries[index[rest]], zones[zone[rest]]
        )
        amount[rest] = measure(parts[rest])
    rest = np.flatnonzero(todo & ~kept)
    if rest.size:
        amount[rest] = intersection_measure(
            geometries[index[rest]], zones[zone[rest]], measure, group=zone[rest]
        )
    return amount, None if keep is None else parts


def tree_order(zones: np.ndarray) -> np.ndarray | None:
    """Rank of each zone in the order ``STRtree(zones).query`` returns them (None: no zone).

    The tree's leaves are visited depth first, so any query lists its zones in
    this one order.
    """
    bounds = shapely.total_bounds(zones)
    if not np.isfinite(bounds).all():
        return None
    found = shapely.STRtree(zones).query(shapely.box(*bounds))
    rank = np.full(len(zones), len(zones), dtype=np.int64)
    rank[found] = np.arange(found.size)
    return rank


def _polygonal(zones: np.ndarray) -> bool:
    """Whether every zone is a (multi)polygon, empty or missing."""
    kinds = shapely.get_type_id(zones)
    return bool(np.isin(kinds, [-1, _POLYGON, _MULTIPOLYGON]).all() or not len(zones))


def _generic_pairs(
    geometries: np.ndarray, positions: np.ndarray, zones: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inside and crossing pairs of any geometries, by ``intersects`` and ``contains_properly``."""
    subset = geometries[positions]
    zone, index = shapely.STRtree(subset).query(zones, predicate="intersects")
    shapely.prepare(zones)
    inside = shapely.contains_properly(zones[zone], subset[index])
    index = positions[index]
    return index[inside], zone[inside], index[~inside], zone[~inside]


_POLYGON = 3
_MULTIPOLYGON = 6
GRID_CELLS = 4_000_000
"""At most this many cells in the grid that :func:`_polygon_pairs` classifies parcels with."""


class _PolygonPairs(NamedTuple):
    """The pairs of :func:`_polygon_pairs`: (geometry, zone) by position."""

    inside_index: np.ndarray
    inside_zone: np.ndarray
    cross_index: np.ndarray
    """The crossing pairs to intersect, in the order of the ``on_crossing`` calls."""
    cross_zone: np.ndarray
    derived_index: np.ndarray
    """The crossing pairs whose area is the geometry's less that of its pair at ``partner``."""
    derived_zone: np.ndarray
    partner: np.ndarray
    """Aligned with ``derived_index``: positions in ``cross_index``."""
    multi: np.ndarray
    """The geometries left to the plain predicates, sorted."""


def _polygon_pairs(
    geometries: np.ndarray,
    positions: np.ndarray,
    zones: np.ndarray,
    on_crossing: Callable[[np.ndarray, np.ndarray, _Chains], None] | None = None,
    derivable: np.ndarray | None = None,
) -> _PolygonPairs:
    """Inside and crossing pairs of (multi)polygons and polygonal zones.

    For a zone Z, a geometry that does not meet the boundary of Z lies, part
    by part, wholly in the interior of Z or wholly outside it. So:

    1. A grid of square cells (a power of two in size, so that a cell index
       is exact) marks every cell that the bounding box of a boundary segment
       meets. The cells of a bounding box that meets no marked cell form one
       region without a boundary point, inside the same zones as the centre
       of one of them (point-in-polygon, one centre for each run of unmarked
       cells in a column of the grid: :meth:`_Grid.labels`): a geometry in
       it is inside those zones and outside the others. That is most
       parcels, classified without a GEOS predicate.
    2. For the rest, the boundary segments (each distinct segment once, for
       all the zones whose boundaries share it: :func:`_segments`) are
       tested against the geometries whose bounding boxes they meet
       (``intersects``, on threads): a geometry meeting a segment crosses
       every zone of that segment. A single polygon is connected: the zones
       that contain its first vertex and are not crossing hold it inside
       (tested only where the boxes meet and the pair is not crossing).
       Multi-part ones are returned for the plain predicates.

    The pairs are exactly those of ``intersects`` and ``contains_properly``.
    The crossing pairs are known first, a strip of the boundary segments at a
    time (:data:`CROSSING_STRIPS`): ``on_crossing(geometry, zone, chains)`` is
    called with the pairs to cut of the polygons no later strip can meet
    (:func:`_crossing`), so that they can be measured while the next strips
    and the inside pairs are sought. Where
    ``derivable`` (by geometry position) allows, one of the two crossing
    pairs of a polygon lying across one edge between two zones is not to be
    intersected but derived (:func:`_crossing`).
    """
    none = np.empty(0, dtype=np.intp)
    parts, part_zone = shapely.get_parts(zones, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    start = np.flatnonzero(ring[1:] == ring[:-1])  # segment k runs from xy[k] to xy[k + 1]
    if start.size == 0:
        return _PolygonPairs(none, none, none, none, none, none, none, none)
    seg_zone = part_zone[ring_part[ring[start]]]
    # a zone lies left of its exterior rings when they run anticlockwise, right of its holes
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    left = (shapely.is_ccw(rings) == exterior)[ring[start]]
    low = np.minimum(xy[start], xy[start + 1])
    high = np.maximum(xy[start], xy[start + 1])
    bounds = parallel.map_slices(shapely.bounds, geometries[positions])
    known = np.isfinite(bounds).all(axis=1)
    if not known.all():
        positions, bounds = positions[known], bounds[known]
    right = np.full(len(geometries), np.inf)
    right[positions] = bounds[:, 2]
    grid = _Grid(shapely.total_bounds(zones), bounds)
    marked = grid.marked(low, high)
    first, last = grid.cell(bounds[:, :2]), grid.cell(bounds[:, 2:])
    nx, ny = grid.shape
    # column by column: (a >= 0).all(axis=1) on a million rows took 12 times as long
    within = (last[:, 0] >= 0) & (last[:, 1] >= 0) & (first[:, 0] < nx) & (first[:, 1] < ny)
    if not within.all():  # else: no zone
        positions, first, last = positions[within], first[within], last[within]
    whole = (first[:, 0] >= 0) & (first[:, 1] >= 0) & (last[:, 0] < nx) & (last[:, 1] < ny)
    first = np.maximum(first, 0)
    last = np.minimum(last, np.array(grid.shape) - 1)
    clear = (grid.count(marked, first, last) == 0) & whole
    edge = positions[~clear]
    single = shapely.get_num_geometries(geometries[edge]) == 1
    multi, edge = edge[~single], edge[single]
    tree = shapely.STRtree(geometries[edge])
    emitted, derived, partner = [np.empty(0, dtype=np.int64)], [none], [none]
    segments = _segments(xy, start, seg_zone, left)
    for strip in _crossing(tree, edge, len(zones), segments, right=right, derivable=derivable):
        partner.append(strip.partner + sum(keys.size for keys in emitted))
        emitted.append(strip.keys)
        derived.append(strip.derived)
        if on_crossing is not None and strip.keys.size:
            on_crossing(strip.keys // len(zones), strip.keys % len(zones), strip.chains)
    found_key = np.concatenate(emitted)
    derived_key = np.concatenate(derived).astype(np.int64)
    cross_key = np.sort(np.r_[found_key, derived_key], kind="stable")  # sorted runs: merged
    cell = first[clear, 0] * grid.shape[1] + first[clear, 1]
    label, hits = grid.labels(zones, cell, marked)
    lone = hits == 1
    inside_index = [positions[clear][lone]]
    inside_zone = [label[lone]]
    shared = positions[clear][hits > 1]  # in two zones or more: not crossing any
    single = shapely.get_num_geometries(geometries[shared]) == 1
    multi = np.r_[multi, shared[~single]]
    shared = shared[single]
    shapely.prepare(zones)
    held = [_held(tree, edge, zones, cross_key)]
    if shared.size:
        held.append(_held(shapely.STRtree(geometries[shared]), shared, zones, cross_key))
    for in_key in held:
        inside_index.append(in_key // len(zones))
        inside_zone.append(in_key % len(zones))
    return _PolygonPairs(
        np.concatenate(inside_index),
        np.concatenate(inside_zone),
        found_key // len(zones),
        found_key % len(zones),
        derived_key // len(zones),
        derived_key % len(zones),
        np.concatenate(partner),
        np.sort(multi),
    )


CROSSING_STRIPS = 8
"""The boundary segments are tested against the parcels in up to this many strips (by x),
so that the first crossing pairs can be intersected while the others are sought."""

STRIP_SEGMENTS = 15_000
"""At least this many boundary segments in a strip: fewer pairs than that a strip would be
intersected on one thread (:data:`geo.parallel.MIN_PER_THREAD`) and cost more than it saves
(at M, 13,000 segments: 0.30 s in one strip, 0.41 s in eight; at L, 131,000: 3.31 s in one,
3.10 s in eight)."""


class _Chains(NamedTuple):
    """For crossing pairs: the zone's boundary within the polygon, when one chain of a ring.

    The chain of a pair is the ``length`` segments from ``xy[first]`` to
    ``xy[first + length]``, every segment of the zone's boundary meeting the
    polygon (:func:`geo.chords.cut_convex`); ``length`` 0 where they are not.
    """

    xy: np.ndarray
    """The zones' boundary coordinates, ring after ring."""
    first: np.ndarray
    length: np.ndarray
    left: np.ndarray
    """Whether the zone lies left of the chain as given."""


class _Strip(NamedTuple):
    """The crossing pairs of the polygons last met by a strip of segments (:func:`_crossing`)."""

    keys: np.ndarray
    """Keys ``geometry * zones + zone`` of the pairs to intersect, sorted."""
    derived: np.ndarray
    """Keys of the pairs whose area is the geometry's own less its other pair's."""
    partner: np.ndarray
    """Aligned with ``derived``: the position in ``keys`` of that other pair."""
    chains: _Chains
    """Aligned with ``keys``."""


def _crossing(
    tree: shapely.STRtree,
    members: np.ndarray,
    zones: int,
    segments: _Segments,
    *,
    right: np.ndarray,
    derivable: np.ndarray | None = None,
) -> Iterator[_Strip]:
    """Yield the crossing pairs of the polygons meeting the zones' segments, a strip at a time.

    ``tree`` holds the polygons at positions ``members``; the segments (in
    the order of :func:`_segments`, by x) are tested (``intersects``, on
    threads) against the polygons whose boxes their boxes meet, a strip at a
    time (:data:`CROSSING_STRIPS`, :data:`STRIP_SEGMENTS`); a strip's lines
    are made when it is reached, so the first pairs come out sooner. A
    polygon meeting a segment crosses every zone holding it. A polygon's
    pairs come out together, with the strip after which no segment can meet
    it (``right``, by geometry position: its greatest x, less than the next
    strip's least), each once, with the chains of its zones' boundaries in it.

    ``derivable`` (by geometry position) derives one area of each polygon
    that crosses exactly two zones A and B and meets nothing but segments
    parting two zones: A and B each change the count of A and B holding a
    point only at their edges, where it is one (the interiors lie on either
    side), so it is one throughout the polygon, whose area is then its part
    in A plus its part in B.
    """
    ends, first, zone = segments.ends, segments.first, segments.zone
    none = np.empty(0, dtype=np.int64)
    waiting: tuple[np.ndarray, ...] = (none,) * 4  # geometry, key, zone's segment, segment
    strips = min(CROSSING_STRIPS, max(1, len(ends) // max(STRIP_SEGMENTS, 1)))
    cuts = np.linspace(0, len(ends), strips + 1).round().astype(np.intp)
    for low, high in itertools.pairwise(np.unique(cuts)):
        segment = np.asarray(shapely.linestrings(ends[low:high]), dtype=object)
        line, member = tree.query(segment)
        meets = parallel.map_slices(shapely.intersects, segment[line], tree.geometries[member])
        line += low
        line, member = line[meets], member[meets]
        shares = first[line + 1] - first[line]  # the zones sharing each segment
        entry = np.repeat(first[line] - np.cumsum(shares) + shares, shares) + np.arange(
            shares.sum()
        )
        geometry = np.repeat(members[member].astype(np.int64), shares)
        hits = (
            geometry,
            geometry * zones + zone[entry],
            segments.segment[entry],
            np.repeat(line, shares),
        )
        waiting = tuple(np.concatenate(pair) for pair in zip(waiting, hits, strict=True))
        beyond = ends[high, 0, 0] if high < len(ends) else np.inf
        ready = right[waiting[0]] < beyond
        if ready.any():
            now = tuple(values[ready] for values in waiting)
            waiting = tuple(values[~ready] for values in waiting)
            yield _judged(now, zones, segments, derivable)


def _judged(
    hits: tuple[np.ndarray, ...],
    zones: int,
    segments: _Segments,
    derivable: np.ndarray | None,
) -> _Strip:
    """Return the crossing pairs of polygons whose every hit (:func:`_crossing`) is known."""
    geometry, key, zone_segment, segment = hits
    # hashed, then sorted: np.unique sorted every hit (0.3 s of the split at L)
    keys = np.sort(pd.unique(key))
    derived = partner = np.empty(0, dtype=np.int64)
    if derivable is not None:
        owner = keys // zones
        runs = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        two = runs[np.diff(np.r_[runs, keys.size]) == 2]
        other = np.unique(geometry[~segments.parting[segment]])  # meet another segment
        two = two[derivable[owner[two]] & ~sorted_has(other, owner[two])]
        if two.size:
            derived = keys[two + 1]
            partner = two - np.arange(two.size)  # the pair's place once derived are out
            keys = np.delete(keys, two + 1)
    # each pair's segments of its zone, in ring order: one chain if they follow each other
    measured = sorted_has(keys, key)
    by_pair = np.lexsort((zone_segment[measured], key[measured]))
    pair_key, pair_segment = key[measured][by_pair], zone_segment[measured][by_pair]
    runs = np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]])  # one a key, in order
    count = np.diff(np.r_[runs, pair_key.size])
    low, high = pair_segment[runs], pair_segment[runs + count - 1]
    start = segments.start
    chain = (high - low == count - 1) & (start[high] - start[low] == count - 1)
    chains = _Chains(segments.xy, start[low], np.where(chain, count, 0), segments.left[low])
    return _Strip(keys, derived, partner, chains)


def sorted_has(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Tell which of ``keys`` are in ``sorted_keys`` (sorted; empty: none are)."""
    if sorted_keys.size == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[at] == keys


def _held(
    tree: shapely.STRtree, members: np.ndarray, zones: np.ndarray, cross_key: np.ndarray
) -> np.ndarray:
    """Keys ``member * len(zones) + zone`` of the single polygons inside zones, by first vertex.

    ``tree`` holds the polygons at positions ``members``; a pair is inside
    when its key is not in ``cross_key`` (sorted) and the zone (prepared)
    contains the polygon's first vertex.
    """
    zone, member = tree.query(zones)
    key = members[member].astype(np.int64) * len(zones) + zone
    if cross_key.size:
        open_ = ~sorted_has(cross_key, key)
        zone, member, key = zone[open_], member[open_], key[open_]
    need, where = np.unique(member, return_inverse=True)
    polygons = tree.geometries[need]
    counts = shapely.get_num_coordinates(polygons)
    vertex = shapely.get_coordinates(polygons)[np.cumsum(counts) - counts]
    holds = shapely.contains_xy(zones[zone], vertex[where, 0], vertex[where, 1])
    return key[holds]


class _Segments(NamedTuple):
    """The distinct boundary segments of zones (:func:`_segments`), ordered by lower end."""

    ends: np.ndarray
    """Shape (n, 2, 2): the two ends (x, y) of each, the lower (by x, then y) first."""
    first: np.ndarray
    """``n + 1`` offsets: segment ``u`` belongs to the zones ``zone[first[u]:first[u + 1]]``."""
    zone: np.ndarray
    segment: np.ndarray
    """Aligned with ``zone``: the zone's own segment (``k`` below)."""
    parting: np.ndarray
    """Whether the segment is an edge between two zones: of exactly two, one on each side."""
    xy: np.ndarray
    """The zones' boundary coordinates; their segment ``k`` runs from ``xy[start[k]]``."""
    start: np.ndarray
    left: np.ndarray
    """By zone's segment: whether the zone lies on its left."""


def _segments(
    xy: np.ndarray, start: np.ndarray, seg_zone: np.ndarray, left: np.ndarray
) -> _Segments:
    """Return the distinct boundary segments, the zones holding each and which part two zones.

    Segment ``k`` runs from ``xy[start[k]]`` to ``xy[start[k] + 1]`` on a
    boundary of zone ``seg_zone[k]``, whose interior lies on its left where
    ``left[k]``; a segment and its reverse are the same point set, so an
    edge shared by two zones is one line. A segment of zero length is left
    out when its ring has another one (its point is an end of that ring's
    neighbouring segment, which is kept).
    """
    a, b = xy[start], xy[start + 1]
    swap = (b[:, 0] < a[:, 0]) | ((b[:, 0] == a[:, 0]) & (b[:, 1] < a[:, 1]))
    low = np.where(swap[:, None], b, a)
    high = np.where(swap[:, None], a, b)
    long = (low != high).any(axis=1)
    run = np.cumsum(np.r_[True, start[1:] != start[:-1] + 1]) - 1  # ring runs of segments
    lengthy = np.bincount(run[long], minlength=run[-1] + 1) > 0
    kept = np.flatnonzero(long | ~lengthy[run])
    order = kept[np.lexsort((high[kept, 1], high[kept, 0], low[kept, 1], low[kept, 0]))]
    low, high = low[order], high[order]
    new = np.r_[True, ((low[1:] != low[:-1]) | (high[1:] != high[:-1])).any(axis=1)]
    first = np.r_[np.flatnonzero(new), order.size]
    zone = seg_zone[order]
    side = (left != swap)[order]  # the zone lies left of the segment drawn from low to high
    parting = np.zeros(first.size - 1, dtype=bool)
    two = np.flatnonzero(np.diff(first) == 2)
    at = first[two]
    parting[two] = (side[at] != side[at + 1]) & (zone[at] != zone[at + 1]) & long[order[at]]
    ends = np.stack([low[new], high[new]], axis=1)
    return _Segments(ends, first, zone, order, parting, xy, start, left)


class _Grid:
    """Square cells of a power-of-two size over the zones' extent; cell (0, 0) at ``origin``."""

    def __init__(self, extent: np.ndarray, bounds: np.ndarray) -> None:
        sides = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        typical = float(np.median(sides)) if sides.size else 1.0
        size = 2.0 ** np.floor(np.log2(max(typical, 1e-3)))
        while True:
            origin = np.floor(extent[:2] / size)
            shape = (np.floor(extent[2:] / size) - origin + 1).astype(np.int64)
            if shape[0] * shape[1] <= GRID_CELLS:
                break
            size *= 2.0
        self.size, self.origin = size, origin
        self.shape = (int(shape[0]), int(shape[1]))

    def cell(self, xy: np.ndarray) -> np.ndarray:
        """Return the cell of each point (maybe outside the grid); exact, as the size is 2^k."""
        return (np.floor(xy / self.size) - self.origin).astype(np.int64)

    def marked(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Prefix sums of the cells met by boxes ``low``-``high``: shape + 1 in each axis."""
        nx, ny = self.shape
        a, b = self.cell(low), self.cell(high) + 1
        width = ny + 1
        size = (nx + 1) * width
        diff = np.bincount(a[:, 0] * width + a[:, 1], minlength=size)
        diff -= np.bincount(b[:, 0] * width + a[:, 1], minlength=size)
        diff -= np.bincount(a[:, 0] * width + b[:, 1], minlength=size)
        diff += np.bincount(b[:, 0] * width + b[:, 1], minlength=size)
        cover = diff.reshape(nx + 1, width).cumsum(axis=0).cumsum(axis=1)[:nx, :ny] > 0
        sums = np.zeros((nx + 1, ny + 1), dtype=np.int64)
        sums[1:, 1:] = cover.cumsum(axis=0).cumsum(axis=1)
        return sums

    @staticmethod
    def count(sums: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Count the marked cells in each range of cells ``first``-``last`` (inclusive)."""
        x0, y0, x1, y1 = first[:, 0], first[:, 1], last[:, 0] + 1, last[:, 1] + 1
        return sums[x1, y1] - sums[x0, y1] - sums[x1, y0] + sums[x0, y0]

    def labels(
        self, zones: np.ndarray, cells: np.ndarray, sums: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each unmarked cell (flat index), the last zone holding its centre and how many do.

        ``sums``: :meth:`marked`. Unmarked cells that follow each other in a
        column of the grid form one region without a boundary point (the
        cells are half-open), so the centre of the first one stands for all.
        """
        nx, ny = self.shape
        free = (np.diff(np.diff(sums, axis=0), axis=1) == 0).ravel()
        begins = free & ((np.arange(free.size) % ny == 0) | ~np.r_[False, free[:-1]])
        cells = np.flatnonzero(begins)[np.cumsum(begins)[cells] - 1]
        wanted = np.zeros(nx * ny, dtype=bool)
        wanted[cells] = True
        need = wanted.reshape(nx, ny)
        label = np.full(nx * ny, -1, dtype=np.int32)
        hits = np.zeros(nx * ny, dtype=np.int32)
        bounds = shapely.bounds(zones)
        known = np.flatnonzero(np.isfinite(bounds).all(axis=1))
        low = np.maximum(self.cell(bounds[known, :2]), 0)
        high = np.minimum(self.cell(bounds[known, 2:]), np.array(self.shape) - 1)
        shapely.prepare(zones)
        for z, (x0, y0), (x1, y1) in zip(known, low, high, strict=True):
            ii, jj = np.nonzero(need[x0 : x1 + 1, y0 : y1 + 1])
            if ii.size == 0:
                continue
            ii += x0
            jj += y0
            x = (ii + self.origin[0] + 0.5) * self.size
            y = (jj + self.origin[1] + 0.5) * self.size
            flat = (ii * ny + jj)[shapely.contains_xy(zones[z], x, y)]
            label[flat] = z
            hits[flat] += 1
        return label[cells], hits[cells]


def sum_pieces(pieces: Pieces, group: np.ndarray, groups: int) -> Pieces:
    """Add up each geometry's pieces by group of zones (the hamlets of a unit, say).

    Parameters
    ----------
    pieces : Pieces
        A split by the zones (:func:`split_pieces`).
    group : numpy.ndarray of int
        For each zone, the position of its group, or -1 to leave its pieces out.
    groups : int
        The number of groups.

    Returns
    -------
    Pieces
        One piece per (geometry, group), ordered by geometry and group; the
        amounts are summed in the order of ``pieces``. Without geometries.
    """
    owner = np.asarray(group, dtype=np.int64)[pieces.zone]
    used = owner >= 0
    key = pieces.item[used].astype(np.int64) * groups + owner[used]
    unique, inverse = np.unique(key, return_inverse=True)
    amount = np.bincount(inverse, weights=pieces.amount[used], minlength=unique.size)
    return Pieces(unique // groups, unique % groups, amount)


def landuse_indicators(
    landuse: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, pieces: Pieces | None = None
) -> pd.DataFrame:
    """Land-use area by code and group shares for each zone.

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Parcels with a ``code`` column, in the zones' projected CRS.
    zones : geopandas.GeoDataFrame
        Communes or hamlets.
    pieces : Pieces, optional
        The parcels split by these zones, when already done
        (:func:`split_pieces`, or :func:`sum_pieces` of a finer tiling); else
        split here, with derived parts (``split_pieces(derive=True)``).

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``landuse_<CODE>_km2`` per code,
        ``landuse_covered_km2``, and ``agricultural_share_pct``,
        ``non_agricultural_share_pct``, ``unused_share_pct`` (shares of the
        area covered by land-use data; a code missing from the code table
        counts as covered but in no group, see :func:`unknown_landuse_codes`).
    """
    require_projected(landuse.crs, "land-use areas")
    if pieces is None:
        pieces = split_pieces(landuse.geometry.to_numpy(), zones.geometry.to_numpy(), derive=True)
    parcel, zone, area = pieces.item, pieces.zone, pieces.amount
    code_at, codes = landuse_code_numbers(landuse)
    frame = pd.DataFrame(
        {
            "zone": zone,
            "code": pd.Categorical.from_codes(code_at[parcel], categories=codes),
            "km2": area / M2_PER_KM2,
        }
    )
    return landuse_table(frame, zones.index)


def landuse_table(areas: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Pivot land-use areas into :func:`landuse_indicators`' table.

    Parameters
    ----------
    areas : pandas.DataFrame
        ``zone`` (0-based position in ``index``), ``code`` and ``km2``, one
        row per piece (or per zone and code, already summed).
    index : pandas.Index
        The zones' index, the result's.

    Returns
    -------
    pandas.DataFrame
        ``landuse_<CODE>_km2`` per code, ``landuse_covered_km2`` and the
        group shares, as :func:`landuse_indicators` describes.
    """
    zone = areas["zone"].to_numpy(dtype="int64")
    km2 = areas["km2"].to_numpy(dtype="float64")
    code_at, codes = pd.factorize(areas["code"], sort=True)  # a missing code: -1, left out
    present = np.unique(code_at[code_at >= 0])  # the codes in the table
    known = (code_at >= 0) & (zone >= 0) & (zone < len(index))
    column = np.full(len(codes), -1)
    column[present] = np.arange(present.size)
    # each zone and code's sum into a zones × codes grid, 0 where there is none
    keys, sums = sum_by_key(km2[known], zone[known] * present.size + column[code_at[known]])
    by_code = np.zeros((len(index), present.size))
    by_code.flat[keys] = sums
    names = [str(codes[c]) for c in present]
    table = landuse_codes()
    columns: dict[str, np.ndarray] = {
        f"landuse_{code}_km2": by_code[:, j] for j, code in enumerate(names)
    }
    covered = _row_sums(by_code, range(len(names)))
    columns["landuse_covered_km2"] = covered
    groups = [_group(code, table) for code in names]
    with np.errstate(invalid="ignore", divide="ignore"):
        for group in LANDUSE_GROUPS:
            members = [j for j, found in enumerate(groups) if found == group]
            share = _row_sums(by_code, members) / covered * 100.0
            columns[f"{group}_share_pct"] = np.where(covered > 0, share, np.nan)
    return pd.DataFrame(columns, index=index)


def landuse_code_numbers(landuse: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Return each parcel's land-use code as a number, and the codes (sorted).

    A missing code is ``"?"``. Numbers, not a million Python strings (0.3 s at L),
    for the whole-layer and the per-commune (:mod:`geo.chunked`) land-use sums.
    """
    code_at, codes = pd.factorize(landuse["code"].fillna("?"), sort=True)
    return code_at, codes


def sum_by_key(values: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add up ``values`` by integer ``key``: the keys found (sorted) and their sums.

    Each key's values are added in their order with pandas' compensated sum, as
    a pivot table adds them: the whole-layer run and the per-commune runs
    (:mod:`geo.chunked`) sum land-use areas this way, so their tables agree.
    """
    sums = pd.Series(values).groupby(key, sort=True).sum()
    return sums.index.to_numpy(), sums.to_numpy(dtype="float64")


def _row_sums(values: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Add up some columns of each row as pandas adds up a row of a table (bit for bit).

    That is numpy's sum along the rows of a C-ordered copy (pairwise from 8 columns).
    """
    return np.ascontiguousarray(values[:, list(columns)]).sum(axis=1)


def unknown_landuse_codes(landuse: gpd.GeoDataFrame) -> list[Finding]:
    """Report the land-use codes that are not in the code table, with their area.

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Parcels with a ``code`` column, in a projected CRS.

    Returns
    -------
    list of Finding
        One per unknown code; ``value`` is its total area in km².
    """
    table = landuse_codes()
    codes = landuse["code"].fillna("?")
    unknown = ~codes.isin(list(table))
    areas = shapely.area(landuse.geometry.to_numpy()[unknown.to_numpy()]) / M2_PER_KM2
    totals = pd.Series(areas, index=codes[unknown].to_numpy()).groupby(level=0).sum()
    return unknown_code_findings(totals)


def unknown_code_findings(totals: pd.Series) -> list[Finding]:
    """Word one finding per unknown land-use code from its total area (km², by code)."""
    return [
        Finding(
            "landuse",
            str(code),
            "unknown_landuse_code",
            f"code {code} is not in the land-use code table; its area is in no group",
            float(total),
        )
        for code, total in totals.items()
    ]


def _group(code: str, table: dict[str, LandUseCode]) -> str | None:
    entry = table.get(code)
    return entry.group if entry else None


def infrastructure_counts(points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Count the points of each kind in each zone.

    A point on a shared boundary counts once, for the first zone found.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points with a ``kind`` column.
    zones : geopandas.GeoDataFrame
        Communes or hamlets, same CRS.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``count_<kind>`` per kind present.
    """
    geometries = shapely.get_parts(points.geometry.to_numpy(), return_index=True)
    parts, owner = geometries
    point_index, zone_index = shapely.STRtree(zones.geometry.to_numpy()).query(
        parts, predicate="intersects"
    )
    pairs = pd.DataFrame({"point": owner[point_index], "zone": zone_index})
    pairs = pairs.drop_duplicates("point")
    pairs["kind"] = points["kind"].fillna("other").to_numpy()[pairs["point"].to_numpy()]
    counts = pd.crosstab(pairs["zone"], pairs["kind"]).reindex(range(len(zones))).fillna(0)
    kinds = sorted(map(str, counts.columns))
    return pd.DataFrame(
        {f"count_{kind}": counts[kind].astype("int64").to_numpy() for kind in kinds},
        index=zones.index,
    )


def road_indicators(roads: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Road length, by surface class, and road density for each zone.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Lines, with a ``surface`` column when surfaces are known.
    zones : geopandas.GeoDataFrame
        Communes or hamlets, same projected CRS.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``zones``: ``road_km``, ``road_<surface>_km`` and
        ``road_density_km_per_km2`` (road length over natural area).
    """
    require_projected(roads.crs, "road lengths")
    line, zone, length = split_lines(roads.geometry.to_numpy(), zones.geometry.to_numpy())
    surface = (
        roads["surface"].fillna("unknown").to_numpy()[line]
        if "surface" in roads.columns
        else np.full(line.size, "unknown")
    )
    pieces = pd.DataFrame({"zone": zone, "surface": surface, "km": length / M_PER_KM})
    by_surface = pieces.pivot_table(index="zone", columns="surface", values="km", aggfunc="sum")
    by_surface = by_surface.reindex(range(len(zones))).fillna(0.0)
    result = pd.DataFrame(index=range(len(zones)))
    result["road_km"] = by_surface.sum(axis=1).to_numpy()
    if "surface" in roads.columns:
        for name in sorted(by_surface.columns):
            result[f"road_{name}_km"] = by_surface[name].to_numpy()
    result["road_density_km_per_km2"] = result["road_km"].to_numpy() / area_km2(zones).to_numpy()
    result.index = zones.index
    return result


def density_per_km2(population: pd.Series, area: pd.Series) -> pd.Series:
    """Return people per km² (NaN where population is unknown or area is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        density = population.to_numpy(dtype="float64") / area.to_numpy(dtype="float64")
    return pd.Series(np.where(area.to_numpy() > 0, density, np.nan), index=population.index)

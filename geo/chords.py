"""Cut convex polygons along a chain of a zone's boundary, without an overlay.

A parcel crossing a hamlet boundary is usually a small convex polygon that the
boundary crosses once: it enters through one edge, runs through the parcel
along a few of the hamlet's vertices and leaves through another edge. The
parcel's part in the hamlet is then the ring made of the entry point, those
vertices, the exit point and the parcel's vertices on the hamlet's side:
:func:`cut_convex` builds it with NumPy for many pairs at once, where GEOS's
overlay costs some 20 µs a pair whatever their size. Every decision is taken
with a margin above the rounding of the coordinates; a pair too close to a
degenerate case (a vertex near the other's boundary, a chain entering and
leaving through one edge, a polygon not strictly convex) is declined, and
the caller intersects it with GEOS.
"""

from __future__ import annotations

import numpy as np
import shapely

MARGIN = 64.0
"""An orientation (a cross product of two vectors from a polygon's first vertex) counts only
beyond this many times its rounding: local coordinates are off by up to the spacing of floats
at the coordinates (subtracting the origin rounds), so a cross product of vectors up to
``2 * scale`` long is off by about ``4 * spacing * scale``, plus its own rounding."""

EPS = float(np.finfo(float).eps)


def cut_convex(
    polygons: np.ndarray,
    chains: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    left: np.ndarray,
) -> np.ndarray:
    """Return each polygon's part on the zone side of a chain of the zone's boundary.

    Parameters
    ----------
    polygons : numpy.ndarray of shapely geometries
        One per pair, in a projected CRS: Polygons, or MultiPolygons of one
        part (others are declined).
    chains : numpy.ndarray of float, shape (m, 2)
        The zones' boundary vertices.
    first, count : numpy.ndarray of int
        Aligned with ``polygons``: the pair's chain is the ``count`` segments
        joining ``chains[first]`` to ``chains[first + count]``, all the
        segments of the zone's boundary that meet the polygon.
    left : numpy.ndarray of bool
        Aligned: whether the zone lies on the left of the chain as given.

    Returns
    -------
    numpy.ndarray of object
        The part (a valid Polygon of positive area), or None where the pair is
        declined: the polygon has holes, several parts, or is not strictly
        convex, the chain
        does not enter it once and leave it once through two different edges
        with every vertex clearly inside or outside, or the part is not valid.
    """
    n = len(polygons)
    parts = np.full(n, None, dtype=object)
    if n == 0:
        return parts
    count = np.asarray(count, dtype=np.intp)
    kinds = shapely.get_type_id(polygons)
    take = np.flatnonzero(
        (count > 0)
        & ((kinds == shapely.GeometryType.POLYGON) | (kinds == shapely.GeometryType.MULTIPOLYGON))
        & (shapely.get_num_geometries(polygons) == 1)
        & ~shapely.is_empty(polygons)
    )
    if take.size == 0:
        return parts
    found, made = _cut(polygons[take], chains, first[take], count[take], left[take])
    if found.size:
        good = shapely.is_valid(made) & (shapely.area(made) > 0)
        parts[take[found[good]]] = made[good]
    return parts


def _cut(
    polygons: np.ndarray,
    chains: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    left: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairs cut (positions) and their parts (Polygons, aligned)."""
    n = len(polygons)
    # the polygons' vertices, without the closing one, anticlockwise, from the first one
    coords, owner = shapely.get_coordinates(polygons, return_index=True)
    size = np.bincount(owner, minlength=n) - 1
    base = np.cumsum(size + 1) - (size + 1)  # each ring's first coordinate in coords
    # one ring: the first point comes back last and nowhere else (else a hole follows)
    again = (coords == coords[base][owner]).all(axis=1)
    one_ring = (np.bincount(owner[again], minlength=n) == 2) & again[base + size]
    vertex_of = np.repeat(np.arange(n), size)
    start = np.cumsum(size) - size  # each polygon's first vertex, in the arrays by vertex
    nth = np.arange(vertex_of.size) - start[vertex_of]
    after = np.arange(vertex_of.size) + 1
    after[start + size - 1] = start  # the next vertex, round the ring
    ox, oy = coords[base, 0], coords[base, 1]
    x = coords[base[vertex_of] + nth, 0] - ox[vertex_of]
    y = coords[base[vertex_of] + nth, 1] - oy[vertex_of]
    turn = np.bincount(vertex_of, weights=x * y[after] - y * x[after], minlength=n)
    flip = (turn < 0)[vertex_of]
    nth = np.where(flip, (size[vertex_of] - nth) % size[vertex_of], nth)  # clockwise: reversed
    vertex = base[vertex_of] + nth  # into coords, anticlockwise
    x = coords[vertex, 0] - ox[vertex_of]
    y = coords[vertex, 1] - oy[vertex_of]
    ex, ey = x[after] - x, y[after] - y
    # the chains, with the zone on their left, in the polygons' local coordinates
    links = count + 1
    chain_of = np.repeat(np.arange(n), links)
    ends = np.cumsum(links) - links  # each chain's first point
    step = np.arange(chain_of.size) - ends[chain_of]
    step = np.where(left[chain_of], step, count[chain_of] - step)
    px = chains[first[chain_of] + step, 0] - ox[chain_of]
    py = chains[first[chain_of] + step, 1] - oy[chain_of]
    scale = np.maximum(
        np.maximum.reduceat(np.maximum(np.abs(x), np.abs(y)), start),
        np.maximum.reduceat(np.maximum(np.abs(px), np.abs(py)), ends),
    )
    magnitude = np.maximum(np.abs(ox), np.abs(oy)) + 2 * scale
    tol = MARGIN * (4 * np.spacing(magnitude) * scale + 8 * EPS * scale * scale)
    ok = (
        one_ring
        & (size >= 3)
        & _all(ex * ey[after] - ey * ex[after] > tol[vertex_of], vertex_of, n)
    )
    # the chain's points between its first and last: inside every edge's half-plane
    inner = count - 1
    between = np.arange(chain_of.size) - ends[chain_of]
    middle = np.flatnonzero((between > 0) & (between < count[chain_of]))
    per = size[chain_of[middle]]
    point_at = np.repeat(middle, per)
    which = np.repeat(start[chain_of[middle]] - np.cumsum(per) + per, per) + np.arange(per.sum())
    side = ex[which] * (py[point_at] - y[which]) - ey[which] * (px[point_at] - x[which])
    ok &= _all(side > tol[chain_of[point_at]], chain_of[point_at], n)
    # in through one edge, out through another (the first and last points are then outside)
    last = ends + count
    edges = (x, y, ex, ey, after, size, tol)
    entry, entry_t = _crossing(
        edges, (px[ends], py[ends]), (px[ends + 1], py[ends + 1]), entering=True
    )
    leave, leave_t = _crossing(
        edges, (px[last - 1], py[last - 1]), (px[last], py[last]), entering=False
    )
    ok &= (entry >= 0) & (leave >= 0) & (entry != leave)
    found = np.flatnonzero(ok)
    if found.size == 0:
        return found, np.empty(0, dtype=object)
    # the ring: entry point, the chain's inside points, exit point, the polygon's vertices
    # from the exit edge's end round to the entry edge's start, and the entry point again
    kept = (entry[found] - leave[found]) % size[found]
    length = inner[found] + kept + 3
    ring_of = np.repeat(np.arange(found.size), length)
    at = np.arange(ring_of.size) - np.repeat(np.cumsum(length) - length, length)
    pick = found[ring_of]
    xy = np.empty((ring_of.size, 2))
    is_entry = (at == 0) | (at == length[ring_of] - 1)
    is_chain = (at >= 1) & (at <= inner[pick])
    is_exit = at == inner[pick] + 1
    is_vertex = ~(is_entry | is_chain | is_exit)
    a, b = ends[found], last[found] - 1
    t = entry_t[found]
    entry_xy = np.column_stack(
        [px[a] + t * (px[a + 1] - px[a]) + ox[found], py[a] + t * (py[a + 1] - py[a]) + oy[found]]
    )
    t = leave_t[found]
    exit_xy = np.column_stack(
        [px[b] + t * (px[b + 1] - px[b]) + ox[found], py[b] + t * (py[b + 1] - py[b]) + oy[found]]
    )
    xy[is_entry] = entry_xy[ring_of[is_entry]]
    xy[is_exit] = exit_xy[ring_of[is_exit]]
    # the chain's points and the vertices as given, not moved to local coordinates and back
    chain_step = np.where(left[pick], at, count[pick] - at)[is_chain]
    xy[is_chain] = chains[first[pick[is_chain]] + chain_step]
    nth_vertex = (leave[pick] + at - inner[pick] - 1)[is_vertex] % size[pick[is_vertex]]
    xy[is_vertex] = coords[vertex[start[pick[is_vertex]] + nth_vertex]]
    # clockwise, as GEOS's overlay gives its shells
    backwards = np.arange(ring_of.size) + (length[ring_of] - 1 - 2 * at)
    offsets = (np.r_[0, np.cumsum(length)], np.arange(found.size + 1))
    made = shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy[backwards], offsets)
    return found, np.asarray(made, dtype=object)


def _crossing(
    edges: tuple[np.ndarray, ...],
    p: tuple[np.ndarray, np.ndarray],
    q: tuple[np.ndarray, np.ndarray],
    *,
    entering: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the edge each segment p-q enters (or leaves) its polygon by, and where.

    ``edges``: the polygons' vertices and edges in local coordinates, the next
    vertex of each, the polygons' sizes and tolerances. The edge is its
    position in the polygon, -1 unless exactly one edge is crossed that way
    clearly: the segment's ends on either side of the edge's line, the edge's
    ends on either side of the segment's line, all beyond the tolerance.
    Entering: outside the edge's half-plane at p, inside at q. Where: the
    fraction of the way from p to q.
    """
    x, y, ex, ey, after, size, tol = edges
    n = len(size)
    pair_of = np.repeat(np.arange(n), size)
    px, py, qx, qy = p[0][pair_of], p[1][pair_of], q[0][pair_of], q[1][pair_of]
    at_p = ex * (py - y) - ey * (px - x)
    at_q = ex * (qy - y) - ey * (qx - x)
    lx, ly = qx - px, qy - py
    end0 = lx * (y - py) - ly * (x - px)
    end1 = lx * (y[after] - py) - ly * (x[after] - px)
    t = tol[pair_of]
    across = ((end0 > t) & (end1 < -t)) | ((end0 < -t) & (end1 > t))
    if entering:
        across &= (at_p < -t) & (at_q > t)
    else:
        across &= (at_p > t) & (at_q < -t)
    at = np.flatnonzero(across)
    once = np.bincount(pair_of[at], minlength=n) == 1
    at = at[once[pair_of[at]]]
    place = np.full(n, -1, dtype=np.intp)
    fraction = np.zeros(n)
    start = np.cumsum(size) - size
    place[pair_of[at]] = at - start[pair_of[at]]
    fraction[pair_of[at]] = at_p[at] / (at_p[at] - at_q[at])
    return place, fraction


def _all(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(owner[~values], minlength=n) == 0

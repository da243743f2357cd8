"""Convex parcels cut along a zone's boundary without an overlay (geo.chords).

Each part is compared with GEOS's intersection: the same polygon up to the
rounding of the two points where the boundary enters and leaves, and the same
area within 1e-9 m². Pairs near a degenerate case are declined (None).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from conftest import X0, Y0

from geo.chords import cut_convex


def at(*xy):
    return [(X0 + x, Y0 + y) for x, y in xy]


# a zone whose boundary runs up through the square (0-10, 0-10) with two vertices inside it,
# (3, 4) and (7, 6); the zone is west of it; its ring runs anticlockwise from (5, -5)
ZONE = shapely.Polygon(at((5, -5), (3, 4), (7, 6), (5, 15), (-20, 15), (-20, -5)))
SQUARE = shapely.Polygon(at((0, 0), (10, 0), (10, 10), (0, 10)))


def cut_by(polygon, zone=ZONE, first=0, count=3, left=True):
    chains = shapely.get_coordinates(zone)
    return cut_convex(
        np.array([polygon], dtype=object),
        chains,
        np.array([first]),
        np.array([count]),
        np.array([left]),
    )[0]


def assert_is_intersection(part, polygon, zone=ZONE):
    expected = shapely.intersection(polygon, zone)
    assert part is not None
    assert part.is_valid
    assert part.area == pytest.approx(expected.area, rel=0, abs=1e-9)
    assert shapely.equals_exact(
        shapely.normalize(part), shapely.normalize(expected), tolerance=1e-9
    )


def test_a_chain_through_a_square_cuts_its_zone_side():
    part = cut_by(SQUARE)
    assert_is_intersection(part, SQUARE)
    assert not part.exterior.is_ccw  # clockwise, as GEOS's overlay makes them
    # the entry (on y = 0), the two vertices inside, the exit (on y = 10), two corners
    assert len(part.exterior.coords) == 7


@pytest.mark.parametrize("clockwise", [False, True])
@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_any_first_vertex_and_orientation_of_the_polygon(clockwise, start):
    corners = at((0, 0), (10, 0), (10, 10), (0, 10))
    corners = corners[start:] + corners[:start]
    polygon = shapely.Polygon(corners[::-1] if clockwise else corners)
    assert_is_intersection(cut_by(polygon), polygon)


def test_a_multipolygon_of_one_part_is_cut_as_its_polygon():
    part = cut_by(shapely.MultiPolygon([SQUARE]))
    assert part.geom_type == "Polygon"
    assert_is_intersection(part, SQUARE)


def test_a_zone_given_clockwise_lies_right_of_its_chain():
    reversed_zone = shapely.reverse(ZONE)
    coords = shapely.get_coordinates(reversed_zone)
    # the same three segments, now from (5, 15) down to (5, -5): the zone on their right
    first = int(np.flatnonzero((coords == [X0 + 5, Y0 + 15]).all(axis=1))[0])
    part = cut_by(SQUARE, reversed_zone, first=first, count=3, left=False)
    assert_is_intersection(part, SQUARE, reversed_zone)


def test_a_single_segment_across_a_triangle():
    zone = shapely.box(X0, Y0 - 100, X0 + 5, Y0 + 100)  # its east edge is x = 5, up
    triangle = shapely.Polygon(at((0, 0), (9, 1), (2, 8)))
    coords = shapely.get_coordinates(zone)
    # shapely.box runs anticlockwise from (xmax, ymin): the first segment is the east edge
    assert coords[0].tolist() == [X0 + 5, Y0 - 100]
    part = cut_by(triangle, zone, first=0, count=1, left=True)
    assert_is_intersection(part, triangle, zone)


def test_many_pairs_at_once_keep_their_places():
    squares = [shapely.box(X0 + x, Y0, X0 + x + 10, Y0 + 10) for x in (0, 1, 2)]
    parts = cut_convex(
        np.array([squares[0], None, squares[1], squares[2], shapely.Polygon()], dtype=object),
        shapely.get_coordinates(ZONE),
        np.array([0, 0, 0, 0, 0]),
        np.array([3, 3, 0, 3, 3]),  # the third pair has no chain: declined
        np.array([True, True, True, True, True]),
    )
    assert parts[1] is None
    assert parts[2] is None
    assert parts[4] is None  # empty
    assert_is_intersection(parts[0], squares[0])
    assert_is_intersection(parts[3], squares[2])


@pytest.mark.parametrize(
    "polygon",
    [
        # not convex: an L
        shapely.Polygon(at((0, 0), (10, 0), (10, 10), (6, 10), (6, 3), (0, 3))),
        # a vertex on the chain: (3, 4) is a corner of the square
        shapely.Polygon(at((3, 4), (10, 4), (10, 10), (3, 10))),
        # a chain vertex on the polygon's edge: (7, 6) on x = 7
        shapely.Polygon(at((0, 0), (7, 0), (7, 10), (0, 10))),
        # three vertices in a line (not strictly convex)
        shapely.Polygon(at((0, 0), (5, 0), (10, 0), (10, 10), (0, 10))),
        # a hole
        shapely.Polygon(at((0, 0), (10, 0), (10, 10), (0, 10)), [at((8, 8), (9, 8), (9, 9))]),
        # a hole from the shell's first vertex: its ring ends where the shell's begins
        shapely.Polygon(at((0, 0), (10, 0), (10, 10), (0, 10)), [at((0, 0), (1, 2), (2, 1))]),
        # two parts
        shapely.MultiPolygon([SQUARE, shapely.box(X0 + 20, Y0, X0 + 30, Y0 + 10)]),
    ],
    ids=[
        "not-convex",
        "vertex-on-chain",
        "chain-vertex-on-edge",
        "collinear",
        "hole",
        "hole-at-first-vertex",
        "two-parts",
    ],
)
def test_degenerate_pairs_are_declined(polygon):
    assert cut_by(polygon) is None


def test_a_polygon_not_convex_is_declined():
    # the line x = 8 crosses this L once each way, and the part west of it would be right,
    # but a chain could touch its inner corner unseen: not cut
    ell = shapely.Polygon(at((0, 0), (10, 0), (10, 10), (6, 10), (6, 3), (0, 3)))
    west = shapely.Polygon(at((8, -5), (8, 15), (-20, 15), (-20, -5)))
    assert cut_by(ell, west, first=0, count=1) is None
    square = shapely.Polygon(at((0, 0), (10, 0), (10, 10), (0, 10)))
    assert_is_intersection(cut_by(square, west, first=0, count=1), square, west)


def test_a_chain_in_and_out_through_one_edge_is_declined():
    # the boundary dips into the square from below and leaves through the same edge
    zone = shapely.Polygon(at((2, -5), (5, 4), (8, -5), (20, -20), (-10, -20)))
    assert cut_by(SQUARE, zone, first=0, count=2) is None


def test_a_chain_not_meeting_the_polygon_is_declined():
    far = shapely.box(X0 + 100, Y0, X0 + 110, Y0 + 10)
    assert cut_by(far) is None

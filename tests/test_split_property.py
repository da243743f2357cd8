"""Property tests of the exact splits: nothing is lost or counted twice.

Random tilings of a 1 km square (axis-aligned grids and Voronoi diagrams) are
split against random parcels and roads. For each parcel, its pieces add up
to its area inside the zones; for each zone, the pieces add up to the area of
the zone that parcels cover; likewise for road lengths. All within 1e-6 m²
(or m). Coordinates are on a 1 cm grid (line vertices offset by 3 mm, so that
no road runs exactly along a zone edge; that case has its own test at the end).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from conftest import X0, Y0
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import indicators
from geo.indicators import _split, split_lines, split_pieces, split_polygons

SIDE = 1000.0  # metres
TOLERANCE = 1e-6  # m² for areas, m for lengths
SQUARE = shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)
ORIGIN = np.array([X0, Y0])

PROPERTY = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

centimetres = st.integers(0, int(SIDE * 100)).map(lambda v: v / 100)
around = st.integers(int(-SIDE * 30), int(SIDE * 130)).map(lambda v: v / 100)  # may go outside


@st.composite
def grids(draw):
    """An axis-aligned grid tiling the square, with random cuts."""
    xs = sorted({0.0, SIDE, *draw(st.lists(centimetres, max_size=6))})
    ys = sorted({0.0, SIDE, *draw(st.lists(centimetres, max_size=6))})
    return np.array(
        [
            shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)
            for x0, x1 in itertools.pairwise(xs)
            for y0, y1 in itertools.pairwise(ys)
        ]
    )


def voronoi(seeds, frame):
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    return cells[~shapely.is_empty(cells) & (shapely.area(cells) > 0)]


@st.composite
def voronoi_tilings(draw):
    """The Voronoi diagram of 2 to 15 random seeds, clipped to the square."""
    seeds = draw(
        st.lists(st.tuples(centimetres, centimetres), min_size=2, max_size=15, unique=True)
    )
    return voronoi(ORIGIN + np.array(seeds), SQUARE)


tilings = st.one_of(grids(), voronoi_tilings())


@st.composite
def parcel_tilings(draw):
    """Non-overlapping parcels: a Voronoi tiling of a random box, partly outside the square."""
    x0, y0 = draw(around), draw(around)
    width = draw(st.integers(5_000, 80_000)) / 100
    height = draw(st.integers(5_000, 80_000)) / 100
    frame = shapely.box(X0 + x0, Y0 + y0, X0 + x0 + width, Y0 + y0 + height)
    corner = ORIGIN + np.array([x0, y0])
    fractions = draw(
        st.lists(
            st.tuples(st.integers(0, 1000), st.integers(0, 1000)),
            min_size=2,
            max_size=25,
            unique=True,
        )
    )
    seeds = corner + np.array(fractions) / 1000 * [width, height]
    return voronoi(seeds, frame)


@st.composite
def loose_parcels(draw):
    """Rectangles and triangles that may overlap each other and stick out of the square."""
    shapes = []
    for _ in range(draw(st.integers(1, 12))):
        points = draw(st.lists(st.tuples(around, around), min_size=3, max_size=3))
        if draw(st.booleans()):
            (ax, ay), (bx, by), _ = points
            if ax != bx and ay != by:
                shapes.append(
                    shapely.box(
                        X0 + min(ax, bx), Y0 + min(ay, by), X0 + max(ax, bx), Y0 + max(ay, by)
                    )
                )
                continue
        triangle = shapely.Polygon(ORIGIN + np.array(points))
        if triangle.is_valid and triangle.area > 0:
            shapes.append(triangle)
    return np.array(shapes or [shapely.box(X0, Y0, X0 + 10, Y0 + 10)])


@st.composite
def roads(draw):
    """Polylines of 2 to 5 vertices, partly outside the square, on a grid offset by 3 mm."""
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        vertices = draw(st.lists(st.tuples(around, around), min_size=2, max_size=5))
        coordinates = ORIGIN + np.array(vertices) + 0.003
        line = shapely.LineString(coordinates)
        if line.length > 0:
            lines.append(line)
    return np.array(lines or [shapely.LineString([(X0 - 5, Y0 + 5), (X0 + 5, Y0 + 5)])])


def sums(index, amount, size):
    return np.bincount(index, weights=amount, minlength=size)


@PROPERTY
@given(zones=tilings, parcels=parcel_tilings())
def test_parcel_pieces_add_up_both_ways(zones, parcels):
    parcel, zone, area = split_polygons(parcels, zones)
    assert (area > 0).all()
    covered = shapely.union_all(zones)
    per_parcel = sums(parcel, area, len(parcels))
    expected = shapely.area(shapely.intersection(parcels, covered))
    assert np.abs(per_parcel - expected).max() <= TOLERANCE
    per_zone = sums(zone, area, len(zones))
    expected = shapely.area(shapely.intersection(zones, shapely.union_all(parcels)))
    assert np.abs(per_zone - expected).max() <= TOLERANCE


@PROPERTY
@given(zones=tilings, parcels=loose_parcels())
def test_overlapping_parcels_lose_nothing(zones, parcels):
    parcel, _, area = split_polygons(parcels, zones)
    per_parcel = sums(parcel, area, len(parcels))
    expected = shapely.area(shapely.intersection(parcels, shapely.union_all(zones)))
    assert np.abs(per_parcel - expected).max() <= TOLERANCE


@PROPERTY
@given(zones=tilings, lines=roads())
def test_road_pieces_add_up_both_ways(zones, lines):
    line, zone, length = split_lines(lines, zones)
    assert (length > 0).all()
    per_line = sums(line, length, len(lines))
    expected = shapely.length(shapely.intersection(lines, shapely.union_all(zones)))
    assert np.abs(per_line - expected).max() <= TOLERANCE
    per_zone = sums(zone, length, len(zones))
    inside = shapely.intersection(lines[:, None], zones[None, :])
    assert np.abs(per_zone - shapely.length(inside).sum(axis=0)).max() <= TOLERANCE


@PROPERTY
@given(zones=tilings)
def test_the_tiling_is_exact(zones):
    # the zones themselves split against the square: each keeps its own area
    parcel, zone, area = split_polygons(zones, np.array([SQUARE]))
    assert np.abs(sums(parcel, area, len(zones)) - shapely.area(zones)).max() <= TOLERANCE
    assert abs(area.sum() - SIDE * SIDE) <= TOLERANCE
    assert (zone == 0).all()


def test_a_road_along_a_shared_edge_counts_once():
    zones = np.array(
        [shapely.box(X0, Y0, X0 + 500, Y0 + 1000), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)]
    )
    road = np.array([shapely.LineString([(X0 + 500, Y0 + 100), (X0 + 500, Y0 + 700)])])
    _, _, length = split_lines(road, zones)
    assert length.sum() == pytest.approx(600.0)


def test_a_road_partly_along_a_shared_edge():
    zones = np.array(
        [shapely.box(X0, Y0, X0 + 500, Y0 + 1000), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)]
    )
    # 300 m inside zone 0, then 400 m along the shared edge, then 200 m inside zone 1
    road = np.array(
        [
            shapely.LineString(
                [
                    (X0 + 200, Y0 + 100),
                    (X0 + 500, Y0 + 100),
                    (X0 + 500, Y0 + 500),
                    (X0 + 700, Y0 + 500),
                ]
            )
        ]
    )
    line, zone, length = split_lines(road, zones)
    assert dict(zip(zone.tolist(), length.tolist(), strict=True)) == pytest.approx(
        {0: 700.0, 1: 200.0}
    )
    assert line.tolist() == [0, 0]


# --------------------------------------------------------------------------- the fast split
# split_polygons classifies most parcels on a grid and the rest by boundary pieces
# (geo.indicators._polygon_pairs); it must give the pairs the plain method gives, in the
# same order: every intersecting pair, the parcel's own area when the zone contains it
# properly, the intersection's area otherwise (within 1e-6 m² where a part is cut along the
# boundary by geo.chords or derived; bit for bit for lines).


def reference_split(geometries, zones, measure=shapely.area):
    index, zone = shapely.STRtree(zones).query(geometries, predicate="intersects")
    inside = shapely.contains_properly(zones[zone], geometries[index])
    amount = measure(geometries[index])
    amount[~inside] = measure(
        shapely.intersection(geometries[index[~inside]], zones[zone[~inside]])
    )
    keep = amount > 0
    return index[keep], zone[keep], amount[keep]


def assert_same_split(ours, reference, polygons=False):
    """The same pairs in the same order, and the same measures: bit for bit, or for
    ``polygons`` within 1e-6 m² (a part cut along the zone's boundary by geo.chords, or
    derived from the polygon's area, is off an intersection's by the rounding of the cut)."""
    for got, expected in zip(ours[:2], reference[:2], strict=True):
        assert np.array_equal(got, expected)
    if polygons:
        assert ours[2] == pytest.approx(reference[2], rel=0, abs=TOLERANCE)
    else:
        assert np.array_equal(ours[2], reference[2])


@st.composite
def mixed_parcels(draw):
    """Parcels of a tiling, loose shapes, and multi-part parcels made of two of them."""
    tiled = draw(parcel_tilings())
    loose = draw(loose_parcels())
    pairs = [shapely.multipolygons([a, b]) for a, b in zip(tiled[::2], loose, strict=False)]
    pairs = [p for p in pairs if p.is_valid]
    return np.array([*tiled, *loose, *pairs], dtype=object)


@PROPERTY
@given(zones=tilings, parcels=mixed_parcels())
def test_split_is_the_plain_method(zones, parcels):
    assert_same_split(
        split_polygons(parcels, zones), reference_split(parcels, zones), polygons=True
    )


@PROPERTY
@given(zones=tilings, lines=roads())
def test_line_split_pairs_are_the_plain_method(zones, lines):
    ours = _split(lines, zones, measure=shapely.length)
    assert_same_split(ours[:3], reference_split(lines, zones, shapely.length))


@pytest.mark.parametrize("strips", [1, 8, 1000])
def test_many_small_parcels_on_the_grid_are_the_plain_method(strips, monkeypatch):
    # thousands of parcels, so most are classified on the grid; zones with a hole filled
    # by another zone, and two zones overlapping (cells inside two zones). The crossing
    # pairs are sought in strips of boundary segments: with 1,000 strips of a segment or
    # two, a parcel meets segments of several strips and must still be cut once per zone
    monkeypatch.setattr(indicators, "CROSSING_STRIPS", strips)
    monkeypatch.setattr(indicators, "STRIP_SEGMENTS", 1)
    rng = np.random.default_rng(8)
    zones = voronoi(ORIGIN + rng.uniform(0, SIDE, (12, 2)).round(2), SQUARE)
    hole = shapely.box(X0 + 400, Y0 + 400, X0 + 600, Y0 + 600)
    zones = np.array([*shapely.difference(zones, hole), hole, hole.buffer(30, join_style="mitre")])
    frame = shapely.box(X0 - 50, Y0 - 50, X0 + SIDE + 50, Y0 + SIDE + 50)
    parcels = voronoi(ORIGIN - 50 + rng.uniform(0, SIDE + 100, (3000, 2)).round(2), frame)
    corner = shapely.MultiPolygon([shapely.box(X0, Y0, X0 + 1, Y0 + 1)])
    apart = shapely.MultiPolygon(  # parts deep inside two zones, and one outside them all
        [shapely.box(X0 + 100, Y0 + 100, X0 + 101, Y0 + 101), shapely.box(X0 + 900, Y0 + 900,
         X0 + 901, Y0 + 901), shapely.box(X0 + 480, Y0 + 480, X0 + 481, Y0 + 481)]
    )  # fmt: skip
    beyond = shapely.MultiPolygon(
        [shapely.box(X0 + 500, Y0 + 100, X0 + 501, Y0 + 101), shapely.box(X0 + 500, Y0 - 90,
         X0 + 501, Y0 - 89)]
    )  # fmt: skip
    parcels = np.array([*parcels, corner, apart, beyond])
    assert_same_split(
        split_polygons(parcels, zones), reference_split(parcels, zones), polygons=True
    )


def test_kept_parts_are_the_intersections():
    zones = np.array(
        [shapely.box(X0, Y0, X0 + 500, Y0 + 1000), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)]
    )
    parcels = np.array(
        [
            shapely.box(X0 + 450, Y0, X0 + 550, Y0 + 10),
            shapely.box(X0 + 20, Y0 + 20, X0 + 30, Y0 + 30),
        ]
    )
    pieces = split_pieces(parcels, zones, keep=np.array([True, True]))
    assert pieces.item.tolist() == [0, 0, 1]
    assert shapely.equals(pieces.geometry[0], shapely.intersection(parcels[0], zones[0]))
    assert shapely.equals(pieces.geometry[1], shapely.intersection(parcels[0], zones[1]))
    assert pieces.geometry[2] is None  # a whole parcel is its own part
    assert pieces.amount.tolist() == [500.0, 500.0, 100.0]


class Counted:
    """The pairs the split measures (``_measure_crossing``) and those GEOS intersects."""

    def __init__(self, monkeypatch):
        self.measured, self.intersected = [], []
        measure_crossing, intersection_measure = (
            indicators._measure_crossing,
            indicators.intersection_measure,
        )

        def measuring(geometries, zones, index, *args, **kwargs):
            self.measured.append(len(index))
            return measure_crossing(geometries, zones, index, *args, **kwargs)

        def intersecting(left, *args, **kwargs):
            self.intersected.append(len(left))
            return intersection_measure(left, *args, **kwargs)

        monkeypatch.setattr(indicators, "_measure_crossing", measuring)
        monkeypatch.setattr(indicators, "intersection_measure", intersecting)


def test_a_parcel_across_one_edge_is_measured_in_one_zone(monkeypatch):
    # three parcels across the edge between two zones, one touching it from the left and one
    # across a corner of three zones: the first three are measured once each (their other
    # part is the rest of their area), the touching one is measured on the left, and its
    # nothing on the right, too small to be derived, is then intersected; the corner one is
    # measured three times. Every convex parcel that a zone's boundary crosses is cut along
    # it (geo.chords), except the touching one, whose edge lies on the boundary: intersected
    counted = Counted(monkeypatch)
    zones = np.array(
        [
            shapely.box(X0, Y0, X0 + 500, Y0 + 500),
            shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 500),
            shapely.box(X0, Y0 + 500, X0 + 1000, Y0 + 1000),
        ]
    )
    parcels = np.array(
        [
            shapely.box(X0 + 450, Y0 + 10, X0 + 550, Y0 + 20),
            shapely.box(X0 + 499.99, Y0 + 30, X0 + 500.5, Y0 + 40),
            shapely.Polygon([(X0 + 480, Y0 + 50), (X0 + 530, Y0 + 60), (X0 + 490, Y0 + 90)]),
            shapely.box(X0 + 400, Y0 + 100, X0 + 500, Y0 + 110),
            shapely.box(X0 + 490, Y0 + 490, X0 + 510, Y0 + 510),
        ]
    )
    index, zone, area = split_polygons(parcels, zones)
    assert counted.measured == [3 + 1 + 3]
    assert counted.intersected == [1, 1]
    assert index.tolist() == [0, 0, 1, 1, 2, 2, 3, 4, 4, 4]
    assert zone.tolist() == [0, 1, 0, 1, 0, 1, 0, 0, 1, 2]
    assert area[:4].tolist() == pytest.approx([500.0, 500.0, 0.1, 5.0], abs=1e-9)
    assert area[6] == 1000.0  # the touching parcel: its own area, nothing on the right
    assert area[7:].tolist() == pytest.approx([100.0, 100.0, 200.0], abs=1e-9)
    triangle = shapely.area(shapely.intersection(parcels[2], zones[:2]))
    assert area[4:6] == pytest.approx(triangle, rel=0, abs=1e-9)
    counted.measured.clear()
    pieces = split_pieces(parcels, zones, keep=np.ones(len(parcels), dtype=bool))
    assert counted.measured == [11]  # the kept parts are all cut: none derived
    crossing = pieces.crossing
    expected = shapely.intersection(parcels[pieces.item[crossing]], zones[pieces.zone[crossing]])
    assert shapely.equals(pieces.geometry[crossing], expected).all()
    assert shapely.area(pieces.geometry[crossing]).tolist() == pytest.approx(
        area[crossing], abs=1e-9
    )


@pytest.mark.parametrize("twin", [shapely.reverse, lambda zone: shapely.box(*zone.bounds)])
def test_zones_on_the_same_side_of_an_edge_are_not_derived(twin, monkeypatch):
    # two zones sharing every edge on the same side (one given again, its ring reversed or
    # started elsewhere): a parcel across that edge is in both or neither, its parts are
    # intersected, not derived (the other part would be the outside)
    counted = Counted(monkeypatch)
    square = shapely.Polygon(
        [(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000), (X0, Y0 + 1000), (X0, Y0), (X0 + 1000, Y0)]
    )
    zones = np.array([square, twin(square)])
    parcels = np.array([shapely.box(X0 - 10, Y0 + 10, X0 + 30, Y0 + 20)])
    index, zone, area = split_polygons(parcels, zones)
    assert counted.measured == [2]
    assert index.tolist() == [0, 0]
    assert zone.tolist() == [0, 1]
    assert area.tolist() == [300.0, 300.0]


def with_repeated_vertices(polygon):
    """The same polygon with each vertex of its rings written twice (zero-length segments)."""
    rings = [polygon.exterior, *polygon.interiors]
    doubled = [np.repeat(np.asarray(ring.coords), 2, axis=0)[:-1] for ring in rings]
    return shapely.Polygon(doubled[0], doubled[1:])


@PROPERTY
@given(zones=tilings, parcels=mixed_parcels(), reverse=st.booleans())
def test_shared_and_degenerate_boundary_segments_are_the_plain_method(zones, parcels, reverse):
    # boundary segments shared by three zones (a zone given twice, once with its rings reversed
    # or with every vertex doubled) and zero-length segments: each distinct segment is tested
    # once for all the zones holding it
    twin = shapely.reverse(zones[0]) if reverse else with_repeated_vertices(zones[0])
    zones = np.array([*(with_repeated_vertices(z) for z in zones[1::2]), *zones[::2], twin])
    assert_same_split(
        split_polygons(parcels, zones), reference_split(parcels, zones), polygons=True
    )


def test_kept_parts_of_many_parcels_are_the_intersections():
    # enough parcels for the grid, the threads and the measuring in the background
    rng = np.random.default_rng(5)
    zones = voronoi(ORIGIN + rng.uniform(0, SIDE, (15, 2)).round(2), SQUARE)
    zones = np.array([*zones, with_repeated_vertices(zones[0]), shapely.reverse(zones[1])])
    frame = shapely.box(X0 - 50, Y0 - 50, X0 + SIDE + 50, Y0 + SIDE + 50)
    parcels = voronoi(ORIGIN - 50 + rng.uniform(0, SIDE + 100, (6000, 2)).round(2), frame)
    keep = rng.random(parcels.size) < 0.5
    pieces = split_pieces(parcels, zones, keep=keep, derive=True)
    assert_same_split(pieces[:3], reference_split(parcels, zones), polygons=True)
    inside = shapely.contains_properly(zones[pieces.zone], parcels[pieces.item])
    assert np.array_equal(pieces.crossing, ~inside)
    kept = pieces.crossing & keep[pieces.item]
    assert (pieces.geometry[~kept] == None).all()  # noqa: E711
    # the parts cut along a chain (geo.chords) are GEOS's up to the rounding of the cut
    expected = shapely.intersection(parcels[pieces.item[kept]], zones[pieces.zone[kept]])
    assert shapely.equals_exact(
        shapely.normalize(pieces.geometry[kept]), shapely.normalize(expected), tolerance=1e-6
    ).all()
    assert shapely.is_valid(pieces.geometry[kept]).all()


@pytest.mark.parametrize("strips", [1, 1000])
def test_a_pair_is_measured_alike_whichever_zones_are_split_with_it(strips, monkeypatch):
    # the per-unit engine splits by one commune at a time: without derive, a pair's area
    # must not depend on the other zones (bit for bit), whether cut along a chain or not,
    # nor on the strips the segments are sought in (a polygon's pairs wait for its last)
    monkeypatch.setattr(indicators, "CROSSING_STRIPS", strips)
    monkeypatch.setattr(indicators, "STRIP_SEGMENTS", 1)
    rng = np.random.default_rng(5)
    zones = voronoi(ORIGIN + rng.uniform(0, SIDE, (15, 2)).round(2), SQUARE)
    zones = np.array([*zones, with_repeated_vertices(zones[0]), shapely.reverse(zones[1])])
    frame = shapely.box(X0 - 50, Y0 - 50, X0 + SIDE + 50, Y0 + SIDE + 50)
    parcels = voronoi(ORIGIN - 50 + rng.uniform(0, SIDE + 100, (6000, 2)).round(2), frame)
    whole = split_pieces(parcels, zones)
    assert_same_split(whole[:3], reference_split(parcels, zones), polygons=True)
    for z in range(len(zones)):
        alone = split_pieces(parcels, zones[z : z + 1])
        mine = whole.zone == z
        assert np.array_equal(alone.item, whole.item[mine])
        assert np.array_equal(alone.amount, whole.amount[mine])

"""Access to services: straight-line and road distances on layouts of known size."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import VN2000_TN, X0, Y0, square
from shapely.geometry import LineString, Point

import geo
from geo import access, dasymetric
from geo.errors import GeographicCrsError, ValidationError


def at(x, y):
    return Point(X0 + x, Y0 + y)


def line(*points):
    return LineString([(X0 + x, Y0 + y) for x, y in points])


def facilities(*rows):
    return gpd.GeoDataFrame(
        {"kind": [kind for kind, _ in rows]}, geometry=[g for _, g in rows], crs=VN2000_TN
    )


def roads(*geometries):
    return gpd.GeoDataFrame(geometry=list(geometries), crs=VN2000_TN)


def pieces_of(*rows, hamlet="H1"):
    """Residential pieces: (square, population) pairs, all in one hamlet by default."""
    return gpd.GeoDataFrame(
        {
            "hamlet_id": [row[2] if len(row) > 2 else hamlet for row in rows],
            "area_m2": [row[0].area for row in rows],
            "population": [row[1] for row in rows],
        },
        geometry=[row[0] for row in rows],
        crs=VN2000_TN,
    )


def hamlet_ids(*ids):
    return gpd.pd.DataFrame({"id": list(ids)})


# a 100 m residential square centred on (50, 50)
HOME = square(0, 0, 100, 100)


def test_default_thresholds_are_the_tools_own_and_read_only():
    assert dict(access.DEFAULT_THRESHOLDS_M) == {
        "school": 1000.0,
        "health_station": 2000.0,
        "cultural_house": 500.0,
        "market": 1500.0,
    }
    with pytest.raises(TypeError):
        access.DEFAULT_THRESHOLDS_M["school"] = 1.0


def test_straight_line_to_a_facility_300_m_east_of_the_centre():
    distance = access.nearest_distance_m(
        shapely.point_on_surface(np.array([HOME])), np.array([at(350, 50), at(50, 900)])
    )
    assert distance.tolist() == [300.0]


def test_nearest_distance_without_facilities_is_nan():
    assert np.isnan(access.nearest_distance_m(np.array([at(0, 0)]), np.array([]))).all()


def test_population_weighted_distance_and_share_within():
    # 100 people 300 m from the school, 300 people 700 m from it
    pieces = pieces_of((HOME, 100.0), (square(-400, 0, 100, 100), 300.0))
    schools = facilities(("school", at(350, 50)))
    table, findings = access.hamlet_access(
        hamlet_ids("H1"), pieces, schools, thresholds_m={"school": 500.0}
    )
    assert table["dist_school_m"].tolist() == pytest.approx([(100 * 300 + 300 * 700) / 400])
    assert table["share_within_school_pct"].tolist() == pytest.approx([25.0])
    assert "netdist_school_m" not in table.columns
    assert findings == []


def test_unknown_population_weights_pieces_by_area():
    pieces = pieces_of((HOME, np.nan), (square(-400, 0, 100, 300), np.nan))
    schools = facilities(("school", at(350, 50)))
    table, _ = access.hamlet_access(
        hamlet_ids("H1"), pieces, schools, thresholds_m={"school": 500.0}
    )
    # 10,000 m² at 300 m, 30,000 m² at 700 m (from (−350, 150))
    far = math.hypot(700, 100)
    assert table["dist_school_m"].tolist() == pytest.approx([(300 + 3 * far) / 4])
    assert table["share_within_school_pct"].tolist() == pytest.approx([25.0])


def l_shaped_road(gap_m=0.0):
    # east 1,000 m along y = 0, then north 500 m along x = 1,000 (with an optional gap)
    return roads(line((50, 0), (1050, 0)), line((1050, gap_m), (1050, 500)))


def test_network_distance_along_an_l_shaped_road_is_sum_of_legs_and_snaps():
    network = access.road_graph(l_shaped_road())
    # home centre (50, 50) snaps 50 m to (50, 0); the school at (1060, 500) snaps 10 m
    distance = access.network_distance_m(network, np.array([at(50, 50)]), np.array([at(1060, 500)]))
    assert distance.tolist() == pytest.approx([50 + 1000 + 500 + 10], abs=1e-6)


def test_a_gap_under_the_tolerance_is_bridged_and_counted():
    network = access.road_graph(l_shaped_road(gap_m=2.0), snap_tolerance_m=5.0)
    assert nx.number_connected_components(network.graph) == 1
    assert network.ignored_m == 0.0
    distance = access.network_distance_m(network, np.array([at(50, 50)]), np.array([at(1060, 500)]))
    # 1,000 m east, the 2 m connector, 498 m north: the same as the joined road
    assert distance.tolist() == pytest.approx([50 + 1000 + 2 + 498 + 10], abs=0.01)


def test_a_gap_over_the_tolerance_leaves_the_smaller_part_out():
    network = access.road_graph(l_shaped_road(gap_m=2.0), snap_tolerance_m=1.0)
    assert network.ignored_m == pytest.approx(498.0)
    distance = access.network_distance_m(network, np.array([at(50, 50)]), np.array([at(1060, 500)]))
    # the school now joins the east road at its end (1050, 0)
    assert distance.tolist() == pytest.approx([50 + 1000 + math.hypot(10, 500)], abs=1e-6)
    table, findings = access.hamlet_access(
        hamlet_ids("H1"),
        pieces_of((HOME, 10.0)),
        facilities(("school", at(1060, 500))),
        roads=network,
        thresholds_m={"school": 1000.0},
    )
    assert table["netdist_school_m"].tolist() == pytest.approx([50 + 1000 + math.hypot(10, 500)])
    assert [(f.kind, round(f.value)) for f in findings] == [("road_pieces_ignored", 498)]


def test_a_facility_on_the_same_road_piece_is_reached_along_it():
    network = access.road_graph(roads(line((0, 0), (2000, 0))))
    assert network.graph.number_of_edges() == 1
    distance = access.network_distance_m(
        network, np.array([at(50, 50), at(1500, -10)]), np.array([at(550, -20)])
    )
    assert distance.tolist() == pytest.approx([50 + 500 + 20, 10 + 950 + 20])


def test_crossing_roads_are_joined_at_the_crossing():
    network = access.road_graph(roads(line((0, 0), (1000, 0)), line((500, -500), (500, 500))))
    assert network.graph.number_of_nodes() == 5
    assert network.graph.number_of_edges() == 4
    distance = access.network_distance_m(network, np.array([at(0, 10)]), np.array([at(505, 490)]))
    assert distance.tolist() == pytest.approx([10 + 500 + 490 + 5])


def test_a_road_end_near_the_middle_of_another_is_joined_to_it():
    # a lane stopping 3 m short of the main road (a T junction digitised short)
    network = access.road_graph(
        roads(line((0, 0), (1000, 0)), line((400, 3), (400, 600))), snap_tolerance_m=5.0
    )
    assert nx.number_connected_components(network.graph) == 1
    distance = access.network_distance_m(network, np.array([at(0, 0)]), np.array([at(400, 600)]))
    assert distance.tolist() == pytest.approx([400 + 3 + 597], abs=0.01)


def test_unreachable_pieces_are_infinite_and_reported():
    network = access.road_graph(
        roads(line((0, 0), (1000, 0)), line((0, 900), (1000, 900))), largest_component=False
    )
    pieces = pieces_of((HOME, 100.0), (square(0, 800, 100, 100), 100.0))
    distance = access.piece_distances(
        pieces, facilities(("market", at(900, 950))), kinds=["market"], roads=network
    )
    assert math.isinf(distance["netdist_market_m"].iloc[0])
    assert distance["netdist_market_m"].iloc[1] == pytest.approx(50 + 850 + 50)
    table, findings = access.hamlet_access(
        hamlet_ids("H1"),
        pieces,
        facilities(("market", at(900, 950))),
        roads=network,
        thresholds_m={"market": 1500.0},
    )
    assert np.isnan(table["netdist_market_m"].iloc[0])
    assert table["netshare_within_market_pct"].iloc[0] == pytest.approx(50.0)
    [finding] = findings
    assert (finding.feature, finding.kind, finding.value) == ("H1", "unreachable_by_road", 50.0)
    assert "chợ" in finding.message


def test_a_kind_without_facilities_is_nan_and_reported():
    table, findings = access.hamlet_access(
        hamlet_ids("H1", "H2"),
        pieces_of((HOME, 100.0)),
        facilities(("school", at(350, 50))),
        roads=l_shaped_road(),
        thresholds_m={"school": 1000.0, "market": 1500.0},
    )
    assert table["dist_school_m"].tolist()[0] == pytest.approx(300.0)
    assert np.isnan(table["dist_school_m"].iloc[1])  # H2 has no residential piece
    for column in ("dist_market_m", "netdist_market_m", "share_within_market_pct"):
        assert table[column].isna().all(), column
    assert [(f.layer, f.feature, f.kind) for f in findings] == [
        ("infrastructure", "market", "no_facility")
    ]


def test_distances_in_degrees_are_refused():
    with pytest.raises(GeographicCrsError):
        access.road_graph(l_shaped_road().to_crs(4326))
    with pytest.raises(GeographicCrsError):
        access.piece_distances(pieces_of((HOME, 1.0)).to_crs(4326), facilities())


def test_from_parcels_to_access_end_to_end():
    hamlets = gpd.GeoDataFrame(
        {"id": ["H1"], "population": [400.0]}, geometry=[square(-500, 0, 1000, 500)], crs=VN2000_TN
    )
    landuse = gpd.GeoDataFrame(
        {"code": ["ONT", "ONT", "LUA"]},
        geometry=[HOME, square(-400, 0, 100, 300), square(200, 200, 200, 200)],
        crs=VN2000_TN,
    )
    allocation = dasymetric.allocate_population(hamlets, landuse)
    table, _ = access.hamlet_access(
        hamlets,
        allocation.pieces,
        facilities(("school", at(350, 50))),
        thresholds_m={"school": 500},
    )
    # 100 people at 300 m, 300 people around (−350, 150)
    expected = (100 * 300 + 300 * math.hypot(700, 100)) / 400
    assert table["dist_school_m"].tolist() == pytest.approx([expected])


# ----------------------------------------------------------------------- bundled sample


@pytest.fixture(scope="module")
def sample_access():
    result = geo.run(geo.load_project(geo.sample_project_dir()))
    allocation = dasymetric.allocate_population(result.hamlets, result.landuse)
    pieces = access.piece_distances(allocation.pieces, result.infrastructure, roads=result.roads)
    table, findings = access.hamlet_access(
        result.hamlets, allocation.pieces, result.infrastructure, roads=result.roads
    )
    return pieces, table, findings


def test_sample_access_is_complete_and_consistent(sample_access):
    pieces, table, findings = sample_access
    assert len(table) == 18
    for kind in access.DEFAULT_THRESHOLDS_M:
        for column in (
            f"dist_{kind}_m",
            f"netdist_{kind}_m",
            f"share_within_{kind}_pct",
            f"netshare_within_{kind}_pct",
        ):
            assert table[column].notna().all(), column
        straight = pieces[f"dist_{kind}_m"].to_numpy()
        along = pieces[f"netdist_{kind}_m"].to_numpy()
        assert (along >= straight - 1e-6).all()  # no road is shorter than a straight line
        assert table[f"share_within_{kind}_pct"].between(0, 100).all()
    # the sample's lanes left off the network (illustrative data) are reported
    assert [f.kind for f in findings] == ["road_pieces_ignored"]
    assert findings[0].value == pytest.approx(6_686, abs=1)
    # every hamlet has a cultural house nearby (one per hamlet in the sample)
    assert table["dist_cultural_house_m"].max() < 400


def test_layers_in_different_crs_are_refused():
    with pytest.raises(ValidationError, match="different CRSs"):
        access.piece_distances(
            pieces_of((HOME, 1.0)), facilities(("school", at(350, 50))).to_crs("EPSG:32648")
        )


def test_an_unreachable_piece_without_people_does_not_count():
    network = access.road_graph(
        roads(line((0, 0), (1000, 0)), line((0, 900), (1000, 900))), largest_component=False
    )
    pieces = pieces_of((HOME, 0.0), (square(0, 800, 100, 100), 100.0))
    table, findings = access.hamlet_access(
        hamlet_ids("H1"),
        pieces,
        facilities(("market", at(900, 950))),
        roads=network,
        thresholds_m={"market": 1500.0},
    )
    assert table["netdist_market_m"].tolist() == pytest.approx([950.0])
    assert table["netshare_within_market_pct"].tolist() == pytest.approx([100.0])
    assert findings == []


def test_point_distances_from_the_kd_tree_equal_geos_bit_for_bit(monkeypatch):
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 1)
    rng = np.random.default_rng(8)
    origins = shapely.points(rng.uniform(0, 5_000, (2_000, 2)) + np.array([X0, Y0]))
    origins[[3, 70]] = Point()  # empty: no distance
    schools = shapely.points(rng.uniform(0, 5_000, (40, 2)) + np.array([X0, Y0]))
    schools[5] = Point()  # an empty facility is left out
    found = access.nearest_distance_m(origins, schools)
    index, _, distance = access._nearest(shapely.STRtree(schools), origins)
    expected = np.full(len(origins), np.nan)
    expected[index] = distance
    np.testing.assert_array_equal(found, expected)
    assert np.isnan(found[[3, 70]]).all()
    assert np.isfinite(np.delete(found, [3, 70])).all()
    # a facility drawn as a polygon: measured by GEOS, to its nearest edge
    yard = np.array([square(1_000, 0, 100, 100)])
    assert access.nearest_distance_m(np.array([at(1_150, 50), at(1_050, 50)]), yard).tolist() == [
        50.0,
        0.0,
    ]


@pytest.mark.parametrize("sparse_from", [1, 10**9], ids=["scipy", "networkx"])
def test_dijkstra_takes_the_shorter_of_two_pieces_and_a_start_of_zero_cost(
    sparse_from, monkeypatch
):
    monkeypatch.setattr(access, "SPARSE_MIN_NODES", sparse_from)
    # two roads between the same ends: a straight 1,000 m one and a 1,400 m detour
    network = access.road_graph(roads(line((0, 0), (1000, 0)), line((0, 0), (500, 490), (1000, 0))))
    assert network.graph.number_of_edges() == 1  # the graph keeps the shorter
    *_, length = network.links
    assert length.tolist() == pytest.approx([1000.0])
    # the facility sits on the road's end: it starts the search at cost 0
    costs = access._costs_from(network, np.array([0]), np.array([0.0]))
    assert sorted(costs.tolist()) == pytest.approx([0.0, 1000.0])
    # 30 m east of the far end: snapped there, then the straight road back
    distance = access.network_distance_m(network, np.array([at(1030, 0)]), np.array([at(0, 0)]))
    assert distance.tolist() == pytest.approx([30 + 1000])


def test_piece_distances_are_the_same_on_either_tree_and_graph(monkeypatch):
    homes = pieces_of(*((square(x, y, 40, 40), 5.0) for x in range(0, 2000, 150) for y in (0, 400)))
    services = facilities(
        ("school", at(1000, 200)), ("school", at(30, 700)), ("market", at(1900, -50))
    )
    road = roads(line((0, 200), (2000, 200)))
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 10**9)
    geos = access.piece_distances(homes, services, kinds=["school", "market"], roads=road)
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 1)
    monkeypatch.setattr(access, "SPARSE_MIN_NODES", 1)
    tree = access.piece_distances(homes, services, kinds=["school", "market"], roads=road)
    assert len(tree) == 28
    assert tree.equals(geos)
    # the first home's centre (20, 20) is nearest the school at (30, 700)
    assert tree["dist_school_m"].iloc[0] == pytest.approx(math.hypot(10, 680))


def test_largest_network_part_is_the_same_with_scipy_or_networkx(monkeypatch):
    # three separate parts: 1,000 m (two pieces), 1,000 m (one piece, found later), 300 m
    road = roads(
        line((0, 0), (500, 0)),
        line((500, 0), (1000, 0)),
        line((0, 5000), (1000, 5000)),
        line((0, 9000), (300, 9000)),
    )
    kept = {}
    for name, threshold in (("networkx", 10**9), ("scipy", 1)):
        monkeypatch.setattr(access, "SPARSE_MIN_NODES", threshold)
        network = access.road_graph(road)
        assert "graph" not in vars(network)  # the networkx graph is built on first use only
        kept[name] = network
    # a tie on length: the part with the lowest node (the westmost-southmost end) is kept
    for network in kept.values():
        assert network.nodes == 3
        assert network.ignored_m == pytest.approx(1300.0)
        assert shapely.total_bounds(network.edges).tolist() == pytest.approx(
            [X0, Y0, X0 + 1000, Y0]
        )
    assert (kept["scipy"].edge_nodes == kept["networkx"].edge_nodes).all()
    assert kept["scipy"].graph.number_of_edges() == 2  # still there on demand


def _grid_roads(cells: int = 6, spacing: float = 100.0) -> access.RoadGraph:
    """Streets every ``spacing`` m each way: cells x cells blocks, pieces of ``spacing`` m."""
    end = cells * spacing
    streets = [line((0, i * spacing), (end, i * spacing)) for i in range(cells + 1)]
    streets += [line((i * spacing, 0), (i * spacing, end)) for i in range(cells + 1)]
    return access.road_graph(roads(*streets))


def _points_around_the_grid(count: int = 3_000) -> np.ndarray:
    rng = np.random.default_rng(8)
    xy = rng.uniform(-80.0, 680.0, (count, 2))
    # on a 50 m lattice: block centres (four streets as near), junctions and street points
    xy[:400] = np.round(xy[:400] / 50.0) * 50.0
    return shapely.points(xy + np.array([X0, Y0]))


def test_snapping_on_the_kd_tree_is_geos_with_the_lowest_piece_among_ties(monkeypatch):
    network, points = _grid_roads(), _points_around_the_grid()
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 10**9)
    by_geos = access._snap(network, points)
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 1)
    by_kd = access._snap(network, points)
    _, _, proven = network.segment_index.nearest(access._xy(points))
    # both ways of finding the piece were taken
    assert proven.any()
    assert not proven.all()
    for kd, geos in zip(by_kd, by_geos, strict=True):
        np.testing.assert_array_equal(kd, geos)
    # every point's piece is the lowest-numbered of those at the least distance
    distance = shapely.distance(network.edges[None, :], points[:, None])
    nearest = distance == distance.min(axis=1, keepdims=True)
    assert (by_kd.edge == nearest.argmax(axis=1)).all()
    np.testing.assert_array_equal(by_kd.snap, distance.min(axis=1))
    centre = np.flatnonzero(shapely.equals(points, at(250, 350)))[0]  # a block's centre
    assert nearest[centre].sum() == 4
    assert by_kd.snap[centre] == 50.0


def test_snapping_with_too_few_samples_falls_back_to_geos(monkeypatch):
    # one sample looked at proves few pieces: the others are GEOS's, with the same answer
    network, points = _grid_roads(), _points_around_the_grid()
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 10**9)
    by_geos = access._snap(network, points)
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 1)
    monkeypatch.setattr(access, "SNAP_NEIGHBOURS", 1)
    _, _, proven = network.segment_index.nearest(access._xy(points))
    assert proven.mean() < 0.5
    for kd, geos in zip(access._snap(network, points), by_geos, strict=True):
        np.testing.assert_array_equal(kd, geos)


def test_segment_distance_is_geos_bit_for_bit():
    rng = np.random.default_rng(8)
    start = rng.uniform(0, 1_000, (5_000, 2)) + np.array([X0, Y0])
    end = start + rng.normal(0, 40, (5_000, 2))
    end[:100] = start[:100]  # segments of no length
    xy = rng.uniform(0, 1_000, (5_000, 2)) + np.array([X0, Y0])
    xy[100:200] = start[100:200] + (end[100:200] - start[100:200]) * 0.5  # on the segment
    found = access._segment_distance(xy, start[:, None, :], end[:, None, :])[:, 0]
    segments = shapely.linestrings(np.stack([start, end], axis=1))
    np.testing.assert_array_equal(found, shapely.distance(shapely.points(xy), segments))


def test_the_lowest_nearest_piece_leaves_empty_points_out():
    pieces = np.array([line((0, 0), (100, 0)), line((0, 20), (100, 20))])
    tree = shapely.STRtree(pieces)
    index, found, distance = access._nearest(tree, np.array([Point()]), lowest=True)
    assert index.size == found.size == distance.size == 0
    # a point midway between the two: both at 10 m, the first one
    index, found, distance = access._nearest(
        tree, np.array([Point(), at(50, 10), Point()]), lowest=True
    )
    assert index.tolist() == [1]
    assert found.tolist() == [0]
    assert distance.tolist() == [10.0]

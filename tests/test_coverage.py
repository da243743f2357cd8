"""Coverage checks: gaps, overlaps, hamlet sums, land-use cover and official areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import VN2000_TN, X0, Y0, square

import geo
from geo import coverage
from geo.errors import GeographicCrsError, ValidationError
from geo.validate import Finding


def frame(ids, geometries, crs=VN2000_TN, **columns):
    return gpd.GeoDataFrame({"id": ids, **columns}, geometry=list(geometries), crs=crs)


def one_unit():
    # 2 km × 1 km = 2 km²
    return frame(["U1"], [square(0, 0, 2000, 1000)], name=["Xã Thử"])


def hamlets_of(*geometries):
    ids = [f"H{i + 1}" for i in range(len(geometries))]
    return frame(ids, geometries, unit_id=["U1"] * len(geometries))


def test_an_exact_tiling_has_no_findings():
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "ONT"]},
        geometry=[square(0, 0, 1500, 1000), square(1500, 0, 500, 1000)],
        crs=VN2000_TN,
    )
    found = coverage.check_coverage(one_unit(), hamlets, landuse, official_area_km2=[2.0])
    assert found.empty
    assert list(found.columns) == coverage.FINDING_COLUMNS
    assert found.crs == VN2000_TN


def test_planted_gap_is_found_with_its_area_and_neighbours():
    # H2 stops 100 m short of the top: a 1,000 m × 100 m gap = 100,000 m²
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 900))
    [gap] = coverage.hamlet_gaps(one_unit(), hamlets).itertuples()
    assert gap.kind == "gap"
    assert gap.area_m2 == pytest.approx(100_000.0, abs=1e-6)
    assert gap.value == gap.area_m2
    assert gap.value_unit == "m2"
    assert gap.unit_id == "U1"
    assert gap.feature == "H1, H2"  # the hamlets bordering the gap
    assert gap.geometry.equals(square(1000, 900, 1000, 100))
    assert gap.geometry.contains(shapely.Point(gap.point_x, gap.point_y))
    assert "100.000 m²" in gap.message_vi
    assert "Xã Thử (U1)" in gap.message_vi
    assert "Gap of 100,000 m²" in gap.message_en
    assert gap.message == f"{gap.message_vi} / {gap.message_en}"


def test_planted_overlap_is_found_with_its_area_and_pair():
    # H1 reaches 100 m into H2: 100 m × 1,000 m = 100,000 m²
    hamlets = hamlets_of(square(0, 0, 1100, 1000), square(1000, 0, 1000, 1000))
    [overlap] = coverage.hamlet_overlaps(hamlets, one_unit()).itertuples()
    assert overlap.kind == "overlap"
    assert overlap.area_m2 == pytest.approx(100_000.0, abs=1e-6)
    assert overlap.feature == "H1, H2"
    assert overlap.unit_id == "U1"
    assert overlap.geometry.equals(square(1000, 0, 100, 1000))
    assert "Chồng lấn 100.000 m²" in overlap.message_vi


def test_overlap_of_three_hamlets_appears_in_each_pair():
    hamlets = hamlets_of(
        square(0, 0, 1100, 1000), square(900, 0, 1100, 1000), square(950, 400, 100, 100)
    )
    found = coverage.hamlet_overlaps(hamlets)
    assert found["feature"].tolist() == ["H1, H2", "H1, H3", "H2, H3"]
    # H1 ∩ H2 is 200 m × 1,000 m; H3 (10,000 m²) lies inside both
    assert found["area_m2"].tolist() == pytest.approx([200_000.0, 10_000.0, 10_000.0])
    assert (found["unit_id"] == "").all()  # no units given


def test_hamlet_inside_another_is_an_overlap():
    hamlets = hamlets_of(square(0, 0, 2000, 1000), square(500, 500, 10, 10))
    [overlap] = coverage.hamlet_overlaps(hamlets).itertuples()
    assert overlap.area_m2 == pytest.approx(100.0)


def test_touching_hamlets_do_not_overlap():
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    assert coverage.hamlet_overlaps(hamlets).empty


def test_slivers_below_the_tolerance_are_ignored():
    # a 0.0005 m wide gap along a 1,000 m edge: 0.5 m², under the 1 m² floor
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000.0005, 0, 999.9995, 1000))
    assert coverage.hamlet_gaps(one_unit(), hamlets).empty
    # 2 m² but only 2 mm wide: a reprojection sliver, under the 5 cm width floor
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000.002, 0, 999.998, 1000))
    assert coverage.hamlet_gaps(one_unit(), hamlets).empty
    # a 10 cm wide, 20 m long gap (2 m²) is real
    hamlets = hamlets_of(
        square(0, 0, 1000, 1000), square(1000, 20, 1000, 980), square(1000.1, 0, 999.9, 20)
    )
    [gap] = coverage.hamlet_gaps(one_unit(), hamlets).itertuples()
    assert gap.area_m2 == pytest.approx(2.0, rel=1e-6)


def test_unit_without_hamlets_is_one_gap():
    units = frame(["U1", "U2"], [square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000)])
    hamlets = frame(["H1"], [square(0, 0, 1000, 1000)], unit_id=["U1"])
    [gap] = coverage.hamlet_gaps(units, hamlets).itertuples()
    assert (gap.unit_id, gap.area_m2, gap.feature) == ("U2", 1e6, "H1")


def test_hamlet_sums_against_unit_area():
    # the overlap makes the hamlets sum to 2.1 km² for a 2 km² unit: +5 %
    hamlets = hamlets_of(square(0, 0, 1100, 1000), square(1000, 0, 1000, 1000))
    sums = coverage.hamlet_area_sums(one_unit(), hamlets)
    assert sums["hamlet_area_km2"].tolist() == pytest.approx([2.1])
    assert sums["hamlet_area_diff_pct"].tolist() == pytest.approx([5.0])
    found = coverage.check_coverage(one_unit(), hamlets)
    assert found["kind"].tolist() == ["overlap", "hamlet_sum_mismatch"]
    mismatch = found.iloc[1]
    assert mismatch["value"] == pytest.approx(5.0)
    assert mismatch["area_m2"] == pytest.approx(100_000.0)
    assert mismatch.geometry.geom_type == "Point"
    assert one_unit().geometry.iloc[0].contains(mismatch.geometry)
    assert "+5,00 %" in mismatch["message_vi"]


def test_hamlet_sum_tolerance_is_a_parameter():
    # 8,000 m² short of 2 km²: -0.4 %, under the default 0.5 % but over 0.3 %
    hamlets = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 992))
    found = coverage.check_coverage(one_unit(), hamlets, min_area_m2=1e9)
    assert found.empty
    found = coverage.check_coverage(
        one_unit(), hamlets, min_area_m2=1e9, hamlet_sum_tolerance_pct=0.3
    )
    [row] = found.itertuples()
    assert (row.kind, row.value) == ("hamlet_sum_mismatch", pytest.approx(-0.4))


def test_landuse_uncovered_area_and_share():
    # parcels cover the unit but for a 100 m × 100 m hole: 10,000 m² = 0.5 %
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "ONT"]},
        geometry=[
            square(0, 0, 1000, 1000).difference(square(400, 400, 100, 100)),
            square(1000, 0, 1000, 1000),
        ],
        crs=VN2000_TN,
    )
    [row] = coverage.landuse_uncovered(one_unit(), landuse).itertuples()
    assert row.kind == "landuse_uncovered"
    assert row.layer == "landuse"
    assert row.area_m2 == pytest.approx(10_000.0)
    assert row.value == pytest.approx(0.5)
    assert row.value_unit == "pct"
    assert row.geometry.equals(shapely.MultiPolygon([square(400, 400, 100, 100)]))


def test_landuse_from_a_neighbour_touching_the_unit_is_ignored():
    units = frame(["U1"], [square(0, 0, 1000, 1000)])
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "LUA"]},
        geometry=[square(0, 0, 1000, 500), square(0, 1000, 1000, 500)],  # the second only touches
        crs=VN2000_TN,
    )
    [row] = coverage.landuse_uncovered(units, landuse).itertuples()
    assert row.area_m2 == pytest.approx(500_000.0)
    assert row.value == pytest.approx(50.0)


def test_official_area_difference_and_tolerance():
    units = frame(
        ["U1", "U2", "U3"],
        [square(0, 0, 2000, 1000), square(2000, 0, 1000, 1000), square(3000, 0, 1000, 1000)],
    )
    official = gpd.pd.Series([2.03, 1.005, np.nan])
    table = coverage.official_area_difference(units, official)
    assert table["area_diff_km2"].tolist()[:2] == pytest.approx([-0.03, -0.005])
    assert table["area_diff_pct"].tolist()[:2] == pytest.approx(
        [-0.03 / 2.03 * 100, -0.005 / 1.005 * 100]
    )
    assert np.isnan(table["area_diff_pct"].iloc[2])
    found = coverage.check_coverage(units, official_area_km2=official)
    [row] = found.itertuples()  # U2 is off by 0.5 %, under the 1 % default; U3 has no figure
    assert (row.kind, row.layer, row.unit_id, row.feature) == ("area_mismatch", "units", "U1", "U1")
    assert row.value == pytest.approx(-1.4778, abs=1e-4)
    assert row.area_m2 == pytest.approx(-30_000.0)
    assert "-0,03 km² (-1,48 %)" in row.message_vi
    assert "differs by -0.03 km² (-1.48 %)" in row.message_en
    found = coverage.check_coverage(
        units, official_area_km2=official, official_area_tolerance_pct=0.4
    )
    assert found["unit_id"].tolist() == ["U1", "U2"]


def test_findings_table_becomes_finding_records():
    hamlets = hamlets_of(square(0, 0, 1100, 1000), square(1000, 0, 1000, 900))
    found = coverage.check_coverage(one_unit(), hamlets, official_area_km2=[2.5])
    assert found["kind"].tolist() == ["gap", "overlap", "area_mismatch"]
    records = coverage.to_findings(found)
    assert all(isinstance(r, Finding) for r in records)
    assert [(r.layer, r.feature, r.kind) for r in records] == [
        ("hamlets", "H1, H2", "gap"),
        ("hamlets", "H1, H2", "overlap"),
        ("units", "U1", "area_mismatch"),
    ]
    assert records[0].value == pytest.approx(90_000.0)  # 900 m × 100 m above H2, right of H1
    assert records[1].value == pytest.approx(90_000.0)  # 100 m × 900 m


def test_findings_round_trip_through_a_geopackage(tmp_path):
    hamlets = hamlets_of(square(0, 0, 1100, 1000), square(1000, 0, 1000, 900))
    found = coverage.check_coverage(one_unit(), hamlets, official_area_km2=[2.5])
    found.to_file(tmp_path / "results.gpkg", layer="findings", driver="GPKG")
    back = gpd.read_file(tmp_path / "results.gpkg", layer="findings")
    assert back["kind"].tolist() == found["kind"].tolist()
    assert back["message_vi"].tolist() == found["message_vi"].tolist()


def test_areas_in_degrees_are_refused():
    with pytest.raises(GeographicCrsError):
        coverage.check_coverage(one_unit().to_crs(4326))


def test_two_thousand_hamlets_with_planted_problems():
    rng = np.random.default_rng(42)
    unit_geoms, hamlet_geoms, owners = [], [], []
    for i in range(10):
        for j in range(10):
            unit = square(i * 3000, j * 3000, 3000, 3000)
            unit_geoms.append(unit)
            seeds = shapely.multipoints(rng.uniform(unit.bounds[:2], unit.bounds[2:], size=(20, 2)))
            cells = shapely.intersection(
                shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=unit)), unit
            )
            hamlet_geoms += list(cells)
            owners += [f"U{i}{j}"] * len(cells)
    units = frame([f"U{i}{j}" for i in range(10) for j in range(10)], unit_geoms)
    hamlets = frame([f"H{k}" for k in range(len(hamlet_geoms))], hamlet_geoms, unit_id=owners)
    assert len(hamlets) == 2000
    assert coverage.check_coverage(units, hamlets).empty
    planted = hamlets.copy()
    geoms = planted.geometry.to_numpy().copy()
    geoms[700] = shapely.Polygon()  # a hamlet missing: its whole area is a gap
    planted.geometry = gpd.GeoSeries(geoms, crs=VN2000_TN)
    found = coverage.check_coverage(units, planted)
    gaps = found.loc[found["kind"] == "gap"]
    assert len(gaps) == 1
    assert gaps["area_m2"].iloc[0] == pytest.approx(hamlet_geoms[700].area, rel=1e-9)
    assert gaps["unit_id"].iloc[0] == owners[700]


# ----------------------------------------------------------------------- bundled data


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(geo.sample_project_dir()))


def test_the_sample_tiles_exactly(sample):
    found = coverage.check_coverage(sample.units, sample.hamlets, sample.landuse)
    assert found.empty
    sums = coverage.hamlet_area_sums(sample.units, sample.hamlets)
    assert abs(sums["hamlet_area_diff_pct"].iloc[0]) < 1e-9


def test_thai_nguyen_2025_areas_against_the_official_figures():
    units = gpd.read_file(geo.resources.layers_dir() / "thai-nguyen-2025" / "units.geojson")
    units = units.rename(columns={"code": "id"}).to_crs(VN2000_TN)
    table = coverage.official_area_difference(units, units["areaKm2"])
    assert len(table) == 92
    assert table["area_diff_pct"].abs().median() == pytest.approx(0.110, abs=0.001)
    found = coverage.check_coverage(units, official_area_km2=units["areaKm2"])
    assert set(found["kind"]) == {"area_mismatch"}
    assert sorted(found["unit_id"]) == [
        "01843", "02026", "02038", "02101", "02104", "02107",
        "05542", "05551", "05665", "05674", "05857", "05881",
    ]  # fmt: skip
    worst = found.loc[found["value"].abs().idxmax()]
    assert worst["unit_id"] == "01843"  # Phường Bắc Kạn: 76.27 km² against 72.00 km²
    assert worst["value"] == pytest.approx(5.93, abs=0.01)
    assert "Phường Bắc Kạn (01843)" in worst["message_vi"]


def test_layers_in_different_crs_are_refused():
    hamlets = hamlets_of(square(0, 0, 2000, 1000)).to_crs("EPSG:32648")
    with pytest.raises(ValidationError, match="different CRSs"):
        coverage.check_coverage(one_unit(), hamlets)


# --------------------------------------------------------------------------- tiling, cover


def test_hamlets_tile_a_unit_only_exactly():
    units = frame(
        ["U1", "U2", "U3", "U4"],
        [square(0, 0, 2000, 1000), square(0, 2000, 2000, 1000), square(0, 4000, 2000, 1000),
         square(0, 6000, 2000, 1000)],
    )  # fmt: skip
    hamlets = frame(
        ["a", "b", "c", "d", "e", "f", "g"],
        [
            square(0, 0, 1000, 1000),  # U1: two halves, an exact tiling
            square(1000, 0, 1000, 1000),
            square(0, 2000, 1000, 1000),  # U2: a gap of 1 m
            square(1001, 2000, 999, 1000),
            square(0, 4000, 1100, 1000),  # U3: two hamlets overlapping by 100 m
            square(1000, 4000, 1000, 1000),
            square(0, 6000, 2000, 1001),  # U4: one hamlet 1 m too tall
        ],
        unit_id=["U1", "U1", "U2", "U2", "U3", "U3", "U4"],
    )
    assert coverage.hamlets_tile_units(units, hamlets).tolist() == [True, False, False, False]


def test_landuse_cover_ignores_a_neighbours_noise_and_finds_the_hole():
    # U1's parcels cover it but for a 10 m × 10 m hole; a parcel of the next unit overlaps U1
    # by 1e-7 m (float noise), which would make U1's parcels an invalid coverage
    units = frame(["U1", "U2"], [square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000)])
    noise = shapely.box(X0 + 1000 - 1e-7, Y0, X0 + 2000, Y0 + 1000)
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "LUA", "CLN"]},
        geometry=[
            shapely.difference(square(0, 0, 500, 1000), square(100, 100, 10, 10)),
            square(500, 0, 500, 1000),
            noise,
        ],
        crs=VN2000_TN,
    )
    found = coverage.landuse_uncovered(units, landuse)
    assert found["unit_id"].tolist() == ["U1"]
    assert found["area_m2"].iloc[0] == pytest.approx(100.0, abs=1e-6)
    assert found.geometry.iloc[0].equals(shapely.MultiPolygon([square(100, 100, 10, 10)]))
    reference = shapely.difference(
        units.geometry.iloc[0], shapely.union_all(landuse.geometry.to_numpy())
    )
    assert found.geometry.iloc[0].area == pytest.approx(reference.area, abs=1e-6)


def test_landuse_cover_from_given_pieces_is_the_same():
    units = frame(["U1"], [square(0, 0, 1000, 1000)])
    landuse = gpd.GeoDataFrame(
        {"code": ["LUA", "ONT", "CLN"]},
        geometry=[square(0, 0, 400, 1000), square(400, 0, 300, 990), square(0.5, 0.5, 0.5, 0.5)],
        crs=VN2000_TN,
    )
    pieces = geo.indicators.split_pieces(landuse.geometry.to_numpy(), units.geometry.to_numpy())
    alone = coverage.landuse_uncovered(units, landuse)
    given = coverage.landuse_uncovered(units, landuse, pieces=pieces)
    assert alone.drop(columns="geometry").equals(given.drop(columns="geometry"))
    assert alone.geometry.iloc[0].equals(given.geometry.iloc[0])
    assert alone["area_m2"].iloc[0] == pytest.approx(300 * 1000 + 300 * 10, abs=1e-6)


def test_coverage_union_falls_back_when_parts_overlap():
    parts = np.array([square(0, 0, 100, 100), square(50, 0, 100, 100)])  # overlapping
    union = coverage._coverage_union(parts)
    assert union.is_valid
    assert union.area == pytest.approx(15_000.0)


def grid(cells: int, skip: tuple[int, int] | None = None) -> list[shapely.Polygon]:
    """Parcels 10 m × 10 m in a ``cells`` × ``cells`` grid, sharing their edges, one left out."""
    return [
        square(10 * i, 10 * j, 10, 10) for i in range(cells) for j in range(cells) if (i, j) != skip
    ]


def unioned(monkeypatch) -> list[int]:
    """Record how many polygons each ``coverage_union_all`` call is given."""
    sizes, real = [], shapely.coverage_union_all
    monkeypatch.setattr(
        shapely, "coverage_union_all", lambda g, **kw: sizes.append(len(g)) or real(g, **kw)
    )
    return sizes


def test_coverage_union_from_the_rim_keeps_the_gaps_and_fills_the_rest(monkeypatch):
    # 6 × 6 parcels but a gap at (2, 2): the union is built from the 20 parcels around the
    # grid and the 4 that share an edge with the gap; but the 4 that touch the gap at a
    # corner only leave the gap and the land around it one hole of that union, so they join
    # and the union is made again, of 28; the 7 others fill its big hole
    parcels = np.array(grid(6, skip=(2, 2)))
    sizes = unioned(monkeypatch)
    union = coverage._coverage_union(parcels)
    assert sizes == [24, 28]
    assert union.equals(shapely.union_all(parcels))
    assert [ring.area for ring in [shapely.Polygon(r) for r in union.interiors]] == [100.0]
    assert union.area == pytest.approx(35 * 100.0)


def test_coverage_union_keeps_the_gap_of_a_rim_part_inside_a_filled_hole(monkeypatch):
    # in cell (3, 3): a frame (its hole 6 m wide), a frame in that hole, and one more frame in
    # that one around a 2 m × 2 m gap: only that last frame and the grid's border are the
    # rim, and the gap must survive the filling of the border's big hole, which holds it
    cell = square(30, 30, 10, 10)
    frames = [
        shapely.difference(cell, square(32, 32, 6, 6)),
        shapely.difference(square(32, 32, 6, 6), square(33, 33, 4, 4)),
        shapely.difference(square(33, 33, 4, 4), square(34, 34, 2, 2)),
    ]
    parcels = np.array(grid(6, skip=(3, 3)) + frames)
    sizes = unioned(monkeypatch)
    union = coverage._coverage_union(parcels)
    assert sizes == [21]
    assert union.equals(shapely.union_all(parcels))
    assert union.area == pytest.approx(3600.0 - 4.0)
    assert len(union.interiors) == 1


def test_coverage_union_takes_a_parcel_of_two_parts_ring_by_ring(monkeypatch):
    # cells (1, 1) and (2, 2) of 4 × 4 are one parcel of two parts: no edge joins its rings,
    # so it is not on the rim; only the 12 cells around are
    cells = grid(4)
    two = shapely.MultiPolygon([cells[1 * 4 + 1], cells[2 * 4 + 2]])
    parcels = np.array([c for k, c in enumerate(cells) if k not in (5, 10)] + [two])
    sizes = unioned(monkeypatch)
    union = coverage._coverage_union(parcels)
    assert sizes == [12]
    assert union.equals(square(0, 0, 40, 40))
    # 14 squares of 4 edges, and the two-part parcel's 2 rings of 4: no edge between its rings
    assert coverage._edges(parcels).key.size == 14 * 4 + 8
    assert coverage._edges(np.empty(0, dtype=object)).key.size == 0


def test_coverage_union_from_the_rim_gives_up_on_overlaps():
    # a second parcel on cell (2, 2): each of its edges is found three times
    parcels = np.array([*grid(5), square(20, 20, 10, 10)])
    assert coverage._edge_union(parcels) is None
    union = coverage._coverage_union(parcels)
    assert union.equals(shapely.union_all(parcels))
    # one parcel shifted by 1 m over its neighbour: edges no longer match, the sum is off
    shifted = np.array([*grid(5, skip=(2, 2)), square(21, 20, 10, 10)])
    assert coverage._edge_union(shifted) is None
    assert coverage._coverage_union(shifted).equals(shapely.union_all(shifted))


def test_a_gap_is_found_where_a_hamlet_sticking_out_makes_up_its_area(monkeypatch):
    # H2 leaves a 2 m × 2 m gap at the top and sticks out 4 m² at the right: the hamlets'
    # union has the unit's area, but does not lie in it, so the gap is still sought
    stick_out = shapely.union(square(1000, 0, 1000, 998), square(2000, 0, 2, 2))
    notch = shapely.difference(square(1000, 998, 1000, 2), square(1998, 998, 2, 2))
    h2 = shapely.union(stick_out, notch)
    hamlets = hamlets_of(square(0, 0, 1000, 1000), h2)
    assert shapely.area(h2) + 1e6 == pytest.approx(2e6)
    [gap] = coverage.hamlet_gaps(one_unit(), hamlets).itertuples()
    assert gap.area_m2 == pytest.approx(4.0, abs=1e-6)
    # hamlets that tile the unit, or leave less than half a reported gap, skip the difference
    differences = []
    difference = shapely.difference
    monkeypatch.setattr(
        coverage.shapely, "difference", lambda *a, **k: differences.append(1) or difference(*a, **k)
    )
    tiled = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000))
    assert coverage.hamlet_gaps(one_unit(), tiled).empty
    short = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 999.9996))  # 0.4 m²
    assert coverage.hamlet_gaps(one_unit(), short).empty
    assert differences == []
    wider = hamlets_of(square(0, 0, 1000, 1000), square(1000, 0, 1000, 999.9993))  # 0.7 m²
    assert coverage.hamlet_gaps(one_unit(), wider).empty  # under 1 m²: sought, not reported
    assert differences == [1]

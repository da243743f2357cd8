"""The whole analysis on the tiny project: joins, indicators, verdicts, errors."""

from __future__ import annotations

import threading
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import VN2000_TN, square

import geo
from geo import access, coverage, pipeline
from geo.errors import JoinError, LayerReadError, NoCrsError, ValidationError

# The tiny project's three parcels leave most land uncovered, hamlet A2 has no residential
# parcel and there is no health station: four honest findings, nothing else.
TINY_FINDINGS = ["landuse_uncovered", "landuse_uncovered", "no_residential_land", "no_facility"]


def quality(result, kind=None):
    """The findings beyond those the tiny project always has."""
    extra = result.findings.loc[
        ~result.findings["kind"].isin(["landuse_uncovered", "no_residential_land", "no_facility"])
    ]
    return extra if kind is None else extra.loc[extra["kind"] == kind]


@pytest.fixture
def result(tiny_project):
    return geo.run(geo.load_project(tiny_project))


def test_units_indicators(result):
    units = result.units.set_index("id")
    assert units.loc["001", "area_km2"] == pytest.approx(6.0, abs=1e-6)
    assert units.loc["002", "area_km2"] == pytest.approx(4.0, abs=1e-6)
    assert units["population"].tolist() == [7_000, 3_999]
    assert units["households"].tolist() == [1_950, 1_000]
    assert units["population_source"].tolist() == ["sum of hamlets", "sum of hamlets"]
    assert units.loc["001", "density_per_km2"] == pytest.approx(7_000 / 6, rel=1e-6)
    assert units.loc["001", "road_km"] == pytest.approx(3.0, abs=1e-5)
    assert units.loc["001", "count_cultural_house"] == 2
    assert units.loc["002", "count_market"] == 1
    assert units.loc["001", "landuse_LUA_km2"] == pytest.approx(0.02, abs=1e-7)
    # 001 meets both numbers, but the ward standard also has an appendix with no values on record
    assert units["ward_verdict"].tolist() == ["not_assessed", "fail"]


def test_hamlets_joined_by_name_and_split_exactly(result):
    hamlets = result.hamlets.set_index("id")
    assert hamlets["unit_id"].to_dict() == {"A1": "001", "A2": "001", "B1": "002"}
    # "4.000" in the table is Vietnamese for four thousand
    assert hamlets["population"].to_dict() == {"A1": 4_000, "A2": 3_000, "B1": 3_999}
    assert hamlets.loc["A1", "landuse_LUA_km2"] == pytest.approx(0.01, abs=1e-9)
    assert hamlets.loc["A2", "landuse_LUA_km2"] == pytest.approx(0.01, abs=1e-9)
    assert hamlets.loc["A1", "agricultural_share_pct"] == pytest.approx(200 / 3)
    assert hamlets.loc["A1", "count_school"] == 1
    assert hamlets["road_km"].tolist() == pytest.approx([1.5, 1.5, 2.0])


def test_criteria_rows(result):
    rows = result.criteria.set_index(["id", "criterion"])
    assert rows.loc[("001", "ward.population"), "status"] == "pass"  # exactly 7,000
    assert rows.loc[("002", "ward.population"), "gap"] == 3_001
    assert rows.loc[("002", "ward.area"), "gap"] == pytest.approx(1.5, abs=1e-6)
    assert rows.loc[("001", "ward.socio_economic"), "status"] == "not_assessed"
    assert rows.loc[("001", "ward.infrastructure"), "note"].startswith(
        "no urban_infrastructure_recognised value; supply it in the inputs table"
    )
    assert sorted(set(result.criteria["set"])) == [
        "ntm-2021",
        "ntm-advanced-2021",
        "ntm-model-2021",
        "ward-2023",
        "ward-infrastructure-2023",
    ]
    assert result.findings["kind"].tolist() == TINY_FINDINGS


def test_after_2026_the_same_communes_fail_population(tiny_project):
    result = geo.run(geo.load_project(tiny_project, as_of=date(2026, 1, 1)))
    rows = result.criteria.set_index(["id", "criterion"])
    assert rows.loc[("001", "ward.population"), "threshold"] == 21_000
    assert rows.loc[("001", "ward.population"), "gap"] == 14_000
    assert result.units["ward_verdict"].tolist() == ["fail", "fail"]
    assert sorted(set(result.criteria["set"])) == ["ward-2026"]  # nothing else on record yet


def test_unit_population_from_the_units_layer_wins_and_mismatch_is_reported(tiny_project):
    units = gpd.read_file(tiny_project / "communes.geojson")
    units["pop"] = [7_100, None]
    units.to_file(tiny_project / "communes.geojson", driver="GeoJSON")
    text = (tiny_project / "project.toml").read_text(encoding="utf-8")
    text = text.replace('name = "TEN"', 'name = "TEN"\npopulation = "pop"')
    (tiny_project / "project.toml").write_text(text, encoding="utf-8")
    result = geo.run(geo.load_project(tiny_project))
    assert result.units["population"].tolist() == [7_100, 3_999]
    assert result.units["population_source"].tolist() == ["layers.units", "sum of hamlets"]
    [finding] = quality(result).itertuples()
    assert (finding.kind, finding.feature, finding.value) == ("population_mismatch", "001", 100.0)


def test_unmatched_table_row_is_reported_with_the_closest_name(tiny_project):
    path = tiny_project / "population.csv"
    table = pd.read_csv(path, dtype=str)
    table.loc[1, "name"] = "Khuon Mot"
    table.to_csv(path, index=False)
    result = geo.run(geo.load_project(tiny_project))
    kinds = quality(result).set_index("kind")
    assert kinds.loc["unmatched_row", "feature"] == "Khuon Mot"
    assert kinds.loc["no_table_row", "feature"] == "A2"
    # A2 has no population, so commune 001 cannot be summed: not assessed, not failed
    rows = result.criteria.set_index(["id", "criterion"])
    assert rows.loc[("001", "ward.population"), "status"] == "not_assessed"
    assert result.units.set_index("id").loc["001", "population_source"] == "none"


def test_duplicate_table_rows_are_refused(tiny_project):
    path = tiny_project / "population.csv"
    table = pd.read_csv(path, dtype=str)
    pd.concat([table, table.iloc[[0]]]).to_csv(path, index=False)
    with pytest.raises(JoinError, match="repeats xom cay thi"):
        geo.run(geo.load_project(tiny_project))


def test_hamlet_outside_every_unit_is_refused(tiny_project):
    hamlets = gpd.read_file(tiny_project / "hamlets.gpkg", layer="xom")
    hamlets.loc[len(hamlets)] = ["Z9", "Xóm Lạc", square(20_000, 0, 100, 100)]
    hamlets.to_file(tiny_project / "hamlets.gpkg", layer="xom", driver="GPKG")
    with pytest.raises(ValidationError, match="hamlet Z9 lies outside every unit"):
        geo.run(geo.load_project(tiny_project))


def test_duplicate_ids_and_missing_fields_are_refused(tiny_project):
    hamlets = gpd.read_file(tiny_project / "hamlets.gpkg", layer="xom")
    hamlets.loc[2, "code"] = "A1"
    hamlets.to_file(tiny_project / "hamlets.gpkg", layer="xom", driver="GPKG")
    with pytest.raises(ValidationError, match="id A1 is used by more than one feature"):
        geo.run(geo.load_project(tiny_project))
    text = (
        (tiny_project / "project.toml")
        .read_text(encoding="utf-8")
        .replace('id = "MA"', 'id = "MAXA"')
    )
    (tiny_project / "project.toml").write_text(text, encoding="utf-8")
    with pytest.raises(
        ValidationError, match="'MAXA' named in the project file is not in the layer"
    ):
        geo.run(geo.load_project(tiny_project))


def test_missing_file_and_missing_crs(tiny_project):
    (tiny_project / "roads.prj").unlink()
    with pytest.raises(NoCrsError, match=r"layers\.roads \(roads\.shp\): the layer has no CRS"):
        geo.run(geo.load_project(tiny_project))
    (tiny_project / "landuse.fgb").unlink()
    with pytest.raises(LayerReadError, match="file not found"):
        geo.run(geo.load_project(tiny_project))


def test_the_road_graph_is_built_on_its_own_thread_while_the_parcels_are_read(
    tiny_project, monkeypatch
):
    expected = geo.run(geo.load_project(tiny_project))
    read, built = [], []
    real_read, real_graph = pipeline.read_layer_wkb, access.road_graph
    monkeypatch.setattr(
        pipeline,
        "read_layer_wkb",
        lambda spec, **kw: read.append(spec.role) or real_read(spec, **kw),
    )
    monkeypatch.setattr(
        access,
        "road_graph",
        lambda roads, **kw: (
            built.append(threading.current_thread().name) or real_graph(roads, **kw)
        ),
    )
    result = geo.run(geo.load_project(tiny_project))
    assert read == ["units", "hamlets", "infrastructure", "roads", "landuse"]
    assert [name.split("_")[0] for name in built] == ["road-graph"]
    # the layers, findings and indicators as when read in the project's order
    pd.testing.assert_frame_equal(result.findings, expected.findings)
    pd.testing.assert_frame_equal(result.criteria, expected.criteria)
    assert [c for c in result.hamlets.columns if c.startswith("netdist_")] == [
        "netdist_school_m",
        "netdist_health_station_m",
        "netdist_cultural_house_m",
        "netdist_market_m",
    ]
    pd.testing.assert_frame_equal(result.hamlets, expected.hamlets)


def test_a_large_road_graph_gets_its_snapping_indexes_on_its_own_thread(tiny_project, monkeypatch):
    expected = geo.run(geo.load_project(tiny_project))
    built, used = [], []
    real_index = access._SegmentIndex

    def index(edges):
        built.append(threading.current_thread().name)
        return real_index(edges)

    real_ready = pipeline._road_graph_ready

    def ready(network):
        graph = real_ready(network)
        used.append(sorted({"edge_tree", "segment_index"} & set(vars(graph))))
        return graph

    monkeypatch.setattr(access, "_SegmentIndex", index)
    monkeypatch.setattr(pipeline, "_road_graph_ready", ready)
    geo.run(geo.load_project(tiny_project))
    assert built == []  # a small network: nothing built beforehand, nor used
    assert used == [[]]
    monkeypatch.setattr(access, "SPARSE_MIN_NODES", 1)
    monkeypatch.setattr(access, "KDTREE_MIN_ORIGINS", 1)
    result = geo.run(geo.load_project(tiny_project))
    assert [name.split("_")[0] for name in built] == ["road-graph"]  # once, before the access
    assert used == [[], ["edge_tree", "segment_index"]]
    pd.testing.assert_frame_equal(result.hamlets, expected.hamlets)
    pd.testing.assert_frame_equal(result.findings, expected.findings)


def test_with_several_bad_layers_the_first_in_the_project_is_reported(tiny_project):
    (tiny_project / "roads.prj").unlink()  # read before the land use, which comes first
    (tiny_project / "landuse.fgb").write_bytes(b"not a FlatGeobuf")
    with pytest.raises(LayerReadError, match=r"layers\.landuse"):
        geo.run(geo.load_project(tiny_project))
    (tiny_project / "communes.geojson").unlink()
    with pytest.raises(LayerReadError, match=r"units\.path = .*communes.geojson: file not found"):
        geo.run(geo.load_project(tiny_project))


def test_invalid_polygon_is_repaired_on_record(tiny_project):
    bowtie = gpd.GeoSeries.from_wkt(
        [
            "POLYGON ((430100 2385100, 430200 2385200, 430200 2385100, 430100 2385200, 430100 2385100))"
        ],
        crs=VN2000_TN,
    )
    landuse = gpd.read_file(tiny_project / "landuse.fgb")
    landuse.loc[len(landuse)] = ["HNK", bowtie.iloc[0]]
    landuse.to_file(tiny_project / "landuse.fgb", driver="FlatGeobuf")
    result = geo.run(geo.load_project(tiny_project))
    [finding] = quality(result).itertuples()
    assert finding.kind == "geometry_repaired"
    assert "Self-intersection" in finding.message
    # the bow-tie's two triangles hold 5,000 m²; shapely's signed area of the ring was 0
    assert finding.value == pytest.approx(5_000.0)
    assert result.hamlets.set_index("id").loc["A1", "landuse_HNK_km2"] == pytest.approx(0.005)


def test_planted_gap_and_overlap_are_findings(tiny_project):
    hamlets = gpd.read_file(tiny_project / "hamlets.gpkg", layer="xom")
    # A1 loses a 100 m × 200 m strip on its west edge (a gap); A2 grows 50 m west into A1 (an overlap)
    hamlets.loc[0, "geometry"] = square(100, 0, 1400, 2000)
    hamlets.loc[1, "geometry"] = square(1450, 0, 1550, 2000)
    hamlets.to_file(tiny_project / "hamlets.gpkg", layer="xom", driver="GPKG")
    result = geo.run(geo.load_project(tiny_project))
    problems = result.coverage.set_index("kind")
    assert problems.loc["gap", "area_m2"] == pytest.approx(100 * 2000, rel=1e-5)
    assert problems.loc["gap", "unit_id"] == "001"
    assert problems.loc["overlap", "area_m2"] == pytest.approx(50 * 2000, rel=1e-5)
    assert problems.loc["overlap", "feature"] == "A1, A2"
    units = result.units.set_index("id")
    # hamlets of 001 now cover 6 km² − 0.2 km² (gap) + 0.1 km² (counted twice) = 5.9 km²
    assert units.loc["001", "hamlet_area_km2"] == pytest.approx(5.9, rel=1e-6)
    assert {"gap", "overlap", "hamlet_sum_mismatch"} <= set(result.findings["kind"])


def test_coverage_checks_run_beside_the_split_and_keep_their_order(tiny_project, monkeypatch):
    hamlets = gpd.read_file(tiny_project / "hamlets.gpkg", layer="xom")
    hamlets.loc[0, "geometry"] = square(100, 0, 1400, 2000)  # a gap, as above
    hamlets.loc[1, "geometry"] = square(1450, 0, 1550, 2000)  # and an overlap
    hamlets.to_file(tiny_project / "hamlets.gpkg", layer="xom", driver="GPKG")
    threads, zones, real_check = [], [], coverage.check_coverage

    def check(units, hamlets=None, *args, **kwargs):
        threads.append(threading.current_thread().name)
        zones.extend(
            units.geometry.tolist() + ([] if hamlets is None else hamlets.geometry.tolist())
        )
        return real_check(units, hamlets, *args, **kwargs)

    tiling, real_tiling = [], coverage.hamlets_tile_units

    def tile(units, hamlets, **kwargs):
        tiling.append(threading.current_thread().name)
        zones.extend(units.geometry.tolist() + hamlets.geometry.tolist())
        tiled = real_tiling(units, hamlets, **kwargs)
        tiling.append(tiled.tolist())
        return tiled

    monkeypatch.setattr(coverage, "check_coverage", check)
    monkeypatch.setattr(coverage, "hamlets_tile_units", tile)
    result = geo.run(geo.load_project(tiny_project))
    # the zones' checks, then the land-use cover, on the coverage thread
    assert [name.split("_")[0] for name in threads] == ["coverage", "coverage"]
    # and before them which units their hamlets tile: neither (001's hamlets have a gap and
    # an overlap; 002, reprojected on load, is its hamlet up to a millimetre)
    assert [tiling[0].split("_")[0], *tiling[1:]] == ["coverage", [False, False]]
    # on geometries of their own, equal to the run's: a prepared geometry is not shared
    mine = result.units.geometry.tolist() + result.hamlets.geometry.tolist()
    assert not {id(g) for g in zones} & {id(g) for g in mine}
    assert {g.wkb for g in zones} == {g.wkb for g in mine}
    assert result.coverage["kind"].tolist() == [
        "gap",
        "overlap",
        "hamlet_sum_mismatch",
        "landuse_uncovered",
        "landuse_uncovered",
    ]
    # the same table as one call on the whole would give
    whole = real_check(result.units, result.hamlets, result.landuse, official_area_km2=None)
    pd.testing.assert_frame_equal(result.coverage, whole)
    kinds = result.findings["kind"].tolist()
    assert kinds[kinds.index("gap") : kinds.index("gap") + 5] == result.coverage["kind"].tolist()
    assert kinds[-2:] == ["no_residential_land", "no_facility"]


def test_residents_and_access_per_hamlet(result):
    hamlets = result.hamlets.set_index("id")
    # A1's only residential parcel is the 100 m × 50 m ONT square; its 4,000 people live there
    assert hamlets.loc["A1", "residential_km2"] == pytest.approx(0.005)
    assert hamlets.loc["A1", "residential_m2_per_person"] == pytest.approx(5_000 / 4_000)
    # the school at (200, 200) is 79.06 m from that square's centre (150, 125)
    assert hamlets.loc["A1", "dist_school_m"] == pytest.approx(
        ((200 - 150) ** 2 + (200 - 125) ** 2) ** 0.5, abs=0.01
    )
    assert hamlets.loc["A1", "share_within_school_pct"] == 100.0


# --------------------------------------------------------------------------- one split


def split_fixture(hamlet_boxes, unit_ids):
    """Two units, hamlets as given, and 400 random parcels over both (many straddling)."""
    units = gpd.GeoDataFrame(
        {"id": ["001", "002"]},
        geometry=[square(0, 0, 3000, 2000), square(3000, 0, 2000, 2000)],
        crs=VN2000_TN,
    )
    hamlets = gpd.GeoDataFrame(
        {"id": [f"H{i}" for i in range(len(hamlet_boxes))], "unit_id": unit_ids},
        geometry=[square(*b) for b in hamlet_boxes],
        crs=VN2000_TN,
    )
    rng = np.random.default_rng(8)
    corners = rng.uniform(-100, 5000, (400, 2)).round(2)
    sizes = rng.uniform(5, 300, (400, 2)).round(2)
    landuse = gpd.GeoDataFrame(
        {"code": rng.choice(["LUA", "ONT", "CLN", "ODT"], 400)},
        geometry=[square(x, y, w, h) for (x, y), (w, h) in zip(corners, sizes, strict=True)],
        crs=VN2000_TN,
    )
    return units, hamlets, {"units": units, "landuse": landuse}


TILED = [(0, 0, 1500, 2000), (1500, 0, 1500, 2000), (3000, 0, 2000, 1000), (3000, 1000, 2000, 1000)]


def test_units_summed_from_hamlets_equal_the_direct_split():
    units, hamlets, layers = split_fixture(TILED, ["001", "001", "002", "002"])
    assert geo.coverage.hamlets_tile_units(units, hamlets).tolist() == [True, True]
    hamlet_pieces = pipeline._landuse_pieces(hamlets, layers)
    summed = pipeline._unit_pieces(units, hamlets, layers, hamlet_pieces)
    direct = geo.indicators.split_pieces(
        layers["landuse"].geometry.to_numpy(), units.geometry.to_numpy()
    )
    assert (summed.item.tolist(), summed.zone.tolist()) == (
        direct.item.tolist(),
        direct.zone.tolist(),
    )
    assert np.abs(summed.amount - direct.amount).max() <= 1e-9
    ours = geo.indicators.landuse_indicators(layers["landuse"], units, pieces=summed)
    theirs = geo.indicators.landuse_indicators(layers["landuse"], units)
    pd.testing.assert_frame_equal(ours, theirs, rtol=1e-12)


def test_a_unit_its_hamlets_do_not_tile_is_split_directly():
    # unit 002 lacks its upper hamlet: its parcels are split by the unit itself
    units, hamlets, layers = split_fixture(TILED[:3], ["001", "001", "002"])
    assert geo.coverage.hamlets_tile_units(units, hamlets).tolist() == [True, False]
    hamlet_pieces = pipeline._landuse_pieces(hamlets, layers)
    mixed = pipeline._unit_pieces(units, hamlets, layers, hamlet_pieces)
    direct = geo.indicators.split_pieces(
        layers["landuse"].geometry.to_numpy(), units.geometry.to_numpy()
    )
    own = mixed.zone == 1
    assert mixed.item[own].tolist() == direct.item[direct.zone == 1].tolist()
    assert mixed.amount[own].tolist() == direct.amount[direct.zone == 1].tolist()  # exactly


def test_the_tiny_project_split_once_equals_separate_splits(result):
    landuse = result.landuse
    for zones in (result.hamlets, result.units):
        again = geo.indicators.landuse_indicators(landuse, zones)
        columns = [c for c in again.columns if c in zones.columns]
        pd.testing.assert_frame_equal(
            zones[columns].reset_index(drop=True), again[columns].reset_index(drop=True),
            rtol=1e-12,
        )  # fmt: skip


def test_run_pauses_the_cycle_collector_and_resumes_it(tiny_project, monkeypatch, tmp_path):
    import gc

    from geo import outputs

    def noting(function, seen):
        """``function``, noting whether the collector runs each time it is called."""

        def call(*args, **kwargs):
            seen.append(gc.isenabled())
            return function(*args, **kwargs)

        return call

    def failing(*args, **kwargs):
        raise ValueError("stop here")

    reading, writing = [], []
    monkeypatch.setattr(pipeline, "_read_layers", noting(pipeline._read_layers, reading))
    project = geo.load_project(tiny_project)
    assert gc.isenabled()
    result = geo.run(project)
    assert reading == [False]
    assert gc.isenabled()
    monkeypatch.setattr(pipeline, "_read_layers", noting(failing, reading))
    with pytest.raises(ValueError, match="stop here"):
        geo.run(project)
    assert reading == [False, False]
    assert gc.isenabled()  # resumed after an error too
    monkeypatch.setattr(outputs, "write_csv", noting(outputs.write_csv, writing))
    geo.write_outputs(result, tmp_path / "out")
    assert writing
    assert not any(writing)
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that disabled it keeps it disabled
        geo.write_outputs(result, tmp_path / "again")
        assert not gc.isenabled()
    finally:
        gc.enable()

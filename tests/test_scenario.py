"""Merger scenarios: dissolve and aggregate, split units, the advisor, the 2025 replay."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import VN2000_TN, square

import geo
from geo import scenario as sc
from geo.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "data" / "tn-merger-2025"


def grouping(*rows: tuple) -> pd.DataFrame:
    """A grouping table from (old_id, new_id, new_name[, share]) tuples."""
    columns = ["old_id", "new_id", "new_name", "share"][: len(rows[0])]
    return pd.DataFrame(rows, columns=columns)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny_run(tiny_project: Path) -> geo.RunResult:
    """The conftest project run: 001 (6 km², 7,000 people), 002 (4 km², 3,999 people)."""
    return geo.run(geo.load_project(tiny_project))


# ----------------------------------------------------------------------------- geometry


def test_dissolve_of_known_squares() -> None:
    coverage = [square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000), square(0, 1000, 1000, 500)]
    assert shapely.coverage_is_valid(coverage)
    merged = sc.dissolve(coverage)
    assert merged.area == pytest.approx(2_500_000.0)
    assert merged.geom_type == "Polygon"
    assert merged.length == pytest.approx(2 * (2000 + 1500))
    # a rectangle along two squares without a vertex at their shared corner: not a valid
    # coverage (edges do not match), dissolved by union_all, same area
    unnoded = [square(0, 0, 1000, 1000), square(1000, 0, 1000, 1000), square(0, 1000, 2000, 500)]
    assert not shapely.coverage_is_valid(unnoded)
    assert sc.dissolve(unnoded).area == pytest.approx(3_000_000.0)
    assert sc.dissolve(unnoded).length == pytest.approx(2 * (2000 + 1500))
    # overlapping squares are not a coverage: union_all, the overlap counted once
    overlapping = [square(0, 0, 1000, 1000), square(500, 0, 1000, 1000)]
    assert sc.dissolve(overlapping).area == pytest.approx(1_500_000.0)
    assert sc.polsby_popper(square(0, 0, 1000, 1000)) == pytest.approx(math.pi / 4)


def test_adjacency_needs_a_shared_edge_not_a_corner() -> None:
    units = gpd.GeoDataFrame(
        geometry=[
            square(0, 0, 1000, 1000),
            square(1000, 0, 1000, 1000),
            square(2000, 1000, 1000, 1000),  # touches the second at one corner only
            square(0, 1000, 1000, 1000),
        ],
        crs=VN2000_TN,
    )
    pairs = sc.adjacency(units)
    assert sorted(zip(pairs["a"], pairs["b"], strict=True)) == [(0, 1), (0, 3)]
    # each boundary is measured inside its neighbour grown by snap_m (1 m): 2 m more
    assert pairs["shared_m"].tolist() == pytest.approx([1002.0, 1002.0])
    exact = sc.adjacency(units, snap_m=0)
    assert exact["shared_m"].tolist() == pytest.approx([1000.0, 1000.0])
    assert len(sc.adjacency(units, min_shared_m=1500)) == 0


# ----------------------------------------------------------------------------- aggregation


def test_merger_sums_counts_exactly_and_recomputes_shares(tiny_run: geo.RunResult) -> None:
    before = tiny_run.units.set_index("id")
    scenario = sc.apply_grouping(
        tiny_run, grouping(("001", "N", "Phường Mới"), ("002", "N", "Phường Mới"))
    )
    (new,) = scenario.after.units.to_dict("records")
    assert new["id"] == "N"
    assert new["old_ids"] == "001;002"
    assert new["n_old_units"] == 2
    assert new["split_method"] == ""
    # counts: exact sums of the parts
    assert new["population"] == 10_999
    assert new["households"] == 2_950
    for column in ("count_school", "count_cultural_house", "count_market"):
        assert new[column] == before[column].sum()
    assert new["count_cultural_house"] == 2
    assert new["road_km"] == pytest.approx(5.0, abs=1e-5)
    assert new["landuse_covered_km2"] == pytest.approx(0.0275)
    # area from the dissolved geometry (a 5 km × 2 km rectangle), beside the parts' sum
    assert new["area_km2"] == pytest.approx(10.0, abs=1e-6)
    assert new["area_parts_km2"] == pytest.approx(before["area_km2"].sum())
    assert new["area_dissolve_diff_km2"] == pytest.approx(0.0, abs=1e-6)
    # intensive values recomputed from the summed parts, not averaged
    assert new["density_per_km2"] == pytest.approx(1_099.9, rel=1e-6)
    assert new["agricultural_share_pct"] == pytest.approx(0.02 / 0.0275 * 100)  # 72.7 %
    assert before["agricultural_share_pct"].mean() == pytest.approx(40.0)  # what not to do
    assert new["road_density_km_per_km2"] == pytest.approx(0.5, rel=1e-5)
    # criteria evaluated as geo run does: 10,999 ≥ 7,000 and 10 ≥ 5.5 km²
    rows = scenario.after.criteria.set_index(["level", "id", "criterion"])
    assert rows.loc[("unit", "N", "ward.population"), "status"] == "pass"
    assert rows.loc[("unit", "N", "ward.area"), "status"] == "pass"
    assert set(scenario.after.hamlets["unit_id"]) == {"N"}
    # the comparison: before (each part) and after
    (row,) = scenario.comparison.to_dict("records")
    assert row["population_before"] == row["population_after"] == 10_999
    assert row["ward.population_before"] == "001:pass;002:fail"
    assert row["ward.area_before"] == "001:pass;002:fail"
    assert row["ward.population_after"] == "pass"
    assert row["ward.population_value"] == 10_999


def test_units_left_out_are_kept_and_reported(tiny_run: geo.RunResult) -> None:
    scenario = sc.apply_grouping(tiny_run, grouping(("001", "N", "Mới")))
    units = scenario.after.units.set_index("id")
    assert list(units.index) == ["N", "002"]
    assert units.loc["002", "name"] == "Xã Bên Cạnh"
    assert units.loc["002", "population"] == 3_999
    kept = scenario.after.findings.query("kind == 'unit_not_grouped'")
    assert kept["feature"].tolist() == ["002"]
    # a kept unit whose id is also a new id would merge silently: refused
    with pytest.raises(sc.GroupingError, match=r"002.*not in the grouping.*also a new_id"):
        sc.apply_grouping(tiny_run, grouping(("001", "002", "Mới")))


def test_split_by_shares_preserves_totals(tiny_run: geo.RunResult) -> None:
    scenario = sc.apply_grouping(
        tiny_run,
        grouping(
            ("001", "N1", "Một", ""),
            ("002", "N1", "Một", "0.25"),
            ("002", "N2", "Hai", "0,75"),
        ).assign(share=lambda t: t["share"].replace("", None).str.replace(",", ".").astype(float)),
    )
    units = scenario.after.units.set_index("id")
    assert units.loc["N1", "population"] == pytest.approx(7_000 + 0.25 * 3_999)
    assert units.loc["N2", "population"] == pytest.approx(0.75 * 3_999)
    assert units["population"].sum() == pytest.approx(10_999, rel=1e-12)
    assert units.loc["N2", "area_km2"] == pytest.approx(3.0, abs=1e-6)
    assert units.loc["N1", "area_km2"] == pytest.approx(7.0, abs=1e-6)
    assert units.loc["N1", "split_method"] == units.loc["N2", "split_method"] == "share"
    assert units.loc["N2", "old_ids"] == "002×0.75"


def test_split_by_hamlets_uses_their_figures(tiny_run: geo.RunResult) -> None:
    scenario = sc.apply_grouping(
        tiny_run, grouping(("A1", "N1", "Một"), ("A2", "N2", "Hai"), ("002", "N2", "Hai"))
    )
    units = scenario.after.units.set_index("id")
    assert units.loc["N1", "population"] == 4_000
    assert units.loc["N2", "population"] == 3_000 + 3_999
    assert units.loc["N1", "households"] == 1_100
    assert units.loc["N1", "area_km2"] == pytest.approx(3.0, abs=1e-6)
    assert units.loc["N2", "area_km2"] == pytest.approx(7.0, abs=1e-6)
    assert units.loc["N1", "landuse_LUA_km2"] == pytest.approx(0.01)  # the parcel cut at x = 1.5 km
    assert units.loc["N1", "split_method"] == "hamlets"
    hamlets = scenario.after.hamlets.set_index("id")
    assert hamlets["unit_id"].to_dict() == {"A1": "N1", "A2": "N2", "B1": "N2"}


def test_split_by_residential_area_when_hamlets_have_no_population(tiny_project: Path) -> None:
    landuse = gpd.read_file(tiny_project / "landuse.fgb")
    extra = gpd.GeoDataFrame(
        {"loai_dat": ["ONT"]}, geometry=[square(2000, 1200, 150, 100)], crs=VN2000_TN
    )
    pd.concat([landuse, extra.to_crs(landuse.crs)]).to_file(
        tiny_project / "landuse.fgb", driver="FlatGeobuf"
    )
    write_csv(tiny_project / "units.csv", "name,dan_so\nXã Thử Nghiệm,7000\nXã Bên Cạnh,3999\n")
    text = (tiny_project / "project.toml").read_text(encoding="utf-8")
    text = text.replace(
        'path = "population.csv"\njoins = "hamlets"', 'path = "units.csv"\njoins = "units"'
    )
    text = text.replace('households = "so_ho"\n', "")
    (tiny_project / "project.toml").write_text(text, encoding="utf-8")
    run = geo.run(geo.load_project(tiny_project))
    assert run.hamlets["population"].isna().all()
    scenario = sc.apply_grouping(
        run, grouping(("A1", "N1", "Một"), ("A2", "N2", "Hai"), ("002", "N2", "Hai"))
    )
    units = scenario.after.units.set_index("id")
    # residential land: 5,000 m² in A1, 15,000 m² in A2
    assert units.loc["N1", "population"] == pytest.approx(1_750)
    assert units.loc["N2", "population"] == pytest.approx(5_250 + 3_999)
    assert units.loc["N1", "split_method"] == "dasymetric"


def test_grouping_errors_name_file_row_and_column(tiny_run: geo.RunResult, tmp_path: Path) -> None:
    def read(text: str) -> pd.DataFrame:
        return sc.read_grouping(write_csv(tmp_path / "g.csv", text))

    with pytest.raises(sc.GroupingError, match=r"g\.csv: row 1: missing column new_name"):
        read("old_id,new_id,name\n001,N,X\n")
    with pytest.raises(sc.GroupingError, match=r"g\.csv: row 3, column share: 'half' is not a"):
        read("old_id,new_id,new_name,share\n001,N,X,\n002,N,X,half\n")
    with pytest.raises(sc.GroupingError, match=r"row 2, column share: 1\.5 is not between"):
        read("old_id,new_id,new_name,share\n001,N,X,1.5\n")
    table = read("old_id,new_id,new_name\n001,N,X\n020,N,X\n")
    with pytest.raises(sc.GroupingError, match=r"g\.csv: row 3, column old_id: '020'.*closest: 00"):
        sc.apply_grouping(tiny_run, table, source="g.csv")
    table = read("old_id,new_id,new_name,share\n001,N,X,\n002,N,X,0.5\n002,M,Y,0.4\n")
    with pytest.raises(sc.GroupingError, match=r"shares of unit 002 in rows 3, 4 add up to 0\.9"):
        sc.apply_grouping(tiny_run, table, source="g.csv")
    table = read("old_id,new_id,new_name\n001,N,X\n002,N,X\n002,M,Y\n")
    with pytest.raises(sc.GroupingError, match=r"002 is listed under new units N \(row 3\), M"):
        sc.apply_grouping(tiny_run, table, source="g.csv")
    table = read("old_id,new_id,new_name\nA1,N,X\n002,N,X\n")
    with pytest.raises(sc.GroupingError, match="hamlet by hamlet but hamlets A2 are not listed"):
        sc.apply_grouping(tiny_run, table, source="g.csv")
    # ids that lost their leading zeros in Excel are matched, and said so; Excel's ";" is read
    scenario = sc.apply_grouping(tiny_run, read("Old_ID;new_id;new_name\n1;N;X\n2;N;X\n"))
    assert scenario.after.units["population"].tolist() == [10_999]
    assert (scenario.after.findings["kind"] == "id_leading_zeros").sum() == 2


# ----------------------------------------------------------------------------- advisor

GRID_POPULATION = {"a": 15_000, "b": 6_000, "c": 20_000, "d": 5_000, "e": 16_000, "f": 2_000}
"""A 3 × 2 grid of 2 km squares (4 km² each: every unit fails 5.5 km² alone)::

    a b c
    d e f

plus an island g of 30,000 people, 20 km away, that cannot be placed. The best grouping of the
grid is {a, b}, {d, e}, {c, f}: 21,000, 21,000 and 22,000 people (three groups, the most
⌊64,000 / 21,000⌋ allows; with g's people the advisor's bound is ⌊94,000 / 21,000⌋ = 4)."""


@pytest.fixture
def grid_run(tmp_path: Path) -> geo.RunResult:
    cells = {
        "a": square(0, 2000, 2000, 2000),
        "b": square(2000, 2000, 2000, 2000),
        "c": square(4000, 2000, 2000, 2000),
        "d": square(0, 0, 2000, 2000),
        "e": square(2000, 0, 2000, 2000),
        "f": square(4000, 0, 2000, 2000),
        "g": square(20000, 0, 2000, 2000),
    }
    population = {**GRID_POPULATION, "g": 30_000}
    units = gpd.GeoDataFrame(
        {
            "ma": list(cells),
            "ten": [f"Xã {k.upper()}" for k in cells],
            "dan_so": population.values(),
        },
        geometry=list(cells.values()),
        crs=VN2000_TN,
    )
    units.to_file(tmp_path / "units.gpkg", driver="GPKG")
    (tmp_path / "project.toml").write_text(
        '[project]\nname = "Lưới"\nprovince = "Thái Nguyên"\nas_of = "2026-01-01"\n'
        'criteria = ["ward"]\n\n[layers.units]\npath = "units.gpkg"\nid = "ma"\nname = "ten"\n'
        'population = "dan_so"\n',
        encoding="utf-8",
    )
    return geo.run(geo.load_project(tmp_path))


def test_advisor_finds_the_known_best_grouping(grid_run: geo.RunResult) -> None:
    advice = sc.advise(grid_run)
    assert [s.describe() for s in advice.standards] == [
        "ward.population >= 21000 người",
        "ward.area >= 5.5 km²",
    ]
    assert "ward.budget_balance" in advice.skipped
    groups = {frozenset(m.split(";")) for m in advice.groups["members"]}
    assert groups == {
        frozenset("ab"),
        frozenset("de"),
        frozenset("cf"),
        frozenset("g"),
    }
    assert advice.upper_bound == 4
    assert advice.groups.set_index("new_id")["meets"].to_dict() == {
        "a": True,
        "e": True,
        "c": True,
        "g": False,
    }
    assert advice.unplaced[["id", "reason"]].to_dict("records") == [
        {"id": "g", "reason": "no neighbour (no shared boundary)"}
    ]
    # the grouping is in the input format and feeds back into a scenario where every group meets
    scenario = sc.apply_grouping(grid_run, advice.grouping)
    rows = scenario.after.criteria.query("criterion in ['ward.population', 'ward.area']")
    merged = rows.loc[rows["id"] != "g"]
    assert (merged["status"] == "pass").all()
    assert len(merged) == 6


def test_advisor_candidates_are_minimal_and_ranked(grid_run: geo.RunResult) -> None:
    advice = sc.advise(grid_run, max_size=3)
    a = advice.candidates.loc[advice.candidates["unit_id"] == "a"]
    # {a, b} is the only pair that meets (a-e touch at a corner only; a + d = 20,000)
    assert a["members"].iloc[0] == "a;b"
    assert a["rank"].iloc[0] == 1
    assert a["value_ward.population"].iloc[0] == 21_000
    assert a["excess"].iloc[0] == pytest.approx((8 - 5.5) / 5.5)
    # no set reported holds a smaller one that meets; all meet
    sets = [frozenset(m.split(";")) for m in a["members"]]
    assert not any(s < t for s in sets for t in sets)
    assert a["meets"].all()
    assert a["n_units"].is_monotonic_increasing
    assert {frozenset("ade")} <= set(sets)
    g = advice.candidates.loc[advice.candidates["unit_id"] == "g"]
    assert g[["meets", "note"]].to_dict("records") == [
        {"meets": False, "note": "no neighbour (no shared boundary)"}
    ]


# ----------------------------------------------------------------------------- command line


def test_cli_scenario_and_advice_round_trip(
    grid_run: geo.RunResult, tmp_path: Path, capsys
) -> None:
    project = str(grid_run.project.root)
    out = tmp_path / "advice"
    assert main(["scenario", project, "--advise", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "criteria considered: ward.population >= 21000 người; ward.area >= 5.5 km²" in printed
    assert "groups 4, meeting the standards 3 (upper bound 4); units not placed 1: Xã G" in printed
    for name in (
        "map.html",
        "map-before-after.html",
        "units.csv",
        "comparison.csv",
        "advice.csv",
        "grouping.csv",
        "results.gpkg",
        "criteria.csv",
    ):
        assert (out / name).is_file(), name
    assert "các đơn vị cũ" in (out / "map-before-after.html").read_text(encoding="utf-8")
    out2 = tmp_path / "again"
    code = main(["scenario", project, "--grouping", str(out / "grouping.csv"), "--out", str(out2)])
    assert code == 0
    comparison = pd.read_csv(out2 / "comparison.csv", encoding="utf-8-sig", dtype=str)
    assert len(comparison) == 4
    assert set(comparison["ward.area_after"]) == {"pass", "fail"}
    units = gpd.read_file(out2 / "results.gpkg", layer="units")
    assert units["population"].sum() == sum(GRID_POPULATION.values()) + 30_000
    bad = write_csv(tmp_path / "bad.csv", "old_id,new_id,new_name\nzz,N,X\n")
    assert main(["scenario", project, "--grouping", str(bad)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("geo: error: ")
    assert "row 2, column old_id: 'zz'" in error


def test_scenario_outputs_leave_out_the_projects_roadmap(tmp_path: Path, capsys) -> None:
    # the sample has a roadmap and a history of its own unit: a what-if unit is not judged on it
    sample = REPO / "layers" / "quyet-thang"
    assert (sample / "roadmap.csv").is_file()
    grouping = write_csv(tmp_path / "g.csv", "old_id,new_id,new_name\n05491,N1,Phường Mới\n")
    out = tmp_path / "what-if"
    assert main(["scenario", str(sample), "--grouping", str(grouping), "--out", str(out)]) == 0
    capsys.readouterr()
    assert (out / "report.xlsx").is_file()
    assert not (out / "progress.csv").exists()
    assert not (out / "trends").exists()
    with pd.ExcelFile(out / "report.xlsx") as book:
        sheets = book.sheet_names
    assert "Tổng hợp" in sheets
    assert "Tiến độ" not in sheets
    assert "Tiến độ / Progress" not in (out / "map.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- replay


@pytest.fixture(scope="module")
def replay_module():
    path = REPO / "scripts" / "replay_thai_nguyen_2025.py"
    spec = importlib.util.spec_from_file_location("replay_thai_nguyen_2025", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_replay_on_a_real_subset(replay_module, tmp_path: Path) -> None:
    result = replay_module.replay(FIXTURE, advise=True)
    table = result.table.set_index("code")
    quyet_thang = table.loc["05455"]
    assert quyet_thang["old_parts"] == "Thịnh Đán, Phúc Hà, Quyết Thắng"
    assert quyet_thang["complete"]
    assert quyet_thang["area_km2"] == pytest.approx(22.83, abs=0.005)
    assert quyet_thang["official_km2"] == 24.43
    assert quyet_thang["diff_pct"] == pytest.approx(-6.5, abs=0.05)
    assert quyet_thang["population"] == 14_220 + 3_996 + 17_252
    assert quyet_thang["verdict"] == "meets"
    assert quyet_thang["exempt_3plus"]
    assert table.loc["05482", "population"] == 9_383 + 8_172 + 6_832 + 15_357  # Sơn Cẩm moved
    assert table.loc["05710", "population"] == 42_582
    assert table.loc["05710", "area_km2"] == pytest.approx(38.80, abs=0.005)
    # Châu Sơn has no 2009 outline: Lương Châu and Vinh Sơn are placed by overlap
    ba_xuyen = table.loc["05533"]
    assert ba_xuyen["by_overlap"] == "Phường Lương Châu (98%), Xã Vinh Sơn (95%)"
    assert ba_xuyen["population"] == 2_880 + 6_741 + 4_886 + 2_797
    assert ba_xuyen["verdict"] == "does not meet"
    # Gia Sàng takes parts of two split wards: no area, population a lower bound
    gia_sang = table.loc["05467"]
    assert not gia_sang["complete"]
    assert math.isnan(gia_sang["area_km2"])
    assert "Phường Cam Giá split" in gia_sang["problems"]
    assert gia_sang["population"] == 11_830 + 4_759
    assert gia_sang["population_lower_bound"]
    assert gia_sang["verdict"] == "unknown"
    assert result.agreement == (16, 16)
    # the namesakes in other districts (Hương Sơn, Tân Long) were not taken
    assert result.old["population"].notna().all()
    # the advisor on the 20 old units: every group meets both numbers, except the four units
    # of Sông Công, 17,304 people in all, which it cannot place
    advice = result.advice
    assert advice is not None
    assert sorted(advice.unplaced["name"]) == [
        "Phường Lương Châu",
        "Phường Mỏ Chè",
        "Xã Bá Xuyên",
        "Xã Vinh Sơn",
    ]
    placed = advice.groups.loc[~advice.groups["new_id"].isin(advice.unplaced["id"])]
    assert placed["meets"].all()
    assert placed["n_units"].sum() == 16
    assert (placed["value_ward.population"] >= 21_000).all()
    text = replay_module.report(result, FIXTURE)
    assert (
        "| 05455 | Phường Quyết Thắng | 3: Thịnh Đán, Phúc Hà, Quyết Thắng | 22.83 | 24.43 | -6.5 | 35,468 | yes | yes | meets | yes |"
        in text
    )

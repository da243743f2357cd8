"""The command line, end to end, on the tiny project: every output checked by content."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from geo.cli import main


@pytest.fixture
def outputs(tiny_project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny_project), "--out", str(out)]) == 0
    return out, capsys.readouterr().out


def test_run_writes_every_output(outputs):
    out, printed = outputs
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "contributions.csv",
        "criteria.csv",
        "findings.csv",
        "hamlets.csv",
        "map.html",
        "report.html",
        "report.xlsx",
        "results.gpkg",
        "units.csv",
    ]
    assert (
        "001 Xã Thử Nghiệm: Chưa đánh giá / not_assessed (ward.population=7,000>=7,000:pass, "
        "ward.area=6>=5.5:pass, 2 not assessed)" in printed
    )
    assert "002 Xã Bên Cạnh: Chưa đạt / fail (ward.population=3,999>=7,000:fail" in printed
    assert "  ward-2023: pass 2, fail 2, not_assessed 4" in printed


def test_criteria_csv(outputs):
    out, _ = outputs
    raw = (out / "criteria.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the diacritics right
    rows = pd.read_csv(out / "criteria.csv", encoding="utf-8-sig", dtype={"id": str})
    for column in [
        "level",
        "id",
        "name",
        "criterion",
        "value",
        "threshold",
        "status",
        "gap",
        "source",
        "confidence",
    ]:
        assert column in rows.columns
    rows = rows.set_index(["id", "criterion"])
    assert rows.loc[("001", "ward.population"), "value"] == 7_000
    assert rows.loc[("001", "ward.population"), "threshold"] == 7_000
    assert rows.loc[("001", "ward.population"), "status"] == "pass"
    assert rows.loc[("002", "ward.population"), "gap"] == 3_001
    assert rows.loc[("002", "ward.area"), "status"] == "fail"
    assert rows.loc[("002", "ward.area"), "gap"] == pytest.approx(1.5, abs=1e-5)
    assert rows.loc[("002", "ward.area"), "name"] == "Xã Bên Cạnh"
    ward = rows.loc[rows["set"] == "ward-2023"]
    assert set(ward["confidence"]) == {"verified", "unknown"}
    assert ward["source"].str.contains("Điều 8").all()
    assert rows.loc[("001", "ward.socio_economic"), "confidence"] == "unknown"


def test_units_and_hamlets_csv(outputs):
    out, _ = outputs
    units = pd.read_csv(out / "units.csv", encoding="utf-8-sig", dtype={"id": str}).set_index("id")
    assert units.loc["001", "area_km2"] == pytest.approx(6.0, abs=1e-5)
    assert units.loc["001", "density_per_km2"] == pytest.approx(1166.67, abs=0.01)
    assert units.loc["002", "population_source"] == "sum of hamlets"
    assert units.loc["002", "ward_verdict"] == "fail"
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets.loc["A1", "name"] == "Xóm Cây Thị"
    assert hamlets["population"].sum() == 10_999
    assert hamlets.loc["A2", "landuse_LUA_km2"] == pytest.approx(0.01)
    findings = pd.read_csv(out / "findings.csv", encoding="utf-8-sig")
    assert list(findings.columns) == ["layer", "feature", "kind", "message", "value"]
    assert findings["kind"].tolist() == [
        "landuse_uncovered",
        "landuse_uncovered",
        "no_residential_land",
        "no_facility",
    ]
    assert findings["value"].iloc[0] == pytest.approx(100 * (1 - 0.025 / 6), abs=1e-3)


def test_geopackage(outputs):
    out, _ = outputs
    layers = {name for name, _ in pyogrio.list_layers(out / "results.gpkg")}
    assert layers == {
        "units",
        "hamlets",
        "findings",
        "landuse_by_hamlet",
        "infrastructure",
        "roads",
        "layer_styles",
    }
    problems = gpd.read_file(out / "results.gpkg", layer="findings")
    assert problems["kind"].tolist() == ["landuse_uncovered", "landuse_uncovered"]
    assert problems["area_m2"].tolist() == pytest.approx([5_975_000, 3_997_500], rel=1e-6)
    units = gpd.read_file(out / "results.gpkg", layer="units")
    assert units.crs.to_epsg() == 9213
    assert units["status_ward_population"].tolist() == ["pass", "fail"]
    assert units["gap_ward_area"].tolist() == pytest.approx([0.0, 1.5], abs=1e-5)
    assert units.area.sum() == pytest.approx(10e6, rel=1e-6)
    hamlets = gpd.read_file(out / "results.gpkg", layer="hamlets")
    assert sorted(hamlets["name"]) == ["Thôn Đồng Kiệm", "Xóm Cây Thị", "Xóm Khuôn 1"]


def test_map_is_self_contained(outputs):
    out, _ = outputs
    html = (out / "map.html").read_text(encoding="utf-8")
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?https?://""", html)
    assert "Xóm Cây Thị" in html or "X\\u00f3m C\\u00e2y Th\\u1ecb" in html
    assert "Chưa đạt" in html


def test_rerun_replaces_outputs_and_leaves_no_staging(tiny_project, outputs):
    out, _ = outputs
    assert main(["run", str(tiny_project), "--out", str(out), "--as-of", "2026-01-01"]) == 0
    rows = pd.read_csv(out / "criteria.csv", encoding="utf-8-sig")
    assert set(rows["set"]) == {"ward-2026"}
    assert not [p for p in out.iterdir() if p.name.startswith(".geo-run-")]


def test_bad_input_exits_2_with_one_line(tiny_project, tmp_path, capsys):
    (tiny_project / "hamlets.gpkg").unlink()
    out = tmp_path / "out"
    assert main(["run", str(tiny_project), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert error.startswith("geo: error: layers.hamlets.path = ")
    assert error.endswith("hamlets.gpkg: file not found")
    assert not out.exists() or not any(out.iterdir())


def test_bad_date_is_a_usage_error(tiny_project, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["run", str(tiny_project), "--as-of", "01/03/2025"])
    assert caught.value.code == 2
    assert "not a date YYYY-MM-DD" in capsys.readouterr().err


def test_hamlet_contributions_to_a_commune_gap(tiny_project, tmp_path):
    # In 2020 the 2016 infrastructure table applies: 1 health station per 5,000 people.
    # Commune 001 (7,000 people) has none: its gap of 1 station/5,000 splits by population.
    out = tmp_path / "out"
    assert main(["run", str(tiny_project), "--out", str(out), "--as-of", "2020-06-01"]) == 0
    parts = pd.read_csv(out / "contributions.csv", encoding="utf-8-sig", dtype={"unit_id": str})
    stations = parts.loc[
        (parts["criterion"] == "infra.health_stations") & (parts["unit_id"] == "001")
    ]
    assert stations.set_index("id")["contribution"].to_dict() == pytest.approx(
        {"A1": 4 / 7, "A2": 3 / 7}
    )
    assert stations["share_of_gap_pct"].sum() == pytest.approx(100.0)
    rows = pd.read_csv(out / "criteria.csv", encoding="utf-8-sig", dtype={"id": str}).set_index(
        ["id", "criterion"]
    )
    assert rows.loc[("001", "infra.health_stations"), "gap"] == 1
    assert rows.loc[("001", "infra.road_density"), "status"] == "not_assessed"  # no urban_class
    assert "project.urban_class" in rows.loc[("001", "infra.road_density"), "note"]


def test_run_records_a_snapshot_only_once_without_replace(tiny_project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny_project), "--out", str(out), "--snapshot"]) == 0
    assert "snapshot 2025-03-01:" in capsys.readouterr().out
    assert (tiny_project / "history.sqlite").exists()
    before = (out / "criteria.csv").stat().st_mtime_ns
    assert main(["run", str(tiny_project), "--out", str(out), "--snapshot"]) == 2
    assert "already recorded" in capsys.readouterr().err
    assert (out / "criteria.csv").stat().st_mtime_ns == before  # refused before writing outputs
    assert main(["run", str(tiny_project), "--out", str(out), "--snapshot", "--replace"]) == 0
    assert "replaced in" in capsys.readouterr().out
    assert main(["run", "--snapshot"]) == 2
    assert "--snapshot needs a PROJECT_DIR" in capsys.readouterr().err


def test_csv_keeps_large_counts_exact(tmp_path):
    from geo.outputs import write_csv

    path = tmp_path / "t.csv"
    write_csv(
        pd.DataFrame({"population": [1_803_950.0, 17_252.0], "area_km2": [8_373.712345, 0.5]}), path
    )
    assert path.read_text(encoding="utf-8-sig").splitlines() == [
        "population,area_km2",
        "1803950,8373.712345",
        "17252,0.5",
    ]


def test_quiet_run_prints_nothing_and_still_writes(tiny_project, tmp_path, capsys):
    out = tmp_path / "quiet"
    assert main(["run", str(tiny_project), "--out", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert (out / "criteria.csv").is_file()
    assert (out / "report.xlsx").is_file()


def test_verbose_run_times_every_step_on_stderr(tiny_project, tmp_path, capsys):
    out = tmp_path / "verbose"
    assert main(["run", str(tiny_project), "--out", str(out), "--verbose"]) == 0
    captured = capsys.readouterr()
    steps = re.findall(r"^  \[(\d+)/(\d+)\] (.+): \d+\.\d\d s$", captured.err, flags=re.M)
    names = [name for _, _, name in steps]
    assert names[:2] == ["đọc dự án / reading the project", "phân tích / analysis"]
    # every file written is a step of its own, in the order the verdict table lists them
    written = captured.out.rsplit(": ", 1)[1].strip().split(", ")
    assert names[2:] == written
    assert [int(done) for done, _, _ in steps] == list(range(1, len(steps) + 1))
    assert "Xã Thử Nghiệm" in captured.out  # the verdicts stay on stdout


def test_help_guides_a_newcomer_to_their_own_commune(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for command in ("geo init", "geo run du-an", "geo template", "geo pack", "geo roadmap"):
        assert command in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "--pdf" in text
    assert "--quiet" in text
    assert "geo run layers/quyet-thang --out" in text

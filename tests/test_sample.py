"""The bundled sample (commune Quyết Thắng): figures, reconciliation, and its map in a browser."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from browser import dump_dom, needs_chromium

import geo
from geo.webmap import render_result_map

SAMPLE = geo.sample_project_dir()


@pytest.fixture(scope="module")
def result():
    return geo.run(geo.load_project(SAMPLE))


def test_sample_verdict_and_figures(result):
    [unit] = result.units.itertuples()
    outline = gpd.read_file(SAMPLE / "commune.geojson").to_crs(9213)
    assert unit.id == "05491"
    assert unit.area_km2 == pytest.approx(outline.area.iloc[0] / 1e6, rel=1e-12)
    assert unit.area_km2 == pytest.approx(11.1347, abs=1e-4)  # the coarse 2009 outline
    assert unit.population == 17_252  # 2019 census total
    assert unit.households == 3_894
    assert unit.population_source == "sum of hamlets"
    assert unit.ward_verdict == "not_assessed"  # the 2023 appendix has no values on record
    rows = result.criteria.set_index(["id", "criterion"])
    assert rows.loc[("05491", "ward.population"), "status"] == "pass"
    assert rows.loc[("05491", "ward.area"), "status"] == "pass"
    assert result.standard.id == "ward-2023"
    assert len(result.hamlets) == 18
    # the hamlets tile the outline; the one finding is the illustrative lanes left off the network
    [finding] = result.findings.itertuples()
    assert finding.kind == "road_pieces_ignored"
    assert finding.value == pytest.approx(6_685.6, abs=0.1)


def test_hamlet_indicators_reconcile_to_the_commune(result):
    hamlets = result.hamlets
    unit = result.units.iloc[0]
    assert hamlets["area_km2"].sum() == pytest.approx(unit["area_km2"], rel=1e-9)
    assert hamlets["population"].sum() == unit["population"]
    landuse = [c for c in result.units.columns if c.startswith("landuse_") and c.endswith("_km2")]
    assert "landuse_ONT_km2" in landuse
    for column in landuse:
        assert hamlets[column].sum() == pytest.approx(unit[column], abs=1e-9), column
    assert unit["landuse_covered_km2"] == pytest.approx(unit["area_km2"], rel=1e-6)
    assert hamlets["road_km"].sum() == pytest.approx(unit["road_km"], rel=1e-9)
    counts = [c for c in result.units.columns if c.startswith("count_")]
    assert sum(hamlets[c].sum() for c in counts) == sum(unit[c] for c in counts) == 28


@needs_chromium
def test_sample_map_shows_the_hamlets_offline(result, tmp_path):
    dom = dump_dom(render_result_map(result), tmp_path)
    labels = re.findall(r'class="leaflet-marker-icon wm-label[^>]*><span>(.*?)</span>', dom)
    assert sorted(labels) == sorted(result.hamlets["name"])
    assert "Xóm Làng Cả" in labels
    assert 'id="wm-legend"' in dom
    assert "Dữ liệu minh họa" in dom  # the illustrative-data note is shown
    # 1 commune + 18 hamlet outlines + roads + 28 points are drawn
    assert dom.count('class="leaflet-interactive"') >= 1 + 18 + 28


def test_residents_and_access_reconcile(result):
    hamlets = result.hamlets
    unit = result.units.iloc[0]
    assert hamlets["residential_km2"].sum() == pytest.approx(unit["landuse_ONT_km2"], rel=1e-9)
    assert (hamlets["residential_km2"] > 0).all()
    for kind in ("school", "health_station", "cultural_house", "market"):
        assert hamlets[f"dist_{kind}_m"].notna().all(), kind
        # along the roads is never shorter than the straight line
        assert (
            hamlets[f"netdist_{kind}_m"].dropna()
            >= hamlets[f"dist_{kind}_m"].loc[hamlets[f"netdist_{kind}_m"].notna()] - 1e-6
        ).all()
        assert hamlets[f"share_within_{kind}_pct"].between(0, 100).all()


def test_province_areas_against_the_official_figures():
    result = geo.run(geo.load_project(geo.sample_project_dir("thai-nguyen-2025")))
    units = result.units
    assert len(units) == 92
    assert units["area_diff_pct"].abs().median() <= 0.12
    mismatches = result.coverage.loc[result.coverage["kind"] == "area_mismatch"]
    over = units.loc[units["area_diff_pct"].abs() > 1.0, "id"]
    assert sorted(mismatches["unit_id"]) == sorted(over)
    assert len(over) == 12
    bac_kan = mismatches.set_index("unit_id").loc["01843"]
    assert "76.27 km²" in bac_kan["message_en"]
    assert "72.00 km²" in bac_kan["message_en"]
    # population is not derived for the new units: the criterion stays open, area is judged
    rows = result.criteria.set_index(["id", "criterion"])
    assert (rows.xs("ward.population", level="criterion")["status"] == "not_assessed").all()
    assert (rows.xs("ward.area", level="criterion")["status"] == "pass").all()

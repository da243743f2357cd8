"""Every commune and ward of old Thái Nguyên city (2009 outlines, 2019 census).

The expected verdicts are computed here independently of the pipeline: areas
straight from the shapefile in EPSG:9213, census rows matched by a plain
diacritic-free comparison, and the ward standard of a provincial city
(7,000 people, 5.5 km²) applied by hand.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geo
from geo.cli import main

CITY = Path(__file__).parent / "data" / "tn-city-2009"


def plain(name: str) -> str:
    for prefix in ("Phường ", "Xã "):
        name = name.removeprefix(prefix)
    text = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c)).replace(" ", "").lower()


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    units = gpd.read_file(CITY / "communes.shp")
    census = pd.read_csv(CITY / "census2019.csv")
    population = dict(zip(census["ward"].map(plain), census["total"], strict=True))
    table = pd.DataFrame(
        {
            "id": units["MA_XA"].astype(str),
            "area_km2": units.to_crs(9213).area / 1e6,
            "population": units["TEN_XA"].map(plain).map(population),
        }
    )

    def status(value: float, threshold: float) -> str:
        return "not_assessed" if pd.isna(value) else ("pass" if value >= threshold else "fail")

    table["population_status"] = [status(p, 7_000) for p in table["population"]]
    table["area_status"] = [status(a, 5.5) for a in table["area_km2"]]
    # A failed standard fails the unit; otherwise the ward standard stays not assessed,
    # because its socio-economic appendix (2023-2025) has no values on record.
    failed = (table["population_status"] == "fail") | (table["area_status"] == "fail")
    table["verdict"] = np.where(failed, "fail", "not_assessed")
    return table.set_index("id")


def test_every_unit_gets_the_right_verdict(expected):
    result = geo.run(geo.load_project(CITY))
    units = result.units.set_index("id")
    assert len(units) == 28
    assert units["ward_verdict"].to_dict() == expected["verdict"].to_dict()
    assert units["area_km2"].to_numpy() == pytest.approx(expected["area_km2"].to_numpy(), rel=1e-9)
    assert units["population"].fillna(-1).to_dict() == expected["population"].fillna(-1).to_dict()
    rows = result.criteria.loc[result.criteria["set"] == "ward-2023"].set_index(["id", "criterion"])
    for criterion, column in (
        ("ward.population", "population_status"),
        ("ward.area", "area_status"),
    ):
        statuses = rows.xs(criterion, level="criterion")["status"]
        assert statuses.to_dict() == expected[column].to_dict()
    # the story's commune: both numbers pass, the appendix keeps the verdict open
    assert units.loc["2150139", "population"] == 17_252
    assert rows.loc[("2150139", "ward.population"), "status"] == "pass"
    assert rows.loc[("2150139", "ward.socio_economic"), "status"] == "not_assessed"
    assert units["ward_verdict"].value_counts().to_dict() == {"fail": 22, "not_assessed": 6}
    both_pass = (expected["population_status"] == "pass") & (expected["area_status"] == "pass")
    assert sorted(expected.index[both_pass]) == [
        "2150127",
        "2150139",
        "2150143",
        "2150147",
        "2151129",
    ]


def test_census_rows_of_units_added_after_2009_are_reported(expected):
    result = geo.run(geo.load_project(CITY))
    unmatched = result.findings.loc[result.findings["kind"] == "unmatched_row", "feature"]
    assert sorted(unmatched) == sorted(["ĐồngLiên", "LinhSơn", "ChùaHang", "HuốngThượng", "SơnCẩm"])
    [missing] = result.findings.loc[result.findings["kind"] == "no_table_row", "feature"]
    assert missing == "2150149"  # Lương Sơn moved to Sông Công before 2019


def test_same_verdicts_from_other_formats_and_field_names(expected, tmp_path):
    units = gpd.read_file(CITY / "communes.shp").rename(
        columns={"MA_XA": "ma", "TEN_XA": "ten don vi"}
    )
    units.to_crs(9213).to_file(tmp_path / "don_vi.gpkg", layer="xa", driver="GPKG")
    census = pd.read_csv(CITY / "census2019.csv", dtype=str)
    census = census.rename(columns={"ward": "Tên", "total": "Dân số"})
    census["Dân số"] = census["Dân số"].map(lambda n: f"{int(n):,}".replace(",", "."))  # 17.252
    census.to_excel(tmp_path / "dan_so.xlsx", sheet_name="2019", index=False)
    (tmp_path / "project.toml").write_text(
        """
[project]
name = "TP Thái Nguyên"
crs = "EPSG:9213"
ward_of = "provincial-city"
as_of = "2024-12-31"

[layers.units]
path = "don_vi.gpkg"
layer = "xa"
id = "ma"
name = "ten don vi"

[tables.dan_so]
path = "dan_so.xlsx"
sheet = "2019"
joins = "units"
key = "Tên"
match = "name"
population = "Dân số"
""",
        encoding="utf-8",
    )
    result = geo.run(geo.load_project(tmp_path))
    assert result.units.set_index("id")["ward_verdict"].to_dict() == expected["verdict"].to_dict()
    assert result.units["population_source"].value_counts().to_dict() == {
        "tables.dan_so": 27,
        "none": 1,
    }


def test_input_files_are_left_untouched(tmp_path):
    copy = tmp_path / "city"
    shutil.copytree(CITY, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    assert main(["run", str(copy), "--out", str(tmp_path / "out")]) == 0
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before

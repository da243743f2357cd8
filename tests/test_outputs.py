"""Outputs at scale: the land-use layer reuses the run's split, the workbook writes rows as XML."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from test_pipeline import TILED, split_fixture

import geo
from geo import layer_writer, outputs, pipeline
from geo.resources import sample_project_dir
from geo.workbook import HEADER_ROWS, SHEETS, read_workbook, write_workbook


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(sample_project_dir()))


def _same_layers(left, right):
    assert list(left.columns) == list(right.columns)
    for column in left.columns:
        if column != "geometry":
            assert left[column].tolist() == right[column].tolist(), column
    assert shapely.equals_exact(
        left.geometry.to_numpy(), right.geometry.to_numpy(), tolerance=0.0
    ).all()


def test_the_run_keeps_its_split_with_the_crossing_pairs(sample):
    split = sample.landuse_split
    assert split is not None
    assert len(split.zones) == len(sample.hamlets)
    pieces = split.pieces
    assert 0 < pieces.crossing.sum() < len(pieces.crossing)  # cut parcels, and whole ones
    zones = split.zones[pieces.zone]
    parcels = sample.landuse.geometry.to_numpy()[pieces.item]
    inside = ~pieces.crossing
    assert shapely.contains_properly(zones[inside], parcels[inside]).all()
    # a whole parcel is its own piece; a crossing one is the intersection (GEOS's, or cut
    # along the hamlet's boundary by geo.chords: up to the rounding of the cut)
    assert shapely.area(parcels[inside]).tolist() == pieces.amount[inside].tolist()
    cut = shapely.area(shapely.intersection(parcels[~inside], zones[~inside]))
    assert pieces.amount[~inside] == pytest.approx(cut, rel=0, abs=1e-6)
    # every cut part was kept (for the dasymetric and the GeoPackage), no whole parcel
    kept = ~shapely.is_missing(pieces.geometry)
    assert (kept == ~inside).all()
    assert shapely.area(pieces.geometry[kept]).tolist() == pieces.amount[kept].tolist()
    # and the hamlets' land use is the sum of these pieces
    covered = np.bincount(pieces.zone, weights=pieces.amount, minlength=len(sample.hamlets))
    assert covered / 1e6 == pytest.approx(sample.hamlets["landuse_covered_km2"].to_numpy())


def test_landuse_layer_reuses_the_runs_split_and_equals_a_fresh_split(sample, monkeypatch):
    fresh = outputs.landuse_by_zone(dataclasses.replace(sample, landuse_split=None))

    def no_split(*args, **kwargs):
        raise AssertionError("split again")

    monkeypatch.setattr(outputs, "split_pieces", no_split)
    reused = outputs.landuse_by_zone(sample)
    _same_layers(reused, fresh)
    assert len(reused) == 1397
    assert reused["parcel"].nunique() == 1120


def test_the_categorical_landuse_layer_holds_the_same_texts_and_writes_the_same_layer(
    sample, tmp_path
):
    plain = outputs.landuse_by_zone(sample)
    coded = outputs.landuse_by_zone(sample, categorical=True)
    text = ["code", "lu_group", "hamlet_id", "unit_id"]
    assert all(isinstance(coded[c].dtype, pd.CategoricalDtype) for c in text)
    assert coded["unit_id"].cat.categories.size == sample.units["id"].nunique()
    for column in text:
        assert coded[column].astype(object).tolist() == plain[column].astype(object).tolist()
    pd.testing.assert_frame_equal(coded.drop(columns=text), plain.drop(columns=text))
    # written as the texts they stand for: the same TEXT fields and values
    for name, layer in (("plain", plain), ("coded", coded)):
        layer_writer.write_layer(layer_writer.arrow_layer(layer), tmp_path / f"{name}.gpkg", "l")
    back = [pyogrio.read_dataframe(tmp_path / f"{n}.gpkg") for n in ("plain", "coded")]
    pd.testing.assert_frame_equal(back[0], back[1])
    assert (
        back[1]["lu_group"].value_counts().to_dict() == plain["lu_group"].value_counts().to_dict()
    )


def test_a_split_by_other_zones_is_not_reused(sample, monkeypatch):
    hamlets = sample.hamlets.iloc[::-1].reset_index(drop=True)  # other order: other positions
    calls = []
    split_pieces = outputs.split_pieces

    def counted(*args, **kwargs):
        calls.append(1)
        return split_pieces(*args, **kwargs)

    monkeypatch.setattr(outputs, "split_pieces", counted)
    layer = outputs.landuse_by_zone(dataclasses.replace(sample, hamlets=hamlets))
    assert calls == [1]
    by_hamlet = layer.groupby("hamlet_id")["area_m2"].sum() / 1e6
    expected = hamlets.set_index("id")["landuse_covered_km2"]
    assert by_hamlet.sort_index().to_numpy() == pytest.approx(
        expected.sort_index().to_numpy(), rel=1e-9
    )


def test_without_hamlets_the_units_split_is_reused(sample, monkeypatch):
    units, _, layers = split_fixture(TILED, ["001", "001", "002", "002"])
    landuse = layers["landuse"]
    pieces = pipeline._unit_pieces(units, None, layers, None)
    assert pieces.crossing is not None
    assert pieces.crossing.any()
    result = dataclasses.replace(
        sample,
        units=units,
        hamlets=None,
        landuse=landuse,
        landuse_split=pipeline.LanduseSplit(units.geometry.to_numpy(), pieces),
    )
    fresh = outputs.landuse_by_zone(dataclasses.replace(result, landuse_split=None))
    monkeypatch.setattr(outputs, "split_pieces", None)  # not called
    reused = outputs.landuse_by_zone(result)
    _same_layers(reused, fresh)
    assert reused["hamlet_id"].isna().all()
    assert set(reused["unit_id"]) == {"001", "002"}


def test_workbook_rows_read_back_exactly(sample, tmp_path):
    texts = ["a < b & c > d", "  leading and trailing  ", "", "=SUM(A1:A2)", "Quyết Thắng"]
    values = [0.1 + 0.2, 1e-300, -123456789.125, math.nan, 17252.0]
    findings = pd.DataFrame(
        {
            "layer": "units",
            "feature": [f"f{i}" for i in range(len(texts))],
            "kind": "repair",
            "message": texts,
            "value": values,
        }
    )
    path = tmp_path / "report.xlsx"
    write_workbook(dataclasses.replace(sample, findings=findings), path)
    book = load_workbook(path)
    sheet = book[SHEETS["quality"].vi]
    headers = {sheet.cell(HEADER_ROWS, c).value: c for c in range(1, sheet.max_column + 1)}
    messages = [sheet.cell(HEADER_ROWS + 1 + i, headers["message"]) for i in range(len(texts))]
    assert [c.value for c in messages] == [*texts[:2], None, *texts[3:]]
    assert {c.data_type for c in messages if c.value is not None} == {"s"}
    numbers = [sheet.cell(HEADER_ROWS + 1 + i, headers["value"]) for i in range(len(values))]
    # 16 significant digits, as openpyxl writes numbers
    assert [c.value for c in numbers] == [0.3, 1e-300, -123456789.125, None, 17252]
    assert {c.number_format for c in numbers if c.value is not None} == {"#,##0.00"}
    # the used range is the table's: a read-only reader (pandas) sees every row
    criteria = load_workbook(path, read_only=True)[SHEETS["criteria"].vi]
    assert criteria.max_row == HEADER_ROWS + len(sample.criteria)
    back = read_workbook(path)["criteria"]
    assert back["value"].tolist() == pytest.approx(sample.criteria["value"].tolist(), nan_ok=True)
    assert back["status"].tolist() == sample.criteria["status"].tolist()


def test_workbook_dates_are_excel_dates(sample, tmp_path):
    units = sample.units.copy()
    units["surveyed"] = [date(2025, 3, 1)]
    path = tmp_path / "report.xlsx"
    write_workbook(dataclasses.replace(sample, units=units), path)
    sheet = load_workbook(path)[SHEETS["units"].vi]
    headers = {sheet.cell(HEADER_ROWS, c).value: c for c in range(1, sheet.max_column + 1)}
    cell = sheet.cell(HEADER_ROWS + 1, headers["surveyed"])
    assert cell.value.date() == date(2025, 3, 1)
    assert cell.number_format == "dd/mm/yyyy"

"""Validation internals: text cleaned on distinct values, validity computed once."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import VN2000_TN, X0, Y0, square
from test_encoding import as_tcvn3, as_vni

from geo import encoding, validate
from geo.errors import GeometryError
from geo.project import LayerSpec
from geo.validate import Finding

NAMES = ["Thôn Đồng Kiệm", "Xóm Cây Thị", "Xóm Khuôn 1", "Tổ dân phố 3"]


def reference_clean(values: pd.Series, column: str) -> tuple[pd.Series, list[tuple]]:
    """The per-value cleaning the distinct-value one must reproduce."""
    text = values.map(validate._as_text, na_action="ignore")
    text = text.where(text.map(lambda v: isinstance(v, str) and v != "", na_action="ignore"))
    found = encoding.detect([str(v) for v in text.dropna()]) if text.notna().any() else None
    findings = []
    if found is not None and found.encoding != "unicode" and found.converted:
        mask = text.notna()
        text.loc[mask] = encoding.convert([str(v) for v in text.loc[mask]], found.encoding)
        findings.append((found.encoding, found.converted))
    if column == "code":
        text = text.str.upper()
    return text.astype("string"), findings


def spec(**fields: str) -> LayerSpec:
    return LayerSpec(role="hamlets", path=Path("x.shp"), layer=None, fields=fields)


@pytest.mark.parametrize("legacy", ["tcvn3", "vni", "unicode"])
def test_distinct_values_are_cleaned_like_every_value(legacy):
    rng = np.random.default_rng(8)
    names = {"tcvn3": as_tcvn3, "vni": as_vni, "unicode": str}[legacy]
    names = [names(n) for n in NAMES]
    values = [*rng.choice(names, 500), None, "", float("nan"), "Xã A", "x1"]
    column = pd.Series(np.array(values, dtype=object))
    layer = gpd.GeoDataFrame(
        {"name": column.to_numpy(), "code": column.to_numpy()},
        geometry=[square(0, 0, 10, 10)] * len(column),
        crs=VN2000_TN,
    )
    cleaned, findings = validate._clean_text(layer.copy(), spec(name="TEN", code="MA"))
    for name in ("name", "code"):
        expected, found = reference_clean(column, name)
        pd.testing.assert_series_equal(cleaned[name], expected, check_names=False)
        ours = [f for f in findings if f.feature == f"field {'TEN' if name == 'name' else 'MA'}"]
        assert [(f.message.split(" is in ")[1].split(" ")[0].lower(), f.value) for f in ours] == [
            (e, float(c)) for e, c in found
        ]
    if legacy != "unicode":
        assert findings[0].value >= 500  # every converted row counted, not the distinct values


def test_numbers_and_mixed_types_keep_their_text():
    column = np.array([1, 1.0, True, "1", 2.5, None, b"ab"], dtype=object)
    layer = gpd.GeoDataFrame(
        {"name": column}, geometry=[square(0, 0, 10, 10)] * len(column), crs=VN2000_TN
    )
    cleaned, _ = validate._clean_text(layer.copy(), spec(name="TEN"))
    expected, _ = reference_clean(pd.Series(column), "name")
    assert cleaned["name"].tolist() == expected.tolist()
    assert cleaned["name"].tolist()[:3] == ["1", "1", "True"]
    floats = np.array([3.0, 3.0, np.nan, 4.5])
    layer = gpd.GeoDataFrame({"name": floats}, geometry=[square(0, 0, 10, 10)] * 4, crs=VN2000_TN)
    cleaned, _ = validate._clean_text(layer.copy(), spec(name="TEN"))
    assert cleaned["name"].tolist() == ["3", "3", pd.NA, "4.5"]


def test_detection_with_counts_is_detection_of_every_value():
    values = [as_tcvn3(n) for n in NAMES] + ["abc"]
    counts = [3, 1, 7, 2, 5]
    expanded = [v for v, c in zip(values, counts, strict=True) for _ in range(c)]
    assert encoding.detect(values, counts) == encoding.detect(expanded)


def test_only_invalid_polygons_are_repaired_and_a_nan_coordinate_is_refused():
    bow_tie = shapely.Polygon(
        [(430_000, 2_385_000), (430_010, 2_385_010), (430_010, 2_385_000), (430_000, 2_385_010)]
    )
    layer = gpd.GeoDataFrame(
        {"id": ["a", "b"]}, geometry=[square(0, 0, 10, 10), bow_tie], crs=VN2000_TN
    )
    good = layer.geometry.iloc[0]
    repaired, findings = validate._repair_polygons(layer, spec(id="MA"), "here")
    assert repaired.geometry.iloc[0] is good  # a valid polygon is left as it is
    assert [f.kind for f in findings] == ["geometry_repaired"]
    assert findings == [Finding("hamlets", "id=b", "geometry_repaired", findings[0].message,
                                findings[0].value)]  # fmt: skip
    with np.errstate(invalid="ignore"):
        broken = shapely.Polygon([(0, 0), (1, 0), (1, np.nan), (0, 0)])
    layer = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[good, broken], crs=VN2000_TN)
    valid = validate._is_valid(layer.geometry.to_numpy())
    assert valid.tolist() == [True, False]
    with pytest.raises(GeometryError, match="id=b has coordinates that are not numbers"):
        validate._check_finite(layer, "here", ~valid)


def test_extent_fast_path_only_when_the_whole_box_is_inside():
    # near 106.0°E 21.6°N in VN-2000 / TM-3 106°30′: inside Thái Nguyên's box
    near = gpd.GeoDataFrame(
        geometry=[shapely.box(448_000, 2_390_000, 449_000, 2_391_000)], crs=VN2000_TN
    )
    assert validate._surely_inside(near, "Thái Nguyên")
    assert validate._surely_inside(near, None)  # inside Vietnam is enough without a province
    # 60 km further east (107.1°E): in Vietnam, outside the province's box and its margin
    east = gpd.GeoDataFrame(
        geometry=[shapely.box(560_000, 2_390_000, 561_000, 2_391_000)], crs=VN2000_TN
    )
    assert not validate._surely_inside(pd.concat([near, east]), "Thái Nguyên")
    assert validate._surely_inside(east, None)
    # no finite extent: left to the per-feature check
    empty = gpd.GeoDataFrame(geometry=[shapely.Polygon()], crs=VN2000_TN)
    assert not validate._surely_inside(empty, "Thái Nguyên")


def test_features_are_named_and_numbered_by_their_row_as_read():
    x, y = X0 + 100, Y0 + 100
    bow_tie = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])  # invalid
    sliver = shapely.Polygon([(x, y), (x + 10, y), (x + 20, y), (x, y)])  # nothing once repaired
    raw = gpd.GeoDataFrame(
        {"loai_dat": ["LUA", "ONT", "CLN", "LUA", "BHK", "ONT"]},
        geometry=[
            square(100, 100, 10, 10),
            shapely.Polygon(),  # row 2: empty
            sliver,  # row 3: collapses
            None,  # row 4: no geometry
            bow_tie,  # row 5: repaired
            square(150, 100, 10, 10),
        ],
        crs=VN2000_TN,
    )
    landuse = LayerSpec("landuse", Path("landuse.gpkg"), None, {"code": "loai_dat"})
    layer, findings, rows = validate.validate_layer_rows(raw, landuse, VN2000_TN)
    assert rows.tolist() == [0, 4, 5]
    assert layer.index.tolist() == [0, 1, 2]
    assert layer["code"].tolist() == ["LUA", "BHK", "ONT"]
    assert [(f.feature, f.kind) for f in findings] == [
        ("#2", "empty_geometry_dropped"),
        ("#4", "empty_geometry_dropped"),
        ("#3", "geometry_dropped"),
        ("#5", "geometry_repaired"),
    ]
    again, same = validate.validate_layer(raw, landuse, VN2000_TN)
    pd.testing.assert_frame_equal(again, layer)
    assert same == findings

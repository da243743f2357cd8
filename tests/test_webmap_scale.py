"""The map at scale (issue 8): the rule for large maps, and the fast paths that keep it fast.

The rule (``geo.webmap._plan``): parcels one by one up to ``PARCEL_DETAIL_LIMIT``; merged per
hamlet and class while that stays within ``LANDUSE_VERTEX_LIMIT`` vertices and
``LANDUSE_SHAPE_LIMIT`` shapes; beyond, no land-use shapes at all: the land-use theme colours
each hamlet by its largest class and its popup lists every class's area and share.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, box
from test_webmap import (
    CRS,
    XSS_CODE,
    features,
    make_hamlets,
    make_landuse,
    make_roads,
    map_data,
    render_fixture,
)

from geo import qgis_style, webmap
from geo.labels import column_label

SHARES_NOTE = "too many to draw"


def shares_map(
    monkeypatch: pytest.MonkeyPatch, shape_limit: int = 36, **overrides: Any
) -> dict[str, Any]:
    """The fixture map with limits low enough that its 100 parcels count as a province."""
    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 50)
    monkeypatch.setattr(webmap, "LANDUSE_SHAPE_LIMIT", shape_limit)  # merging: 37 shapes
    return map_data(render_fixture(**overrides))


def expected_shares() -> dict[str, Counter[str]]:
    """km² of each code in each hamlet: every 1-km² parcel lies inside one hamlet."""
    out: dict[str, Counter[str]] = {}
    parcels = make_landuse()
    for name, hamlet in zip(make_hamlets()["name"], make_hamlets().geometry, strict=True):
        out[name] = Counter(
            code
            for code, parcel in zip(parcels["code"], parcels.geometry, strict=True)
            if hamlet.contains(parcel)
        )
    return out


def number(text: str) -> float:
    return float(text.replace(".", "").replace(",", "."))


# --------------------------------------------------------------------------- public constants


def test_colour_constants_are_public_and_shared_with_the_qgis_styles() -> None:
    for name in (
        "STATUS_COLORS",
        "KIND_STYLES",
        "SURFACE_STYLES",
        "FINDING_COLORS",
        "NO_DATA_COLOR",
        "LANDUSE_UNKNOWN_COLOR",
    ):
        assert name in webmap.__all__
        assert getattr(qgis_style, name) is getattr(webmap, name)  # read, never copied
    assert webmap.STATUS_COLORS["none"] == webmap.NO_DATA_COLOR
    assert set(webmap.SURFACE_STYLES) >= {"asphalt", "unknown"}
    assert webmap.KIND_STYLES["other"][0].startswith("#")


# --------------------------------------------------------------------------- the rule


def test_few_parcels_are_drawn_one_by_one() -> None:
    landuse = map_data(render_fixture())["landuse"]
    assert (landuse["mode"], landuse["aggregated"]) == ("parcels", False)


def test_merged_layer_has_at_most_the_shape_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 50)
    monkeypatch.setattr(webmap, "LANDUSE_SHAPE_LIMIT", 37)
    data = map_data(render_fixture())
    assert data["landuse"]["mode"] == "merged"
    assert len(features(data, "landuse")) == 37 <= webmap.LANDUSE_SHAPE_LIMIT
    assert "lu" not in features(data, "hamlets")[0]["properties"]


def test_above_the_shape_limit_hamlets_show_their_shares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = shares_map(monkeypatch)
    landuse = data["landuse"]
    assert (landuse["mode"], landuse["aggregated"], landuse["level"]) == (
        "shares",
        True,
        "hamlet",
    )
    assert landuse["geojson"] is None  # no land-use shapes at all
    assert landuse["parcels"] == 100
    assert landuse["classes"][0]["ha"] == "1.700,0"  # CLN: 17 parcels, totals still exact
    assert any(SHARES_NOTE in note for note in data["title"]["notes"])
    codes = [c["code"] for c in landuse["classes"]]
    expected = expected_shares()
    for feature in features(data, "hamlets"):
        props = feature["properties"]
        counts = expected[props["name"]]
        shares = {codes[c]: (number(ha), number(pct)) for c, ha, pct in props["lu"]}
        assert {code: ha for code, (ha, _) in shares.items()} == {
            code: 100.0 * km2 for code, km2 in counts.items()
        }
        assert sum(pct for _, pct in shares.values()) == pytest.approx(100.0, abs=0.3)
        areas = [number(ha) for _, ha, _ in props["lu"]]
        assert areas == sorted(areas, reverse=True)  # largest first
        assert props["ld"] == props["lu"][0][0]  # coloured by the largest class
    assert {codes[f["properties"]["ld"]] for f in features(data, "hamlets")} <= set(codes)
    assert XSS_CODE in codes  # a hostile code is still just a class name


def test_shares_come_from_the_hamlets_columns_when_they_have_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hamlets = make_hamlets()
    expected = expected_shares()
    codes = sorted({code for counts in expected.values() for code in counts})
    for code in codes:
        hamlets[f"landuse_{code}_km2"] = [float(expected[n][code]) for n in hamlets["name"]]
    hamlets["landuse_covered_km2"] = [float(sum(expected[n].values())) for n in hamlets["name"]]
    from_columns = shares_map(monkeypatch, hamlets=hamlets)
    from_split = shares_map(monkeypatch)
    lu = [f["properties"]["lu"] for f in features(from_columns, "hamlets")]
    assert lu == [f["properties"]["lu"] for f in features(from_split, "hamlets")]
    # the class areas are the chart now, not rows of the indicator table; the cover stays
    shown = [label[1] for label in from_columns["hamlets"]["columns"]]
    assert not [label for label in shown if label.startswith("Land use ")]
    assert column_label("landuse_covered_km2").en in shown
    assert "Population" in shown


def test_too_many_vertices_also_means_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 50)
    monkeypatch.setattr(webmap, "LANDUSE_VERTEX_LIMIT", 499)  # 100 squares of 5 coordinates
    assert map_data(render_fixture())["landuse"]["mode"] == "shares"
    monkeypatch.setattr(webmap, "LANDUSE_VERTEX_LIMIT", 500)
    assert map_data(render_fixture())["landuse"]["mode"] == "merged"


def test_shares_per_commune_without_hamlets(monkeypatch: pytest.MonkeyPatch) -> None:
    data = shares_map(monkeypatch, 18, hamlets=None, criteria=pd.DataFrame())  # 19 shapes
    assert data["landuse"]["level"] == "unit"
    units = features(data, "units")
    assert [len(f["properties"]["lu"]) for f in units] == [6, 6, 7]  # 7: the hostile code
    assert sum(number(ha) for f in units for _, ha, _ in f["properties"]["lu"]) == 10_000.0
    assert any("mỗi xã" in note for note in data["title"]["notes"])


def test_the_page_script_knows_the_shares_mode() -> None:
    script = render_fixture().split('id="wm-js">', maxsplit=1)[1]
    assert 'data.landuse.mode === "shares"' in script
    assert "function sharesChart" in script


# --------------------------------------------------------------------------- roads, findings


def test_many_roads_are_gathered_per_surface_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    roads = pd.concat([make_roads()] * 3, ignore_index=True)
    roads["name"] = ["Quốc lộ 3", None, None, None] * 3
    roads = gpd.GeoDataFrame(roads, geometry="geometry", crs=CRS)
    monkeypatch.setattr(webmap, "ROAD_DETAIL_LIMIT", 11)
    data = map_data(render_fixture(roads=roads))
    props = [f["properties"] for f in features(data, "roads")]
    assert [(p["s"], p.get("name")) for p in props] == [
        (0, "Quốc lộ 3"),
        (1, None),
        (3, None),
        (4, None),
    ]
    length = make_roads().geometry.length / 1000
    assert [number(p["km"]) for p in props] == pytest.approx(list(3 * length), abs=0.006)
    geometry = features(data, "roads")[0]["geometry"]
    assert geometry["type"] == "MultiLineString"
    assert len(geometry["coordinates"]) == 3
    assert any("12 road lines are gathered" in note for note in data["title"]["notes"])


def test_findings_about_no_feature_are_listed_up_to_a_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webmap, "MAX_LISTED_FINDINGS", 2)
    findings = pd.DataFrame(
        [
            {"layer": "landuse", "feature": f"#{i}", "kind": "geometry_repaired", "message": "ok"}
            for i in range(1205)
        ]
    )
    other = map_data(render_fixture(findings=findings))["findings"]["other"]
    assert len(other) == 3
    assert (
        other[-1]
        == "… và 1.203 phát hiện khác trong findings.csv / … and 1,203 more in findings.csv"
    )


# --------------------------------------------------------------------------- fast paths


def test_without_slivers_drops_tiny_parts_and_holes_at_once() -> None:
    square = box(0, 0, 10, 10)
    holed = square.difference(box(2, 2, 2.1, 2.1)).difference(box(5, 5, 8, 8))
    two = MultiPolygon([box(20, 0, 30, 10), box(40, 0, 50, 10)])
    speck = MultiPolygon([box(20, 0, 30, 10), box(40, 0, 40.1, 0.1)])
    out = webmap._without_slivers(np.array([holed, two, speck, box(0, 0, 0.1, 0.1)]), 1.0)
    assert out[0].geom_type == "Polygon"
    assert len(out[0].interiors) == 1  # the 0.01 m² hole is gone, the 9 m² one stays
    assert out[0].area == pytest.approx(91.0)
    assert out[1].geom_type == "MultiPolygon"
    assert out[1].area == 200.0
    assert out[2].equals(box(20, 0, 30, 10))  # one part left: a Polygon
    assert out[3].is_empty


def test_merging_falls_back_to_a_full_union_on_overlaps() -> None:
    pieces = np.array(
        [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 0, 1, 1), box(0.5, 0, 1.5, 1)], dtype=object
    )
    merged = webmap._merge_groups(pieces, [np.array([0, 1]), np.array([2, 3])])
    assert merged[0].equals(box(0, 0, 2, 1))  # a coverage: shared edge removed
    assert merged[1].is_valid
    assert merged[1].area == pytest.approx(1.5)  # overlapping: the general union


def test_hardly_simplifiable_parcels_are_drawn_as_they_are() -> None:
    squares = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)], dtype=object)
    assert all(a is b for a, b in zip(webmap._simplify(squares, 1.0), squares, strict=True))
    wiggly = LineString([(x, 0.3 * (x % 2)) for x in range(100)])
    assert shapely.get_num_coordinates(webmap._simplify(np.array([wiggly]), 1.0)[0]) == 2


def test_template_syntax_in_a_name_is_text() -> None:
    hamlets = make_hamlets()
    hamlets.loc[0, "name"] = "Xóm {{ 7*7 }} {% raw %}{# x #}"
    html = render_fixture(hamlets=hamlets)
    assert features(map_data(html), "hamlets")[0]["properties"]["name"] == hamlets.loc[0, "name"]


def test_geometry_text_is_spliced_as_valid_geojson() -> None:
    html = render_fixture()
    match = re.search(r'<script type="application/json" id="wm-data">(.*?)</script>', html, re.S)
    assert match is not None
    assert "wm-raw-" not in match.group(1)
    data = json.loads(match.group(1))
    for layer in ("units", "hamlets", "landuse", "roads", "infrastructure"):
        for feature in features(data, layer):
            assert feature["type"] == "Feature"
            assert shapely.geometry.shape(feature["geometry"]).is_valid

"""Tests of the offline HTML map (geo.webmap)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from browser import dump_dom, needs_chromium
from shapely.geometry import LineString, Point, box

from geo.labels import STATUS_LABELS
from geo.webmap import DENSITY_BREAKS, format_number_vi, render_map

CRS = "EPSG:9213"  # VN-2000 / TM-3 106°30′ (Thái Nguyên)
XSS_NAME = "<img src=x onerror=alert(1)>"
SCRIPT_NAME = "Xóm </script><script>alert(2)</script><!-- Đồng"
DATA_RE = re.compile(r'<script type="application/json" id="wm-data">(.*?)</script>', re.S)


# --------------------------------------------------------------------------- fixture


def make_units() -> gpd.GeoDataFrame:
    """Three 3-4 km wide, 10 km tall communes: pass, fail, not assessed."""
    return gpd.GeoDataFrame(
        {
            "id": ["05500", "05503", "05506"],
            "name": ["Xã Quyết Thắng", XSS_NAME, "Xã Phúc Trìu"],
            "area_km2": [11.1347, 30.0, 40.0],
            "population": [17252.0, 9800.0, np.nan],
            "households": [4811.0, 2650.0, np.nan],
            "density_per_km2": [1549.4, 326.7, np.nan],
            "agricultural_share_pct": [38.25, 71.0, np.nan],
            "count_school": [4.0, 2.0, 1.0],
            "road_km": [52.5, 31.2, np.nan],
            "population_source": ["hamlet census 2024", "commune statistics 2023", ""],
            "ward_verdict": ["pass", "fail", "not_assessed"],
        },
        geometry=[
            box(430_000, 2_380_000, 433_000, 2_390_000),
            box(433_000, 2_380_000, 436_000, 2_390_000),
            box(436_000, 2_380_000, 440_000, 2_390_000),
        ],
        crs=CRS,
    )


def make_hamlets() -> gpd.GeoDataFrame:
    """Two hamlets per commune (south / north halves)."""
    rows = []
    names = ["Xóm Mỏ Bạch", SCRIPT_NAME, "Xóm Đồng Xe", XSS_NAME, "Xóm Cây Thị", "Xóm Núi Cốc"]
    densities = [3100.0, 420.0, 780.0, 1500.0, np.nan, 5200.0]
    for i, (x0, x1) in enumerate([(430_000, 433_000), (433_000, 436_000), (436_000, 440_000)]):
        for j, (y0, y1) in enumerate([(2_380_000, 2_385_000), (2_385_000, 2_390_000)]):
            k = 2 * i + j
            area = (x1 - x0) * (y1 - y0) / 1e6
            rows.append(
                {
                    "id": f"H{k + 1:02d}",
                    "name": names[k],
                    "unit_id": ["05500", "05503", "05506"][i],
                    "area_km2": area,
                    "population": densities[k] * area,
                    "density_per_km2": densities[k],
                    "geometry": box(x0, y0, x1, y1),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def _criterion(level: str, ident: str, name: str, code: str, **values: Any) -> dict[str, Any]:
    base = {
        "level": level,
        "id": ident,
        "name": name,
        "criterion": code,
        "criterion_vi": "",
        "criterion_en": "",
        "value": np.nan,
        "operator": ">=",
        "threshold": np.nan,
        "unit_of_measure": "",
        "status": "not_assessed",
        "gap": np.nan,
        "source": "",
        "confidence": "verified",
        "note": "",
    }
    return base | values


def make_criteria() -> pd.DataFrame:
    """Ward criteria for two communes and one hamlet-level criterion."""
    pop = {
        "criterion_vi": "Quy mô dân số",
        "criterion_en": "Population",
        "threshold": 15000.0,
        "unit_of_measure": "người",
        "source": "NQ 1211/2016/UBTVQH13 (sửa đổi 2022), Điều 6",
        "confidence": "secondary",
    }
    area = {
        "criterion_vi": "Diện tích tự nhiên",
        "criterion_en": "Natural area",
        "threshold": 5.5,
        "unit_of_measure": "km²",
        "source": "NQ 1211/2016/UBTVQH13, Điều 6",
    }
    labour = {
        "criterion_vi": "Tỷ lệ lao động phi nông nghiệp",
        "criterion_en": "Non-agricultural labour share",
        "threshold": 70.0,
        "unit_of_measure": "%",
        "note": "Cần nhập tỷ lệ lao động / supply the labour share",
    }
    hh = {
        "criterion_vi": "Số hộ của thôn",
        "criterion_en": "Households per hamlet",
        "threshold": 350.0,
        "unit_of_measure": "hộ",
    }
    rows = [
        _criterion(
            "unit",
            "05500",
            "Xã Quyết Thắng",
            "ward.population",
            value=17252.0,
            status="pass",
            **pop,
        ),
        _criterion(
            "unit", "05500", "Xã Quyết Thắng", "ward.area", value=11.1347, status="pass", **area
        ),
        _criterion("unit", "05500", "Xã Quyết Thắng", "ward.labour", **labour),
        _criterion(
            "unit",
            "05503",
            XSS_NAME,
            "ward.population",
            value=9800.0,
            status="fail",
            gap=5200.0,
            **pop,
        ),
        _criterion("unit", "05503", XSS_NAME, "ward.area", value=30.0, status="pass", **area),
    ]
    statuses = ["pass", "fail", "pass", "fail", "not_assessed", "pass"]
    for k, status in enumerate(statuses):
        value = np.nan if status == "not_assessed" else (420.0 if status == "pass" else 210.0)
        gap = 140.0 if status == "fail" else np.nan
        rows.append(
            _criterion(
                "hamlet",
                f"H{k + 1:02d}",
                f"H{k + 1}",
                "hamlet.households",
                value=value,
                status=status,
                gap=gap,
                **hh,
            )
        )
    return pd.DataFrame(rows)


def make_infrastructure() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "kind": ["school", "health_station", "market", "bus_stop"],
            "name": ["Trường THCS Quyết Thắng", None, "Chợ <Đồng> & Co", "Điểm dừng"],
        },
        geometry=[
            Point(431_500, 2_383_000),
            Point(434_200, 2_386_500),
            Point(437_800, 2_384_000),
            Point(438_500, 2_388_000),
        ],
        crs=CRS,
    )


def make_roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"surface": ["asphalt", "concrete", "earth", None]},
        geometry=[
            LineString([(430_000, 2_384_000), (440_000, 2_385_500)]),
            LineString([(432_000, 2_380_000), (433_500, 2_390_000)]),
            LineString([(437_000, 2_381_000), (439_000, 2_389_000)]),
            LineString([(435_000, 2_382_000), (436_500, 2_383_000)]),
        ],
        crs=CRS,
    )


def render_fixture(**overrides: Any) -> str:
    """Render the fixture map (keyword arguments replace inputs)."""
    args: dict[str, Any] = {
        "units": make_units(),
        "hamlets": make_hamlets(),
        "criteria": make_criteria(),
        "infrastructure": make_infrastructure(),
        "roads": make_roads(),
        "title": "Đánh giá tiêu chuẩn phường <thử> & kiểm tra",
        "subtitle": "Tiêu chuẩn theo NQ 1211/2016 (sửa đổi, hiệu lực 01/08/2022)",
        "notes": ["Dữ liệu minh họa / illustrative data"],
        "sources": ["Ranh giới: dữ liệu tổng hợp / synthetic boundaries"],
    }
    args |= overrides
    units, hamlets, criteria = args.pop("units"), args.pop("hamlets"), args.pop("criteria")
    return render_map(units, hamlets, criteria, **args)


def map_data(html: str) -> dict[str, Any]:
    match = DATA_RE.search(html)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.fixture(scope="module")
def html() -> str:
    return render_fixture()


@pytest.fixture(scope="module")
def data(html: str) -> dict[str, Any]:
    return map_data(html)


# --------------------------------------------------------------------------- offline


def test_no_remote_src_or_href(html: str) -> None:
    attrs = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*([^"'\s>]*)""", html, re.I)
    assert [a for a in attrs if re.match(r"(?i)\s*(https?:)?//", a)] == []
    assert "<link" not in html.lower()


def test_leaflet_is_inlined_and_folium_cdns_are_gone(html: str) -> None:
    assert "Leaflet 1.9.4" in html
    assert 'version="1.9.4"' in html
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.I) is None
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "awesome-markers"):
        assert cdn not in html
    assert "url(images/" not in html
    assert html.count("url(data:image/png;base64,") == 2  # layer-control icons


def test_osm_tiles_only_inside_the_optional_layer(html: str, data: dict[str, Any]) -> None:
    assert html.count("tile.openstreetmap.org") == 1
    assert data["basemap"]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    match = DATA_RE.search(html)
    assert match is not None
    assert "tile.openstreetmap.org" in match.group(1)  # only inside the embedded data


def test_no_per_feature_style_function(html: str) -> None:
    assert "_styler" not in html
    assert "feature.id" not in html


# --------------------------------------------------------------------------- content


def test_every_feature_is_embedded_once(data: dict[str, Any]) -> None:
    assert len(data["hamlets"]["geojson"]["features"]) == len(make_hamlets()) == 6
    assert len(data["units"]["geojson"]["features"]) == 3
    assert len(data["infrastructure"]["geojson"]["features"]) == 4
    assert len(data["roads"]["geojson"]["features"]) == 4


def test_coordinates_are_wgs84_near_thai_nguyen_and_rounded(
    html: str, data: dict[str, Any]
) -> None:
    ring = data["units"]["geojson"]["features"][0]["geometry"]["coordinates"][0]
    for lon, lat in ring:
        assert 105.5 < lon < 106.0
        assert 21.4 < lat < 21.7
    numbers = re.findall(r"-?\d+\.(\d+)", json.dumps(data["hamlets"]["geojson"]))
    assert numbers
    assert max(len(n) for n in numbers) <= 6


def test_bounds_fit_the_units(html: str, data: dict[str, Any]) -> None:
    west, south, east, north = make_units().to_crs(4326).total_bounds
    (s, w), (n, e) = data["bounds"]
    assert (s, w, n, e) == pytest.approx((south, west, north, east), abs=1e-6)
    assert "fitClearOfPanels(map, data.bounds)" in app_script(html)
    assert "map.fitBounds(bounds" in app_script(html)


def app_script(html: str) -> str:
    return html.split('id="wm-js">', maxsplit=1)[1].split("</script>", maxsplit=1)[0]


def test_status_and_legend_labels(data: dict[str, Any]) -> None:
    assert data["status"]["order"] == ["pass", "fail", "not_assessed"]
    labels = {k: v[0] for k, v in data["status"]["labels"].items()}
    assert labels == {"pass": "Đạt", "fail": "Chưa đạt", "not_assessed": "Chưa đánh giá"}
    assert data["status"]["labels"]["not_assessed"][1] == STATUS_LABELS["not_assessed"].en
    assert data["density"]["unit"] == "người/km²"
    assert data["density"]["labels"] == [
        "< 500",
        "500 – < 1.000",
        "1.000 – < 2.000",
        "2.000 – < 5.000",
        "≥ 5.000",
    ]
    assert data["ui"]["noData"][:2] == ["Chưa có dữ liệu", "No data"]
    verdicts = [f["properties"]["st"] for f in data["units"]["geojson"]["features"]]
    assert verdicts == ["pass", "fail", "not_assessed"]


def test_hamlet_density_classes_and_commune(data: dict[str, Any]) -> None:
    props = [f["properties"] for f in data["hamlets"]["geojson"]["features"]]
    assert [p["dc"] for p in props] == [3, 0, 1, 2, -1, 4]
    assert len(DENSITY_BREAKS) + 1 == len(data["density"]["colors"])
    assert props[0]["unit"] == "Xã Quyết Thắng"
    assert props[3]["unit"] == XSS_NAME
    hamlets = make_hamlets().to_crs(4326)
    for prop, polygon in zip(props, hamlets.geometry, strict=True):
        lat, lon = prop["lp"]
        assert polygon.contains(Point(lon, lat))  # name label inside its hamlet


def test_popup_indicators_in_vietnamese_format(data: dict[str, Any]) -> None:
    spec = data["units"]
    columns = [c[0] for c in spec["columns"]]
    assert columns[:4] == ["Diện tích tự nhiên", "Dân số", "Số hộ", "Mật độ dân số"]
    assert spec["columns"][1] == ["Dân số", "Population", "người"]
    first = spec["geojson"]["features"][0]["properties"]
    values = dict(zip(columns, first["iv"], strict=True))
    assert values["Diện tích tự nhiên"] == "11,13"
    assert values["Dân số"] == "17.252"
    assert values["Tỷ lệ đất nông nghiệp"] == "38,2"  # 38.25 rounds half to even
    assert values["Số Trường học"] == "4"
    assert first["ps"] == "hamlet census 2024"
    third = spec["geojson"]["features"][2]["properties"]
    assert dict(zip(columns, third["iv"], strict=True))["Dân số"] is None


def test_criteria_rows_in_popup(data: dict[str, Any]) -> None:
    units = data["units"]["geojson"]["features"]
    rows = units[0]["properties"]["cr"]
    assert [r["vi"] for r in rows] == [
        "Quy mô dân số",
        "Diện tích tự nhiên",
        "Tỷ lệ lao động phi nông nghiệp",
    ]
    pop, area, labour = rows
    assert (pop["val"], pop["op"], pop["thr"], pop["uom"]) == ("17.252", "≥", "15.000", "người")
    assert pop["conf"] == "secondary"
    assert data["confidence"]["secondary"][:2] == ["Nguồn thứ cấp", "Secondary source"]
    assert (area["val"], area["thr"]) == ("11,13", "5,5")
    assert (labour["st"], labour["val"], labour["note"]) == (
        "not_assessed",
        None,
        "Cần nhập tỷ lệ lao động / supply the labour share",
    )
    fail = units[1]["properties"]["cr"][0]
    assert (fail["st"], fail["gap"]) == ("fail", "5.200")
    assert units[2]["properties"]["cr"] == []


def test_one_layer_per_hamlet_criterion(data: dict[str, Any]) -> None:
    assert data["hamletCriteria"] == [
        {"code": "hamlet.households", "vi": "Số hộ của thôn", "en": "Households per hamlet"}
    ]
    statuses = [f["properties"]["cs"] for f in data["hamlets"]["geojson"]["features"]]
    assert [s["hamlet.households"] for s in statuses] == [
        "pass",
        "fail",
        "pass",
        "fail",
        "not_assessed",
        "pass",
    ]


def test_infrastructure_and_roads_classes(data: dict[str, Any]) -> None:
    infra = data["infrastructure"]
    kinds = [infra["kinds"][f["properties"]["k"]]["label"][0] for f in infra["geojson"]["features"]]
    assert kinds == ["Trường học", "Trạm y tế / cơ sở y tế", "Chợ", "Khác"]
    assert infra["geojson"]["features"][1]["properties"]["name"] == ""
    roads = data["roads"]
    surfaces = [
        roads["classes"][f["properties"]["s"]]["label"][1] for f in roads["geojson"]["features"]
    ]
    assert surfaces == ["Asphalt", "Concrete", "Earth", "Unknown"]
    assert len(roads["present"]) == 4


def test_title_block(html: str, data: dict[str, Any]) -> None:
    assert data["title"]["notes"] == ["Dữ liệu minh họa / illustrative data"]
    assert data["title"]["subtitle"].startswith("Tiêu chuẩn theo NQ 1211/2016")
    assert "<title>Đánh giá tiêu chuẩn phường &lt;thử&gt; &amp; kiểm tra</title>" in html


def test_without_hamlets_or_optional_layers() -> None:
    html = render_fixture(hamlets=None, infrastructure=None, roads=None)
    data = map_data(html)
    assert data["hamlets"] is None
    assert data["infrastructure"] is None
    assert data["hamletCriteria"] == []
    assert len(data["units"]["geojson"]["features"]) == 3


# --------------------------------------------------------------------------- safety


def test_xss_name_is_text_only(html: str, data: dict[str, Any]) -> None:
    assert XSS_NAME not in html
    assert "<img" not in html.lower()
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    assert data["units"]["geojson"]["features"][1]["properties"]["name"] == XSS_NAME


def test_script_close_in_name_cannot_break_the_page(html: str, data: dict[str, Any]) -> None:
    assert "</script><script>alert(2)" not in html
    assert "<!--" not in html
    opened = len(re.findall(r"<script\b", html))
    assert opened == html.count("</script>") == 5
    assert data["hamlets"]["geojson"]["features"][1]["properties"]["name"] == SCRIPT_NAME


def test_layer_names_are_escaped_before_leaflet_sees_them(html: str) -> None:
    script = app_script(html)
    assert "entries[escapeHtml(o.name)]" in script
    assert ".innerHTML" not in script


def test_missing_crs_is_an_error() -> None:
    units = make_units().set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="no CRS"):
        render_fixture(units=units)


def test_unknown_verdict_is_an_error() -> None:
    units = make_units()
    units.loc[0, "ward_verdict"] = "maybe"
    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        render_fixture(units=units)


# --------------------------------------------------------------------------- determinism


def test_output_is_deterministic(html: str) -> None:
    again = render_fixture()
    assert map_data(again) == map_data(html)
    assert again == html
    assert 'id="map_ward"' in html


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (17252, 0, "17.252"),
        (11.1347, 2, "11,13"),
        (1234.5, 1, "1.234,5"),
        (1234567.891, 2, "1.234.567,89"),
        (999.996, 2, "1.000,00"),
        (-1234.5, 1, "-1.234,5"),
        (-0.001, 2, "0,00"),
        (0, 0, "0"),
        (math.nan, 2, ""),
        (None, 0, ""),
        (math.inf, 0, ""),
    ],
)
def test_format_number_vi(value: float | None, decimals: int, expected: str) -> None:
    assert format_number_vi(value, decimals) == expected


# --------------------------------------------------------------------------- browser

# Runs after the map is drawn: turns on two hamlet themes (they are exclusive), opens the
# popup of the unit named XSS_NAME, then records the switcher's checkboxes.
PROBE = """<script>
var boxes = document.querySelectorAll("#wm-layers input");
boxes[2].click();
boxes[3].click();
map_ward.eachLayer(function (l) {
  var p = l.feature && l.feature.properties;
  if (p && p.id === "05503" && l.options.pane === "wm-units") { l.openPopup(); }
});
setTimeout(function () {
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(Array.prototype.map.call(
    document.querySelectorAll("#wm-layers input"), function (b) { return b.checked; }));
  document.body.appendChild(out);
}, 50);
</script>"""


@needs_chromium
def test_renders_in_headless_chromium_without_network(html: str, tmp_path: Path) -> None:
    dom = dump_dom(html, tmp_path)
    assert 'id="wm-title"' in dom
    assert 'id="wm-legend"' in dom
    assert 'id="wm-layers"' in dom
    assert dom.count('class="leaflet-interactive"') >= 3 + 4 + 4  # units, roads, points
    assert "Chưa đánh giá / Not assessed (no data)" in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom  # hamlet label, as text
    assert len(re.findall(r'class="leaflet-marker-icon wm-label', dom)) == 6  # hamlet names
    assert "<img src" not in dom
    assert re.search(r"<img[^>]*leaflet-tile", dom) is None  # the online basemap is off


@needs_chromium
def test_popup_and_exclusive_hamlet_themes_in_chromium(html: str, tmp_path: Path) -> None:
    dom = dump_dom(html.replace("</html>", PROBE + "</html>"), tmp_path)
    probe = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert probe is not None
    # units, hamlet lines, density (turned off again), households criterion, roads,
    # infrastructure, OSM basemap
    assert json.loads(probe.group(1)) == [True, True, False, True, True, True, False]
    popup = dom.split('class="wm-popup"', maxsplit=1)[1]
    assert popup.startswith('><div class="wm-popup-title">&lt;img src=x onerror=alert(1)&gt;<')
    assert "9.800 người" in popup
    assert "≥ 15.000 người" in popup
    assert "5.200 người" in popup
    assert "Nguồn thứ cấp / Secondary source" in popup
    assert "<img src" not in dom


def test_empty_criteria_table() -> None:
    data = map_data(render_fixture(criteria=pd.DataFrame()))
    assert [f["properties"]["cr"] for f in data["units"]["geojson"]["features"]] == [[], [], []]
    assert data["hamletCriteria"] == []
    assert [f["properties"]["cs"] for f in data["hamlets"]["geojson"]["features"]] == [{}] * 6

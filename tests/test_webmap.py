"""Tests of the offline HTML map (geo.webmap)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from geo import webmap
from geo.labels import STATUS_LABELS
from geo.webmap import (
    DENSITY_BREAKS,
    LANDUSE_COLORS,
    format_number_vi,
    natural_breaks,
    render_map,
)

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
    """Ward criteria for two communes and one hamlet-level criterion (two failures)."""
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
    values = [420.0, 210.0, 380.0, 50.0, np.nan, 360.0]
    for k, (status, value) in enumerate(zip(statuses, values, strict=True)):
        gap = 350.0 - value if status == "fail" else (0.0 if status == "pass" else np.nan)
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


LANDUSE_CODES = ["LUA", "ONT", "CLN", "RSX", "SON", "XYZ"]
XSS_CODE = "<img src=x onerror=alert(3)>"


def make_landuse() -> gpd.GeoDataFrame:
    """A 10 x 10 grid of 1-km² parcels over the three communes; one code is unknown, one hostile."""
    cells = [
        box(430_000 + 1000 * i, 2_380_000 + 1000 * j, 431_000 + 1000 * i, 2_381_000 + 1000 * j)
        for j in range(10)
        for i in range(10)
    ]
    codes = [LANDUSE_CODES[k % len(LANDUSE_CODES)] for k in range(len(cells))]
    codes[99] = XSS_CODE
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=CRS)


def render_fixture(**overrides: Any) -> str:
    """Render the fixture map (keyword arguments replace inputs)."""
    args: dict[str, Any] = {
        "units": make_units(),
        "hamlets": make_hamlets(),
        "criteria": make_criteria(),
        "landuse": make_landuse(),
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


def app_script(html: str) -> str:
    return html.split('id="wm-js">', maxsplit=1)[1].split("</script>", maxsplit=1)[0]


def features(data: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    spec = data[layer]
    result: list[dict[str, Any]] = spec["geojson"]["features"]
    return result


# --------------------------------------------------------------------------- offline


def test_no_remote_src_or_href(html: str) -> None:
    attrs = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*([^"'\s>]*)""", html, re.I)
    assert [a for a in attrs if re.match(r"(?i)\s*(https?:)?//", a)] == []
    assert "<link" not in html.lower()


def test_leaflet_and_cluster_plugin_are_inlined_and_folium_cdns_are_gone(html: str) -> None:
    assert "Leaflet 1.9.4" in html
    assert 'version="1.9.4"' in html
    assert "L.MarkerClusterGroup=L.FeatureGroup.extend" in html  # leaflet.markercluster 1.5.3
    assert ".marker-cluster-small" in html
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.I) is None
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "awesome-markers"):
        assert cdn not in html
    assert "url(images/" not in html
    assert "sourceMappingURL" not in html
    assert html.count("url(data:image/png;base64,") == 2  # layer-control icons


def test_vendored_cluster_plugin_matches_its_readme() -> None:
    folder = Path(webmap.__file__).parent / "_assets" / "leaflet.markercluster-1.5.3"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for name in ("leaflet.markercluster.js", "MarkerCluster.css", "MarkerCluster.Default.css"):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `{digest}` |" in readme
    assert "MIT" in (folder / "MIT-LICENCE.txt").read_text(encoding="utf-8")


def test_osm_tiles_only_inside_the_optional_layer(html: str, data: dict[str, Any]) -> None:
    assert html.count("tile.openstreetmap.org") == 1
    assert data["basemap"]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    match = DATA_RE.search(html)
    assert match is not None
    assert "tile.openstreetmap.org" in match.group(1)  # only inside the embedded data


def test_no_per_feature_style_function(html: str) -> None:
    assert "_styler" not in html
    assert "feature.id" not in html
    assert "style_function" not in html


# --------------------------------------------------------------------------- geometry


def test_every_feature_is_embedded_once(data: dict[str, Any]) -> None:
    assert len(features(data, "hamlets")) == len(make_hamlets()) == 6
    assert len(features(data, "units")) == 3
    assert len(features(data, "landuse")) == 100
    assert len(features(data, "infrastructure")) == 4
    assert len(features(data, "roads")) == 4


def test_coordinates_are_wgs84_near_thai_nguyen_and_rounded(data: dict[str, Any]) -> None:
    ring = features(data, "units")[0]["geometry"]["coordinates"][0]
    for lon, lat in ring:
        assert 105.5 < lon < 106.0
        assert 21.4 < lat < 21.7
    numbers = re.findall(r"-?\d+\.(\d+)", json.dumps(data["hamlets"]["geojson"]))
    assert numbers
    assert max(len(n) for n in numbers) <= 6


def wiggly_hamlets() -> gpd.GeoDataFrame:
    """Two hamlets sharing a 4-km edge with 401 vertices that zig-zag by 0.3 m."""
    xs = np.linspace(430_000, 434_000, 401)
    ys = 2_385_000 + 0.3 * (np.arange(401) % 2)
    edge = list(zip(xs, ys, strict=True))
    south = Polygon([(430_000, 2_380_000), (434_000, 2_380_000), *edge[::-1]])
    north = Polygon([*edge, (434_000, 2_390_000), (430_000, 2_390_000)])
    return gpd.GeoDataFrame(
        {"id": ["S", "N"], "name": ["Xóm Nam", "Xóm Bắc"], "unit_id": ["05500"] * 2},
        geometry=[south, north],
        crs=CRS,
    )


def test_display_geometry_is_simplified_as_a_coverage() -> None:
    hamlets = wiggly_hamlets()
    assert shapely.coverage_is_valid(hamlets.geometry.to_numpy())
    units = make_units().iloc[[0]]
    data = map_data(render_fixture(units=units, hamlets=hamlets, criteria=pd.DataFrame()))
    south, north = (shapely.geometry.shape(f["geometry"]) for f in features(data, "hamlets"))
    assert shapely.get_num_coordinates(south) < 20  # 405 vertices before
    assert shapely.get_num_coordinates(north) < 20
    edge = gpd.GeoSeries([LineString([(430_000, 2_385_000), (434_000, 2_385_000)])], crs=CRS)
    shared = south.boundary.intersection(north.boundary)
    assert shared.length == pytest.approx(edge.to_crs(4326).iloc[0].length, rel=1e-3)
    assert south.intersection(north).area < 1e-12  # the whole edge is still shared, no overlap
    assert shapely.get_num_coordinates(hamlets.geometry.iloc[0]) == 404  # analysis: untouched


def test_bounds_fit_the_units(html: str, data: dict[str, Any]) -> None:
    west, south, east, north = make_units().to_crs(4326).total_bounds
    (s, w), (n, e) = data["bounds"]
    assert (s, w, n, e) == pytest.approx((south, west, north, east), abs=1e-6)
    assert "fitClearOfPanels(map, data.bounds)" in app_script(html)


# --------------------------------------------------------------------------- atlas


def test_status_and_legend_labels(data: dict[str, Any]) -> None:
    assert data["status"]["order"] == ["pass", "fail", "not_assessed", "none"]
    labels = {k: v[0] for k, v in data["status"]["labels"].items()}
    assert labels == {
        "pass": "Đạt",
        "fail": "Chưa đạt",
        "not_assessed": "Chưa đánh giá",
        "none": "Chưa có dữ liệu",
    }
    assert data["status"]["labels"]["not_assessed"][1] == STATUS_LABELS["not_assessed"].en
    assert data["density"]["unit"] == "người/km²"
    assert data["density"]["labels"] == [
        "< 500",
        "500 – < 1.000",
        "1.000 – < 2.000",
        "2.000 – < 5.000",
        "≥ 5.000",
    ]
    verdicts = [f["properties"]["st"] for f in features(data, "units")]
    assert verdicts == ["pass", "fail", "not_assessed"]
    assert [f["properties"]["vd"] for f in features(data, "units")] == [
        ["pass"],
        ["fail"],
        ["not_assessed"],
    ]


def test_families_head_the_criteria(data: dict[str, Any]) -> None:
    units, hamlets = data["units"], data["hamlets"]
    assert units["families"] == [
        {
            "key": "ward",
            "label": ["Kết luận tiêu chuẩn phường", "Ward-standard verdict", ""],
            "verdict": True,
        }
    ]
    assert hamlets["families"][0]["verdict"] is False  # hamlets carry no ward verdict column
    assert [c["code"] for c in units["criteria"]] == [
        "ward.population",
        "ward.area",
        "ward.labour",
    ]
    assert {c["f"] for c in units["criteria"]} == {0}


def test_families_from_the_criteria_table_and_set_names() -> None:
    criteria = make_criteria()
    criteria["family"] = "ward"
    criteria["set"] = "ward-2023"
    extra = _criterion(
        "unit",
        "05500",
        "Xã Quyết Thắng",
        "ntm.17",
        value=80.0,
        threshold=95.0,
        status="fail",
        gap=15.0,
        unit_of_measure="%",
        criterion_vi="Môi trường",
        criterion_en="Environment",
    )
    criteria = pd.concat(
        [criteria, pd.DataFrame([extra | {"family": "ntm", "set": "ntm-2021"}])], ignore_index=True
    )
    units = make_units()
    units["ntm_verdict"] = ["fail", "not_assessed", "not_assessed"]
    names = {"ntm-2021": webmap.Label("Nông thôn mới 2021", "New Rural 2021")}
    data = map_data(render_fixture(units=units, criteria=criteria, set_names=names))
    families = data["units"]["families"]
    assert [(f["key"], f["label"][0], f["verdict"]) for f in families] == [
        ("ward", "Kết luận tiêu chuẩn phường", True),
        ("ntm", "Nông thôn mới 2021", True),
    ]
    assert [f["properties"]["vd"] for f in features(data, "units")] == [
        ["pass", "fail"],
        ["fail", "not_assessed"],
        ["not_assessed", "not_assessed"],
    ]
    ntm = data["units"]["criteria"][-1]
    assert (ntm["code"], ntm["f"], ntm["uom"], ntm["word"][0]) == ("ntm.17", 1, "%", "thiếu")
    row = features(data, "units")[0]["properties"]["cr"][-1]
    assert (row["s"], row["g"], row["c"]) == ("fail", "15", 0)


def test_gap_classes_of_a_hamlet_criterion(data: dict[str, Any]) -> None:
    [households] = data["hamlets"]["criteria"]
    assert households["code"] == "hamlet.households"
    assert households["vi"] == "Số hộ của thôn"
    assert households["classes"] == {"labels": ["140", "300"], "colors": ["#fc9272", "#de2d26"]}
    rows = [f["properties"]["cr"][0] for f in features(data, "hamlets")]
    assert [r["s"] for r in rows] == ["pass", "fail", "pass", "fail", "not_assessed", "pass"]
    assert [r["g"] for r in rows] == [None, "140", None, "300", None, None]
    assert [r["c"] for r in rows] == [-1, 0, -1, 1, -1, -1]
    assert (rows[1]["v"], rows[1]["t"]) == ("210", "350")


def test_gap_classes_are_natural_breaks_with_ranges() -> None:
    criteria = make_criteria()
    hamlet_rows = criteria["level"] == "hamlet"
    gaps = [12.0, 15.0, 480.0, 500.0, 2600.0, 11.0]
    criteria.loc[hamlet_rows, "status"] = "fail"
    criteria.loc[hamlet_rows, "gap"] = gaps
    data = map_data(render_fixture(criteria=criteria))
    classes = data["hamlets"]["criteria"][0]["classes"]
    # 4 classes at most: {11, 12, 15} deviate by 8.7 (hộ²), any other split by more
    assert classes["labels"] == ["11 – 15", "480", "500", "2.600"]
    assert classes["colors"] == ["#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]
    assert [f["properties"]["cr"][0]["c"] for f in features(data, "hamlets")] == [0, 0, 1, 2, 3, 0]


@pytest.mark.parametrize(
    ("values", "k"),
    [
        ([1, 2, 3, 10, 11, 12, 30], 3),
        ([5.5, 0.2, 0.4, 3.3, 3.1, 9.9, 10.1, 0.3], 4),
        ([100, 101, 250, 400, 404, 410, 1000, 1010, 1020], 2),
        ([7.0, 7.0, 7.0], 3),
    ],
)
def test_natural_breaks_are_the_best_partition(values: list[float], k: int) -> None:
    """Brute force: no other split of the sorted values into k classes has less deviation."""
    x = sorted(values)
    limits = natural_breaks(values, k)
    k = len(limits)

    def cost(cuts: tuple[int, ...]) -> float:
        bounds = [0, *cuts, len(x)]
        return sum(float(np.var(x[a:b]) * (b - a)) for a, b in itertools.pairwise(bounds))

    ours = tuple(sum(1 for v in x if v <= limit) for limit in limits[:-1])
    best = min(cost(c) for c in itertools.combinations(range(1, len(x)), k - 1))
    assert cost(ours) == pytest.approx(best, abs=1e-9)
    assert limits[-1] == max(values)
    assert limits == sorted(limits)


def test_natural_breaks_agree_with_mapclassify() -> None:
    mapclassify = pytest.importorskip("mapclassify")
    rng = np.random.default_rng(5)
    for n, k in ((12, 3), (60, 4), (300, 5)):
        values = rng.lognormal(5, 1, n).round(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Numba not installed": the slow path
            expected = mapclassify.FisherJenks(values, k=k).bins
        assert natural_breaks(values, k) == pytest.approx(list(expected))


def test_natural_breaks_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="at least one finite value"):
        natural_breaks([], 3)


def test_hamlet_density_classes_commune_and_label_points(data: dict[str, Any]) -> None:
    props = [f["properties"] for f in features(data, "hamlets")]
    assert [p["dc"] for p in props] == [3, 0, 1, 2, -1, 4]
    assert len(DENSITY_BREAKS) + 1 == len(data["density"]["colors"])
    assert data["hamlets"]["density"] is True
    assert (props[0]["unit"], props[0]["uid"]) == ("Xã Quyết Thắng", "05500")
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
    first = features(data, "units")[0]["properties"]
    values = dict(zip(columns, first["iv"], strict=True))
    assert values["Diện tích tự nhiên"] == "11,13"
    assert values["Dân số"] == "17.252"
    assert values["Tỷ lệ đất nông nghiệp"] == "38,2"  # 38.25 rounds half to even
    assert values["Số Trường học"] == "4"
    assert first["ps"] == "hamlet census 2024"
    third = features(data, "units")[2]["properties"]
    assert dict(zip(columns, third["iv"], strict=True))["Dân số"] is None


def test_criteria_rows_in_popup(data: dict[str, Any]) -> None:
    definitions = data["units"]["criteria"]
    pop = definitions[0]
    assert (pop["vi"], pop["op"], pop["uom"], pop["conf"]) == (
        "Quy mô dân số",
        "≥",
        "người",
        "secondary",
    )
    assert pop["src"] == "NQ 1211/2016/UBTVQH13 (sửa đổi 2022), Điều 6"
    assert data["confidence"]["secondary"][:2] == ["Nguồn thứ cấp", "Secondary source"]
    units = features(data, "units")
    rows = units[0]["properties"]["cr"]
    assert [definitions[r["i"]]["vi"] for r in rows] == [
        "Quy mô dân số",
        "Diện tích tự nhiên",
        "Tỷ lệ lao động phi nông nghiệp",
    ]
    assert (rows[0]["v"], rows[0]["t"], rows[0]["s"], rows[0]["g"]) == (
        "17.252",
        "15.000",
        "pass",
        None,
    )
    assert (rows[1]["v"], rows[1]["t"]) == ("11,13", "5,5")
    assert (rows[2]["s"], rows[2]["v"], data["units"]["notes"][rows[2]["n"]]) == (
        "not_assessed",
        None,
        "Cần nhập tỷ lệ lao động / supply the labour share",
    )
    assert "n" not in rows[0]  # no note: no index
    fail = units[1]["properties"]["cr"][0]
    assert (fail["s"], fail["g"], fail["c"]) == ("fail", "5.200", 0)
    assert pop["classes"] == {"labels": ["5.200"], "colors": ["#de2d26"]}
    assert units[2]["properties"]["cr"] == []


def test_yes_no_criteria_show_yes_or_no() -> None:
    criteria = make_criteria()
    row = _criterion(
        "unit",
        "05500",
        "Xã Quyết Thắng",
        "ntm.plan",
        operator="is_true",
        value=0.0,
        status="fail",
        criterion_vi="Có quy hoạch",
        unit_of_measure="",
    )
    data = map_data(render_fixture(criteria=pd.concat([criteria, pd.DataFrame([row])])))
    definition = data["units"]["criteria"][-1]
    assert (definition["op"], definition["classes"]) == ("", None)  # no numeric gap to class
    entry = features(data, "units")[0]["properties"]["cr"][-1]
    assert (entry["v"], entry["t"], entry["g"], entry["c"]) == ("Không / No", None, None, -1)


def test_shortfall_or_excess_wording() -> None:
    criteria = make_criteria()
    row = _criterion(
        "unit",
        "05503",
        XSS_NAME,
        "poverty",
        operator="<=",
        value=6.5,
        threshold=4.0,
        status="fail",
        gap=2.5,
        unit_of_measure="%",
        criterion_vi="Tỷ lệ hộ nghèo",
    )
    data = map_data(render_fixture(criteria=pd.concat([criteria, pd.DataFrame([row])])))
    poverty = data["units"]["criteria"][-1]
    assert (poverty["op"], poverty["word"]) == ("≤", ["vượt", "over by", ""])
    assert data["units"]["criteria"][0]["word"] == ["thiếu", "short by", ""]


# --------------------------------------------------------------------------- other layers


def test_landuse_in_conventional_colours_parcel_by_parcel(data: dict[str, Any]) -> None:
    landuse = data["landuse"]
    assert landuse["aggregated"] is False
    assert landuse["parcels"] == 100
    classes = {c["code"]: c for c in landuse["classes"]}
    assert classes["LUA"]["color"] == LANDUSE_COLORS["LUA"] == "#FFFC82"
    assert classes["ONT"]["color"] == "#FFD0FF"
    assert classes["SON"]["color"] == "#A0FFFF"
    assert (classes["LUA"]["vi"], classes["LUA"]["en"]) == ("Đất trồng lúa", "Rice land")
    assert classes["XYZ"]["color"] == "#bdbdbd"  # not in the code table: grey, named by its code
    assert classes["XYZ"]["vi"] == "XYZ"
    assert classes[XSS_CODE]["vi"] == XSS_CODE
    assert classes["LUA"]["ha"] == "1.700,0"  # 17 parcels of 100 ha
    assert [c["code"] for c in landuse["classes"]][:5] == ["CLN", "LUA", "ONT", "RSX", "SON"]
    first = features(data, "landuse")[0]["properties"]
    assert first == {"c": [c["code"] for c in landuse["classes"]].index("LUA"), "a": "1.000.000"}


def test_many_parcels_are_merged_per_hamlet_and_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 50)
    data = map_data(render_fixture())
    landuse = data["landuse"]
    assert landuse["aggregated"] is True
    merged = [f["properties"] for f in features(data, "landuse")]
    # one feature per (hamlet, code) that holds a parcel (every parcel lies inside one hamlet)
    hamlets, parcels = make_hamlets(), make_landuse()
    expected = {
        (name, code)
        for name, hamlet in zip(hamlets["name"], hamlets.geometry, strict=True)
        for code, parcel in zip(parcels["code"], parcels.geometry, strict=True)
        if hamlet.contains(parcel)
    }
    pairs = {(p["z"], landuse["classes"][p["c"]]["code"]) for p in merged}
    assert pairs == expected
    assert len(merged) == len(expected) == 37
    assert sum(p["n"] for p in merged) == 100
    total_ha = sum(float(p["a"].replace(".", "").replace(",", ".")) for p in merged)
    assert total_ha == pytest.approx(10_000.0)  # exact areas, from the full parcels
    assert any("thửa đất được gộp theo thôn" in note for note in data["title"]["notes"])


def test_over_max_features_roads_and_points_are_aggregated_with_notes() -> None:
    data = map_data(render_fixture(max_features=10))
    assert data["landuse"]["aggregated"] is True
    roads = features(data, "roads")
    assert len(roads) == 4  # one merged feature per surface class
    assert roads[0]["properties"]["km"] == "10,11"
    infra = data["infrastructure"]
    assert infra["aggregated"] is True
    assert sorted(f["properties"]["n"] for f in infra["geojson"]["features"]) == [1, 1, 1, 1]
    notes = data["title"]["notes"]
    assert notes[0] == "Dữ liệu minh họa / illustrative data"
    assert len(notes) == 4
    assert "Over 10 features: 4 road lines merged per surface" in notes[2]


def test_infrastructure_icons_and_roads_classes(data: dict[str, Any]) -> None:
    infra = data["infrastructure"]
    kinds = [
        infra["kinds"][f["properties"]["k"]]["label"][0] for f in features(data, "infrastructure")
    ]
    assert kinds == ["Trường học", "Trạm y tế / cơ sở y tế", "Chợ", "Khác"]
    assert features(data, "infrastructure")[1]["properties"]["name"] == ""
    assert all(k["glyph"].startswith("M") and k["color"].startswith("#") for k in infra["kinds"])
    assert infra["cluster"] is False
    roads = data["roads"]
    surfaces = [roads["classes"][f["properties"]["s"]]["label"][1] for f in features(data, "roads")]
    assert surfaces == ["Asphalt", "Concrete", "Earth", "Unknown"]
    assert len(roads["present"]) == 4


def test_many_points_are_clustered() -> None:
    xs = np.linspace(430_500, 439_500, webmap.CLUSTER_MIN_POINTS)
    points = gpd.GeoDataFrame(
        {"kind": ["school"] * len(xs), "name": [f"T{i}" for i in range(len(xs))]},
        geometry=[Point(x, 2_385_500) for x in xs],
        crs=CRS,
    )
    data = map_data(render_fixture(infrastructure=points))
    assert data["infrastructure"]["cluster"] is True
    assert len(features(data, "infrastructure")) == 200


def test_coverage_findings_and_feature_findings_layer() -> None:
    coverage = gpd.GeoDataFrame(
        {
            "kind": ["gap", "overlap"],
            "message": ["khe hở giữa H01 và H02", XSS_NAME],
            "area_m2": [1234.4, 56.0],
        },
        geometry=[
            box(432_990, 2_382_000, 433_010, 2_383_000),
            box(433_000, 2_386_000, 433_050, 2_386_100),
        ],
        crs=CRS,
    )
    findings = pd.DataFrame(
        [
            {
                "layer": "hamlets",
                "feature": "H02",
                "kind": "geometry_repaired",
                "message": "self-intersection; repaired",
                "value": 2.0,
            },
            {
                "layer": "population",
                "feature": "Xóm Ma",
                "kind": "unmatched_row",
                "message": "row matches no hamlets feature",
                "value": np.nan,
            },
        ]
    )
    data = map_data(render_fixture(coverage=coverage, findings=findings))
    spec = data["findings"]
    assert [k["key"] for k in spec["kinds"]] == ["gap", "overlap", "geometry_repaired"]
    assert [k["label"][0] for k in spec["kinds"]] == [
        "Khoảng hở",
        "Chồng lấn",
        "Hình học đã được sửa",
    ]
    props = [f["properties"] for f in features(data, "findings")]
    assert [(p["k"], p["m"]) for p in props] == [
        (0, "khe hở giữa H01 và H02"),
        (1, XSS_NAME),
        (2, "self-intersection; repaired"),
    ]
    assert (props[0]["a"], props[2]["f"], props[2]["outline"]) == ("1.234", SCRIPT_NAME, True)
    assert spec["other"] == [
        "Dòng số liệu không khớp / Unmatched table row — population Xóm Ma: row matches no hamlets feature"
    ]


def test_no_findings_no_layer(data: dict[str, Any]) -> None:
    assert data["findings"] is None


def test_title_block(html: str, data: dict[str, Any]) -> None:
    assert data["title"]["notes"] == ["Dữ liệu minh họa / illustrative data"]
    assert data["title"]["subtitle"].startswith("Tiêu chuẩn theo NQ 1211/2016")
    assert "<title>Đánh giá tiêu chuẩn phường &lt;thử&gt; &amp; kiểm tra</title>" in html


def test_without_hamlets_or_optional_layers() -> None:
    html = render_fixture(hamlets=None, landuse=None, infrastructure=None, roads=None)
    data = map_data(html)
    assert data["hamlets"] is None
    assert data["landuse"] is None
    assert data["infrastructure"] is None
    assert len(features(data, "units")) == 3
    assert data["labelMinZoom"] == {"unit": 0, "hamlet": 12}


def test_empty_criteria_table() -> None:
    data = map_data(render_fixture(criteria=pd.DataFrame()))
    assert [f["properties"]["cr"] for f in features(data, "units")] == [[], [], []]
    assert data["hamlets"]["criteria"] == []
    assert data["units"]["families"][0]["key"] == "ward"  # from the ward_verdict column


# --------------------------------------------------------------------------- safety


def test_xss_name_is_text_only(html: str, data: dict[str, Any]) -> None:
    assert XSS_NAME not in html
    assert XSS_CODE not in html
    assert "<img" not in html.lower()
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    assert features(data, "units")[1]["properties"]["name"] == XSS_NAME


def test_script_close_in_name_cannot_break_the_page(html: str, data: dict[str, Any]) -> None:
    assert "</script><script>alert(2)" not in html
    assert "<!--" not in html
    opened = len(re.findall(r"<script\b", html))
    assert opened == html.count("</script>") == 5
    assert features(data, "hamlets")[1]["properties"]["name"] == SCRIPT_NAME


def test_text_reaches_the_page_as_text_only(html: str) -> None:
    script = app_script(html)
    assert "entries[escapeHtml(o.name)]" in script
    assert ".innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    assert "bindPopup(function" in script  # popups get DOM nodes built with textContent


def test_missing_crs_is_an_error() -> None:
    units = make_units().set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="no CRS"):
        render_fixture(units=units)


def test_unknown_verdict_is_an_error() -> None:
    units = make_units()
    units.loc[0, "ward_verdict"] = "maybe"
    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        render_fixture(units=units)


def test_landuse_needs_a_code() -> None:
    with pytest.raises(ValueError, match=r"landuse: missing columns \['code'\]"):
        render_fixture(landuse=make_landuse().rename(columns={"code": "ma"}))


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


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (17252, "17.252"),
        (np.int64(17252), "17.252"),
        (np.float64(11.1347), "11,13"),
        ("4.5", "4,5"),
        (True, "1"),
        (None, None),
        (float("nan"), None),
        (np.float64("nan"), None),
        (pd.NA, None),
        (float("inf"), None),
    ],
)
def test_popup_numbers_and_missing_values(value, text):
    assert webmap._number_or_none(value) == text

"""The maps in a real browser: Debian's Chromium, headless, driven by Playwright, offline.

Each test opens a map from disk with every request that would leave the page aborted,
and checks what a reader sees and does: no console error and no failed request, the
expected shapes drawn, a popup on click, the legend, the theme selector, the search box,
and hostile names shown as text with no dialog raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from browser import OpenedMap, launch_chromium, needs_playwright, open_map
from playwright.sync_api import expect
from shapely.geometry import Point, box
from test_webmap import CRS, SCRIPT_NAME, XSS_NAME, render_fixture

import geo
from geo.webmap import render_result_map

pytestmark = needs_playwright

# A point well inside a feature's shape that a click reaches (not under an icon or a
# label): the grid point closest to the shape's centre whose topmost element is its path.
CLICK_POINT_JS = """([level, name]) => {
  const layer = level === "unit" ? wardMap.unitLayer : wardMap.hamletLayer;
  let path = null;
  layer.eachLayer(l => { if (l.feature.properties.name === name) { path = l._path; } });
  if (!path) { return null; }
  const r = path.getBoundingClientRect();
  const points = [];
  for (let i = 1; i < 24; i++) {
    for (let j = 1; j < 24; j++) {
      points.push([r.left + r.width * i / 24, r.top + r.height * j / 24]);
    }
  }
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  points.sort((a, b) => Math.hypot(a[0] - cx, a[1] - cy) - Math.hypot(b[0] - cx, b[1] - cy));
  return points.find(p => document.elementFromPoint(p[0], p[1]) === path) || null;
}"""


PAN_DONE_JS = "() => !(wardMap.map._panAnim && wardMap.map._panAnim._inProgress)"
"""True when Leaflet is not panning the map (a popup's autoPan)."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright, chromium = launch_chromium()
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="module")
def sample_html() -> str:
    return render_result_map(geo.run(geo.load_project(geo.sample_project_dir())))


@pytest.fixture(scope="module")
def fixture_html() -> str:
    return render_fixture()


@pytest.fixture
def opened(browser: Any, tmp_path: Path) -> Iterator[list[OpenedMap]]:
    pages: list[OpenedMap] = []
    yield pages
    for page in pages:
        page.page.close()


def open_page(
    browser: Any, html: str, tmp_path: Path, pages: list[OpenedMap], **options: Any
) -> OpenedMap:
    page = open_map(browser, html, tmp_path, **options)
    pages.append(page)
    return page


def assert_clean(page: OpenedMap) -> None:
    assert page.errors == []
    assert page.failed == []
    assert page.blocked == []
    assert page.dialogs == []


def count(page: OpenedMap, selector: str) -> int:
    result: int = page.page.locator(selector).count()
    return result


def click_feature(page: OpenedMap, level: str, name: str) -> None:
    point = page.page.evaluate(CLICK_POINT_JS, [level, name])
    assert point is not None, f"no clickable point on {name}"
    page.page.mouse.click(point[0], point[1])


def fills(page: OpenedMap, pane: str) -> list[str]:
    result: list[str] = page.page.evaluate(
        """(pane) => Array.from(document.querySelectorAll(
             ".leaflet-" + pane + "-pane path.leaflet-interactive"),
           p => p.getAttribute("fill") + "@" + p.getAttribute("fill-opacity"))""",
        pane,
    )
    return result


# --------------------------------------------------------------------------- the sample


def test_sample_map_opens_offline_with_every_hamlet(
    browser: Any, sample_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, sample_html, tmp_path, opened)
    assert_clean(page)
    assert count(page, ".leaflet-wm-hamlets-pane path.leaflet-interactive") == 18
    assert count(page, ".leaflet-wm-units-pane path.leaflet-interactive") == 1
    assert count(page, ".leaflet-marker-pane .wm-icon") == 28  # services, one icon each
    assert count(page, ".wm-label") == 18  # hamlet names
    legend = page.page.locator("#wm-legend")
    assert legend.is_visible()
    assert "Chưa đánh giá / Not assessed (no data)" in legend.inner_text()
    assert "Nhựa / Asphalt" in legend.inner_text()
    assert "Dữ liệu minh họa" in page.page.locator("#wm-title").inner_text()
    assert page.page.title() == "Quyết Thắng — Tiêu chuẩn phường / Ward standards"


def test_clicking_a_hamlet_opens_its_popup_with_its_criteria(
    browser: Any, sample_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, sample_html, tmp_path, opened)
    click_feature(page, "hamlet", "Xóm Làng Cả")
    popup = page.page.locator(".leaflet-popup-content")
    assert popup.locator(".wm-popup-title").inner_text() == "Xóm Làng Cả"
    text = popup.inner_text()
    assert "Thuộc xã / phường / In commune / ward: Xã Quyết Thắng" in text
    result = geo.run(geo.load_project(geo.sample_project_dir()))
    hamlet_rows = result.criteria[result.criteria["level"] == "hamlet"]
    expected = hamlet_rows[hamlet_rows["name"] == "Xóm Làng Cả"]
    assert count(page, ".leaflet-popup-content .wm-crit-row") == len(expected) > 0
    for name in expected["criterion_vi"]:
        assert name in text
    assert "Ngưỡng" in text  # value, threshold, status, gap columns
    assert "Dân số / Population" in text
    assert_clean(page)


def test_search_finds_a_hamlet_without_diacritics(
    browser: Any, sample_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, sample_html, tmp_path, opened)
    search = page.page.locator("#wm-search input")
    search.fill("lang ca")
    results = page.page.locator("#wm-search .wm-result")
    assert results.first.inner_text().startswith("Xóm Làng Cả")
    search.press("Enter")
    assert page.page.locator(".leaflet-popup-content .wm-popup-title").inner_text() == "Xóm Làng Cả"
    search.fill("DONG")
    found = [t.split(" · ")[0] for t in results.all_inner_texts()]
    assert found == sorted(found, key=lambda n: not n.startswith("Xóm Đồng"))
    assert {"Xóm Đồng Kiểu", "Xóm Đồng Tâm", "Xóm Đồng Bãi"} <= set(found)
    assert_clean(page)


# --------------------------------------------------------------------------- the fixture


def test_fixture_map_draws_every_shape_and_the_legend(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    assert_clean(page)
    assert count(page, ".leaflet-wm-units-pane path.leaflet-interactive") == 3
    assert count(page, ".leaflet-wm-hamlets-pane path.leaflet-interactive") == 6
    assert count(page, ".leaflet-wm-roads-pane path.leaflet-interactive") == 4
    assert count(page, ".leaflet-marker-pane .wm-icon svg") == 4
    legend = page.page.locator("#wm-legend").inner_text()
    for label in ("Đạt / Meets the standard", "Chưa đạt", "Chưa có dữ liệu / No data"):
        assert label in legend
    # units coloured by verdict: pass, fail, not assessed
    assert fills(page, "wm-units") == ["#1a9641@0.6", "#d7191c@0.6", "#9a9a9a@0.6"]


def test_hostile_names_are_shown_as_text_and_run_nothing(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    labels = page.page.locator(".wm-label span").all_inner_texts()
    assert XSS_NAME in labels  # a hamlet's name label
    assert SCRIPT_NAME in labels
    click_feature(page, "hamlet", XSS_NAME)  # the hamlet …
    title = page.page.locator(".leaflet-popup-content .wm-popup-title")
    assert title.inner_text() == XSS_NAME
    popup = page.page.locator(".leaflet-popup-content")
    assert f"In commune / ward: {XSS_NAME}" in popup.inner_text()
    # the popup pans the map into view: click its link once the map stands still (under
    # load the click could land where the link was a frame before)
    page.page.wait_for_function(PAN_DONE_JS)
    popup.locator("button.wm-link").click()  # … and its commune, of the same name
    expect(page.page.locator(".leaflet-popup")).to_have_count(1)
    # the commune's popup replaces the hamlet's (same title): wait for its code
    expect(popup).to_contain_text("Mã / Code: 05503")
    assert title.inner_text() == XSS_NAME
    assert "5.200 người" in popup.inner_text()  # its population gap
    page.page.locator("#wm-search input").fill("onerror")
    assert page.page.locator("#wm-search .wm-result").first.inner_text().startswith(XSS_NAME)
    assert page.page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("document.scripts.length") == fixture_html.count("<script") == 5
    assert page.dialogs == []
    assert_clean(page)


def test_gap_atlas_colours_hamlets_by_how_much_they_fail(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    page.page.locator("#wm-theme-select").select_option("hamlet:0")
    green, grey = "#1a9641@0.72", "#9a9a9a@0.72"
    assert fills(page, "wm-hamlets") == [green, "#d7191c@0.72", green, "#d7191c@0.72", grey, green]
    page.page.locator("input[name=wm-mode][value=gap]").check()
    assert fills(page, "wm-hamlets") == [green, "#fc9272@0.72", green, "#de2d26@0.72", grey, green]
    legend = page.page.locator("#wm-legend-theme").inner_text()
    assert "Ngưỡng / Threshold: ≥ 350 hộ" in legend
    items = page.page.locator("#wm-legend-theme .wm-legend-item").all_inner_texts()
    assert [re.sub(r"\s+", " ", i) for i in items] == [
        "Đạt / Meets the standard 3",
        "Chưa đạt: thiếu 140 hộ 1",
        "Chưa đạt: thiếu 300 hộ 1",
        "Chưa đánh giá / Not assessed (no data) 1",
        "Chưa có dữ liệu / No data 0",
    ]
    gaps = page.page.locator(".wm-label .wm-label-gap").all_inner_texts()
    assert sorted(gaps) == ["thiếu 140 hộ", "thiếu 300 hộ"]
    assert page.page.evaluate("location.hash") == "#theme=hamlet%3A0&mode=gap"
    # the address keeps the view: reopening it shows the same theme
    again = open_page(
        browser, fixture_html, tmp_path, opened, fragment="#theme=hamlet%3A0&mode=gap"
    )
    assert again.page.locator("#wm-theme-select").input_value() == "hamlet:0"
    assert fills(again, "wm-hamlets")[1] == "#fc9272@0.72"
    assert_clean(page)
    assert_clean(again)


def test_land_use_theme_in_conventional_colours(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    assert count(page, ".leaflet-wm-landuse-pane canvas") == 0  # built only when asked for
    page.page.locator("#wm-theme-select").select_option("landuse")
    assert count(page, ".leaflet-wm-landuse-pane canvas") == 1
    legend = page.page.locator("#wm-legend-theme").inner_text()
    assert "LUA — Đất trồng lúa" in legend
    assert "1.700,0 ha" in legend
    centre = gpd.GeoSeries([Point(430_500, 2_380_500)], crs=CRS).to_crs(4326).iloc[0]
    point = page.page.evaluate(
        "([lat, lon]) => { const p = wardMap.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [centre.y, centre.x],
    )
    page.page.mouse.click(point[0], point[1])
    popup = page.page.locator(".leaflet-popup-content").inner_text()
    assert "LUA — Đất trồng lúa" in popup
    assert "1.000.000 m²" in popup
    assert_clean(page)


def test_data_findings_are_drawn_in_their_own_layer(
    browser: Any, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    coverage = gpd.GeoDataFrame(
        {"kind": ["gap", "overlap"], "message": ["khe hở", XSS_NAME], "area_m2": [2000.0, 5.0]},
        geometry=[
            box(432_990, 2_382_000, 433_010, 2_383_000),
            box(433_000, 2_386_000, 433_050, 2_386_100),
        ],
        crs=CRS,
    )
    page = open_page(browser, render_fixture(coverage=coverage), tmp_path, opened)
    assert count(page, ".leaflet-wm-findings-pane path.leaflet-interactive") == 2
    legend = page.page.locator("#wm-legend").inner_text()
    assert "Khoảng hở / Gap" in legend
    assert "Chồng lấn / Overlap" in legend
    assert_clean(page)


def test_many_services_are_clustered(browser: Any, tmp_path: Path, opened: list[OpenedMap]) -> None:
    points = gpd.GeoDataFrame(
        {"kind": ["school", "market"] * 150, "name": [f"Điểm {i}" for i in range(300)]},
        geometry=[Point(431_000 + 20 * (i % 30), 2_383_000 + 20 * (i // 30)) for i in range(300)],
        crs=CRS,
    )
    page = open_page(browser, render_fixture(infrastructure=points), tmp_path, opened)
    clusters = count(page, ".marker-cluster")
    assert 1 <= clusters < 20
    assert count(page, ".leaflet-marker-pane .wm-icon") < 300
    assert_clean(page)


def test_only_the_optional_background_reaches_for_the_network(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    assert_clean(page)
    page.page.locator("#wm-layers label", has_text="OpenStreetMap").locator("input").check()
    page.page.wait_for_timeout(300)
    assert page.blocked
    assert all(u.startswith("https://tile.openstreetmap.org/") for u in page.blocked)


# --------------------------------------------------------------------------- the province


def test_province_map_draws_the_92_units(
    browser: Any, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    project = geo.load_project(geo.resources.layers_dir() / "thai-nguyen-2025")
    html = render_result_map(geo.run(project))
    page = open_page(browser, html, tmp_path, opened)
    assert_clean(page)
    assert count(page, ".leaflet-wm-units-pane path.leaflet-interactive") == 92
    assert count(page, ".wm-ulabel") == 0  # names only from zoom 10
    summary = page.page.locator("#wm-title .wm-summary").inner_text()
    assert summary.startswith("Kết luận / Verdicts (92):")
    options = page.page.locator("#wm-theme-select option").all_inner_texts()
    assert "Diện tích tự nhiên / Natural area" in options
    page.page.evaluate("() => { wardMap.map.setZoom(11, {animate: false}); }")
    assert count(page, ".wm-ulabel") > 0
    assert page.errors == []


def test_units_without_hamlets_get_popups(
    browser: Any, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    html = render_fixture(hamlets=None, criteria=pd.DataFrame())
    page = open_page(browser, html, tmp_path, opened)
    click_feature(page, "unit", "Xã Phúc Trìu")
    assert (
        page.page.locator(".leaflet-popup-content .wm-popup-title").inner_text() == "Xã Phúc Trìu"
    )
    assert_clean(page)


# --------------------------------------------------------------------------- roadmap progress

# The progress layer's path of a feature, and a point a click on it reaches.
PROGRESS_POINT_JS = """(name) => {
  let path = null;
  wardMap.map.eachLayer(l => {
    if (l.feature && l.feature.properties.entry && l.feature.properties.name === name && l._path) {
      path = l._path;
    }
  });
  if (!path) { return null; }
  const r = path.getBoundingClientRect();
  const points = [];
  for (let i = 1; i < 24; i++) {
    for (let j = 1; j < 24; j++) {
      points.push([r.left + r.width * i / 24, r.top + r.height * j / 24]);
    }
  }
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  points.sort((a, b) => Math.hypot(a[0] - cx, a[1] - cy) - Math.hypot(b[0] - cx, b[1] - cy));
  return points.find(p => document.elementFromPoint(p[0], p[1]) === path) || null;
}"""


def test_sample_roadmap_progress_layer(
    browser: Any, sample_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, sample_html, tmp_path, opened)
    progress_paths = ".leaflet-wm-progress-pane path.leaflet-interactive"
    assert count(page, progress_paths) == 0  # off until asked for
    summary = page.page.locator("#wm-title .wm-progress-summary").inner_text()
    for badge in ("Đạt mục tiêu 2", "Đúng tiến độ 1", "Có nguy cơ chậm 1", "Trễ hạn 1"):
        assert badge in summary
    page.page.locator("#wm-progress-show").click()
    assert count(page, progress_paths) == 5  # the commune and four hamlets with a line
    switch = page.page.locator("#wm-layers label", has_text="Tiến độ / Progress").locator("input")
    assert switch.is_checked()
    items = page.page.locator("#wm-legend-progress .wm-legend-item").all_inner_texts()
    assert [re.sub(r"\s+", " ", i) for i in items] == [
        "Đạt mục tiêu / Target met 2",
        "Đúng tiến độ / On track 1",
        "Có nguy cơ chậm / At risk 1",
        "Trễ hạn / Late 1",
        "Chưa có dữ liệu / No data 0",
    ]
    tip = page.page.locator("#wm-legend-progress .wm-legend-item").nth(3).get_attribute("title")
    assert tip is not None
    assert "the deadline has passed" in tip
    point = page.page.evaluate(PROGRESS_POINT_JS, "Xóm Khuôn 2")
    assert point is not None
    page.page.mouse.click(point[0], point[1])
    popup = page.page.locator(".leaflet-popup-content").inner_text()
    assert "Xóm Khuôn 2" in popup
    assert "Tiến độ / Progress: Đúng tiến độ / On track" in popup
    for text in ("Giao thông", "45,99 %", "≥ 55 %", "31/12/2025", "Trưởng xóm Khuôn 2"):
        assert text in popup
    switch.uncheck()
    assert count(page, progress_paths) == 0
    assert count(page, "#wm-legend-progress") == 0
    assert_clean(page)


def test_no_roadmap_no_progress_layer(
    browser: Any, fixture_html: str, tmp_path: Path, opened: list[OpenedMap]
) -> None:
    page = open_page(browser, fixture_html, tmp_path, opened)
    assert "Tiến độ" not in page.page.locator("#wm-layers").inner_text()
    assert count(page, "#wm-progress-show") == 0
    assert_clean(page)


# --------------------------------------------------------------------------- a large map


def test_large_map_colours_hamlets_by_their_largest_land_use(
    browser: Any, tmp_path: Path, opened: list[OpenedMap], monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo import webmap

    monkeypatch.setattr(webmap, "PARCEL_DETAIL_LIMIT", 50)
    monkeypatch.setattr(webmap, "LANDUSE_SHAPE_LIMIT", 36)  # as if a province
    page = open_page(browser, render_fixture(), tmp_path, opened, fragment="#theme=landuse")
    assert count(page, ".leaflet-wm-landuse-pane canvas") == 0  # no land-use shapes
    classes = page.page.evaluate("wardMap.data.landuse.classes.map(c => c.color)")
    largest = page.page.evaluate("wardMap.data.hamlets.geojson.features.map(f => f.properties.ld)")
    assert fills(page, "wm-hamlets") == [f"{classes[i]}@0.72" for i in largest]
    legend = page.page.locator("#wm-legend-theme").inner_text()
    assert "largest land-use class" in legend
    assert "Số thửa / Parcels: 100" in legend
    click_feature(page, "hamlet", "Xóm Mỏ Bạch")
    popup = page.page.locator(".leaflet-popup-content")
    assert "Cơ cấu sử dụng đất / Land-use shares" in popup.inner_text()
    rows = popup.locator(".wm-shares tr").all_inner_texts()
    assert len(rows) == 6  # the classes of its 15 parcels, largest first
    assert re.sub(r"\s+", " ", rows[0]) == "LUA — Đất trồng lúa 400,00 ha 26,7 %"
    assert_clean(page)

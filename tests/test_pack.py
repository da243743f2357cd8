"""geo pack and geo init: the zip for e-mail, the QGIS-ready GeoPackage, a new project's files."""

from __future__ import annotations

import dataclasses
import io
import re
import sqlite3
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from contextlib import closing

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

import geo
import geo.pack
from geo.cli import main
from geo.outputs import write_outputs
from geo.progress_bar import Steps
from geo.project import parse_project
from geo.qgis_style import LAYER_STYLES_COLUMNS, finding_categories
from geo.report import find_chromium, pdf_pages
from geo.resources import sample_project_dir
from geo.webmap import KIND_STYLES, LANDUSE_COLORS, STATUS_COLORS

ZIP = "quyet-thang-2025-03-01.zip"
FOLDER = "quyet-thang-2025-03-01"


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """`geo pack` of the sample, unzipped: (zip path, unzipped folder, stdout)."""
    root = tmp_path_factory.mktemp("pack")
    out, results = root / "zips", root / "results"
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", capture)
        code = main(
            ["pack", str(sample_project_dir()), "--out", str(out), "--results", str(results)]
        )
    assert code == 0
    path = out / ZIP
    with zipfile.ZipFile(path) as archive:
        archive.extractall(root / "unzipped")
    return path, root / "unzipped" / FOLDER, capture.getvalue()


def test_pack_is_one_zip_named_after_the_unit_and_date(packed):
    path, _, printed = packed
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    expected = [
        "README.txt",
        "map.html",
        "report.pdf",
        "report.html",
        "report.xlsx",
        "results.gpkg",
        "criteria.csv",
        "progress.csv",  # the sample has a roadmap
    ]
    if find_chromium() is None:
        expected.remove("report.pdf")
    assert names == [f"{FOLDER}/{name}" for name in expected]
    assert path.stat().st_size < 5_000_000  # fits an e-mail
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left
    assert "05491 Xã Quyết Thắng: Chưa đánh giá" in printed  # the verdict table
    assert f"{path} (" in printed


def test_readme_says_what_each_file_is_in_vietnamese(packed):
    _, folder, _ = packed
    raw = (folder / "README.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Notepad shows the diacritics
    text = raw.decode("utf-8-sig")
    assert text.startswith("KẾT QUẢ KIỂM TRA TIÊU CHUẨN LÊN PHƯỜNG: Quyết Thắng\r\n")
    assert "Tiêu chuẩn áp dụng ngày 01/03/2025" in text
    for line in (
        "- map.html: Bản đồ tương tác",
        "- report.xlsx: Bảng tính Excel",
        "- results.gpkg: Dữ liệu bản đồ cho QGIS",
        "- progress.csv: Tiến độ theo lộ trình",
    ):
        assert line in text
    assert "Dữ liệu minh họa" in text  # the project's caveat


def test_workbook_in_the_pack_opens_with_pandas_and_openpyxl(packed):
    _, folder, _ = packed
    sheets = pd.read_excel(folder / "report.xlsx", sheet_name=None, header=2, dtype={"id": str})
    assert list(sheets) == [
        "Tổng hợp",
        "Tiến độ",
        "Tiến độ theo thôn",
        "Tiêu chí",
        "Chỉ tiêu xã",
        "Chỉ tiêu thôn",
        "Đóng góp của thôn",
        "Chất lượng dữ liệu",
        "Nguồn",
        "Từ điển dữ liệu",
    ]
    assert sheets["Tổng hợp"].loc[0, "population"] == 17252
    book = load_workbook(folder / "report.xlsx", read_only=True)
    assert book["Tổng hợp"]["A1"].value == "Mã"


def test_report_in_the_pack_has_a_page_per_unit(packed):
    _, folder, _ = packed
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<section class="unit"', html)) == 1
    if find_chromium() is not None:  # one page for the commune, three for the roadmap's progress
        assert pdf_pages(folder / "report.pdf") == 4


def test_geopackage_has_every_result_layer_and_a_default_style_each(packed):
    _, folder, _ = packed
    path = folder / "results.gpkg"
    layers = dict(pyogrio.list_layers(path).tolist())
    assert layers == {
        "units": "Polygon",
        "hamlets": "Polygon",
        "landuse_by_hamlet": "MultiPolygon",
        "infrastructure": "Point",
        "roads": "LineString",
        "layer_styles": None,
    }
    styles = pyogrio.read_dataframe(path, layer="layer_styles")
    assert tuple(styles.columns) == LAYER_STYLES_COLUMNS[1:]  # "id" is the table's key
    defaults = styles.loc[styles["useAsDefault"].astype(bool)]
    assert sorted(defaults["f_table_name"]) == sorted(n for n in layers if n != "layer_styles")
    assert set(styles["f_geometry_column"]) == {"geom"}
    with closing(sqlite3.connect(path)) as db:
        kind = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    assert kind == ("attributes",)
    by_layer = defaults.set_index("f_table_name")["styleQML"]
    expected = {
        "units": ("ward_verdict", "fill"),
        "hamlets": ("ntm_verdict", "fill"),
        "landuse_by_hamlet": ("code", "fill"),
        "infrastructure": ("kind", "marker"),
        "roads": ("surface", "line"),
    }
    for layer, (field, symbol) in expected.items():
        root = ET.fromstring(by_layer[layer].split("\n", 1)[1])  # after the DOCTYPE line
        renderer = root.find("renderer-v2")
        assert renderer.get("type") == "categorizedSymbol"
        assert renderer.get("attr") == field, layer
        assert {s.get("type") for s in renderer.iter("symbol")} == {symbol}, layer
    units = ET.fromstring(by_layer["units"].split("\n", 1)[1])
    categories = {c.get("value"): c for c in units.iter("category")}
    assert list(categories) == ["pass", "fail", "not_assessed", ""]
    assert categories["pass"].get("label") == "Đạt / Meets the standard"
    colours = {c.get("value"): _colour(units, c.get("symbol")) for c in units.iter("category")}
    for status in ("pass", "fail", "not_assessed"):
        assert colours[status] == STATUS_COLORS[status]  # the HTML map's colours
    assert units.find("labeling/settings/text-style").get("fieldName") == "name"
    aliases = {a.get("field"): a.get("name") for a in units.iter("alias")}
    assert aliases["population"] == "Dân số (người)"
    landuse = ET.fromstring(by_layer["landuse_by_hamlet"].split("\n", 1)[1])
    lua = next(c for c in landuse.iter("category") if c.get("value") == "LUA")
    assert _colour(landuse, lua.get("symbol")) == LANDUSE_COLORS["LUA"].lower()
    points = ET.fromstring(by_layer["infrastructure"].split("\n", 1)[1])
    school = next(c for c in points.iter("category") if c.get("value") == "school")
    assert _colour(points, school.get("symbol")) == KIND_STYLES["school"][0]
    extra = styles.loc[~styles["useAsDefault"].astype(bool) & (styles["f_table_name"] == "units")]
    assert "ward_infrastructure_verdict" in set(extra["styleName"])


def _colour(root: ET.Element, symbol: str) -> str:
    layer = next(s for s in root.find("renderer-v2/symbols") if s.get("name") == symbol).find(
        "layer"
    )
    rgba = next(
        o.get("value") for o in layer.iter("Option") if o.get("name") in {"color", "line_color"}
    )
    red, green, blue, _ = (int(v) for v in rgba.split(","))
    return f"#{red:02x}{green:02x}{blue:02x}"


def test_landuse_by_hamlet_is_the_exact_split(packed):
    _, folder, _ = packed
    pieces = gpd.read_file(folder / "results.gpkg", layer="landuse_by_hamlet")
    hamlets = gpd.read_file(folder / "results.gpkg", layer="hamlets")
    assert list(pieces.columns) == [
        "code",
        "lu_group",
        "hamlet_id",
        "unit_id",
        "parcel",
        "area_m2",
        "geometry",
    ]
    assert pieces["area_m2"].to_numpy() == pytest.approx(pieces.area.to_numpy(), rel=1e-9, abs=1e-6)
    by_hamlet = pieces.groupby("hamlet_id")["area_m2"].sum() / 1e6
    expected = hamlets.set_index("id")["landuse_covered_km2"]
    assert by_hamlet.sort_index().to_numpy() == pytest.approx(
        expected.sort_index().to_numpy(), rel=1e-9
    )
    rice = pieces.loc[pieces["code"] == "LUA"].groupby("hamlet_id")["area_m2"].sum() / 1e6
    assert rice.to_numpy() == pytest.approx(
        hamlets.set_index("id").loc[rice.index, "landuse_LUA_km2"].to_numpy()
    )
    assert set(pieces["lu_group"]) == {"agricultural", "non_agricultural", "unused"}
    assert (pieces["unit_id"] == "05491").all()
    assert pieces["parcel"].nunique() == 1120  # every parcel, some in several pieces
    points = gpd.read_file(folder / "results.gpkg", layer="infrastructure")
    assert points["hamlet_id"].notna().all()
    assert (points["unit_id"] == "05491").all()


def test_pack_of_an_outputs_folder_zips_it_as_is(packed, tmp_path, capsys):
    path, _, _ = packed
    results = path.parent.parent / "results"
    assert main(["pack", str(results), "--out", str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / ZIP) as archive, zipfile.ZipFile(path) as first:
        assert archive.namelist() == first.namelist()
    assert str(tmp_path / ZIP) in capsys.readouterr().out


def test_a_failed_zip_leaves_the_earlier_one(packed, tmp_path, monkeypatch, capsys):
    path, _, _ = packed
    results = path.parent.parent / "results"
    target = tmp_path / ZIP
    target.write_bytes(b"earlier")

    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "write", broken)
    assert main(["pack", str(results), "--out", str(tmp_path)]) == 2
    assert (
        "cannot write quyet-thang-2025-03-01.zip (No space left on device)"
        in capsys.readouterr().err
    )
    assert target.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == [ZIP]


def test_findings_are_styled_by_kind_with_points_and_polygons(tiny_project, tmp_path):
    result = geo.run(geo.load_project(tiny_project))
    write_outputs(result, tmp_path / "polygons")
    styles = pyogrio.read_dataframe(tmp_path / "polygons" / "results.gpkg", layer="layer_styles")
    qml = styles.loc[styles["f_table_name"] == "findings", "styleQML"].iloc[0]
    root = ET.fromstring(qml.split("\n", 1)[1])
    assert root.find("renderer-v2").get("attr") == "kind"
    assert [c.get("value") for c in root.iter("category")] == ["landuse_uncovered"]
    assert root.find("layerGeometryType").text == "2"
    # gaps (polygons) and an area mismatch (a point) in one layer: QGIS opens one sublayer
    # per geometry type, both take the style, each kind drawn with a symbol of its geometry
    point = result.coverage.iloc[[0]].assign(kind="area_mismatch")
    point["geometry"] = point.geometry.representative_point()
    mixed = pd.concat([result.coverage.assign(kind="gap"), point], ignore_index=True)
    write_outputs(dataclasses.replace(result, coverage=mixed), tmp_path / "mixed")
    styles = pyogrio.read_dataframe(tmp_path / "mixed" / "results.gpkg", layer="layer_styles")
    qml = styles.loc[styles["f_table_name"] == "findings", "styleQML"].iloc[0]
    root = ET.fromstring(qml.split("\n", 1)[1])
    assert root.find("layerGeometryType") is None  # QGIS would refuse it on one of the two
    symbols = {c.get("value"): _symbol_type(root, c.get("symbol")) for c in root.iter("category")}
    assert symbols == {"gap": "fill", "area_mismatch": "marker"}
    assert _colour(root, "0") == "#ff7f00"  # the map's colour for gaps
    assert [
        (c.value, c.symbol) for c in finding_categories(["area_mismatch", "gap", "overlap"])
    ] == [
        ("gap", "fill"),
        ("overlap", "fill"),
        ("area_mismatch", "marker"),
    ]


def _symbol_type(root: ET.Element, symbol: str) -> str:
    return next(s for s in root.find("renderer-v2/symbols") if s.get("name") == symbol).get("type")


def test_init_writes_a_commented_project_file_and_the_inputs_template(tmp_path, capsys):
    folder = tmp_path / "xa-moi"
    assert main(["init", str(folder), "--name", "Xã Mới", "--as-of", "2025-03-01"]) == 0
    printed = capsys.readouterr().out
    assert "communes.geojson" in printed
    assert f"geo run {folder}" in printed
    text = (folder / "project.toml").read_text(encoding="utf-8")
    assert 'name = "Xã Mới"' in text
    assert 'as_of = "2025-03-01"' in text
    project = parse_project(tomllib.loads(text), root=folder)
    assert project.name == "Xã Mới"
    assert project.crs.to_epsg() == 9213
    assert project.layers["units"].path == folder / "communes.geojson"
    # every commented key is a real key: uncommented, the file still validates
    keys = re.compile(r"^# (\[[a-z.]+\]|[a-z_]+ = )")
    opened = "\n".join(line[2:] if keys.match(line) else line for line in text.splitlines())
    full = parse_project(tomllib.loads(opened), root=folder)
    assert set(full.layers) == {"units", "hamlets", "landuse", "infrastructure", "roads"}
    assert full.inputs == folder / "inputs.csv"
    assert full.tables["population"].joins == "hamlets"
    template = pd.read_csv(
        folder / "inputs-template.csv", encoding="utf-8-sig", keep_default_na=False
    )
    assert list(template.columns) == list(geo.inputs.TEMPLATE_COLUMNS)
    assert "ward_socio_economic_appendix" in set(template["indicator"])
    assert set(template["level"]) == {"unit", "hamlet"}
    assert (template["id"] == "").all()


def test_init_with_the_layers_in_place_writes_the_roadmap_of_failing_criteria(tmp_path, capsys):
    # a 1 km × 1 km commune: 1 km² of natural area, short of every ward standard's minimum
    square = shapely.box(448_000, 2_390_000, 449_000, 2_391_000)  # near 106.0°E 21.6°N
    commune = gpd.GeoDataFrame(
        {"ma_xa": ["00001"], "ten_xa": ["Xã Vuông"]}, geometry=[square], crs="EPSG:9213"
    )
    commune.to_file(tmp_path / "communes.geojson")
    assert main(["init", str(tmp_path), "--as-of", "2025-07-01"]) == 0
    printed = capsys.readouterr().out
    roadmap = pd.read_csv(tmp_path / "roadmap.csv", encoding="utf-8-sig", dtype={"id": str})
    assert list(roadmap["criterion"]) == ["ward.area"]
    line = roadmap.iloc[0]
    assert (line["level"], line["id"], line["operator"]) == ("unit", "00001", ">=")
    assert line["value_now"] == pytest.approx(1.0, abs=1e-6)  # km², computed in EPSG:9213
    assert line["target"] == 5.5  # Resolution 112/2025, ward of a provincial city
    assert pd.isna(line["deadline"])
    assert pd.isna(line["owner"])
    assert f"wrote {tmp_path / 'roadmap.csv'}: 1 dòng" in printed
    assert f"geo progress {tmp_path}" in printed
    # a folder whose layers are not there yet gets no roadmap, and the advice to write it later
    folder = tmp_path / "empty"
    assert main(["init", str(folder)]) == 0
    assert not (folder / "roadmap.csv").exists()
    assert f"geo roadmap {folder}" in capsys.readouterr().out


def test_init_never_overwrites(tmp_path, capsys):
    (tmp_path / "project.toml").write_text("[project]\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "project.toml").read_text(encoding="utf-8") == "[project]\n"


def test_help_has_examples(capsys):
    for argv in (["--help"], ["pack", "--help"], ["init", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
        text = capsys.readouterr().out
        if argv == ["--help"]:
            assert "pack" in text
            assert "init" in text
        else:
            assert "Ví dụ / examples:" in text
            assert "--quiet" in text
            assert "--verbose" in text


def test_quiet_pack_prints_nothing(tmp_path, capsys):
    assert (
        main(
            [
                "pack",
                str(sample_project_dir()),
                "--out",
                str(tmp_path),
                "--results",
                str(tmp_path / "r"),
                "--no-pdf",
                "-q",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    with zipfile.ZipFile(tmp_path / ZIP) as archive:
        assert f"{FOLDER}/report.pdf" not in archive.namelist()
        readme = archive.read(f"{FOLDER}/README.txt").decode("utf-8-sig")
    assert "Không có report.pdf" in readme


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_lines_when_verbose_nothing_when_quiet():
    screen = Terminal()
    with Steps(3, stream=screen) as steps:
        steps.step("đọc dữ liệu")
        steps.step("map.html")
    drawn = screen.getvalue()
    assert "\r[--------------------" in drawn
    assert "1/3 đọc dữ liệu" in drawn
    assert "\r[########----------------] 2/3 map.html" in drawn
    assert drawn.endswith("\r")  # cleared at the end
    log = io.StringIO()
    with Steps(2, verbosity=2, stream=log) as steps:
        steps.step("a")
        steps.step("b")
    lines = log.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["  [1/2] a", "  [2/2] b"]
    piped = io.StringIO()  # not a terminal: nothing by default
    with Steps(2, stream=piped) as steps:
        steps.step("a")
    assert piped.getvalue() == ""
    quiet = Terminal()
    with Steps(2, verbosity=0, stream=quiet) as steps:
        steps.step("a")
    assert quiet.getvalue() == ""

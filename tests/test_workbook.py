"""report.xlsx: every sheet, labelled headers, formats, colours, and a round trip through pandas."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import geo
from geo.progress import find_progress, read_roadmap, roadmap_path
from geo.resources import layers_dir, sample_project_dir
from geo.workbook import (
    HEADER_ROWS,
    PROGRESS_FILLS,
    PROGRESS_SHEETS,
    SHEETS,
    column_labels,
    rank_units,
    read_workbook,
    summary_table,
    write_workbook,
)


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(sample_project_dir()))


@pytest.fixture(scope="module")
def book_path(sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("workbook") / "report.xlsx"
    write_workbook(sample, path)
    return path


@pytest.fixture(scope="module")
def book(book_path):
    return load_workbook(book_path)


def test_every_sheet_in_order_with_three_header_rows(book):
    assert book.sheetnames == [
        "Tổng hợp",
        "Tiêu chí",
        "Chỉ tiêu xã",
        "Chỉ tiêu thôn",
        "Đóng góp của thôn",
        "Chất lượng dữ liệu",
        "Nguồn",
        "Từ điển dữ liệu",
    ]
    # without a Progress (no roadmap), no progress sheets
    assert [s.vi for key, s in SHEETS.items() if key not in PROGRESS_SHEETS] == book.sheetnames
    units = book["Chỉ tiêu xã"]
    headers = {units.cell(3, c).value: c for c in range(1, units.max_column + 1)}
    column = headers["population"]
    assert units.cell(1, column).value == "Dân số (người)"
    assert units.cell(2, column).value == "Population (người)"
    assert units.cell(1, headers["area_km2"]).value == "Diện tích tự nhiên (km²)"
    for sheet in book.worksheets:
        assert sheet.freeze_panes in {"A4", "C4"}, sheet.title
        assert sheet.auto_filter.ref.startswith("A3:"), sheet.title
    assert units.freeze_panes == "C4"  # headers and the id, name columns stay in view


def test_known_values_and_number_formats(book):
    summary = book["Tổng hợp"]
    headers = {summary.cell(3, c).value: c for c in range(1, summary.max_column + 1)}
    assert summary.cell(4, headers["id"]).value == "05491"
    population = summary.cell(4, headers["population"])
    assert population.value == 17252
    assert population.number_format == "#,##0"
    assert summary.cell(4, headers["area_km2"]).number_format == "#,##0.00"
    assert summary.cell(4, headers["ward_verdict_vi"]).value == "Chưa đánh giá"
    assert summary.cell(4, headers["ward.population_status"]).value == "Đạt"
    assert summary.cell(1, headers["ward.population"]).value == "Quy mô dân số (người)"
    assert summary.cell(4, headers["decisive_criterion"]).value == "ward.area"
    assert summary.cell(4, headers["margin_pct"]).value == pytest.approx(
        (11.134727 / 5.5 - 1) * 100, abs=1e-3
    )


def test_statuses_are_coloured_by_conditional_formatting(book):
    criteria = book["Tiêu chí"]
    rules = {
        (str(cells.sqref), rule.formula[0], rule.dxf.fill.fgColor.rgb)
        for cells in criteria.conditional_formatting
        for rule in cells.rules
    }
    headers = {criteria.cell(3, c).value: c for c in range(1, criteria.max_column + 1)}
    letter = criteria.cell(4, headers["status"]).column_letter
    ranges = {sqref for sqref, _, _ in rules}
    assert any(r.startswith(f"{letter}4:") for r in ranges)
    formulas = {formula for _, formula, _ in rules}
    assert {
        '"pass"',
        '"fail"',
        '"not_assessed"',
        '"Đạt"',
        '"Chưa đạt"',
        '"Chưa đánh giá"',
    } <= formulas
    fills = {formula: fill for _, formula, fill in rules}
    assert fills['"Đạt"'].endswith("D5EDD9")
    assert fills['"Chưa đạt"'].endswith("F8D3D3")
    summary = book["Tổng hợp"]
    assert len(list(summary.conditional_formatting)) >= 5  # one per verdict and status column


def test_criteria_and_indicators_round_trip_through_pandas(sample, book_path):
    criteria = pd.read_excel(
        book_path, sheet_name="Tiêu chí", header=HEADER_ROWS - 1, dtype={"id": str}
    )
    expected = sample.criteria.reset_index(drop=True)
    assert len(criteria) == len(expected) == 233
    assert criteria["status_vi"].isin(["Đạt", "Chưa đạt", "Chưa đánh giá"]).all()
    back = criteria.drop(columns="status_vi")
    assert list(back.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        back.replace({np.nan: None}).astype(object),
        expected.replace({np.nan: None, "": None}).astype(object),
        check_dtype=False,
    )
    row = criteria.set_index(["id", "criterion"]).loc[("05491", "ward.population")]
    assert row["value"] == 17252
    assert row["threshold"] == 7000
    assert row["status"] == "pass"
    assert row["confidence"] == "verified"

    sheets = read_workbook(book_path)
    units = sheets["units"]
    want = pd.DataFrame(sample.units.drop(columns="geometry"))
    assert list(units.columns) == list(want.columns)
    numeric = want.select_dtypes("number").columns
    np.testing.assert_allclose(units[numeric].to_numpy(float), want[numeric].to_numpy(float))
    assert units.loc[0, "population"] == 17252
    hamlets = sheets["hamlets"]
    assert len(hamlets) == 18
    assert hamlets["population"].sum() == 17252


def test_data_quality_sources_and_dictionary(sample, book_path):
    sheets = read_workbook(book_path)
    quality = sheets["quality"]
    assert quality.loc[0, "kind"] == "road_pieces_ignored"
    assert quality.loc[0, "kind_vi"] == "Đoạn đường không nối vào mạng"

    sources = sheets["sources"]
    assert {"project", "data", "layer", "table", "set", "criterion"} <= set(sources["section"])
    data = sources.loc[sources["section"] == "data"].set_index("id")
    assert "OpenStreetMap" in data.loc["sources", "detail"]
    assert "minh họa" in data.loc["note", "detail"]
    layers = sources.loc[sources["section"] == "layer"].set_index("id")
    assert layers.loc["landuse", "document"] == "landuse.gpkg"
    criterion = sources.loc[
        (sources["section"] == "criterion") & (sources["id"] == "ward.population")
    ]
    ward = criterion.loc[criterion["document"].str.contains("19/VBHN-VPQH")].iloc[0]
    assert ward["article"] == "Điều 8 khoản 1"
    assert ward["confidence"] == "verified"
    assert ward["threshold"] == ">= 7000 người (ward_of = provincial-city)"
    assert pd.Timestamp(ward["in_force"]) == pd.Timestamp("2023-01-01")
    assert len(criterion) == 1  # only the sets in force on as_of

    dictionary = sheets["dictionary"]
    for key, table in sheets.items():
        listed = set(
            dictionary.loc[dictionary["sheet"] == f"{SHEETS[key].vi} / {SHEETS[key].en}", "column"]
        )
        assert set(table.columns) <= listed, key
    assert not (dictionary["label_vi"] == dictionary["column"]).any()
    gpkg = dictionary.loc[dictionary["sheet"] == "results.gpkg: landuse_by_hamlet"]
    assert set(gpkg["column"]) == {"code", "lu_group", "hamlet_id", "unit_id", "parcel", "area_m2"}


def test_every_written_column_has_a_label(sample):
    labels = column_labels(sample)
    for frame in (sample.units, sample.hamlets, sample.criteria, sample.findings):
        unlabelled = [c for c in frame.columns if c != "geometry" and c not in labels]
        assert not unlabelled
    assert labels["school_land_m2_per_person"].vi.startswith("Đất công trình giáo dục")
    assert labels["netdist_school_m"] == (
        "Khoảng cách theo đường đến trường học",
        "Mean road distance to school",
        "m",
    )


def test_text_is_never_a_formula(sample, tmp_path):
    units = sample.units.copy()
    units["name"] = '=HYPERLINK("http://example.invalid","x")'
    path = tmp_path / "report.xlsx"
    write_workbook(dataclasses.replace(sample, units=units), path)
    cell = load_workbook(path)["Chỉ tiêu xã"]["B4"]
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")


def test_control_characters_are_dropped_not_fatal(sample, tmp_path):
    units = sample.units.copy()
    units["name"] = "Quyết\x0b Thắng  "  # a vertical tab pasted from a legacy file
    path = tmp_path / "report.xlsx"
    write_workbook(dataclasses.replace(sample, units=units), path)
    assert load_workbook(path)["Chỉ tiêu xã"]["B4"].value == "Quyết Thắng  "


def test_number_columns_missing_and_non_finite_values(sample, tmp_path):
    units = pd.concat([sample.units] * 4, ignore_index=True)
    units["id"] = [f"X{n}" for n in range(4)]
    units["area_km2"] = [12.5, np.nan, np.inf, -0.0]  # float64: written a column at a time
    units["population"] = np.array([0, 7, 1_234_567, -3], dtype="int64")
    units["households"] = pd.array([5, None, 2, None], dtype="Int64")  # nullable: cell by cell
    path = tmp_path / "report.xlsx"
    write_workbook(dataclasses.replace(sample, units=units), path)
    sheet = load_workbook(path)["Chỉ tiêu xã"]
    headers = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}

    def column(name):
        return [sheet.cell(row, headers[name]) for row in range(4, 8)]

    assert [c.value for c in column("area_km2")] == [12.5, None, None, 0]
    assert column("area_km2")[0].number_format == "#,##0.00"
    assert [c.value for c in column("population")] == [0, 7, 1_234_567, -3]
    assert {c.number_format for c in column("population")} == {"#,##0"}
    assert [c.value for c in column("households")] == [5, None, 2, None]
    assert sheet.max_row == HEADER_ROWS + 4
    assert [sheet.cell(row, 1).value for row in range(4, 8)] == ["X0", "X1", "X2", "X3"]


def test_province_summary_and_ranking():
    result = geo.run(
        geo.load_project(layers_dir() / "thai-nguyen-2025", as_of=pd.Timestamp("2026-01-01").date())
    )
    summary = summary_table(result)
    assert len(summary) == 92
    assert (summary["ward.area_status"] == "Đạt").all()
    assert (summary["ward.population_status"] == "Chưa đánh giá").all()
    ranked = rank_units(result)
    assert ranked["rank"].tolist() == list(range(1, 93))
    assert ranked["margin_pct"].is_monotonic_increasing
    first = ranked.iloc[0]
    assert first["decisive_criterion"] == "ward.area"
    assert first["margin_pct"] == pytest.approx((first["area_km2"] / 5.5 - 1) * 100)
    assert first["area_km2"] == summary["area_km2"].min()


# ----------------------------------------------------------------------------- progress sheets


@pytest.fixture(scope="module")
def progress(sample):
    found = find_progress(sample.project)
    assert found is not None  # the sample ships roadmap.csv and history.sqlite
    return found


@pytest.fixture(scope="module")
def progress_book_path(sample, progress, tmp_path_factory):
    path = tmp_path_factory.mktemp("workbook-progress") / "report.xlsx"
    write_workbook(sample, path, progress=progress)
    return path


SAMPLE_STATUSES = {
    ("ward.population", "05491"): "at_risk",
    ("ntm.02", "05491"): "on_track",
    ("ntm.02", "QT13"): "at_risk",
    ("ntm.02", "QT04"): "on_track",
    ("ntm.02", "QT10"): "met",
    ("ntm.06", "QT18"): "met",
    ("infra.market", "05491"): "met",
    ("infra.health_stations", "05491"): "at_risk",
    ("infra.green_space", "05491"): "late",
    ("ntm.15.ehealth", "05491"): "no_data",
}


def test_progress_sheets_only_with_a_roadmap(progress_book_path):
    book = load_workbook(progress_book_path)
    assert book.sheetnames == [s.vi for s in SHEETS.values()]
    assert book.sheetnames[1:3] == ["Tiến độ", "Tiến độ theo thôn"]
    sheet = book["Tiến độ"]
    headers = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}
    assert sheet.cell(1, headers["status"]).value == "Tình trạng tiến độ"
    assert sheet.cell(2, headers["status"]).value == "Progress status"
    assert sheet.cell(1, headers["owner"]).value == "Cơ quan, người phụ trách"
    assert sheet.cell(1, headers["rate_needed_per_year"]).value == "Tốc độ cần đạt mỗi năm"
    assert sheet.freeze_panes == "A4"
    assert sheet.auto_filter.ref == f"A3:{sheet.cell(3, sheet.max_column).column_letter}13"
    first = {code: sheet.cell(4, column) for code, column in headers.items()}
    assert first["criterion"].value == "ward.population"
    assert first["criterion_vi"].value == "Quy mô dân số"
    assert first["target"].value == 21000
    assert first["target"].number_format == "#,##0"  # people: whole numbers
    assert first["deadline"].number_format == "dd/mm/yyyy"
    assert first["status_vi"].value == "Có nguy cơ chậm"


def test_progress_sheet_every_roadmap_line_with_its_status(sample, progress_book_path):
    roadmap = read_roadmap(roadmap_path(sample.project.root))  # the file, as written
    sheet = read_workbook(progress_book_path)["progress"]
    assert len(sheet) == len(roadmap) == 10
    assert sheet["criterion"].tolist() == roadmap["criterion"].tolist()  # the roadmap's order
    assert sheet["id"].tolist() == roadmap["id"].tolist()  # ids stay text ("05491")
    assert sheet["owner"].tolist() == roadmap["owner"].tolist()
    assert sheet["target"].tolist() == roadmap["target"].tolist()
    assert [d.date() for d in sheet["deadline"]] == roadmap["deadline"].tolist()
    assert dict(
        zip(zip(sheet["criterion"], sheet["id"], strict=True), sheet["status"], strict=True)
    ) == (SAMPLE_STATUSES)
    assert sheet["status"].value_counts().to_dict() == {
        "at_risk": 3,
        "met": 3,
        "on_track": 2,
        "late": 1,
        "no_data": 1,
    }
    assert set(sheet["status_vi"]) == {
        "Đạt mục tiêu",
        "Đúng tiến độ",
        "Có nguy cơ chậm",
        "Trễ hạn",
        "Chưa có dữ liệu",
    }
    assert (
        sheet["rule"]
        .str.endswith(("→ met", "→ on track", "→ at risk", "→ late", "→ no data"))
        .all()
    )
    # the rates, recomputed from the sheet's own figures: per year of 365.25 days
    row = sheet.set_index(["criterion", "id"]).loc[("ward.population", "05491")]
    assert (row["baseline"], row["latest"]) == (16580, 17252)
    years = (row["latest_date"] - row["baseline_date"]).days / 365.25
    assert row["rate_observed_per_year"] == pytest.approx((17252 - 16580) / years)
    left = (row["deadline"] - pd.Timestamp("2025-03-01")).days / 365.25  # the sample's as_of
    assert row["rate_needed_per_year"] == pytest.approx((21000 - 17252) / left)
    assert row["rate_needed_per_year"] > row["rate_observed_per_year"]  # hence at risk
    no_data = sheet.set_index(["criterion", "id"]).loc[("ntm.15.ehealth", "05491")]
    assert pd.isna(no_data["latest"])
    assert pd.isna(no_data["latest_date"])


def test_progress_sheet_round_trips_through_pandas(progress, progress_book_path):
    back = pd.read_excel(
        progress_book_path, sheet_name="Tiến độ", header=HEADER_ROWS - 1, dtype={"id": str}
    )
    expected = progress.table
    assert list(back.columns) == list(expected.columns)
    numeric = expected.select_dtypes("number").columns
    np.testing.assert_allclose(back[numeric].to_numpy(float), expected[numeric].to_numpy(float))
    for column in ("criterion", "id", "name", "owner", "status", "rule", "note"):
        assert back[column].fillna("").tolist() == expected[column].tolist(), column


def test_progress_statuses_are_coloured(progress_book_path):
    book = load_workbook(progress_book_path)
    for title, column in (
        ("Tiến độ", "status"),
        ("Tiến độ", "status_vi"),
        ("Tiến độ theo thôn", "line_status"),
    ):
        sheet = book[title]
        headers = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}
        letter = sheet.cell(4, headers[column]).column_letter
        fills = {
            rule.formula[0]: rule.dxf.fill.fgColor.rgb
            for cells in sheet.conditional_formatting
            if str(cells.sqref).startswith(f"{letter}4:")
            for rule in cells.rules
        }
        for status, label in (("met", "Đạt mục tiêu"), ("on_track", "Đúng tiến độ"), ("at_risk", "Có nguy cơ chậm"),
                              ("late", "Trễ hạn"), ("no_data", "Chưa có dữ liệu")):  # fmt: skip
            assert fills[f'"{status}"'].endswith(PROGRESS_FILLS[status][0]), (title, status)
            assert fills[f'"{label}"'].endswith(PROGRESS_FILLS[status][0]), (title, label)
    assert PROGRESS_FILLS["late"][0] == "F8D3D3"  # red, as a failed criterion
    assert PROGRESS_FILLS["met"][0] == "D5EDD9"  # green, as a passed one


def test_hamlet_view_sheet(progress, progress_book_path):
    hamlets = read_workbook(progress_book_path)["progress_hamlets"]
    assert len(hamlets) == len(progress.hamlets) == 10
    assert hamlets.loc[0, ["criterion", "id", "name", "unit_id"]].tolist() == [
        "ntm.02",
        "QT02",
        "Xóm Giữa",
        "05491",
    ]
    assert hamlets.loc[0, "target_from"] == "unit line"
    assert hamlets.loc[0, "shortfall"] == pytest.approx(70 - hamlets.loc[0, "latest"])
    own = hamlets.set_index("id").loc["QT13"]
    assert (own["target"], own["target_from"], own["owner"]) == (
        60,
        "hamlet line",
        "Trưởng xóm Làng Cả",
    )
    assert hamlets["shortfall"].is_monotonic_decreasing


def test_progress_sources_and_dictionary(progress_book_path):
    sheets = read_workbook(progress_book_path)
    sources = sheets["sources"]
    roadmap = sources.loc[sources["section"] == "roadmap"].iloc[0]
    assert roadmap["document"] == "roadmap.csv"
    assert "10 dòng / lines (met 3, on_track 2, at_risk 3, late 1, no_data 1)" in roadmap["detail"]
    history = sources.loc[sources["section"] == "history"].iloc[0]
    assert history["document"] == "history.sqlite"
    assert "3 lần chụp / snapshots: 2023-06-30, 2024-06-30, 2025-03-01" in history["detail"]
    rules = sources.loc[sources["section"] == "rule"]
    assert rules["id"].tolist() == [
        "no_data",
        "met",
        "late",
        "on_track",
        "at_risk",
    ]  # the order applied
    assert rules.set_index("id").loc["late", "name_vi"] == "Trễ hạn"

    dictionary = sheets["dictionary"]
    for key in PROGRESS_SHEETS:
        listed = dictionary.loc[
            dictionary["sheet"] == f"{SHEETS[key].vi} / {SHEETS[key].en}"
        ].set_index("column")
        assert list(listed.index) == list(sheets[key].columns), key
        assert (listed["label_vi"] != listed.index).all(), key
    progress = dictionary.loc[dictionary["sheet"] == "Tiến độ / Roadmap progress"].set_index(
        "column"
    )
    assert progress.loc["status", "label_vi"] == "Tình trạng tiến độ"
    assert "late = Trễ hạn" in progress.loc["status", "description"]
    assert progress.loc["rate_needed_per_year", "description"].startswith("(mục tiêu − mới nhất)")
    criteria = dictionary.loc[dictionary["sheet"] == "Tiêu chí / Criteria"].set_index("column")
    assert criteria.loc["status", "label_vi"] == "Kết quả"  # the other sheets keep their meaning

"""The printable report: one page per unit, Vietnamese first, a static map, a PDF with Chromium."""

from __future__ import annotations

import re
from datetime import date
from html import escape as escape_html

import pytest
from shapely.geometry import Point, box

import geo
import geo.report
from geo.outputs import write_outputs
from geo.progress import find_progress, read_roadmap, roadmap_path
from geo.report import (
    find_chromium,
    pdf_pages,
    read_report_meta,
    render_report,
    unit_map_svg,
    write_fitted_pdf,
    write_pdf,
)
from geo.resources import layers_dir, sample_project_dir

needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")


@pytest.fixture(scope="module")
def sample():
    return geo.run(geo.load_project(sample_project_dir()))


@pytest.fixture(scope="module")
def province():
    return geo.run(geo.load_project(layers_dir() / "thai-nguyen-2025", as_of=date(2026, 1, 1)))


def sections(html: str) -> list[str]:
    return re.findall(r'<section class="unit".*?</section>', html, flags=re.S)


def test_one_page_per_unit_vietnamese_first(sample):
    html = render_report(sample)
    pages = sections(html)
    assert len(pages) == 1
    page = pages[0]
    assert 'id="unit-05491"' in page
    assert "<h1>Xã Quyết Thắng" in page
    assert "Kết luận: Chưa đánh giá" in page
    assert page.index("Kết luận: Chưa đánh giá") < page.index("/ verdict: Not assessed")
    assert "<b>01/03/2025</b>" in page  # the date of the standards
    assert "Điều 8" in page
    assert "19/VBHN-VPQH" in page
    # the verdict table: criterion, value, threshold, status, source
    row = re.search(r"<tr><td>Quy mô dân số.*?</tr>", page).group(0)
    assert "17.252 người" in row
    assert "≥ 7.000 người" in row
    assert "status pass" in row
    assert "Hạ tầng đô thị" in page  # the urban-infrastructure set, criterion by criterion
    assert "Bộ tiêu chí quốc gia về xã nông thôn mới" in page  # other sets, one line each
    assert "Dữ liệu minh họa" in page  # the project's caveat
    assert "OpenStreetMap" in page  # the data sources
    assert page.count("<svg") == 1
    assert "<path d='M" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?://""", html)  # prints offline
    assert "break-after: page" in html
    assert read_report_meta_from(html) == {
        "geo-project": "Quyết Thắng",
        "geo-slug": "quyet-thang",
        "geo-as-of": "2025-03-01",
        "geo-standard": "Tiêu chuẩn của phường (NQ 1211/2016, sửa đổi bởi NQ 27/2022; VBHN "
        "19/VBHN-VPQH) (Văn bản hợp nhất 19/VBHN-VPQH (NQ 1211/2016/UBTVQH13, NQ "
        "27/2022/UBTVQH15), Điều 8)",
        "geo-units": "1",
    }


def read_report_meta_from(html: str) -> dict[str, str]:
    return dict(re.findall(r'<meta name="(geo-[^"]+)" content="([^"]*)">', html))


def test_province_has_92_pages(province):
    html = render_report(province)
    pages = sections(html)
    assert len(pages) == 92
    assert len({re.search(r'data-unit="(\d+)"', p).group(1) for p in pages}) == 92
    assert 'Trang <span class="en">/ page</span> 92/92' in pages[-1]
    bac_kan = next(p for p in pages if 'data-unit="01843"' in p)
    assert "Lệch diện tích" in bac_kan  # the unit's own data finding
    assert "72,00 km²" in bac_kan  # the official area beside the computed one


def test_unit_map_svg_draws_the_unit_hamlets_points_and_a_scale():
    unit = box(0, 0, 4000, 2000)
    svg = unit_map_svg(
        unit,
        status="pass",
        neighbours=[box(4000, 0, 6000, 2000)],
        hamlets=[box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)],
        points=[(Point(1000, 1000), "school")],
    )
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "fill='#1a9641'" in svg  # the map's green for pass
    assert svg.count("stroke-dasharray='2 1.5'") == 2  # two hamlets
    assert "fill='#1f77b4'" in svg  # the school's colour on the map
    assert ">1 km<" in svg  # a round scale bar (a quarter of the 4.5 km frame, rounded down)
    assert "fill='#ededed'" in svg  # the neighbour, in grey


def test_read_report_meta(sample, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(render_report(sample), encoding="utf-8")
    meta = read_report_meta(path)
    assert meta["geo-project"] == "Quyết Thắng"
    assert meta["geo-as-of"] == "2025-03-01"


@needs_chromium
def test_pdf_has_one_page_per_unit(sample, province, tmp_path):
    for name, result, units in (("sample", sample, 1), ("province", province, 92)):
        html = tmp_path / f"{name}.html"
        pdf = tmp_path / f"{name}.pdf"
        html.write_text(render_report(result), encoding="utf-8")
        assert write_fitted_pdf(result, html, pdf) == ""
        assert pdf.read_bytes().startswith(b"%PDF")
        assert pdf_pages(pdf) == units
        assert len(sections(html.read_text(encoding="utf-8"))) == units


@needs_chromium
def test_a_page_that_overflows_is_printed_smaller(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(geo.report, "_CSS", geo.report._CSS + "section.unit { padding-top: 25mm; }")
    html = tmp_path / "report.html"
    pdf = tmp_path / "report.pdf"
    html.write_text(render_report(sample), encoding="utf-8")
    assert write_fitted_pdf(sample, html, pdf) == ""
    assert pdf_pages(pdf) == 1
    assert re.search(r"section\.unit \{ zoom: 0\.\d+; \}", html.read_text(encoding="utf-8"))


def test_without_chromium_there_is_no_pdf_and_the_reason_is_given(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_CHROMIUM", "")
    assert find_chromium() is None
    html = tmp_path / "report.html"
    html.write_text(render_report(sample), encoding="utf-8")
    reason = write_pdf(html, tmp_path / "report.pdf")
    assert reason.startswith("Chromium not found")
    assert not (tmp_path / "report.pdf").exists()
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"%PDF old")  # an earlier run's PDF
    written = write_outputs(sample, out, pdf=True)
    names = {p.name for p in written}
    assert {"report.html", "report.xlsx"} <= names
    assert "report.pdf" not in names
    assert not (out / "report.pdf").exists()  # the folder holds one run's set


# ----------------------------------------------------------------------------- progress


@pytest.fixture(scope="module")
def progress(sample):
    found = find_progress(sample.project)
    assert found is not None  # the sample ships roadmap.csv and history.sqlite
    return found


def progress_sections(html: str) -> list[str]:
    return re.findall(r'<section class="progress.*?</section>', html, flags=re.S)


def test_progress_pages_follow_the_unit_pages(sample, progress):
    html = render_report(sample, progress=progress)
    assert len(sections(html)) == 1  # the unit page is unchanged
    lines, _trends = progress_sections(html)
    assert html.index('<section class="unit"') < html.index('<section class="progress"')
    assert "Tiến độ lộ trình" in lines
    assert lines.index("Tiến độ lộ trình") < lines.index("/ roadmap progress")  # Vietnamese first
    assert "<b>01/03/2025</b>" in lines  # the date of the assessment
    assert "30/06/2023, 30/06/2024, 01/03/2025" in lines  # the snapshots
    roadmap = read_roadmap(roadmap_path(sample.project.root))
    rows = re.findall(r"<tr class='line'>.*?</tr>", lines, flags=re.S)
    assert len(rows) == len(roadmap) == 10
    for line in roadmap.to_dict("records"):  # who must do what by when
        assert escape_html(line["owner"]) in lines
        assert f"{line['deadline']:%d/%m/%Y}" in lines
    badges = re.findall(r"<span class='pstatus (\w+)'", "".join(rows))
    assert sorted(badges) == sorted(
        [
            "at_risk",
            "on_track",
            "at_risk",
            "on_track",
            "met",
            "met",
            "met",
            "at_risk",
            "late",
            "no_data",
        ]
    )
    assert badges[0] == "late"  # the most urgent first
    assert "Trễ hạn" in rows[0]
    assert "Đất cây xanh" in rows[0]
    assert "31/12/2024" in rows[0]
    assert lines.count("Lý do <span class='en'>/ rule</span>") == 10  # each line's rule …
    assert "kéo dài đường thẳng qua giá trị ban đầu" in lines  # … and the rules in order
    assert "Xóm Giữa 48,6 %" in lines  # the hamlet holding ntm.02 back the most
    assert 'name="geo-progress-lines" content="10"' in html


def test_one_trend_chart_per_roadmap_criterion(sample, progress):
    html = render_report(sample, progress=progress)
    _, trends = progress_sections(html)
    criteria = list(dict.fromkeys(read_roadmap(roadmap_path(sample.project.root))["criterion"]))
    blocks = re.findall(
        r"<div class='trend' data-criterion='([^']+)'>(.*?)</div>", trends, flags=re.S
    )
    assert [criterion for criterion, _ in blocks] == criteria
    assert len(criteria) == 7
    for criterion, block in blocks:
        assert block.count("<svg") == 1, criterion  # inline, no XML declaration, no file
        assert "<?xml" not in block
        assert f"<title>{criterion} " in block
    ntm02 = dict(blocks)["ntm.02"]
    assert ntm02.count("<li>") == 4  # its four roadmap lines, with owner and deadline
    assert "Trưởng xóm Làng Cả" in ntm02
    assert "31/12/2025" in ntm02
    assert trends.count("<svg") == 7
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?://""", html)  # prints offline


def test_no_progress_without_a_roadmap(tiny_project):
    result = geo.run(geo.load_project(tiny_project))
    assert find_progress(result.project) is None
    html = render_report(result, progress=find_progress(result.project))
    assert len(sections(html)) == 2
    assert not progress_sections(html)
    assert "Tiến độ lộ trình" not in html
    assert "<div class='trend'" not in html
    assert "geo-progress" not in html


@needs_chromium
def test_pdf_with_progress_keeps_the_unit_page_at_its_scale(sample, progress, tmp_path):
    plain, with_progress = tmp_path / "plain.html", tmp_path / "progress.html"
    plain.write_text(render_report(sample), encoding="utf-8")
    with_progress.write_text(render_report(sample, progress=progress), encoding="utf-8")
    assert write_fitted_pdf(sample, plain, tmp_path / "plain.pdf") == ""
    assert (
        write_fitted_pdf(sample, with_progress, tmp_path / "progress.pdf", progress=progress) == ""
    )
    zoom = re.compile(r"section\.unit \{ zoom: ([0-9.]+); \}")
    assert zoom.findall(with_progress.read_text(encoding="utf-8")) == zoom.findall(
        plain.read_text(encoding="utf-8")
    )
    only = tmp_path / "only.html"
    only.write_text(render_report(sample, progress=progress, units_shown=False), encoding="utf-8")
    assert write_pdf(only, tmp_path / "only.pdf") == ""
    assert pdf_pages(tmp_path / "progress.pdf") == 1 + pdf_pages(tmp_path / "only.pdf")

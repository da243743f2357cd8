"""The department pack, and a new project's first files.

:func:`pack_project` runs a project, writes its outputs and bundles the map,
workbook, GeoPackage, printable report (HTML, and PDF when Chromium is
present), ``criteria.csv``, ``progress.csv`` (with a roadmap) and a short
Vietnamese ``README.txt`` into one zip named after the unit and the date of the standards
(``maps/quyet-thang-2025-03-01.zip``), ready to attach to an e-mail.
:func:`pack_results` bundles an outputs folder written earlier without running
again. The zip is written to a temporary file beside it and renamed into place
when complete.

:func:`init_project` starts a project folder: a commented ``project.toml``
(every key, in Vietnamese and English) and the inputs table of the criteria in
force, to fill in once the layers are in place.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from geo import criteria as crit
from geo import inputs
from geo.errors import OutputError, ProjectFileError
from geo.names import slug
from geo.outputs import default_out_dir, write_csv, write_outputs
from geo.pipeline import RunResult, run
from geo.progress_bar import Steps
from geo.project import PROJECT_FILE, load_project
from geo.report import find_chromium, read_report_meta

__all__ = [
    "INPUTS_TEMPLATE",
    "PACK_FILES",
    "PROJECT_TEMPLATE",
    "Pack",
    "init_project",
    "pack_name",
    "pack_project",
    "pack_results",
    "readme_text",
    "write_pack",
]

PACK_FILES = (
    "map.html",
    "report.pdf",
    "report.html",
    "report.xlsx",
    "results.gpkg",
    "criteria.csv",
    "progress.csv",
)
"""Outputs put in the pack, when present, after ``README.txt``."""
README = "README.txt"
INPUTS_TEMPLATE = "inputs-template.csv"
"""The inputs table written by :func:`init_project`."""


@dataclass
class Pack:
    """A pack written: the zip, what it holds, and the run it came from (None if reused)."""

    path: Path
    members: list[str]
    results_dir: Path
    result: RunResult | None = None
    notes: list[str] = field(default_factory=list)


def pack_name(name: str, as_of: date | str) -> str:
    """Return the zip's file name: ``<slug>-<as_of>.zip``.

    Examples
    --------
    >>> pack_name("Quyết Thắng", date(2025, 3, 1))
    'quyet-thang-2025-03-01.zip'
    """
    day = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    return f"{slug(name)}-{day}.zip"


_DESCRIPTIONS = {
    "map.html": (
        (
            "Bản đồ tương tác. Mở bằng trình duyệt (Chrome, Edge, Firefox, Cốc Cốc), không cần "
            "Internet. Chọn “Tô màu theo” để xem từng tiêu chí; bấm vào xã, thôn để xem số liệu, "
            "ngưỡng và nguồn văn bản."
        ),
        "Interactive map: open it in a web browser, no Internet needed.",
    ),
    "report.pdf": (
        (
            "Báo cáo để in: mỗi xã, phường một trang A4 (kết luận, số liệu chính, bảng tiêu chí, "
            "bản đồ nhỏ, nguồn và lưu ý về dữ liệu)."
        ),
        "Printable report, one A4 page per commune.",
    ),
    "report.html": (
        "Cùng báo cáo, mở bằng trình duyệt; In (Ctrl+P) → Lưu thành PDF nếu cần.",
        "The same report as a web page; print it from the browser.",
    ),
    "report.xlsx": (
        (
            "Bảng tính Excel (hoặc LibreOffice Calc): Tổng hợp, Tiến độ và Tiến độ theo thôn (khi "
            "có lộ trình), Tiêu chí, Chỉ tiêu xã, Chỉ tiêu thôn, Đóng góp của thôn, Chất lượng dữ "
            "liệu, Nguồn, Từ điển dữ liệu. Ba dòng tiêu đề: tiếng Việt, tiếng Anh, mã cột."
        ),
        (
            "Excel workbook: summary, roadmap progress, criteria, indicators, data quality, "
            "sources, data dictionary."
        ),
    ),
    "results.gpkg": (
        (
            "Dữ liệu bản đồ cho QGIS: kéo thả tệp vào QGIS, các lớp (xã, thôn, sử dụng đất theo "
            "thôn, hạ tầng, đường, phát hiện về dữ liệu) tự hiện màu như bản đồ (Đạt xanh, Chưa "
            "đạt đỏ, Chưa đánh giá xám)."
        ),
        "GeoPackage for QGIS; the layers open with the map's colours.",
    ),
    "criteria.csv": (
        (
            "Mọi tiêu chí của mọi xã, thôn: giá trị, ngưỡng, kết quả, mức thiếu, nguồn (UTF-8, "
            "mở bằng Excel)."
        ),
        "Every criterion of every feature, as CSV.",
    ),
    "progress.csv": (
        (
            "Tiến độ theo lộ trình: mỗi dòng một tiêu chí, xã hoặc thôn, với mục tiêu, hạn, người "
            "phụ trách, giá trị mới nhất và tình trạng (đạt, đúng tiến độ, có nguy cơ chậm, trễ "
            "hạn, chưa có dữ liệu)."
        ),
        "Roadmap progress: target, deadline, owner, latest value and status of every line.",
    ),
}


def readme_text(
    name: str,
    as_of: date | str,
    files: Sequence[str],
    *,
    standard: str = "",
    note: str = "",
) -> str:
    """Return the pack's ``README.txt``: what each file is and how to open it, Vietnamese first.

    Parameters
    ----------
    name : str
        The project's name.
    as_of : date or str
        The date of the standards.
    files : sequence of str
        The files in the pack.
    standard : str, optional
        The ward standard applied.
    note : str, optional
        The project's data caveat.

    Returns
    -------
    str
        Text with Windows line endings (Notepad shows it right).
    """
    day = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    lines = [
        f"KẾT QUẢ KIỂM TRA TIÊU CHUẨN LÊN PHƯỜNG: {name}",
        f"Tiêu chuẩn áp dụng ngày {day:%d/%m/%Y}" + (f": {standard}" if standard else ""),
        f"Gói được tạo ngày {date.today():%d/%m/%Y} bằng công cụ geo.",
        "",
        "CÁC TỆP TRONG GÓI",
    ]
    lines += [f"- {f}: {_DESCRIPTIONS[f][0]}" for f in files if f in _DESCRIPTIONS]
    if "report.pdf" not in files:
        lines.append(
            "- (Không có report.pdf: máy tạo gói không có Chromium. Mở report.html bằng trình "
            "duyệt rồi In → Lưu thành PDF.)"
        )
    if note:
        lines += ["", "LƯU Ý VỀ DỮ LIỆU", note]
    lines += [
        "",
        (
            "Kết quả “Chưa đánh giá” nghĩa là còn thiếu số liệu hoặc ngưỡng chưa có trong văn bản "
            "đã kiểm chứng; xem cột “Ghi chú” trong report.xlsx (trang Tiêu chí) để biết cần bổ "
            "sung gì."
        ),
        "",
        "---",
        f"Ward-standard check: {name}, standards as of {day.isoformat()}.",
    ]
    lines += [f"- {f}: {_DESCRIPTIONS[f][1]}" for f in files if f in _DESCRIPTIONS]
    return "\r\n".join(lines) + "\r\n"


def write_pack(
    results_dir: Path,
    zip_path: Path,
    *,
    name: str,
    as_of: date | str,
    standard: str = "",
    note: str = "",
) -> list[str]:
    """Zip an outputs folder's pack files and a README into ``zip_path``, atomically.

    The members sit in one folder named like the zip (``quyet-thang-2025-03-01/``)
    so that unpacking makes one folder.

    Returns
    -------
    list of str
        The member names, README first.

    Raises
    ------
    OutputError
        If the outputs are missing or the zip cannot be written.
    """
    files = [f for f in PACK_FILES if (results_dir / f).is_file()]
    missing = [f for f in ("map.html", "report.xlsx", "results.gpkg") if f not in files]
    if missing:
        raise OutputError(
            f"{results_dir}: {', '.join(missing)} missing; run `geo run` (or `geo pack PROJECT`) "
            "to write the outputs first"
        )
    folder = zip_path.name.removesuffix(".zip")
    readme = readme_text(name, as_of, files, standard=standard, note=note)
    members = [f"{folder}/{README}", *(f"{folder}/{f}" for f in files)]
    try:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{zip_path.name}.", suffix=".tmp", dir=zip_path.parent
        )
        os.close(handle)
        try:
            with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(members[0], "\ufeff" + readme)
                for member, name_in_folder in zip(members[1:], files, strict=True):
                    archive.write(results_dir / name_in_folder, member)
            mask = os.umask(0)
            os.umask(mask)
            Path(temporary).chmod(0o666 & ~mask)  # mkstemp makes it private
            Path(temporary).replace(zip_path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as error:
        raise OutputError(
            f"--out {zip_path.parent}: cannot write {zip_path.name} ({error.strerror or error})"
        ) from error
    return members


def pack_project(
    folder: str | Path,
    *,
    out: str | Path | None = None,
    results_dir: str | Path | None = None,
    as_of: date | None = None,
    pdf: bool = True,
    steps: Steps | None = None,
) -> Pack:
    """Run a project, write its outputs and zip the pack.

    Parameters
    ----------
    folder : str or Path
        The project folder (holding ``project.toml``).
    out : str or Path, optional
        Folder of the zip (default ``maps/`` beside the outputs folder).
    results_dir : str or Path, optional
        Where the outputs are written (default ``maps/<project-slug>``).
    as_of : datetime.date, optional
        Overrides the project's date of the standards.
    pdf : bool, default True
        Print ``report.pdf`` when Chromium is present.
    steps : Steps, optional
        Progress reporting.

    Returns
    -------
    Pack
    """
    steps = steps if steps is not None else Steps(1, verbosity=0)
    steps.step("đọc dự án / reading the project")
    project = load_project(folder, as_of=as_of)
    steps.step("phân tích / analysis")
    result = run(project)
    results = Path(results_dir) if results_dir else default_out_dir(result)
    notes = []
    if pdf and find_chromium() is None:
        notes.append(
            "report.pdf: không có Chromium / no Chromium found (apt install chromium); "
            "report.html prints the same from a browser"
        )
    written = write_outputs(result, results, pdf=pdf, progress=steps.outputs)
    if pdf and not any(p.name == "report.pdf" for p in written) and not notes:
        notes.append("report.pdf: Chromium failed (see the warning above); report.html is there")
    steps.step("nén / zip")
    zip_path = Path(out or results.parent) / pack_name(project.name, project.as_of)
    members = write_pack(
        results,
        zip_path,
        name=project.name,
        as_of=project.as_of,
        standard=f"{result.standard.name_vi} ({result.standard.document})",
        note=project.note,
    )
    return Pack(zip_path, members, results, result, notes)


def pack_results(results_dir: str | Path, *, out: str | Path | None = None) -> Pack:
    """Zip an outputs folder written earlier (by ``geo run`` or ``geo pack``), without running.

    The project's name and date are read from its ``report.html``.

    Raises
    ------
    OutputError
        If the folder has no ``report.html`` or misses outputs.
    """
    results = Path(results_dir)
    report = results / "report.html"
    if not report.is_file():
        raise OutputError(
            f"{results}: no report.html here; give a project folder (with {PROJECT_FILE}) or "
            "an outputs folder written by this version of geo"
        )
    meta = read_report_meta(report)
    name = meta.get("geo-project") or results.name
    as_of = meta.get("geo-as-of") or date.today().isoformat()
    zip_path = Path(out or results.parent) / pack_name(name, as_of)
    members = write_pack(
        results, zip_path, name=name, as_of=as_of, standard=meta.get("geo-standard", "")
    )
    return Pack(zip_path, members, results)


# ----------------------------------------------------------------------------- geo init

PROJECT_TEMPLATE = """\
# Tệp dự án của geo — project file of geo.
# Một dự án là một thư mục chứa tệp này và các tệp dữ liệu nó nêu tên (đường dẫn tương đối
# tính từ thư mục này). Sửa các giá trị dưới đây, bỏ dấu # ở đầu các mục muốn dùng, rồi chạy:
#     geo run {folder}
# A project is a folder holding this file and the data files it names (relative paths start
# here). Edit the values, uncomment what you need, then run the command above.
# Lớp bản đồ: mọi định dạng GDAL đọc được (GeoPackage, GeoJSON, Shapefile…) và GeoParquet;
# bảng: CSV (UTF-8) hoặc XLSX. Mỗi lớp có thể ở hệ tọa độ riêng. / Layers: any GDAL format
# and GeoParquet; tables: CSV or XLSX; each layer may be in its own CRS.

[project]
name = "{name}"              # tên hiển thị (xã, phường hoặc thành phố) / display name
province = "{province}"      # tỉnh: chọn hệ VN-2000 TM-3 của tỉnh / picks the province's CRS
# crs = "EPSG:9213"          # hoặc nêu hệ tọa độ (phải là hệ phẳng, mét) / or a projected CRS
ward_of = "provincial-city"  # phường thuộc: district (quận) | provincial-city (thành phố
                             # thuộc tỉnh) | town (thị xã): chọn ngưỡng / which ward standard
# region = "TDMNPB"          # vùng nông thôn mới; mặc định theo tỉnh / New Rural region
# urban_class = "III"        # loại đô thị của thành phố, thị xã: special, I … V / urban class
as_of = "{as_of}"            # ngày áp dụng tiêu chuẩn; --as-of thay được / date of the standards
# criteria = ["ward", "ntm"] # chỉ đánh giá các nhóm này (mặc định: mọi nhóm đang có hiệu lực)
                             # only these criteria families (default: all in force)
# criteria_files = ["tieu-chi-tinh.toml"]  # tiêu chí riêng của tỉnh / provincial criteria
#                            # ("geo:provincial/thai-nguyen.toml": tệp có sẵn / bundled file)
sources = "Ranh giới: …; dân số: …"  # nguồn dữ liệu, in trên bản đồ / data sources, shown
# note = "Dữ liệu minh họa"  # lưu ý về dữ liệu, in trên bản đồ / a caveat shown with outputs

[layers.units]               # bắt buộc: ranh giới xã, phường / required: commune outlines
path = "communes.geojson"    # tệp / file
# layer = "xa"               # lớp trong tệp nhiều lớp (GeoPackage) / layer of a multi-layer file
id = "ma_xa"                 # cột mã xã / id field
name = "ten_xa"              # cột tên xã / name field
# population = "dan_so"      # cột dân số, nếu có / population field, if any
# households = "so_ho"       # cột số hộ / households field
# official_area = "dien_tich" # diện tích chính thức (km²) để so sánh / official area, km²

# [layers.hamlets]           # tùy chọn: thôn, xóm, tổ dân phố / optional: hamlets
# path = "hamlets.gpkg"
# id = "ma_thon"
# name = "ten_thon"
# unit = "ma_xa"             # cột mã xã của thôn (mặc định: xã chồng lấn nhiều nhất)
#                            # the hamlet's commune id (default: the commune it overlaps most)
# population = "dan_so"
# households = "so_ho"

# [layers.landuse]           # tùy chọn: thửa đất với mã loại đất (LUA, ONT, ODT…)
# path = "landuse.gpkg"      # optional: parcels with a land-use code
# code = "loai_dat"

# [layers.infrastructure]    # tùy chọn: điểm trường học, trạm y tế, chợ, nhà văn hóa…
# path = "infrastructure.gpkg"  # optional: points with a kind (school, health_station,
# kind = "loai"              #   kindergarten, market, cultural_house, sports_ground…)
# name = "ten"

# [layers.roads]             # tùy chọn: đường, với loại mặt đường nếu có
# path = "roads.gpkg"        # optional: lines with a surface (asphalt, concrete, gravel, earth)
# surface = "mat_duong"

# [tables.population]        # tùy chọn, bao nhiêu bảng cũng được: CSV/XLSX nối theo khóa
# path = "dan-so.xlsx"       # optional, any number: tables joined by key
# sheet = "Sheet1"           # trang tính của tệp XLSX / worksheet
# joins = "hamlets"          # hamlets | units: bảng nối vào lớp nào / the layer it joins
# key = "ten_thon"           # cột khóa của bảng / the table's key column …
# match = "name"             # … so với mã (id) hoặc tên (name, bỏ qua dấu, hoa thường,
#                            # tiền tố Xã, Thôn, Xóm…) / matched to the id or the name
# population = "dan_so"
# households = "so_ho"

# [inputs]                   # tùy chọn: số liệu không có trong lớp bản đồ (thu nhập, hộ
# path = "inputs.csv"        # nghèo, quyết định công nhận…): xem {inputs_template}
#                            # optional: figures no layer holds (geo template)
"""
"""The commented ``project.toml`` written by ``geo init`` (``str.format`` fields)."""

_PLACEHOLDERS = {
    "units": "ranh giới xã, phường (đa giác) / commune outlines (polygons)",
    "hamlets": "ranh giới thôn, xóm / hamlet outlines",
    "landuse": "thửa đất với mã loại đất / land-use parcels with a code",
    "infrastructure": "điểm hạ tầng với loại / service points with a kind",
    "roads": "đường giao thông / roads",
}


def init_project(
    folder: str | Path,
    *,
    name: str | None = None,
    province: str = "Thái Nguyên",
    as_of: date | None = None,
) -> list[Path]:
    """Start a project folder: a commented ``project.toml`` and the inputs template.

    Parameters
    ----------
    folder : str or Path
        Created if needed. An existing ``project.toml`` is never overwritten.
    name : str, optional
        The project's name (default: the folder's name).
    province : str, default "Thái Nguyên"
        The province, which picks the CRS and the New Rural region.
    as_of : datetime.date, optional
        The date of the standards (default today).

    Returns
    -------
    list of Path
        The files written: ``project.toml`` and :data:`INPUTS_TEMPLATE` (one
        row per input figure the criteria in force read, ``id`` to fill in;
        ``geo template`` writes it with a row per commune and hamlet once the
        layers are there).

    Raises
    ------
    ProjectFileError
        If ``folder/project.toml`` exists.
    """
    root = Path(folder)
    target = root / PROJECT_FILE
    if target.exists():
        raise ProjectFileError(
            f"{target}: already exists; edit it, or give `geo init` a new folder "
            "(an existing project file is never overwritten)"
        )
    day = as_of or date.today()
    text = PROJECT_TEMPLATE.format(
        folder=root.as_posix(),
        name=(name or root.resolve().name).replace('"', "'"),
        province=province.replace('"', "'"),
        as_of=day.isoformat(),
        inputs_template=INPUTS_TEMPLATE,
    )
    root.mkdir(parents=True, exist_ok=True)
    written = []
    with target.open("x", encoding="utf-8") as handle:  # "x": never overwrite, even in a race
        handle.write(text)
    written.append(target)
    template = root / INPUTS_TEMPLATE
    if not template.exists():
        sets = crit.sets_in_force(crit.load_sets(()), day, None)
        rows = [
            {
                "level": item.level,
                "id": "",
                "name": "",
                "indicator": item.indicator,
                "description_vi": item.description_vi,
                "description_en": item.description_en,
                "unit_of_measure": (
                    "1 = có / yes, 0 = không / no" if item.boolean else item.unit_of_measure
                ),
                "criteria": " ".join(item.criteria),
                "value": "",
                "year": "",
                "source": "",
            }
            for item in inputs.input_indicators(sets)
        ]
        write_csv(pd.DataFrame(rows, columns=pd.Index(inputs.TEMPLATE_COLUMNS)), template)
        written.append(template)
    return written


def prefill_roadmap(folder: str | Path) -> tuple[Path, int] | None:
    """Run a freshly initialised project and write its roadmap template.

    For a folder that already holds the layers its project file names (a
    newcomer who copied the data in before ``geo init``): run it and write
    ``roadmap.csv`` with one line per criterion that fails now
    (:func:`geo.progress.write_roadmap_template`).

    Parameters
    ----------
    folder : str or Path
        A project folder with a ``project.toml``.

    Returns
    -------
    tuple of (Path, int) or None
        The roadmap written and its number of lines; None when a layer is
        still missing or the folder already has a roadmap (never overwritten).

    Raises
    ------
    geo.errors.GeoInputError
        If the project does not run yet (a field name still to set, say).
    """
    from geo import progress

    root = Path(folder)
    target = progress.roadmap_path(root)
    if target.exists() or missing_layers(root):
        return None
    result = run(load_project(root))
    table = progress.write_roadmap_template(result, target)
    return target, len(table)


def missing_layers(folder: str | Path) -> list[str]:
    """Return what the project file of ``folder`` names but the folder lacks, as advice lines."""
    root = Path(folder)
    try:
        project = load_project(root)
    except ProjectFileError:
        return [f"{PROJECT_FILE}: {_PLACEHOLDERS['units']} in [layers.units]"]
    missing = [spec for spec in project.layers.values() if not spec.path.exists()]
    return [f"{spec.path.name}: {_PLACEHOLDERS.get(spec.role, spec.role)}" for spec in missing]

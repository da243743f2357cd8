"""Subcommands ``geo pack`` and ``geo init``.

Picked up by :mod:`geo.cli` (modules ``geo.cli_<name>`` add subcommands).

- ``geo pack [PROJECT] [--out DIR]``: run the project, write every output and
  zip the map, workbook, GeoPackage, report and a Vietnamese README into
  ``maps/<project>-<date>.zip``; given an outputs folder instead of a project,
  zip it as it is.
- ``geo init DIR``: write a commented ``project.toml`` and the inputs template.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from geo.errors import EXIT_OK, GeoInputError
from geo.pack import (
    INPUTS_TEMPLATE,
    init_project,
    missing_layers,
    pack_project,
    pack_results,
    prefill_roadmap,
)
from geo.progress_bar import Steps, configure_logging, verbosity
from geo.project import PROJECT_FILE
from geo.resources import sample_project_dir

__all__ = ["add_parser", "add_verbosity", "init_command", "pack_command"]

_PACK_EPILOG = """\
Ví dụ / examples:
  geo pack                                   # mẫu Quyết Thắng → maps/quyet-thang-2025-03-01.zip
  geo pack layers/thai-nguyen-2025 --out ~/gui-so    # zip vào thư mục khác / zip elsewhere
  geo pack du-an/xa-cua-toi --as-of 2026-01-01       # tiêu chuẩn từ 2026 / the 2026 standards
  geo pack maps/quyet-thang                  # gói lại kết quả đã có / zip existing outputs

Gói gồm / the zip holds: README.txt, map.html, report.pdf (khi có Chromium / with Chromium),
report.html, report.xlsx, results.gpkg, criteria.csv.
"""

_INIT_EPILOG = """\
Ví dụ / examples:
  geo init du-an/xa-cua-toi --name "Quyết Thắng" --province "Thái Nguyên"
  # rồi chép ranh giới xã vào du-an/xa-cua-toi, sửa project.toml và chạy:
  # then copy the commune outlines there, edit project.toml and run:
  geo run du-an/xa-cua-toi
  geo template du-an/xa-cua-toi              # bảng số liệu bổ sung / the inputs table
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` to a subcommand's parser."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print only errors / chỉ in lỗi")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print each step with its duration / in từng bước và thời gian",
    )


def add_parser(commands: Any) -> None:
    """Add the ``pack`` and ``init`` subcommands."""
    pack = commands.add_parser(
        "pack",
        help="run a project and zip map, workbook, GeoPackage and report for e-mail",
        description=(
            "Đóng gói kết quả để gửi thư / bundle the results for e-mail.\n\n"
            "Runs the project (as `geo run`), writes every output to maps/<project>/ (or\n"
            "--results) and zips map.html, report.xlsx, results.gpkg, report.html, report.pdf\n"
            "(printed with headless Chromium when installed), criteria.csv, progress.csv\n"
            "(with a roadmap) and a short Vietnamese README.txt into one file named after the\n"
            "project and the date of the standards. Given an outputs folder instead of a\n"
            "project folder, zips it as it is."
        ),
        epilog=_PACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pack.add_argument(
        "project", nargs="?", type=Path, help="project folder, or an outputs folder to zip as is"
    )
    pack.add_argument("--out", type=Path, help="folder of the zip (default maps/)")
    pack.add_argument("--results", type=Path, help="folder of the outputs (default maps/<project>)")
    pack.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    pack.add_argument("--no-pdf", action="store_true", help="do not print report.pdf")
    add_verbosity(pack)
    pack.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    pack.set_defaults(handler=pack_command)

    init = commands.add_parser(
        "init",
        help=(
            "start a project: a commented project.toml, the inputs template (and the roadmap "
            "when the layers are there)"
        ),
        description=(
            "Tạo dự án mới / start a project.\n\n"
            "Writes DIR/project.toml, every key commented in Vietnamese and English, and\n"
            f"DIR/{INPUTS_TEMPLATE}: the figures the criteria in force read that no layer\n"
            "holds (income, poverty, decisions…). An existing project.toml is never\n"
            "overwritten. Then put the layers in DIR, edit project.toml and run `geo run DIR`;\n"
            "`geo template DIR` writes the inputs table with a row per commune and hamlet.\n"
            "When DIR holds the layers already and the project runs, also writes\n"
            "DIR/roadmap.csv: one line per criterion that fails now, to give a deadline and\n"
            "an owner (otherwise `geo roadmap DIR` writes it later)."
        ),
        epilog=_INIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("folder", type=Path, help="the project folder (created if needed)")
    init.add_argument("--name", help="project name (default: the folder's name)")
    init.add_argument(
        "--province", default="Thái Nguyên", help="province, picks the CRS (default Thái Nguyên)"
    )
    init.add_argument("--as-of", type=_date, help="date of the standards (default today)")
    add_verbosity(init)
    init.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    init.set_defaults(handler=init_command)


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} KB"


def pack_command(args: argparse.Namespace) -> int:
    """Run ``geo pack``; return the exit code."""
    level = verbosity(quiet=args.quiet, verbose=args.verbose)
    configure_logging(level)
    folder = args.project or sample_project_dir()
    reuse = not (folder / PROJECT_FILE).is_file() and (folder / "report.html").is_file()
    if reuse:
        made = pack_results(folder, out=args.out)
    else:
        with Steps(13, verbosity=level) as steps:
            made = pack_project(
                folder,
                out=args.out,
                results_dir=args.results,
                as_of=args.as_of,
                pdf=not args.no_pdf,
                steps=steps,
            )
    if level == 0:
        return EXIT_OK
    if made.result is not None:
        from geo.cli import summary  # the verdict table of `geo run`

        print(summary(made.result, made.results_dir, []).rsplit("\n", 1)[0])  # noqa: T201
    for note in made.notes:
        print(f"note: {note}", file=sys.stderr)  # noqa: T201
    files = ", ".join(m.split("/", 1)[1] for m in made.members)
    print(f"{made.path} ({_size(made.path)}): {files}")  # noqa: T201
    return EXIT_OK


def init_command(args: argparse.Namespace) -> int:
    """Run ``geo init``; return the exit code."""
    level = verbosity(quiet=args.quiet, verbose=args.verbose)
    written = init_project(args.folder, name=args.name, province=args.province, as_of=args.as_of)
    missing = missing_layers(args.folder)
    roadmap: tuple[Path, int] | None = None
    problem: GeoInputError | None = None
    if not missing:  # the layers are there already: the roadmap can list what fails now
        try:
            roadmap = prefill_roadmap(args.folder)
        except GeoInputError as error:
            problem = error
    if level == 0:
        return EXIT_OK
    lines = [f"wrote {', '.join(str(p) for p in written)}", ""]
    if missing:
        lines.append(
            f"Chép vào {args.folder} / copy into {args.folder} (then set the field names "
            f"in {PROJECT_FILE}):"
        )
        lines += [f"  {item}" for item in missing]
        lines.append("")
    if problem is not None:
        lines += [
            f"Chưa chạy được / does not run yet: {problem}",
            f"  sửa {PROJECT_FILE} rồi chạy bước 2 / fix {PROJECT_FILE}, then step 2",
            "",
        ]
    if roadmap is not None:
        path, count = roadmap
        lines += (
            [
                f"wrote {path}: {count} dòng, mỗi tiêu chí chưa đạt một dòng / line(s), one per",
                "  failing criterion; điền hạn (deadline) và người phụ trách (owner)",
                "",
            ]
            if count
            else [
                f"wrote {path}: chưa có tiêu chí nào không đạt, chỉ có dòng tiêu đề",
                "  / no criterion fails now, the header only;",
                "  thêm các mục tiêu của kế hoạch / add the plan's targets",
                "",
            ]
        )
    step5 = (
        [f"  5. geo progress {args.folder}   # tiến độ theo lộ trình / progress on the roadmap"]
        if roadmap is not None
        else [f"  5. geo roadmap {args.folder}    # lộ trình / roadmap: failing criteria, owners"]
    )
    lines += [
        "Tiếp theo / next:",
        f"  1. sửa / edit {args.folder / PROJECT_FILE} (name, province, ward_of, [layers.units])",
        f"  2. geo run {args.folder}",
        f"  3. geo template {args.folder}   # bảng số liệu bổ sung theo từng xã, thôn / inputs",
        f"  4. geo pack {args.folder}       # gói gửi thư / the zip for e-mail",
        *step5,
    ]
    print("\n".join(lines))  # noqa: T201
    return EXIT_OK

"""Command line: ``geo run``, ``geo criteria list|show``, ``geo template``.

Exit codes: 0 done (whatever the verdicts), 2 bad input (one line saying
what and where), 1 internal error.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import pkgutil
import sys
import traceback
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from geo import criteria as crit
from geo import history, inputs
from geo.cli_pack import add_verbosity
from geo.engines import DEFAULT_ENGINE, ENGINES
from geo.errors import CriteriaFileError, GeoInputError, ProjectFileError
from geo.labels import STATUS_LABELS
from geo.outputs import default_out_dir, write_csv, write_outputs
from geo.pipeline import RunResult, run
from geo.progress_bar import QUIET, Steps, configure_logging, verbosity
from geo.project import load_project
from geo.resources import sample_project_dir

EXTENSION_PREFIX = "cli_"
"""Modules ``geo.cli_<name>`` add subcommands: each has ``add_parser(commands)``, which adds its
parser and sets ``handler`` (a function of the parsed arguments returning the exit code)."""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

_NEWCOMER_GUIDE = """\
Bắt đầu với xã của bạn / start with your own commune:
  1. geo run                          # thử với mẫu Quyết Thắng / try the bundled sample
  2. geo init du-an/xa-cua-toi        # project.toml có chú thích / a commented project file
  3. chép ranh giới xã, thôn (GeoPackage, Shapefile, GeoJSON, GeoParquet) và dân số (CSV)
     vào du-an/xa-cua-toi, sửa tên trường trong project.toml
     copy the commune and hamlet outlines and the population table there, set the field names
  4. geo run du-an/xa-cua-toi         # → maps/<tên dự án>/map.html, report.xlsx, report.html
  5. geo template du-an/xa-cua-toi    # số liệu không có trên bản đồ / figures no layer holds
  6. geo pack du-an/xa-cua-toi        # một tệp zip để gửi thư / one zip for e-mail

Theo dõi lộ trình / follow a roadmap: geo snapshot, geo roadmap, geo progress, geo history.
Sáp nhập / mergers: geo scenario --grouping FILE | --advise.
Tiêu chuẩn và nguồn / the standards and their sources: geo criteria list, geo criteria show ID.
Mỗi lệnh có --help với ví dụ / every command has --help with examples.
"""

_RUN_EPILOG = """\
Ví dụ / examples:
  geo run                                       # mẫu Quyết Thắng / the bundled sample
  geo run layers/quyet-thang --out maps/qt      # chọn thư mục kết quả / choose the folder
  geo run du-an/xa-cua-toi --as-of 2026-01-01   # tiêu chuẩn từ 2026 / the 2026 standards
  geo run du-an/xa-cua-toi --snapshot           # lưu vào lịch sử / record in the history
  geo run du-an/xa-cua-toi --pdf -v             # in PDF, từng bước / print a PDF, show steps
  geo run du-an/tinh --engine dask --scheduler tcp://may-chu:8786  # cụm dask / a dask cluster

Mã thoát / exit codes: 0 xong (dù đạt hay không) / done, whatever the verdicts;
2 dữ liệu sai (một dòng nói tệp, đối tượng, cách sửa) / bad input; 1 lỗi nội bộ / a bug.
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``geo`` command."""
    parser = argparse.ArgumentParser(
        prog="geo",
        description=(
            "Kiểm tra tiêu chuẩn lên phường và chỉ tiêu theo thôn, xóm / "
            "Check ward standards and hamlet indicators, and map them."
        ),
        epilog=_NEWCOMER_GUIDE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="run a project and write map, tables, workbook, report and GeoPackage",
        description=(
            "Chạy dự án và ghi bản đồ, bảng, sổ Excel, báo cáo và GeoPackage / run a project.\n\n"
            "Runs a project folder (holding project.toml; with none, the bundled sample of\n"
            "Quyết Thắng) and writes map.html, report.xlsx, report.html (report.pdf with\n"
            "--pdf), results.gpkg and the CSV tables to --out, then prints the verdicts."
        ),
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument("project", nargs="?", type=Path, help="project folder")
    run_parser.add_argument("--out", type=Path, help="output folder (default maps/<project>)")
    run_parser.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    run_parser.add_argument(
        "--snapshot",
        action="store_true",
        help="also record every criterion, dated --as-of, in PROJECT/history.sqlite (geo history)",
    )
    run_parser.add_argument(
        "--replace",
        action="store_true",
        help="with --snapshot: replace the snapshot already recorded for that date",
    )
    run_parser.add_argument(
        "--pdf",
        action="store_true",
        help="also print report.pdf with headless Chromium (skipped with a warning without it)",
    )
    run_parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help="read with pyogrio (default) or fiona (slower, same results), or run the land use "
        "on a dask cluster (dask; same results)",
    )
    run_parser.add_argument(
        "--scheduler",
        metavar="URL",
        help="with --engine dask: a running dask scheduler, tcp://HOST:8786 (default: a local "
        "cluster of 2 worker processes)",
    )
    run_parser.add_argument(
        "--parquet",
        action="store_true",
        help="also write units.parquet and hamlets.parquet (GeoParquet) beside results.gpkg",
    )
    add_verbosity(run_parser)
    run_parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    criteria_parser = commands.add_parser(
        "criteria",
        help="list the criteria sets, or show one set or criterion with its sources",
        description="The legal criteria on record, with their thresholds, sources and confidence.",
        epilog=(
            "Examples: geo criteria list --as-of 2025-03-01 | geo criteria show ward-2023 | "
            "geo criteria show ward.population"
        ),
    )
    criteria_commands = criteria_parser.add_subparsers(dest="criteria_command", required=True)
    list_parser = criteria_commands.add_parser("list", help="list the sets (in force on a date)")
    list_parser.add_argument("--as-of", type=_date, help="only the sets in force that day")
    show_parser = criteria_commands.add_parser("show", help="show a set or a criterion")
    show_parser.add_argument("id", help="a set id (ward-2023) or a criterion id (ward.population)")
    show_parser.add_argument("--as-of", type=_date, help="pick the version in force that day")
    for sub in (list_parser, show_parser):
        sub.add_argument("--project", type=Path, help="also load the project's criteria_files")
        sub.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    template_parser = commands.add_parser(
        "template",
        help="write the inputs table to fill in (figures and decisions no layer holds)",
        description=(
            "Write a CSV with one row per unit or hamlet and per input the criteria in force "
            "read (income, poverty rate, budget, recognition decisions …). Fill in value, year "
            "and source, then name the file in project.toml under [inputs]."
        ),
        epilog="Example: geo template layers/quyet-thang --out inputs.csv",
    )
    template_parser.add_argument("project", nargs="?", type=Path, help="project folder")
    template_parser.add_argument(
        "--out", type=Path, help="file to write (default maps/<project>/inputs-template.csv)"
    )
    template_parser.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    template_parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    package = Path(__file__).parent
    for module in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if module.name.startswith(EXTENSION_PREFIX):
            importlib.import_module(f"geo.{module.name}").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    0: done (whatever the verdicts); 2: bad input (project file, data, output
    folder), reported on one line saying which file, key, feature or row, what
    is wrong and what to do; 1: internal error (a bug: rerun with ``--debug``
    for the traceback and report it); 130: interrupted (Ctrl-C), earlier
    outputs left as they were. Tracebacks are printed only with ``--debug``.
    """
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))

    def one_line(error: BaseException) -> str:
        return " ".join(str(error).split()) or type(error).__name__

    try:
        return _run(args)
    except GeoInputError as error:
        if debug:
            traceback.print_exc()
        print(f"geo: error: {one_line(error)}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("geo: interrupted; earlier outputs were left as they were", file=sys.stderr)  # noqa: T201
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence, reported as internal
        if debug:
            traceback.print_exc()
        print(  # noqa: T201
            f"geo: internal error: {type(error).__name__}: {one_line(error)} (rerun with "
            "--debug and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args))
    if args.command == "criteria":
        return _criteria(args)
    if args.command == "template":
        return _template(args)
    if (args.snapshot or args.replace) and args.project is None:
        raise ProjectFileError(
            "--snapshot needs a PROJECT_DIR: the history is kept in the project folder, "
            "and the bundled sample's is read-only"
        )
    level = verbosity(quiet=args.quiet, verbose=args.verbose)
    configure_logging(level)
    folder = args.project or sample_project_dir()
    # reading, analysis, the snapshot, then one step per output file (the total grows if more)
    with Steps(2 + (args.snapshot or args.replace) + 9 + args.pdf, verbosity=level) as steps:
        steps.step("đọc dự án / reading the project")
        project = load_project(folder, as_of=args.as_of)
        steps.step("phân tích / analysis")
        result = run(project, engine=args.engine, scheduler=args.scheduler)
        if args.snapshot or args.replace:
            steps.step("lưu lịch sử / recording the snapshot")
            recorded = history.record(result, replace=args.replace)
        out = args.out or default_out_dir(result)
        written = write_outputs(
            result, out, pdf=args.pdf, parquet=args.parquet, progress=steps.outputs
        )
    if level == QUIET:
        return EXIT_OK
    if args.snapshot or args.replace:
        print(recorded.describe())  # noqa: T201
    print(summary(result, out, written))  # noqa: T201
    return EXIT_OK


def summary(result: RunResult, out: Path, written: Sequence[Path]) -> str:
    """Return the verdict table printed at the end of a run.

    One line per unit for the ward standard (each judged criterion with its
    value and threshold), then the status counts of every criteria set.
    """
    project = result.project
    lines = [
        f"{project.name}: {result.standard.name_vi} (as of {project.as_of.isoformat()})",
    ]
    ward = result.criteria.loc[
        (result.criteria["level"] == "unit") & (result.criteria["set"] == result.standard.id)
    ]
    verdict_of = dict(zip(result.units["id"], result.units["ward_verdict"], strict=True))
    for (ident, name), group in ward.groupby(["id", "name"], sort=False):
        verdict = verdict_of[ident]
        judged = group.loc[group["status"] != "not_assessed"]
        details = [
            f"{row.criterion}={_fmt(row.value)}{row.operator}{_fmt(row.threshold)}:{row.status}"
            for row in judged.itertuples()
        ]
        if len(judged) < len(group):
            details.append(f"{len(group) - len(judged)} not assessed")
        label = STATUS_LABELS[verdict].vi
        lines.append(f"  {ident} {name}: {label} / {verdict} ({', '.join(details)})")
    lines.append("criteria (units and hamlets):")
    for set_id, group in result.criteria.groupby("set", sort=False):
        counts = group["status"].value_counts()
        lines.append(
            f"  {set_id}: "
            + ", ".join(f"{status} {int(counts.get(status, 0))}" for status in STATUS_LABELS)
        )
    if not result.findings.empty:
        lines.append(f"data-quality findings: {len(result.findings)} (see findings.csv)")
    lines.append(f"outputs in {out}: {', '.join(path.name for path in written)}")
    return "\n".join(lines)


def _template(args: argparse.Namespace) -> int:
    project = load_project(args.project or sample_project_dir(), as_of=args.as_of)
    result = run(project)
    out = args.out or default_out_dir(result) / "inputs-template.csv"
    table = inputs.template(result.sets, result.units, result.hamlets)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, out)
    counts = table["level"].value_counts()
    print(  # noqa: T201
        f"{out}: {len(table)} rows ({int(counts.get('unit', 0))} unit, "
        f"{int(counts.get('hamlet', 0))} hamlet) for {', '.join(s.id for s in result.sets)}; "
        "fill in value, year and source, then add to project.toml:\n"
        f'[inputs]\npath = "{out.name}"'
    )
    return EXIT_OK


def _criteria(args: argparse.Namespace) -> int:
    extra = load_project(args.project).criteria_files if args.project else ()
    sets = crit.load_sets(extra)
    if args.criteria_command == "list":
        if args.as_of:
            sets = crit.sets_in_force(sets, args.as_of)
        print("\n".join(describe_set(s) for s in sets))  # noqa: T201
        return EXIT_OK
    if args.as_of:
        sets = [s for s in sets if s.in_force(args.as_of)]
    found = [s for s in sets if s.id == args.id]
    if found:
        print(describe_set(found[0], criteria=True))  # noqa: T201
        return EXIT_OK
    shown = [describe_criterion(c, s) for s in sets for c in s.criteria if c.id == args.id]
    if not shown:
        known = sorted({s.id for s in sets} | {c.id for s in sets for c in s.criteria})
        close = difflib.get_close_matches(args.id, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CriteriaFileError(f"no criteria set or criterion {args.id!r}{hint}")
    print("\n\n".join(shown))  # noqa: T201
    return EXIT_OK


def describe_set(criteria_set: crit.CriteriaSet, *, criteria: bool = False) -> str:
    """Return a set's heading line (and its criteria) for ``geo criteria``."""
    until = criteria_set.in_force_until.isoformat() if criteria_set.in_force_until else "…"
    confidences = Counter(c.confidence for c in criteria_set.criteria)
    counted = ", ".join(f"{confidences[k]} {k}" for k in crit.CONFIDENCES if confidences[k])
    head = (
        f"{criteria_set.id}  [{criteria_set.family}]  {criteria_set.in_force_from} – {until}\n"
        f"  {criteria_set.name_vi}\n  {criteria_set.name_en}\n"
        f"  {criteria_set.document}\n  {len(criteria_set.criteria)} criteria: {counted}"
    )
    if not criteria:
        return head
    notes = [f"  note: {note}" for note in criteria_set.notes]
    body = [describe_criterion(c, criteria_set) for c in criteria_set.criteria]
    return "\n".join([head, *notes, "", *body])


def describe_criterion(criterion: crit.Criterion, criteria_set: crit.CriteriaSet) -> str:
    """Return one criterion with threshold, source and confidence, for ``geo criteria``."""
    if criterion.operator == "is_true":
        rule = "yes / no (có / không)"
    elif criterion.threshold_from:
        factor = f"{criterion.threshold_factor:g} × " if criterion.threshold_factor != 1 else ""
        rule = f"{criterion.operator} {factor}{criterion.threshold_from}"
    elif isinstance(criterion.threshold, dict):
        table = ", ".join(f"{k}: {v:g}" for k, v in criterion.threshold.items())
        rule = f"{criterion.operator} by {criterion.variant} ({table})"
    elif criterion.threshold is None:
        rule = f"{criterion.operator} ? (threshold not on record)"
    else:
        rule = f"{criterion.operator} {criterion.threshold:g}"
    source = criterion.source
    dates = ", ".join(
        f"{label} {day}"
        for label, day in (("in force", source.in_force), ("repealed", source.repealed))
        if day
    )
    lines = [
        f"  {criterion.id} ({criteria_set.id}, level {criterion.level})",
        f"    {criterion.name_vi} / {criterion.name_en}",
        f"    {criterion.indicator} {rule} {criterion.unit_of_measure}",
        f"    source: {source.cite()}" + (f" ({dates})" if dates else ""),
        f"    confidence: {criterion.confidence}",
    ]
    if criterion.note:
        lines.append(f"    note: {criterion.note}")
    if criterion.overridden_by:
        lines.append(f"    overridden by: {criterion.overridden_by}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

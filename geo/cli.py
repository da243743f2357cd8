"""Command line: ``geo run [PROJECT_DIR] [--out DIR] [--as-of YYYY-MM-DD]``.

Exit codes: 0 done (whatever the verdicts), 2 bad input (one line saying
what and where), 1 internal error.
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from geo.errors import GeoInputError
from geo.labels import STATUS_LABELS
from geo.outputs import default_out_dir, write_outputs
from geo.pipeline import RunResult, run
from geo.project import load_project
from geo.resources import sample_project_dir

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


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
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="run a project and write map, tables and GeoPackage",
        description="Run a project folder (holding project.toml); with none, the bundled sample.",
        epilog="Example: geo run layers/quyet-thang --out maps/quyet-thang",
    )
    run_parser.add_argument("project", nargs="?", type=Path, help="project folder")
    run_parser.add_argument("--out", type=Path, help="output folder (default maps/<project>)")
    run_parser.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    run_parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except GeoInputError as error:
        if args.debug:
            traceback.print_exc()
        print(f"geo: error: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    except Exception as error:  # noqa: BLE001 - the last line of defence, reported as internal
        if args.debug:
            traceback.print_exc()
        print(  # noqa: T201
            f"geo: internal error: {type(error).__name__}: {error} (rerun with --debug and "
            "report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    folder = args.project or sample_project_dir()
    project = load_project(folder, as_of=args.as_of)
    result = run(project)
    out = args.out or default_out_dir(result)
    written = write_outputs(result, out)
    print(summary(result, out, written))  # noqa: T201
    return EXIT_OK


def summary(result: RunResult, out: Path, written: Sequence[Path]) -> str:
    """Return the verdict table printed at the end of a run."""
    project = result.project
    lines = [
        f"{project.name}: {result.standard.name_vi} (as of {project.as_of.isoformat()})",
    ]
    rows = result.criteria.loc[result.criteria["level"] == "unit"]
    for (ident, name), group in rows.groupby(["id", "name"], sort=False):
        verdict = result.units.loc[result.units["id"] == ident, "ward_verdict"].iloc[0]
        details = ", ".join(
            f"{row.criterion}={_fmt(row.value)}{row.operator}{_fmt(row.threshold)}:{row.status}"
            for row in group.itertuples()
        )
        lines.append(f"  {ident} {name}: {STATUS_LABELS[verdict].vi} / {verdict} ({details})")
    counts = rows["status"].value_counts()
    lines.append(
        "criteria: "
        + ", ".join(f"{status} {int(counts.get(status, 0))}" for status in STATUS_LABELS)
    )
    if not result.findings.empty:
        lines.append(f"data-quality findings: {len(result.findings)} (see findings.csv)")
    lines.append(f"outputs in {out}: {', '.join(path.name for path in written)}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

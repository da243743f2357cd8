"""Subcommands ``geo snapshot``, ``geo history``, ``geo roadmap`` and ``geo progress``.

Picked up by :mod:`geo.cli` (modules ``geo.cli_<name>`` add subcommands).

- ``geo snapshot PROJECT [--as-of DATE] [--replace]``: run the project and record
  a dated snapshot of every criterion value and status in ``history.sqlite``.
- ``geo history PROJECT [--criterion ID]``: list the snapshots (or one
  criterion's values over time).
- ``geo roadmap PROJECT [--out FILE]``: write the roadmap template, one line
  per criterion that currently fails.
- ``geo progress PROJECT [--out DIR] [--as-of DATE]``: judge each roadmap
  line against the history (met, on track, at risk, late, no data).
"""

from __future__ import annotations

import argparse
import math
from datetime import date
from pathlib import Path
from typing import Any

from geo import history as hist
from geo import progress as prog
from geo.errors import EXIT_OK, ValidationError
from geo.labels import STATUS_LABELS


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def add_parser(commands: Any) -> None:
    """Add the ``snapshot``, ``history``, ``roadmap`` and ``progress`` subcommands."""
    snapshot = commands.add_parser(
        "snapshot",
        help="run a project and record a dated snapshot of every criterion in its history",
        description=(
            "Run the project and record, for its as_of date, the value, threshold, status and "
            "gap of every criterion for every unit and hamlet in PROJECT/history.sqlite. A "
            "snapshot already recorded for that date is replaced only with --replace."
        ),
        epilog="Example: geo snapshot layers/quyet-thang --as-of 2025-03-01",
    )
    snapshot.add_argument("project", type=Path, help="project folder")
    snapshot.add_argument("--as-of", type=_date, help="date of the snapshot, YYYY-MM-DD")
    snapshot.add_argument(
        "--replace", action="store_true", help="replace a snapshot already recorded for that date"
    )
    snapshot.set_defaults(handler=snapshot_command)

    listing = commands.add_parser(
        "history",
        help="list the dated snapshots of a project (or one criterion over time)",
        description="List the snapshots recorded in PROJECT/history.sqlite, oldest first.",
        epilog="Examples: geo history layers/quyet-thang | geo history layers/quyet-thang "
        "--criterion ntm.02",
    )
    listing.add_argument("project", nargs="?", type=Path, help="project folder")
    listing.add_argument("--criterion", help="show this criterion's values at every snapshot")
    listing.set_defaults(handler=history_command)

    roadmap = commands.add_parser(
        "roadmap",
        help="write the roadmap template: every criterion that currently fails",
        description=(
            "Run the project and write a roadmap template with one line per criterion that "
            "fails now (units and hamlets), the threshold as target. Fill in deadline and "
            "owner (and change the target if the plan says so), then save it as "
            "PROJECT/roadmap.csv. An existing file is never overwritten."
        ),
        epilog="Example: geo roadmap layers/quyet-thang --as-of 2026-01-01 --out roadmap-2026.csv",
    )
    roadmap.add_argument("project", nargs="?", type=Path, help="project folder")
    roadmap.add_argument("--out", type=Path, help="file to write (default PROJECT/roadmap.csv)")
    roadmap.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    roadmap.set_defaults(handler=roadmap_command)

    progress = commands.add_parser(
        "progress",
        help="judge each roadmap line against the history: met, on track, at risk, late",
        description=(
            "For each line of PROJECT/roadmap.csv: baseline, latest value, target, the rate "
            "needed from now to the deadline against the rate observed so far, and a status "
            "(met, on track, at risk, late, no data; the rules are printed). With --out, "
            "writes progress.csv, progress-hamlets.csv and trends/<criterion>.svg."
        ),
        epilog="Example: geo progress layers/quyet-thang --out maps/quyet-thang",
    )
    progress.add_argument("project", nargs="?", type=Path, help="project folder")
    progress.add_argument("--out", type=Path, help="also write progress.csv and charts here")
    progress.add_argument(
        "--as-of",
        type=_date,
        help="date of the assessment (default: the project's as_of, else today)",
    )
    progress.add_argument("--roadmap", type=Path, help="roadmap file (default PROJECT/roadmap.csv)")
    progress.set_defaults(handler=progress_command)
    for sub in (snapshot, listing, progress):
        sub.add_argument(
            "--history", type=Path, help="history database (default PROJECT/history.sqlite)"
        )
    for sub in (snapshot, listing, roadmap, progress):
        sub.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def _project(folder: Path | None, as_of: date | None = None) -> Any:
    from geo.project import load_project
    from geo.resources import sample_project_dir

    return load_project(folder or sample_project_dir(), as_of=as_of)


def snapshot_command(args: argparse.Namespace) -> int:
    """Run the project and record its snapshot (``geo snapshot``)."""
    from geo.pipeline import run

    project = _project(args.project, args.as_of)
    result = run(project)
    snapshot = hist.record(result, replace=args.replace, path=args.history)
    print(snapshot.describe())  # noqa: T201
    return EXIT_OK


def history_command(args: argparse.Namespace) -> int:
    """List the snapshots (``geo history``)."""
    project = _project(args.project)
    path = args.history or hist.history_path(project.root)
    print(describe_history(path, project.name, criterion=args.criterion))  # noqa: T201
    return EXIT_OK


def describe_history(path: Path, project_name: str, *, criterion: str | None = None) -> str:
    """Return the listing printed by ``geo history``."""
    table = hist.snapshots(path)
    if table.empty:
        return (
            f"{project_name}: no snapshot in {path} yet; record one with "
            "`geo snapshot PROJECT --as-of YYYY-MM-DD`"
        )
    lines = [f"{project_name}: {len(table)} snapshot(s) in {path}"]
    if criterion is None:
        header = ["as_of", "created_at", "values", "with_value", *STATUS_LABELS, "tool_version"]
        rows = [[str(row[c]) for c in header] for row in table.to_dict("records")]
        lines += _grid(header, rows)
        lines.append(
            "values: criterion rows (units and hamlets); with_value: rows with a known value"
        )
        return "\n".join(lines)
    values = hist.load_values(path, criteria=[criterion])
    if values.empty:
        raise ValidationError(f"{path}: no value of criterion {criterion!r} in any snapshot")
    wide = values.pivot_table(
        index=["level", "id", "name"], columns="as_of", values="value", aggfunc="first"
    )
    statuses = values.pivot_table(
        index=["level", "id", "name"], columns="as_of", values="status", aggfunc="first"
    )
    first = values.iloc[-1]
    lines.append(
        f"{criterion} {first['criterion_vi']} / {first['criterion_en']} "
        f"({first['operator']} {_num(first['threshold'])} {first['unit_of_measure']})"
    )
    days = [str(day) for day in wide.columns]
    rows = []
    for key in wide.index:
        cells = [
            f"{_num(wide.loc[key, day])} {_status_mark(statuses.loc[key, day])}".strip()
            for day in wide.columns
        ]
        rows.append([str(key[0]), str(key[1]), str(key[2]), *cells])
    lines += _grid(["level", "id", "name", *days], rows)
    lines.append("(✓ pass, ✗ fail, blank: not assessed; ? no value)")
    return "\n".join(lines)


def _status_mark(status: object) -> str:
    return {"pass": "✓", "fail": "✗"}.get(str(status), "")


def _num(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    if math.isnan(number):
        return "?"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def roadmap_command(args: argparse.Namespace) -> int:
    """Write the roadmap template (``geo roadmap``)."""
    from geo.pipeline import run

    project = _project(args.project, args.as_of)
    result = run(project)
    out = args.out or prog.roadmap_path(project.root)
    table = prog.write_roadmap_template(result, out)
    counts = table["level"].value_counts()
    if table.empty:
        what = (
            f"no criterion fails on {project.as_of}: the template has only its header; add "
            "lines for the targets of the plan (criterion, id, target, deadline, owner), or "
            "try a later --as-of (standards coming into force)"
        )
    else:
        what = (
            f"{len(table)} line(s) failing on {project.as_of} ({int(counts.get('unit', 0))} unit, "
            f"{int(counts.get('hamlet', 0))} hamlet), the threshold as target; fill in deadline "
            "and owner"
        )
    where = "" if out == prog.roadmap_path(project.root) else f" and save it as {project.root}/"
    print(f"{out}: {what}{where}{prog.ROADMAP_FILE if where else ''}")  # noqa: T201
    return EXIT_OK


def progress_command(args: argparse.Namespace) -> int:
    """Judge the roadmap against the history (``geo progress``)."""
    project = _project(args.project, args.as_of)
    progress = prog.load_progress(project, roadmap=args.roadmap, history=args.history)
    print(prog.format_progress(progress))  # noqa: T201
    if args.out:
        written = prog.write_progress(progress, args.out)
        shown = [p.name for p in written[:2]]
        charts = len(written) - 2
        print(f"outputs in {args.out}: {', '.join(shown)}, trends/ ({charts} charts)")  # noqa: T201
    return EXIT_OK

"""``geo scenario``: merger what-ifs (``--grouping FILE``) and the merger advisor (``--advise``).

Picked up by :mod:`geo.cli` through its ``cli_`` prefix.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from geo import scenario as sc
from geo.errors import EXIT_OK
from geo.names import slug
from geo.outputs import write_csv
from geo.pipeline import run
from geo.project import load_project
from geo.resources import sample_project_dir


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of units, 2 or more")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``scenario`` subcommand to the ``geo`` command line."""
    parser = commands.add_parser(
        "scenario",
        help="merge units (what-if, before/after) or let the advisor propose mergers",
        description=(
            "Build new units from the project's units with a grouping file (CSV with columns "
            "old_id, new_id, new_name; optional share for split units, level = unit | hamlet), "
            "evaluate them against the standards in force and compare them with the old ones; "
            "or, with --advise, find for each unit that fails the ward standard the smallest "
            "mergers of adjacent units that meet it, and propose a grouping of all units."
        ),
        epilog=(
            "Examples: geo scenario layers/quyet-thang --grouping merger.csv --out maps/merger | "
            "geo scenario tests/data/tn-city-2009 --advise --as-of 2026-01-01"
        ),
    )
    parser.add_argument("project", nargs="?", type=Path, help="project folder")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--grouping", type=Path, help="CSV: old_id, new_id, new_name[, share]")
    mode.add_argument(
        "--advise", action="store_true", help="propose mergers that meet the ward standard"
    )
    parser.add_argument("--out", type=Path, help="output folder (default maps/<project>-…)")
    parser.add_argument("--as-of", type=_date, help="date of the standards, YYYY-MM-DD")
    parser.add_argument(
        "--max-size",
        type=_size,
        default=sc.MAX_MERGE_SIZE,
        help=f"advisor: largest candidate merger, in units (default {sc.MAX_MERGE_SIZE})",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``geo scenario`` and return the exit code."""
    project = load_project(args.project or sample_project_dir(), as_of=args.as_of)
    before = run(project)
    if args.advise:
        advice = sc.advise(before, max_size=args.max_size)
        scenario = sc.apply_grouping(
            before,
            advice.grouping,
            source="advice",
            title=f"{project.name} — đề xuất sắp xếp / proposed merger",
        )
        out = args.out or Path.cwd() / "maps" / f"{slug(project.name)}-advice"
        extra: dict[str, Callable[[Path], None]] = {
            "advice.csv": lambda path: write_csv(advice.candidates, path),
            "grouping.csv": lambda path: write_csv(advice.grouping, path),
        }
        written = sc.write_scenario(scenario, out, extra)
        print(advice_summary(advice, scenario, out, written))  # noqa: T201
        return EXIT_OK
    grouping = sc.read_grouping(args.grouping)
    scenario = sc.apply_grouping(before, grouping, source=str(args.grouping))
    out = args.out or Path.cwd() / "maps" / f"{slug(project.name)}-scenario"
    written = sc.write_scenario(scenario, out)
    print(scenario_summary(scenario, out, written))  # noqa: T201
    return EXIT_OK


def scenario_summary(scenario: sc.Scenario, out: Path, written: Sequence[Path]) -> str:
    """Return the table printed after a scenario: one line per new unit, before → after."""
    after = scenario.after
    standard = after.standard
    lines = [
        f"{after.project.name}: {standard.name_vi} (as of {after.project.as_of.isoformat()})",
        f"  {len(scenario.before.units)} old units → {len(after.units)} new units",
    ]
    records = scenario.comparison.to_dict("records")
    for record in records:
        judged = [
            f"{c.id}={_fmt(record[f'{c.id}_value'])}{c.operator}"
            f"{_fmt(record[f'{c.id}_threshold'])}:{record[f'{c.id}_after']}"
            for c in standard.criteria
            if c.applies_to("unit") and record.get(f"{c.id}_after") not in (None, "not_assessed")
        ]
        split = f", split: {record['split_method']}" if record["split_method"] else ""
        area, parts = _fmt(record["area_after_km2"]), _fmt(record["area_before_km2"])
        lines.append(
            f"  {record['new_id']} {record['new_name']} ← {record['old_ids']}{split}: "
            f"area {area} km² (parts {parts}), population {_fmt(record['population_after'])}; "
            f"{', '.join(judged) or 'no criterion judged'} → {record['ward_verdict_after']}"
        )
    found = scenario.after.findings
    kept = found.loc[found["kind"] == "unit_not_grouped"] if not found.empty else found
    if len(kept):
        lines.append(f"  {len(kept)} units not in the grouping were kept as they are")
    lines.append(f"outputs in {out}: {', '.join(path.name for path in written)}")
    return "\n".join(lines)


def advice_summary(
    advice: sc.Advice, scenario: sc.Scenario, out: Path, written: Sequence[Path]
) -> str:
    """Return the advisor's printed summary: criteria considered, candidates, groups, leftovers."""
    before = scenario.before
    failing = advice.candidates["unit_id"].nunique() if len(advice.candidates) else 0
    with_candidates = (
        advice.candidates.loc[advice.candidates["meets"].astype(bool), "unit_id"].nunique()
        if len(advice.candidates)
        else 0
    )
    project = before.project
    lines = [
        f"{project.name}: {before.standard.name_vi} (as of {project.as_of.isoformat()})",
        *[f"  {line}" for line in sc.advice_notes(advice)],
        (
            f"  {failing} of {len(before.units)} units fail alone; {with_candidates} have a "
            f"merger of up to {advice.max_size} adjacent units that meets the standards "
            "(advice.csv)"
        ),
    ]
    for row in advice.groups.loc[advice.groups["n_units"] > 1].itertuples(index=False):
        lines.append(  # noqa: PERF401 - one formatted line each
            f"  {row.new_id} {row.new_name}: {row.members}"
            + ("" if row.meets else " (does not meet)")
        )
    lines.append(f"outputs in {out}: {', '.join(path.name for path in written)}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")

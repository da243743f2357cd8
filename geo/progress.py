"""Roadmap and progress: targets with owners and deadlines, judged against the history.

A roadmap is a CSV file in the project folder (``roadmap.csv``, UTF-8; Excel's
"CSV UTF-8" or an ``.xlsx`` file also work), one line per target::

    criterion,level,id,name,target,deadline,owner,note
    ntm.02,unit,05491,Xã Quyết Thắng,70,2025-12-31,Phó Chủ tịch UBND xã,…

``criterion``, ``id``, ``target``, ``deadline`` and ``owner`` are required
columns; ``level`` (``unit`` or ``hamlet``; inferred from the id when empty),
``name``, ``operator`` (the direction: ``>=``, ``<=`` …, default the
criterion's) and ``note`` are optional; other columns are ignored. Targets may
be written the Vietnamese way (``21.000``); deadlines as ``2025-12-31`` or
``31/12/2025``. ``geo roadmap`` writes the template, one line per criterion
that currently fails, with the threshold as target.

Each line is compared with the snapshots of :mod:`geo.history` up to the date
of the assessment (``as_of``: ``--as-of``, else the project's ``as_of``, else
today). The *baseline* is the earliest snapshot holding a value for the line's
criterion and feature, the *latest* the most recent one. Rates are changes per
year (365.25 days). The status follows these rules, in this order
(:data:`RULES`):

1. ``no_data``: no snapshot up to ``as_of`` holds a value.
2. ``met``: the latest value meets the target, in the criterion's direction
   (``>=``, ``>``, ``<=``, ``<``; a yes/no criterion is met by 1).
3. ``late``: the deadline has passed (is before ``as_of``) and the target is
   not met.
4. ``on_track``: the straight line through baseline and latest value,
   extended to the deadline, reaches the target (a projection within 1e-9 of
   the target reaches it).
5. ``at_risk``: otherwise, including when only one snapshot holds a value
   (the observed rate is then unknown).

``rate_needed_per_year`` is the change per year needed from ``as_of`` to the
deadline to go from the latest value to the target.

Examples
--------
>>> from datetime import date
>>> classify(50.0, date(2023, 1, 1), 60.0, date(2024, 1, 1), target=70.0,
...          deadline=date(2025, 1, 1), operator=">=", today=date(2024, 1, 1)).status
'on_track'
"""

from __future__ import annotations

import difflib
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from xml.sax.saxutils import escape

import pandas as pd

from geo import history as hist
from geo.criteria import COMPARISONS
from geo.errors import LayerReadError, OutputError, ValidationError
from geo.labels import PROGRESS_STATUS_LABELS
from geo.names import fold
from geo.read import parse_number

if TYPE_CHECKING:
    from geo.criteria import CriteriaSet
    from geo.pipeline import RunResult
    from geo.project import Project

ROADMAP_FILE = "roadmap.csv"
"""Name of the roadmap in the project folder."""
ROADMAP_COLUMNS = ["criterion", "level", "id", "name", "target", "deadline", "owner", "note"]
"""The columns a roadmap line may fill (:func:`read_roadmap` keeps these, plus ``operator``)."""
REQUIRED_COLUMNS = ("criterion", "id", "target", "deadline", "owner")
TEMPLATE_COLUMNS = [
    "level",
    "id",
    "name",
    "criterion",
    "criterion_vi",
    "criterion_en",
    "operator",
    "value_now",
    "value_date",
    "unit_of_measure",
    "target",
    "deadline",
    "owner",
    "note",
]
"""Columns of the roadmap template (``geo roadmap``): the roadmap's, and what fails now."""
STATUSES = ("met", "on_track", "at_risk", "late", "no_data")
"""Progress statuses, in legend order (labels: :data:`geo.labels.PROGRESS_STATUS_LABELS`)."""
SEVERITY = ("late", "at_risk", "no_data", "on_track", "met")
"""Statuses from the most to the least urgent: a feature shows its most urgent line's."""
STATUS_COLOURS = {
    "met": "#1a9850",
    "on_track": "#91cf60",
    "at_risk": "#fc8d59",
    "late": "#d73027",
    "no_data": "#bdbdbd",
}
"""Map and chart colour of each progress status."""
RULES: dict[str, str] = {
    "no_data": "no snapshot up to the date of the assessment holds a value",
    "met": "the latest value meets the target (≥ or ≤, as the criterion)",
    "late": "the deadline has passed and the latest value does not meet the target",
    "on_track": (
        "the line through the baseline and the latest value, extended to the deadline, "
        "reaches the target"
    ),
    "at_risk": (
        "otherwise: the observed rate falls short, or only one snapshot holds a value "
        "(rate unknown)"
    ),
}
"""The status rules, applied in this order (English; Vietnamese in :data:`RULES_VI`)."""
RULES_VI: dict[str, str] = {
    "no_data": "chưa có lần chụp số liệu nào có giá trị đến ngày đánh giá",
    "met": "giá trị mới nhất đạt mục tiêu (≥ hoặc ≤ theo tiêu chí)",
    "late": "đã quá hạn mà giá trị mới nhất chưa đạt mục tiêu",
    "on_track": "kéo dài đường thẳng qua giá trị ban đầu và mới nhất đến hạn thì đạt mục tiêu",
    "at_risk": (
        "các trường hợp còn lại: tốc độ chưa đủ, hoặc mới có một lần chụp (chưa biết tốc độ)"
    ),
}
"""The status rules in Vietnamese."""
PROGRESS_COLUMNS = [
    "criterion",
    "criterion_vi",
    "criterion_en",
    "level",
    "id",
    "name",
    "operator",
    "target",
    "unit_of_measure",
    "deadline",
    "owner",
    "baseline",
    "baseline_date",
    "latest",
    "latest_date",
    "snapshots",
    "rate_needed_per_year",
    "rate_observed_per_year",
    "projected",
    "status",
    "status_vi",
    "rule",
    "note",
]
"""Columns of :func:`progress_table` (and ``progress.csv``)."""
HAMLET_COLUMNS = [
    "criterion",
    "criterion_vi",
    "unit_id",
    "id",
    "name",
    "latest",
    "latest_date",
    "operator",
    "target",
    "target_from",
    "shortfall",
    "unit_of_measure",
    "owner",
    "deadline",
    "line_status",
]
"""Columns of :func:`hamlet_view` (and ``progress-hamlets.csv``)."""
FEATURE_COLUMNS = ["level", "id", "name", "status", "status_vi", "status_en", "colour",
                   "owner", "deadline", "lines", "summary"]  # fmt: skip
"""Columns of :func:`feature_progress` (one row per feature with a roadmap line)."""
DAYS_PER_YEAR = 365.25
PROJECTION_TOLERANCE = 1e-9
"""A projection this close to the target (relative) reaches it."""
_TRUE = {"co", "yes", "true", "dat", "x", "1"}
_FALSE = {"khong", "no", "false", "chua dat", "0"}
_DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


class RoadmapError(ValidationError):
    """The roadmap file is unusable: a column, a target, a deadline or an id is wrong."""


# ----------------------------------------------------------------------------- the roadmap


def roadmap_path(project_root: str | Path) -> Path:
    """Return the roadmap of a project folder (``<folder>/roadmap.csv``)."""
    return Path(project_root) / ROADMAP_FILE


def read_roadmap(path: str | Path) -> pd.DataFrame:
    """Read and check a roadmap file (CSV or XLSX).

    Empty lines are skipped. Targets may be written the Vietnamese way
    (``21.000``, ``2,5``) or as yes/no (``có``/``không``); deadlines as
    ``YYYY-MM-DD`` or ``DD/MM/YYYY``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (line number in the file, the header being 1),
        :data:`ROADMAP_COLUMNS` and ``operator`` (empty when not given);
        ``target`` float, ``deadline`` ``datetime.date``.

    Raises
    ------
    RoadmapError
        If a required column is missing, or a line has no criterion or id, a
        target that is not a number, a deadline that is not a date, a level
        that is not ``unit``/``hamlet`` or an unknown operator.
    LayerReadError
        If the file cannot be read.
    """
    path = Path(path)
    where = f"{path}"
    table = _read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        hints = [
            f"{name} (found {close[0]!r}?)" if close else name
            for name in missing
            for close in [difflib.get_close_matches(name, list(table.columns), n=1)]
        ]
        raise RoadmapError(
            f"{where}: column {', '.join(hints)} missing; a roadmap needs the columns "
            f"{', '.join(REQUIRED_COLUMNS)} (columns found: {', '.join(table.columns) or 'none'})"
        )
    rows = []
    for number, line in enumerate(table.to_dict("records"), start=2):
        cells = {key: str(value).strip() for key, value in line.items()}
        if not any(cells.get(c) for c in REQUIRED_COLUMNS):
            continue
        at = f"{where}: row {number}"
        for column in ("criterion", "id"):
            if not cells.get(column):
                raise RoadmapError(f"{at}: {column} is empty; fill it in or delete the row")
        level = cells.get("level", "")
        if level not in ("", "unit", "hamlet"):
            raise RoadmapError(f"{at}: level {level!r} must be unit, hamlet or empty")
        operator = cells.get("operator", "")
        if operator == "is_true":
            operator = ">="
        if operator not in ("", *COMPARISONS):
            raise RoadmapError(
                f"{at}: operator {operator!r} must be one of {', '.join(COMPARISONS)} or empty"
            )
        rows.append(
            {
                "row": number,
                "criterion": cells["criterion"],
                "level": level,
                "id": cells["id"],
                "name": cells.get("name", ""),
                "target": _target(cells["target"], at),
                "deadline": parse_deadline(cells["deadline"], at),
                "owner": cells.get("owner", ""),
                "note": cells.get("note", ""),
                "operator": operator,
            }
        )
    return pd.DataFrame(rows, columns=["row", *ROADMAP_COLUMNS, "operator"])


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise LayerReadError(
            f"{path}: no roadmap here; write the template with `geo roadmap PROJECT`, then fill "
            "in target, deadline and owner"
        )
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            table = pd.read_excel(path, dtype=str).fillna("")
        else:
            from io import StringIO

            from geo.encoding import decode_bytes

            text, _ = decode_bytes(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
            table = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise LayerReadError(f"{path}: cannot read the roadmap: {error}") from error
    table.columns = [str(column).strip() for column in table.columns]
    return table


def _target(text: str, at: str) -> float:
    if not text:
        raise RoadmapError(f"{at}: target is empty; write the value to reach (e.g. 21000)")
    folded = fold(text)
    if folded in _TRUE:
        return 1.0
    if folded in _FALSE:
        return 0.0
    try:
        value = parse_number(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise RoadmapError(f"{at}: target {text!r} is not a number")
    return value


def parse_deadline(text: str, where: str = "deadline") -> date:
    """Parse a deadline written ``YYYY-MM-DD`` (also with a time, from Excel) or ``DD/MM/YYYY``.

    Examples
    --------
    >>> parse_deadline("31/12/2025"), parse_deadline("2025-12-31 00:00:00")
    (datetime.date(2025, 12, 31), datetime.date(2025, 12, 31))
    """
    text = text.strip()
    try:
        if not text:
            raise ValueError
        match = _DATE_DMY.match(text)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(text[:10])
    except ValueError:
        raise RoadmapError(
            f"{where}: deadline {text!r} is not a date; write YYYY-MM-DD (or DD/MM/YYYY)"
        ) from None


def roadmap_template(result: RunResult | None = None) -> pd.DataFrame:
    """Return the roadmap template: one line per criterion that fails now, unit and hamlet.

    Parameters
    ----------
    result : RunResult, optional
        A run; without one, the template has the columns and no line.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEMPLATE_COLUMNS`: the failing criteria with their
        current value, and the threshold as ``target`` (1 for a yes/no
        criterion); ``deadline``, ``owner`` and ``note`` empty, to fill in.
    """
    if result is None:
        return pd.DataFrame(columns=TEMPLATE_COLUMNS)
    failing = result.criteria.loc[result.criteria["status"] == "fail"].copy()
    failing["order"] = failing["level"].map({"unit": 0, "hamlet": 1})
    failing = failing.sort_values(["order", "criterion", "id"], kind="stable")
    yes_no = failing["operator"] == "is_true"
    return pd.DataFrame(
        {
            "level": failing["level"],
            "id": failing["id"].astype(str),
            "name": failing["name"],
            "criterion": failing["criterion"],
            "criterion_vi": failing["criterion_vi"],
            "criterion_en": failing["criterion_en"],
            "operator": failing["operator"].where(~yes_no, ">="),
            "value_now": failing["value"],
            "value_date": result.project.as_of.isoformat(),
            "unit_of_measure": failing["unit_of_measure"],
            "target": failing["threshold"].where(~yes_no, 1.0),
            "deadline": "",
            "owner": "",
            "note": "",
        },
        columns=TEMPLATE_COLUMNS,
    ).reset_index(drop=True)


def write_roadmap_template(
    result: RunResult | None, path: str | Path, *, overwrite: bool = False
) -> pd.DataFrame:
    """Write :func:`roadmap_template` as CSV (UTF-8 with BOM, for Excel); return its lines.

    Raises
    ------
    OutputError
        If ``path`` exists and ``overwrite`` is false (a roadmap is never
        overwritten silently), or it cannot be written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(
            f"{path}: a roadmap is already there; it was left as it is (write the template "
            "elsewhere with --out FILE)"
        )
    table = roadmap_template(result)
    from geo.outputs import write_csv

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(table, path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write the roadmap template: {error}") from error
    return table


# ----------------------------------------------------------------------------- classification


class Classification(NamedTuple):
    """The status of one roadmap line, and the figures behind it."""

    status: str
    rate_needed_per_year: float
    rate_observed_per_year: float
    projected: float
    rule: str


def meets(value: float, target: float, operator: str) -> bool:
    """Whether ``value`` meets ``target`` in the direction ``operator`` (is_true as ``>=``)."""
    compare = COMPARISONS.get(operator, COMPARISONS[">="])
    return bool(compare(value, target))


def classify(
    baseline: float,
    baseline_date: date | None,
    latest: float,
    latest_date: date | None,
    *,
    target: float,
    deadline: date,
    operator: str,
    today: date,
) -> Classification:
    """Classify one roadmap line (rules in the module docstring and :data:`RULES`).

    Parameters
    ----------
    baseline, latest : float
        The earliest and the most recent value on record (NaN when none).
    baseline_date, latest_date : datetime.date or None
    target : float
    deadline : datetime.date
    operator : str
        The direction: ``>=``, ``>``, ``<=``, ``<`` (``is_true`` as ``>=``).
    today : datetime.date
        The date of the assessment.

    Returns
    -------
    Classification
        ``rate_needed_per_year``: change per year needed from ``today`` to the
        deadline (0 when met, NaN when late or without data);
        ``rate_observed_per_year``: from baseline to latest (NaN with one
        snapshot); ``projected``: the latest value extended to the deadline
        at the observed rate; ``rule``: the reason, with the figures.

    Examples
    --------
    >>> from datetime import date
    >>> classify(10.0, date(2023, 1, 1), 8.0, date(2024, 1, 1), target=5.0,
    ...          deadline=date(2025, 1, 1), operator="<=", today=date(2024, 6, 1)).status
    'at_risk'
    """
    direction = "≥" if operator in (">=", "is_true") else operator.replace("<=", "≤")
    if latest_date is None or math.isnan(latest):
        return Classification(
            "no_data", math.nan, math.nan, math.nan, f"no value on record up to {today} → no data"
        )
    observed = math.nan
    if baseline_date is not None and latest_date > baseline_date:
        observed = (latest - baseline) / ((latest_date - baseline_date).days / DAYS_PER_YEAR)
    now = f"latest {_num(latest)} ({latest_date})"
    if meets(latest, target, operator):
        return Classification(
            "met", 0.0, observed, math.nan, f"{now} {direction} target {_num(target)} → met"
        )
    if deadline < today:
        return Classification(
            "late",
            math.nan,
            observed,
            math.nan,
            f"deadline {deadline} passed ({today}); {now} not {direction} {_num(target)} → late",
        )
    left = (deadline - today).days / DAYS_PER_YEAR
    needed = (target - latest) / left if left > 0 else math.copysign(math.inf, target - latest)
    if math.isnan(observed):
        return Classification(
            "at_risk",
            needed,
            observed,
            math.nan,
            f"one snapshot only ({latest_date}): observed rate unknown; {now}, target "
            f"{direction} {_num(target)} by {deadline} → at risk",
        )
    assert baseline_date is not None
    span = (latest_date - baseline_date).days
    projected = latest + (latest - baseline) * (deadline - latest_date).days / span
    reaches = meets(projected, target, operator) or (
        operator in (">=", "<=")
        and math.isclose(
            projected, target, rel_tol=PROJECTION_TOLERANCE, abs_tol=PROJECTION_TOLERANCE
        )
    )
    status = "on_track" if reaches else "at_risk"
    verdict = direction if reaches else f"not {direction}"
    rule = (
        f"baseline {_num(baseline)} ({baseline_date}) → {now}: {_signed(observed)}/year; "
        f"extended to {deadline}: {_num(projected)} {verdict} {_num(target)} → "
        f"{status.replace('_', ' ')}"
    )
    return Classification(status, needed, observed, projected, rule)


# ----------------------------------------------------------------------------- progress


def progress_table(
    roadmap: pd.DataFrame,
    values: pd.DataFrame,
    *,
    as_of: date,
    sets: Iterable[CriteriaSet] = (),
) -> pd.DataFrame:
    """Judge every roadmap line against the history.

    Parameters
    ----------
    roadmap : pandas.DataFrame
        As read by :func:`read_roadmap`.
    values : pandas.DataFrame
        The history (:func:`geo.history.load_values`); snapshots after
        ``as_of`` are ignored.
    as_of : datetime.date
        The date of the assessment.
    sets : iterable of CriteriaSet, optional
        Criteria sets, for the names and direction of criteria the history
        does not hold yet.

    Returns
    -------
    pandas.DataFrame
        One row per roadmap line, columns :data:`PROGRESS_COLUMNS`, in the
        roadmap's order.

    Raises
    ------
    RoadmapError
        If a line names a criterion that is neither in the history nor in the
        criteria sets, or (when the history holds snapshots) an id that no
        snapshot holds; the message names the row and the closest matches.
    """
    values = values.loc[values["as_of"] <= as_of]
    info = _criterion_info(values, sets)
    known_ids = _known_ids(values)
    rows = []
    for line in roadmap.to_dict("records"):
        at = f"roadmap row {line['row']}"
        criterion = str(line["criterion"])
        if criterion not in info:
            close = difflib.get_close_matches(criterion, list(info), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise RoadmapError(f"{at}: criterion {criterion!r} is not on record{hint}")
        level = _level(line, known_ids, at)
        ident = str(line["id"])
        series = values.loc[
            (values["criterion"] == criterion)
            & (values["level"] == level)
            & (values["id"] == ident)
            & values["value"].notna()
        ].sort_values("as_of")
        meta = info[criterion]
        operator = line.get("operator") or meta["operator"]
        if operator == "is_true":
            operator = ">="
        names = values.loc[(values["level"] == level) & (values["id"] == ident), "name"]
        name = line.get("name") or (str(names.iloc[-1]) if len(names) else "")
        if series.empty:
            baseline = latest = math.nan
            baseline_date = latest_date = None
        else:
            baseline, latest = float(series["value"].iloc[0]), float(series["value"].iloc[-1])
            baseline_date, latest_date = series["as_of"].iloc[0], series["as_of"].iloc[-1]
        judged = classify(
            baseline,
            baseline_date,
            latest,
            latest_date,
            target=float(line["target"]),
            deadline=line["deadline"],
            operator=operator,
            today=as_of,
        )
        rows.append(
            {
                "criterion": criterion,
                "criterion_vi": meta["criterion_vi"],
                "criterion_en": meta["criterion_en"],
                "level": level,
                "id": ident,
                "name": name,
                "operator": operator,
                "target": float(line["target"]),
                "unit_of_measure": meta["unit_of_measure"],
                "deadline": line["deadline"],
                "owner": line["owner"],
                "baseline": baseline,
                "baseline_date": baseline_date,
                "latest": latest,
                "latest_date": latest_date,
                "snapshots": len(series),
                "rate_needed_per_year": judged.rate_needed_per_year,
                "rate_observed_per_year": judged.rate_observed_per_year,
                "projected": judged.projected,
                "status": judged.status,
                "status_vi": PROGRESS_STATUS_LABELS[judged.status].vi,
                "rule": judged.rule,
                "note": line.get("note", ""),
            }
        )
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


def _criterion_info(values: pd.DataFrame, sets: Iterable[CriteriaSet]) -> dict[str, dict[str, str]]:
    """Return name, direction and unit of each criterion: the latest snapshot's, else the sets'."""
    info: dict[str, dict[str, str]] = {}
    for criteria_set in sets:
        for criterion in criteria_set.criteria:
            info[criterion.id] = {
                "criterion_vi": criterion.name_vi,
                "criterion_en": criterion.name_en,
                "operator": criterion.operator,
                "unit_of_measure": criterion.unit_of_measure,
            }
    latest = values.sort_values("as_of").drop_duplicates("criterion", keep="last")
    for row in latest.itertuples(index=False):
        info[str(row.criterion)] = {
            "criterion_vi": str(row.criterion_vi or ""),
            "criterion_en": str(row.criterion_en or ""),
            "operator": str(row.operator or ">="),
            "unit_of_measure": str(row.unit_of_measure or ""),
        }
    return info


def _known_ids(values: pd.DataFrame) -> dict[str, set[str]]:
    return {
        level: set(values.loc[values["level"] == level, "id"].astype(str))
        for level in ("unit", "hamlet")
    }


def _level(line: Mapping[Any, Any], known: dict[str, set[str]], at: str) -> str:
    """Return the line's level (inferred from the id when empty), checking the id is known."""
    level = str(line.get("level") or "")
    ident = str(line["id"])
    if not known["unit"] and not known["hamlet"]:
        return level or "unit"
    levels = [lvl for lvl in ("unit", "hamlet") if ident in known[lvl]]
    if level and level in levels:
        return level
    if not level and len(levels) == 1:
        return levels[0]
    if not level and levels:
        raise RoadmapError(f"{at}: id {ident!r} is both a unit and a hamlet; fill in level")
    candidates = sorted(known[level] if level else known["unit"] | known["hamlet"])
    close = difflib.get_close_matches(ident, candidates, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    where = f"{level} " if level else ""
    raise RoadmapError(f"{at}: no {where}id {ident!r} in the history{hint}")


def hamlet_view(progress: pd.DataFrame, values: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    """List the hamlets that hold a roadmap criterion back.

    For each criterion of the roadmap measured per hamlet, every hamlet whose
    latest value (up to ``as_of``) does not meet its target: the target of its
    own roadmap line (the one with the nearest deadline), else that of its
    unit's line, else the legal threshold.

    Parameters
    ----------
    progress : pandas.DataFrame
        :func:`progress_table`.
    values : pandas.DataFrame
        The history.
    as_of : datetime.date

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HAMLET_COLUMNS`, by criterion and largest shortfall
        first; ``target_from`` is ``hamlet line``, ``unit line`` or
        ``threshold``; ``owner``, ``deadline`` and ``line_status`` come from
        the line the target was taken from (empty for a threshold).
    """
    values = values.loc[(values["as_of"] <= as_of) & (values["level"] == "hamlet")]
    values = values.loc[values["value"].notna()]
    latest = values.sort_values("as_of").drop_duplicates(["criterion", "id"], keep="last")
    rows = []
    for criterion in dict.fromkeys(progress["criterion"]):
        lines = progress.loc[progress["criterion"] == criterion].sort_values("deadline")
        own = lines.loc[lines["level"] == "hamlet"].drop_duplicates("id").set_index("id")
        units = lines.loc[lines["level"] == "unit"].drop_duplicates("id").set_index("id")
        for row in latest.loc[latest["criterion"] == criterion].itertuples(index=False):
            ident, unit_id = str(row.id), row.unit_id
            if ident in own.index:
                line, source = own.loc[ident], "hamlet line"
            elif unit_id in units.index:
                line, source = units.loc[unit_id], "unit line"
            elif len(units) == 1 and (unit_id is None or pd.isna(unit_id)):
                line, source = units.iloc[0], "unit line"
            else:
                line, source = None, "threshold"
            if line is not None:
                target, operator = float(line["target"]), str(line["operator"])
            else:
                target, operator = float(row.threshold), str(row.operator or ">=")
                if math.isnan(target):
                    continue
            if operator == "is_true":
                operator = ">="
            value = float(row.value)
            if meets(value, target, operator):
                continue
            rows.append(
                {
                    "criterion": criterion,
                    "criterion_vi": row.criterion_vi,
                    "unit_id": unit_id,
                    "id": ident,
                    "name": row.name,
                    "latest": value,
                    "latest_date": row.as_of,
                    "operator": operator,
                    "target": target,
                    "target_from": source,
                    "shortfall": abs(target - value),
                    "unit_of_measure": row.unit_of_measure,
                    "owner": "" if line is None else line["owner"],
                    "deadline": None if line is None else line["deadline"],
                    "line_status": "" if line is None else line["status"],
                }
            )
    table = pd.DataFrame(rows, columns=HAMLET_COLUMNS)
    if table.empty:
        return table
    order = {c: i for i, c in enumerate(dict.fromkeys(progress["criterion"]))}
    table["order"] = table["criterion"].map(order)
    table = table.sort_values(["order", "shortfall", "id"], ascending=[True, False, True])
    return table.drop(columns="order").reset_index(drop=True)


def feature_progress(progress: pd.DataFrame) -> pd.DataFrame:
    """Summarise the roadmap per feature, for the map: status, owner and deadline.

    A feature with several lines takes the status of its most urgent one
    (:data:`SEVERITY`: late, at risk, no data, on track, met), whose owner
    and deadline are shown.

    Parameters
    ----------
    progress : pandas.DataFrame
        :func:`progress_table`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FEATURE_COLUMNS`, one row per (level, id) with a
        roadmap line; ``deadline`` as ``YYYY-MM-DD``. ``lines`` is a list of
        dicts (criterion, criterion_vi, target, operator, deadline, owner,
        latest, status), most urgent first; every cell is JSON-ready.
        ``summary`` is the same as text, one line per roadmap line.
    """
    rows = []
    rank = {status: i for i, status in enumerate(SEVERITY)}
    for (level, ident), group in progress.groupby(["level", "id"], sort=False):
        ordered = group.assign(rank=group["status"].map(rank)).sort_values(
            ["rank", "deadline"], kind="stable"
        )
        records = _records(ordered)
        first = records[0]
        lines = [
            {
                "criterion": row["criterion"],
                "criterion_vi": row["criterion_vi"],
                "operator": row["operator"],
                "target": float(row["target"]),
                "deadline": row["deadline"].isoformat(),
                "owner": row["owner"],
                "latest": None if math.isnan(row["latest"]) else float(row["latest"]),
                "status": row["status"],
            }
            for row in records
        ]
        summary = "\n".join(
            f"{line['criterion']} {line['criterion_vi']}: "
            f"{_num(line['latest'] if line['latest'] is not None else math.nan)} → "
            f"{_direction(str(line['operator']))} {_num(float(line['target']))} "
            f"by {line['deadline']} ({line['owner'] or '?'}): "
            f"{PROGRESS_STATUS_LABELS[str(line['status'])].vi} / "
            f"{PROGRESS_STATUS_LABELS[str(line['status'])].en}"
            for line in lines
        )
        label = PROGRESS_STATUS_LABELS[first["status"]]
        rows.append(
            {
                "level": level,
                "id": ident,
                "name": first["name"],
                "status": first["status"],
                "status_vi": label.vi,
                "status_en": label.en,
                "colour": STATUS_COLOURS[first["status"]],
                "owner": first["owner"],
                "deadline": first["deadline"].isoformat(),
                "lines": lines,
                "summary": summary,
            }
        )
    return pd.DataFrame(rows, columns=FEATURE_COLUMNS)


# ----------------------------------------------------------------------------- trend charts


def trend_svg(
    criterion: str, progress: pd.DataFrame, values: pd.DataFrame, *, as_of: date | None = None
) -> str:
    """Draw one criterion's roadmap lines over time as a small SVG chart.

    One coloured series per roadmap line (its values at each snapshot), a
    diamond at the target on the deadline, a dashed segment extending the
    observed rate from the latest value to the deadline, and a grey vertical
    line at ``as_of``. The legend gives each line's feature, target, deadline,
    owner and status.

    Parameters
    ----------
    criterion : str
        A criterion id of the roadmap.
    progress : pandas.DataFrame
        :func:`progress_table`.
    values : pandas.DataFrame
        The history.
    as_of : datetime.date, optional
        Draws the "today" line.

    Returns
    -------
    str
        A standalone SVG document (UTF-8 text, no script, no external reference).
    """
    lines = progress.loc[progress["criterion"] == criterion].reset_index(drop=True)
    if lines.empty:
        raise KeyError(f"no roadmap line for criterion {criterion!r}")
    if as_of is not None:
        values = values.loc[values["as_of"] <= as_of]
    records = _records(lines)
    series: list[list[tuple[date, float]]] = []
    for line in records:
        found = values.loc[
            (values["criterion"] == criterion)
            & (values["level"] == line["level"])
            & (values["id"] == line["id"])
            & values["value"].notna()
        ].sort_values("as_of")
        series.append(list(zip(found["as_of"], found["value"].astype(float), strict=True)))
    first = records[0]
    unit = str(first["unit_of_measure"] or "")
    title = f"{criterion} {first['criterion_vi']} / {first['criterion_en']}" + (
        f" ({unit})" if unit else ""
    )
    days = [d for s in series for d, _ in s] + list(lines["deadline"])
    if as_of is not None:
        days.append(as_of)
    ys = [v for s in series for _, v in s] + list(lines["target"].astype(float))
    ys += [p for p in lines["projected"].astype(float) if not math.isnan(p)]
    start, end = min(days), max(days)
    x0, x1 = start.toordinal() - 30, end.toordinal() + 30
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.08 or max(abs(high) * 0.1, 1.0)
    ticks = _nice_ticks(low - pad, high + pad)
    y0, y1 = min(ticks[0], low - pad), max(ticks[-1], high + pad)

    width, left, right, top, plot_h = 640, 64, 16, 34, 170
    key_y = top + plot_h + 32
    legend_top = key_y + 22
    height = legend_top + 32 * len(lines)

    def px(day: date) -> float:
        return left + (day.toordinal() - x0) / (x1 - x0) * (width - left - right)

    def py(value: float) -> float:
        return top + (y1 - value) / (y1 - y0) * plot_h

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
        ),
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_chart_desc(lines))}</desc>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in ticks:
        if y0 <= tick <= y1:
            y = py(tick)
            out.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                'stroke="#e0e0e0"/>'
            )
            out.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                f"{escape(_num(tick))}</text>"
            )
    for year in range(date.fromordinal(x0).year + 1, date.fromordinal(x1).year + 1):
        x = px(date(year, 1, 1))
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#eeeeee"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" fill="#555">'
            f"{year}</text>"
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{plot_h}" '
        'fill="none" stroke="#999"/>'
    )
    if as_of is not None:
        x = px(as_of)
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#777" '
            'stroke-dasharray="2 3"/>'
        )
        out.append(f'<text x="{x + 3:.1f}" y="{top + 10}" fill="#555">{as_of.isoformat()}</text>')
    for i, (line, points) in enumerate(zip(records, series, strict=True)):
        colour = _PALETTE[i % len(_PALETTE)]
        status, deadline, target = line["status"], line["deadline"], float(line["target"])
        out.append(f'<g class="series" data-id="{escape(str(line["id"]))}">')
        if points:
            coords = " ".join(f"{px(d):.1f},{py(v):.1f}" for d, v in points)
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            out += [
                f'<circle cx="{px(d):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"/>'
                for d, v in points
            ]
        projected = float(line["projected"])
        if points and not math.isnan(projected) and status in ("on_track", "at_risk"):
            last_day, last = points[-1]
            out.append(
                f'<line class="projection" x1="{px(last_day):.1f}" y1="{py(last):.1f}" '
                f'x2="{px(deadline):.1f}" y2="{py(projected):.1f}" stroke="{colour}" '
                'stroke-width="1.5" stroke-dasharray="5 4"/>'
            )
        tx, ty = px(deadline), py(target)
        out.append(
            f'<path class="target" d="M{tx:.1f},{ty - 6:.1f} L{tx + 6:.1f},{ty:.1f} '
            f'L{tx:.1f},{ty + 6:.1f} L{tx - 6:.1f},{ty:.1f} Z" fill="#ffffff" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append("</g>")
        y = legend_top + 32 * i
        label = PROGRESS_STATUS_LABELS[status]
        text = (
            f"{line['id']} {line['name']}: {_direction(line['operator'])} {_num(target)} "
            f"by {deadline} — {label.vi} / {label.en}"
        )
        owner = f"phụ trách / responsible: {line['owner'] or '?'}"
        out.append(
            f'<line x1="{left - 40}" y1="{y - 4}" x2="{left - 24}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append(
            f'<rect x="{left - 20}" y="{y - 9}" width="10" height="10" '
            f'fill="{STATUS_COLOURS[status]}"/>'
        )
        out.append(f'<text x="{left - 4}" y="{y}">{escape(_short(text, 100))}</text>')
        out.append(
            f'<text x="{left - 4}" y="{y + 14}" fill="#555">{escape(_short(owner, 104))}</text>'
        )
    out.append(
        f'<text x="{left - 40}" y="{key_y}" fill="#555">● số liệu / snapshot    '
        "╌ xu hướng đến hạn / trend to the deadline    ◇ mục tiêu / target    "
        "▪ tình trạng / status</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def trend_svgs(
    progress: pd.DataFrame, values: pd.DataFrame, *, as_of: date | None = None
) -> dict[str, str]:
    """Return :func:`trend_svg` for every criterion of the roadmap, by criterion id."""
    return {
        str(criterion): trend_svg(str(criterion), progress, values, as_of=as_of)
        for criterion in dict.fromkeys(progress["criterion"])
    }


def _chart_desc(lines: pd.DataFrame) -> str:
    return "; ".join(
        f"{row['id']} {row['name']}: latest {_num(row['latest'])}, target "
        f"{_direction(row['operator'])} {_num(row['target'])} by {row['deadline']}, "
        f"{row['status']}"
        for row in _records(lines)
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of a frame as dicts (typed loosely, for formatting)."""
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    span = high - low
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    ticks.append(round(value, 10))
    return ticks


def safe_name(criterion: str) -> str:
    """Return a file name for a criterion id (``ntm.02`` → ``ntm.02``; anything odd → ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", criterion)


# ----------------------------------------------------------------------------- one project


@dataclass
class Progress:
    """A project's roadmap judged against its history, ready to print, write or include.

    Attributes
    ----------
    project_name : str
    as_of : datetime.date
        The date of the assessment.
    roadmap_file, history_file : Path
    snapshots : pandas.DataFrame
        :func:`geo.history.snapshots`.
    values : pandas.DataFrame
        The history up to ``as_of`` (:func:`geo.history.load_values`).
    table : pandas.DataFrame
        :func:`progress_table`.
    hamlets : pandas.DataFrame
        :func:`hamlet_view`.
    """

    project_name: str
    as_of: date
    roadmap_file: Path
    history_file: Path
    snapshots: pd.DataFrame
    values: pd.DataFrame
    table: pd.DataFrame
    hamlets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HAMLET_COLUMNS))

    def trends(self) -> dict[str, str]:
        """One SVG chart per criterion of the roadmap (:func:`trend_svg`)."""
        return trend_svgs(self.table, self.values, as_of=self.as_of)

    def features(self) -> pd.DataFrame:
        """Per feature: status, owner, deadline for the map (:func:`feature_progress`)."""
        return feature_progress(self.table)


def load_progress(
    project: Project,
    *,
    roadmap: str | Path | None = None,
    history: str | Path | None = None,
    as_of: date | None = None,
) -> Progress:
    """Read a project's roadmap and history and judge every line.

    Parameters
    ----------
    project : Project
        :func:`geo.load_project`; its ``as_of`` is the date of the assessment.
    roadmap, history : str or Path, optional
        Default ``roadmap.csv`` and ``history.sqlite`` in the project folder.
    as_of : datetime.date, optional
        Overrides ``project.as_of``.

    Returns
    -------
    Progress

    Raises
    ------
    LayerReadError
        If there is no roadmap file.
    RoadmapError, HistoryError
    """
    from geo import criteria as crit

    day = as_of or project.as_of
    roadmap_file = Path(roadmap) if roadmap else roadmap_path(project.root)
    history_file = Path(history) if history else hist.history_path(project.root)
    lines = read_roadmap(roadmap_file)
    values = hist.load_values(history_file, until=day)
    table = progress_table(lines, values, as_of=day, sets=crit.load_sets(project.criteria_files))
    return Progress(
        project_name=project.name,
        as_of=day,
        roadmap_file=roadmap_file,
        history_file=history_file,
        snapshots=hist.snapshots(history_file),
        values=values,
        table=table,
        hamlets=hamlet_view(table, values, as_of=day),
    )


def find_progress(project: Project) -> Progress | None:
    """:func:`load_progress` when the project has a ``roadmap.csv``, else None.

    For the workbook, report and map: include progress only when there is a roadmap.
    """
    if not roadmap_path(project.root).is_file():
        return None
    return load_progress(project)


PROGRESS_FILES = ("progress.csv", "progress-hamlets.csv")
TRENDS_DIR = "trends"


def progress_writers(progress: Progress) -> dict[str, Callable[[Path], None]]:
    """Return the writers of the progress outputs, by output name.

    ``progress.csv`` and ``progress-hamlets.csv`` (CSV for Excel, dates as
    ``YYYY-MM-DD``) and ``trends`` (a folder of ``<criterion>.svg``, one chart
    per criterion of the roadmap). Each writer is called with the path to
    write (a staging path: :func:`write_progress` and
    :func:`geo.outputs.write_outputs` move the files into place together).
    """
    from geo.outputs import write_csv

    def trends(folder: Path) -> None:
        folder.mkdir()
        for criterion, svg in progress.trends().items():
            (folder / f"{safe_name(criterion)}.svg").write_text(svg, encoding="utf-8")

    return {
        PROGRESS_FILES[0]: lambda path: write_csv(_csv_ready(progress.table), path),
        PROGRESS_FILES[1]: lambda path: write_csv(_csv_ready(progress.hamlets), path),
        TRENDS_DIR: trends,
    }


def write_progress(progress: Progress, out_dir: str | Path) -> list[Path]:
    """Write ``progress.csv``, ``progress-hamlets.csv`` and ``trends/<criterion>.svg``.

    The files are written to a staging folder first and moved into place
    together, under the output folder's lock (as :func:`geo.write_outputs`);
    the ``trends`` folder is replaced as a whole.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        If the folder cannot be written.
    """
    from geo._lock import STAGING_PREFIX, output_lock, signals_deferred

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with output_lock(out):
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
            try:
                for name, write in progress_writers(progress).items():
                    write(staging / name)
                trends = staging / TRENDS_DIR
                charts = sorted(p.name for p in trends.iterdir())
                with signals_deferred():
                    for name in PROGRESS_FILES:
                        (staging / name).replace(out / name)
                    old = out / TRENDS_DIR
                    if old.exists():
                        old.replace(staging / "old-trends")
                    trends.replace(old)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"--out {out}: cannot write the progress files: {error}") from error
    return [out / name for name in PROGRESS_FILES] + [out / TRENDS_DIR / c for c in charts]


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("deadline", "baseline_date", "latest_date"):
        if column in frame.columns:
            frame[column] = [d.isoformat() if isinstance(d, date) else "" for d in frame[column]]
    return frame


# ----------------------------------------------------------------------------- text


_HEADERS = [
    ("status", "Tình trạng", "Status"),
    ("criterion", "Tiêu chí", "Criterion"),
    ("feature", "Xã / thôn", "Commune / hamlet"),
    ("target", "Mục tiêu", "Target"),
    ("deadline", "Hạn", "Deadline"),
    ("baseline", "Ban đầu", "Baseline"),
    ("latest", "Mới nhất", "Latest"),
    ("needed", "Cần /năm", "Needed /yr"),
    ("observed", "Đạt /năm", "Observed /yr"),
    ("owner", "Phụ trách", "Responsible"),
]


def format_progress(progress: Progress, *, hamlets_shown: int = 5) -> str:
    """Return the progress report printed by ``geo progress``.

    A table of the roadmap lines (most urgent first; Vietnamese and English
    headers), the hamlets holding each criterion back, and the rules.
    """
    table = progress.table
    dates = [str(d) for d in progress.snapshots["as_of"] if str(d) <= progress.as_of.isoformat()]
    known = f"{len(dates)} snapshots: {', '.join(dates)}" if dates else "no snapshot yet"
    lines = [
        (
            f"{progress.project_name}: tiến độ lộ trình / roadmap progress as of "
            f"{progress.as_of.isoformat()} ({known})"
        ),
        f"  roadmap: {progress.roadmap_file}; history: {progress.history_file}",
        "",
        *_table_lines(table),
    ]
    if not dates:
        lines.insert(
            2,
            "  record snapshots with `geo snapshot PROJECT --as-of YYYY-MM-DD` (one per date "
            "with figures); until then every line has no data",
        )
    counts = table["status"].value_counts()
    lines.append(
        "  ".join(
            f"{PROGRESS_STATUS_LABELS[s].vi} / {s.replace('_', ' ')}: {int(counts.get(s, 0))}"
            for s in STATUSES
        )
    )
    no_owner = table.loc[table["owner"] == ""]
    if not no_owner.empty:
        lines.append(
            f"{len(no_owner)} line(s) have no owner ({', '.join(no_owner['criterion'])}); "
            "fill in owner in the roadmap"
        )
    if not progress.hamlets.empty:
        lines += ["", "Thôn, xóm chưa đạt mục tiêu / Hamlets holding a criterion back:"]
        lines += _hamlet_lines(progress.hamlets, hamlets_shown)
    lines += ["", "Quy tắc / Rules (in this order; rates per year of 365.25 days):"]
    lines += [
        f"  {PROGRESS_STATUS_LABELS[s].vi} / {s.replace('_', ' ')}: {RULES_VI[s]} / {RULES[s]}"
        for s in ("no_data", "met", "late", "on_track", "at_risk")
    ]
    lines.append(
        "  Cần /năm / Needed /yr: change per year from the date of the assessment to the "
        "deadline; Đạt /năm / Observed /yr: from baseline to latest snapshot."
    )
    lines.append("  Each line's reason, with its figures, is in the rule column of progress.csv.")
    return "\n".join(lines)


def _table_lines(table: pd.DataFrame) -> list[str]:
    """Return the roadmap lines as a text table, most urgent first, with two header rows."""
    rank = {status: i for i, status in enumerate(SEVERITY)}
    ordered = table.assign(rank=table["status"].map(rank)).sort_values(
        ["rank", "deadline"], kind="stable"
    )
    cells = [
        {
            "status": (
                f"{PROGRESS_STATUS_LABELS[row['status']].vi} / {row['status'].replace('_', ' ')}"
            ),
            "criterion": _short(f"{row['criterion']} {row['criterion_vi']}", 34),
            "feature": _short(f"{row['id']} {row['name']}", 26),
            "target": (
                f"{_direction(row['operator'])} {_num(row['target'])} {row['unit_of_measure']}"
            ).strip(),
            "deadline": row["deadline"].isoformat(),
            "owner": row["owner"] or "?",
            "baseline": _num(row["baseline"]),
            "latest": _num(row["latest"]),
            "needed": _signed(row["rate_needed_per_year"]),
            "observed": _signed(row["rate_observed_per_year"]),
        }
        for row in _records(ordered)
    ]
    widths = {
        key: max([len(vi), len(en), *(len(c[key]) for c in cells)]) for key, vi, en in _HEADERS
    }
    numeric = {"baseline", "latest", "needed", "observed"}

    def render(values: dict[str, str]) -> str:
        return "  ".join(
            values[key].rjust(widths[key]) if key in numeric else values[key].ljust(widths[key])
            for key, _, _ in _HEADERS
        ).rstrip()

    return [
        render({key: vi for key, vi, _ in _HEADERS}),
        render({key: en for key, _, en in _HEADERS}),
        *(render(c) for c in cells),
    ]


def _hamlet_lines(hamlets: pd.DataFrame, shown: int) -> list[str]:
    """Per criterion, the hamlets short of their target, the largest shortfall first."""
    lines = []
    for criterion, group in hamlets.groupby("criterion", sort=False):
        rows = _records(group)
        first = rows[0]
        unit = f" {first['unit_of_measure']}" if first["unit_of_measure"] else ""
        lines.append(f"  {criterion} {first['criterion_vi']}: {len(rows)} hamlet(s) short")
        for row in rows[:shown]:
            if row["target_from"] == "hamlet line":
                source = f"own line, {row['owner'] or '?'}, by {row['deadline']}"
            elif row["target_from"] == "unit line":
                source = f"unit line {row['unit_id'] or ''}".strip()
            else:
                source = "legal threshold"
            lines.append(
                f"    {row['id']} {row['name']}: {_num(row['latest'])}{unit}, target "
                f"{_direction(row['operator'])} {_num(row['target'])} ({source})"
            )
        if len(rows) > shown:
            rest = ", ".join(str(row["name"]) for row in rows[shown:])
            lines.append(f"    … {len(rows) - shown} more in progress-hamlets.csv ({rest})")
    return lines


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _direction(operator: str) -> str:
    return {">=": "≥", "is_true": "≥", "<=": "≤"}.get(operator, operator)


def _num(value: float) -> str:
    """Format a figure: thousands separated, at most 2 decimals; ``?`` when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value != 0 and abs(value) < 0.1:
        return f"{value:.2g}"
    decimals = 0 if abs(value) >= 1000 else 1 if abs(value) >= 10 else 2
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _signed(value: float) -> str:
    text = _num(value)
    if text == "?":
        return "—"
    return text if text.startswith("-") or text == "0" else f"+{text}"

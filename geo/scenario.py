"""Merger and ward-conversion scenarios: regroup units, re-evaluate, and advise mergers.

A *grouping* maps each old unit (or hamlet) to a new unit. :func:`apply_grouping`
builds the new units from a finished run of the old ones: it dissolves their
geometry, adds up their counts exactly, recomputes shares and densities from
the summed parts (never an average of averages) and evaluates the criteria
sets in force on the new units, as :func:`geo.pipeline.run` does.
:func:`advise` looks, for every unit that fails the ward standard, for the
smallest sets of adjacent units whose merger meets it, and proposes a
grouping of a whole province or city in which every group meets it.

The grouping file
-----------------
A CSV (UTF-8, or a legacy Vietnamese encoding; comma, semicolon or tab
separated) with a header row and at least
the columns ``old_id``, ``new_id`` and ``new_name``; optional ``share`` (0–1)
and ``level`` (``unit`` or ``hamlet``); other columns (``note`` …) are ignored.
Rows are numbered as in a spreadsheet (the header is row 1).

- ``old_id`` names a unit of the project, or a hamlet: a unit mapped hamlet by
  hamlet is split along its hamlets' boundaries (a row for the unit itself, if
  any, takes the hamlets not listed).
- A unit listed under several new units needs a ``share`` on each row (the
  part of its counts and area that goes there); the shares of one unit must
  add up to 1. Without shares, map its hamlets instead.
- Units the file does not list are kept as they are, as their own new unit
  (reported in ``findings.csv``), unless their id is also a ``new_id`` of the
  file, which is refused.

How a split unit is divided (column ``split_method`` of the new units):

==============  ===============================================================
``share``       every count and the area × the row's ``share`` (the outline
                cannot be cut: the whole old outline is drawn in each part)
``hamlets``     each count in proportion to the hamlets' own figures of that
                count (population, land use, services, roads), exact where
                the hamlets hold it
``dasymetric``  population and households, which the hamlets lack, in
                proportion to the hamlets' residential land (ONT, ODT)
==============  ===============================================================
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import coverage, indicators
from geo import criteria as crit
from geo._lock import STAGING_PREFIX, output_lock, signals_deferred
from geo.encoding import decode_bytes
from geo.errors import GeoInputError, OutputError, ValidationError
from geo.labels import Label
from geo.outputs import write_csv, write_outputs
from geo.pipeline import RunResult
from geo.read import parse_number
from geo.resources import landuse_codes
from geo.validate import Finding
from geo.webmap import render_map

GROUPING_COLUMNS = ("old_id", "new_id", "new_name")
"""Required columns of a grouping file."""
SHARE_TOLERANCE = 1e-6
"""How far the shares of one split unit may add up from 1."""
MAX_MERGE_SIZE = 4
"""Default largest number of units in a candidate merger of the advisor."""
SNAP_M = 1.0
"""Adjacency: neighbours' boundaries are compared within this distance (metres)."""
MIN_SHARED_M = 10.0
"""Adjacency: two units are neighbours when they share at least this much boundary (metres)."""
SPLIT_METHODS = {
    "share": "share given in the grouping file",
    "hamlets": "in proportion to the hamlets' own figures",
    "dasymetric": "population by residential area (dasymetric)",
}
"""Values of ``split_method`` (joined by ``+`` when a new unit has several kinds of part)."""

_EXTENSIVE = frozenset(
    {"population", "households", "area_km2", "landuse_covered_km2", "road_km", "official_area_km2"}
)
_EXTENSIVE_PATTERN = re.compile(r"^(landuse_.+_km2|count_.+|road_.+_km)$")
_KEPT = frozenset({"id", "name", "geometry", "population_source"})
_LEADING = [
    "id",
    "name",
    "area_km2",
    "population",
    "population_source",
    "households",
    "density_per_km2",
    "old_ids",
    "old_names",
    "n_old_units",
    "split_method",
    "area_parts_km2",
    "area_dissolve_diff_km2",
]


class GroupingError(ValidationError):
    """A grouping file cannot be used (unknown ids, bad shares, missing columns)."""


def is_extensive(column: str) -> bool:
    """Whether a unit column is a count that adds up over parts.

    Population, households, areas (``area_km2``, ``landuse_<CODE>_km2``,
    ``landuse_covered_km2``, ``official_area_km2``), facility counts
    (``count_<kind>``) and road lengths (``road_km``, ``road_<surface>_km``).

    Examples
    --------
    >>> [is_extensive(c) for c in ("count_school", "road_km", "density_per_km2")]
    [True, True, False]
    """
    return column in _EXTENSIVE or bool(_EXTENSIVE_PATTERN.match(column))


def dissolve(geometries: Iterable[shapely.Geometry]) -> shapely.Geometry:
    """Union polygons into one, exactly.

    ``shapely.coverage_union_all`` when the parts form a valid coverage (shared
    edges match, no overlaps), which is fast and leaves no slivers; otherwise
    ``shapely.union_all``.

    Examples
    --------
    >>> from shapely import box
    >>> dissolve([box(0, 0, 1, 1), box(1, 0, 2, 1)]).area
    2.0
    """
    given = [g for g in geometries if g is not None]
    parts = np.array(given, dtype=object)[~shapely.is_empty(np.array(given, dtype=object))]
    if parts.size == 0:
        return shapely.Polygon()
    if parts.size == 1:
        return parts[0]
    if bool(shapely.coverage_is_valid(parts)):
        return shapely.coverage_union_all(parts)
    return shapely.union_all(parts)


def polsby_popper(geometry: shapely.Geometry) -> float:
    """Return the compactness 4πA/P² of a shape: 1 for a disc, π/4 for a square.

    Examples
    --------
    >>> from shapely import box
    >>> round(polsby_popper(box(0, 0, 1, 1)), 4)
    0.7854
    """
    perimeter = float(shapely.length(geometry))
    if perimeter <= 0:
        return math.nan
    return 4.0 * math.pi * float(shapely.area(geometry)) / perimeter**2


# ----------------------------------------------------------------------------- grouping file


def read_grouping(path: str | Path) -> pd.DataFrame:
    """Read a grouping file (see the module docstring for its columns).

    Parameters
    ----------
    path : str or Path
        A CSV file.

    Returns
    -------
    pandas.DataFrame
        ``old_id``, ``new_id``, ``new_name`` (text, stripped), ``share`` (float,
        NaN when not given), ``level`` (text, empty when not given) and ``row``
        (the spreadsheet row number), in file order.

    Raises
    ------
    GroupingError
        If the file cannot be read, lacks a required column, or a row has an
        empty id or a share that is not a number between 0 and 1; the message
        names the file, row and column.
    """
    path = Path(path)
    try:
        text, _ = decode_bytes(path.read_bytes())
    except OSError as error:
        raise GroupingError(f"{path}: cannot read the grouping file: {error}") from error
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)  # Excel in a Vietnamese locale writes ";"
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise GroupingError(f"{path}: the grouping file is empty (expected a header row)")
    header = [cell.strip().lower() for cell in rows[0]]
    missing = [c for c in GROUPING_COLUMNS if c not in header]
    if missing:
        close = {c: difflib.get_close_matches(c, header, n=1, cutoff=0.6) for c in missing}
        hints = "; ".join(
            f"{c} (did you mean {close[c][0]!r}?)" if close[c] else c for c in missing
        )
        raise GroupingError(
            f"{path}: row 1: missing column {hints}; a grouping needs the columns "
            f"{', '.join(GROUPING_COLUMNS)} (optional: share, level)"
        )
    position = {name: header.index(name) for name in header if name}
    records = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = position.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        for name in ("old_id", "new_id"):
            if not cell(name):
                raise GroupingError(f"{path}: row {number}, column {name}: empty")
        share = math.nan
        if cell("share"):
            try:
                share = parse_number(cell("share").rstrip("%"))
            except ValueError:
                raise GroupingError(
                    f"{path}: row {number}, column share: {cell('share')!r} is not a number "
                    "(write a share between 0 and 1, e.g. 0.4 or 0,4)"
                ) from None
            if cell("share").endswith("%"):
                share /= 100.0
            if not 0.0 < share <= 1.0:
                raise GroupingError(
                    f"{path}: row {number}, column share: {cell('share')} is not between 0 "
                    "(excluded) and 1"
                )
        level = cell("level").lower()
        if level not in ("", "unit", "hamlet"):
            raise GroupingError(
                f"{path}: row {number}, column level: {cell('level')!r} must be unit or hamlet"
            )
        records.append(
            {
                "old_id": cell("old_id"),
                "new_id": cell("new_id"),
                "new_name": cell("new_name"),
                "share": share,
                "level": level,
                "row": number,
            }
        )
    if not records:
        raise GroupingError(f"{path}: the grouping file has a header but no rows")
    return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class Piece:
    """One part of a new unit: a whole old unit, a share of one, or some of its hamlets.

    Attributes
    ----------
    new_id : str
    unit : int
        Position of the old unit in the units table.
    kind : str
        ``whole``, ``share`` or ``hamlets``.
    share : float
        The share of a ``share`` piece; 1 otherwise.
    hamlets : tuple of int
        Positions in the hamlets table of a ``hamlets`` piece.
    """

    new_id: str
    unit: int
    kind: str
    share: float = 1.0
    hamlets: tuple[int, ...] = ()


@dataclass
class GroupingPlan:
    """A grouping checked against the project: the pieces of every new unit.

    Attributes
    ----------
    pieces : list of Piece
    names : dict of str to str
        New id → new name, in the order the new units first appear.
    hamlet_units : dict of int to str
        Hamlet position → new unit id, for every hamlet of the project.
    findings : list of Finding
        Units kept as they are, ids matched without leading zeros, …
    """

    pieces: list[Piece]
    names: dict[str, str]
    hamlet_units: dict[int, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def plan_grouping(
    grouping: pd.DataFrame,
    units: pd.DataFrame,
    hamlets: pd.DataFrame | None = None,
    *,
    source: str = "grouping",
) -> GroupingPlan:
    """Check a grouping against the project's units and hamlets.

    Parameters
    ----------
    grouping : pandas.DataFrame
        As returned by :func:`read_grouping` (``share``, ``level`` and ``row``
        are optional).
    units : pandas.DataFrame
        The old units, with ``id`` and ``name``.
    hamlets : pandas.DataFrame, optional
        The old hamlets, with ``id``, ``name`` and ``unit_id``.
    source : str, default "grouping"
        The file name, for messages.

    Returns
    -------
    GroupingPlan

    Raises
    ------
    GroupingError
        On an unknown old id (with the closest ids), an id that is both a unit
        and a hamlet without a ``level`` column, a unit listed twice without
        shares, shares that do not add up to 1, a unit mapped partly by hamlets
        with some hamlets left out, or a kept unit whose id clashes with a new id.
    """
    table = grouping.copy()
    for column, default in (("share", math.nan), ("level", ""), ("row", None)):
        if column not in table.columns:
            table[column] = default if column != "row" else np.arange(2, len(table) + 2)
    table["share"] = pd.to_numeric(table["share"], errors="coerce")
    unit_ids = [str(i) for i in units["id"]]
    unit_pos = {ident: i for i, ident in enumerate(unit_ids)}
    hamlet_ids = [] if hamlets is None else [str(i) for i in hamlets["id"]]
    hamlet_pos = {ident: i for i, ident in enumerate(hamlet_ids)}
    findings: list[Finding] = []

    def where(row: int, column: str) -> str:
        return f"{source}: row {row}, column {column}"

    names: dict[str, str] = {}
    for raw_id, raw_name, row in zip(table["new_id"], table["new_name"], table["row"], strict=True):
        new_id, new_name = str(raw_id).strip(), str(raw_name).strip()
        if new_id in names and new_name and names[new_id] and names[new_id] != new_name:
            raise GroupingError(
                f"{where(row, 'new_name')}: {new_name!r} differs from {names[new_id]!r} given "
                f"earlier for new unit {new_id}"
            )
        if not names.get(new_id):
            names[new_id] = new_name
    for new_id, new_name in names.items():
        if not new_name:
            raise GroupingError(f"{source}: column new_name: no name for new unit {new_id}")

    unit_rows: dict[int, list[tuple[str, float, int]]] = {}
    hamlet_rows: dict[int, tuple[str, int]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for raw_old, raw_new, share, level, row in zip(
        table["old_id"], table["new_id"], table["share"], table["level"], table["row"], strict=True
    ):
        new_id = str(raw_new).strip()
        kind, old_id = _resolve_id(
            str(raw_old).strip(),
            str(level or ""),
            unit_pos=unit_pos,
            hamlet_pos=hamlet_pos,
            where=where(row, "old_id"),
            findings=findings,
        )
        key = (kind, old_id, new_id)
        if key in seen:
            raise GroupingError(
                f"{where(row, 'old_id')}: {old_id} → {new_id} repeats row {seen[key]}"
            )
        seen[key] = row
        if kind == "unit":
            unit_rows.setdefault(unit_pos[old_id], []).append((new_id, float(share), row))
        else:
            position = hamlet_pos[old_id]
            if position in hamlet_rows:
                raise GroupingError(
                    f"{where(row, 'old_id')}: hamlet {old_id} is already mapped to "
                    f"{hamlet_rows[position][0]} in row {hamlet_rows[position][1]} (a hamlet "
                    "cannot be split; map its unit with shares instead)"
                )
            hamlet_rows[position] = (new_id, row)

    hamlets_of: dict[int, list[int]] = {}
    if hamlets is not None:
        for position, unit_id in enumerate(hamlets["unit_id"]):
            if str(unit_id) in unit_pos:
                hamlets_of.setdefault(unit_pos[str(unit_id)], []).append(position)

    pieces: list[Piece] = []
    hamlet_units: dict[int, str] = {}
    mapped_by_hamlet = {
        unit_pos[str(hamlets["unit_id"].iloc[h])]
        for h in hamlet_rows
        if hamlets is not None and str(hamlets["unit_id"].iloc[h]) in unit_pos
    }
    for position, ident in enumerate(unit_ids):
        rows = unit_rows.get(position, [])
        members = hamlets_of.get(position, [])
        if position in mapped_by_hamlet:
            pieces += _hamlet_pieces(
                position, ident, rows, members, hamlet_rows, hamlet_ids, hamlet_units, source
            )
        elif not rows:
            if ident in names:
                raise GroupingError(
                    f"{source}: unit {ident} ({units['name'].iloc[position]}) is not in the "
                    f"grouping, and its id is also a new_id there; add a row for it"
                )
            names[ident] = str(units["name"].iloc[position])
            pieces.append(Piece(ident, position, "whole"))
            hamlet_units.update(dict.fromkeys(members, ident))
            findings.append(
                Finding(
                    "grouping",
                    ident,
                    "unit_not_grouped",
                    f"{units['name'].iloc[position]} is not in {source}; kept as it is",
                )
            )
        elif len(rows) == 1 and (math.isnan(rows[0][1]) or rows[0][1] == 1.0):
            pieces.append(Piece(rows[0][0], position, "whole"))
            hamlet_units.update(dict.fromkeys(members, rows[0][0]))
        else:
            pieces += _share_pieces(position, ident, rows, source)
            largest = max(rows, key=lambda r: r[1])[0]
            hamlet_units.update(dict.fromkeys(members, largest))
            if members:
                findings.append(
                    Finding(
                        "grouping",
                        ident,
                        "split_hamlets_assigned",
                        f"unit {ident} is split by shares; its {len(members)} hamlets go to "
                        f"{largest}, the part with the largest share (map them one by one to "
                        "split along their boundaries)",
                    )
                )
    order = list(dict.fromkeys(p.new_id for p in pieces))
    names = {new_id: names[new_id] for new_id in order}
    return GroupingPlan(pieces, names, hamlet_units, findings)


def _resolve_id(
    old_id: str,
    level: str,
    *,
    unit_pos: Mapping[str, int],
    hamlet_pos: Mapping[str, int],
    where: str,
    findings: list[Finding],
) -> tuple[str, str]:
    """Return whether ``old_id`` is a unit or a hamlet, and its id as in the project."""
    tables = {"unit": unit_pos, "hamlet": hamlet_pos}
    levels = [level] if level else ["unit", "hamlet"]
    found = [lv for lv in levels if old_id in tables[lv]]
    if len(found) > 1:
        raise GroupingError(
            f"{where}: {old_id} is both a unit and a hamlet id; add a column level "
            "(unit or hamlet) to say which"
        )
    if found:
        return found[0], old_id
    stripped = old_id.lstrip("0")
    padded = [(lv, ident) for lv in levels for ident in tables[lv] if ident.lstrip("0") == stripped]
    if len(padded) == 1:
        findings.append(
            Finding(
                "grouping",
                padded[0][1],
                "id_leading_zeros",
                f"{where}: {old_id} matched to {padded[0][1]} (leading zeros lost, e.g. by Excel)",
            )
        )
        return padded[0]
    known = [ident for lv in levels for ident in tables[lv]]
    close = difflib.get_close_matches(old_id, known, n=3, cutoff=0.5)
    hint = f" (closest: {', '.join(close)})" if close else ""
    what = " or ".join(f"{lv} id" for lv in levels)
    raise GroupingError(f"{where}: {old_id!r} is not a {what} of the project{hint}")


def _share_pieces(
    position: int, ident: str, rows: list[tuple[str, float, int]], source: str
) -> list[Piece]:
    listed = ", ".join(f"{new_id} (row {row})" for new_id, _, row in rows)
    if any(math.isnan(share) for _, share, _ in rows):
        raise GroupingError(
            f"{source}: column share: unit {ident} is listed under new units {listed} "
            "without a share on every row; give each row a share (0–1, adding up to 1), or "
            "map the unit's hamlets one by one (level = hamlet)"
        )
    total = sum(share for _, share, _ in rows)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise GroupingError(
            f"{source}: column share: the shares of unit {ident} in rows "
            f"{', '.join(str(row) for _, _, row in rows)} add up to {total:g}, not 1"
        )
    return [Piece(new_id, position, "share", share) for new_id, share, _ in rows]


def _hamlet_pieces(  # noqa: PLR0917 - private helper of plan_grouping
    position: int,
    ident: str,
    rows: list[tuple[str, float, int]],
    members: list[int],
    hamlet_rows: Mapping[int, tuple[str, int]],
    hamlet_ids: list[str],
    hamlet_units: dict[int, str],
    source: str,
) -> list[Piece]:
    if len(rows) > 1 or (rows and not math.isnan(rows[0][1]) and rows[0][1] != 1.0):
        raise GroupingError(
            f"{source}: unit {ident} is mapped both by hamlets and by shares (rows "
            f"{', '.join(str(r[2]) for r in rows)}); use one or the other"
        )
    default = rows[0][0] if rows else None
    target = {}
    left_out = []
    for h in members:
        if h in hamlet_rows:
            target[h] = hamlet_rows[h][0]
        elif default is not None:
            target[h] = default
        else:
            left_out.append(hamlet_ids[h])
    if left_out:
        raise GroupingError(
            f"{source}: unit {ident} is mapped hamlet by hamlet but hamlets "
            f"{', '.join(left_out)} are not listed; add them, or a row for the unit itself "
            "to take the rest"
        )
    hamlet_units.update(target)
    new_ids = list(dict.fromkeys(target.values()))
    if len(new_ids) == 1:
        return [Piece(new_ids[0], position, "whole")]
    return [
        Piece(new_id, position, "hamlets", 1.0, tuple(h for h in members if target[h] == new_id))
        for new_id in new_ids
    ]


# ----------------------------------------------------------------------------- aggregation


def aggregate(
    units: gpd.GeoDataFrame,
    plan: GroupingPlan,
    hamlets: gpd.GeoDataFrame | None = None,
    *,
    recomputed: Iterable[str] = (),
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[Finding]]:
    """Build the new units from the old ones.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The old units with their indicator columns (``geo.run(...).units``), in
        a projected CRS.
    plan : GroupingPlan
        From :func:`plan_grouping`.
    hamlets : geopandas.GeoDataFrame, optional
        The old hamlets with ``unit_id`` and their indicators; needed when the
        plan splits a unit by hamlets.
    recomputed : iterable of str, optional
        Columns recomputed later (the criteria's ratio indicators), not
        reported as lost.

    Returns
    -------
    units : geopandas.GeoDataFrame
        One row per new unit: ``id``, ``name``, the dissolved geometry, every
        count summed (:func:`is_extensive`), ``area_km2`` of the dissolved
        geometry, ``density_per_km2``, land-use shares and road density
        recomputed from the sums, and ``old_ids``, ``old_names``,
        ``n_old_units``, ``split_method``, ``area_parts_km2`` (the parts' areas
        added up) and ``area_dissolve_diff_km2`` (dissolved − parts: overlaps
        between the parts). A new unit that is one whole old unit keeps every
        column of it.
    hamlets : geopandas.GeoDataFrame or None
        The hamlets with ``unit_id`` set to their new unit.
    findings : list of Finding
        The plan's, and the columns that could not be added up.

    Raises
    ------
    GroupingError
        If a unit split by hamlets has a population its hamlets cannot divide
        (no hamlet figures and no residential land).
    """
    indicators.area_km2(units)  # refuses a geographic CRS
    findings = list(plan.findings)
    columns = [c for c in units.columns if is_extensive(c)]
    others = [c for c in units.columns if c not in columns and c not in _KEPT]
    old_area = shapely.area(units.geometry.to_numpy()) / indicators.M2_PER_KM2
    by_new: dict[str, list[Piece]] = {}
    for piece in plan.pieces:
        by_new.setdefault(piece.new_id, []).append(piece)
    records = []
    geometries = []
    for new_id, name in plan.names.items():
        pieces = by_new[new_id]
        values = np.zeros(len(columns))
        methods: list[str] = []
        drawn, area_exact, area_share, parts_area = [], [], 0.0, 0.0
        labels = []
        for piece in pieces:
            part, method, geometry, area = _piece_values(piece, units, hamlets, columns, old_area)
            values = values + part
            if method:
                methods.append(method)
            drawn.append(geometry)
            parts_area += area
            if piece.kind == "share":
                area_share += area
            else:
                area_exact.append(geometry)
            ident = str(units["id"].iloc[piece.unit])
            labels.append(
                ident
                if piece.kind == "whole"
                else f"{ident}×{piece.share:g}"
                if piece.kind == "share"
                else f"{ident}[{len(piece.hamlets)} hamlets]"
            )
        geometry = dissolve(drawn)
        area = float(shapely.area(dissolve(area_exact))) / indicators.M2_PER_KM2 + area_share
        record = dict(zip(columns, values, strict=True))
        record |= {
            "id": new_id,
            "name": name,
            "area_km2": area,
            "old_ids": ";".join(labels),
            "old_names": ";".join(str(units["name"].iloc[p.unit]) for p in pieces),
            "n_old_units": len({p.unit for p in pieces}),
            "split_method": "+".join(dict.fromkeys(methods)),
            "area_parts_km2": parts_area,
            "area_dissolve_diff_km2": 0.0 if abs(area - parts_area) < 1e-9 else area - parts_area,
        }
        if len(pieces) == 1 and pieces[0].kind == "whole":
            old = units.iloc[pieces[0].unit]
            record |= {c: old[c] for c in others}
            record["population_source"] = old.get("population_source", "")
        else:
            record["population_source"] = (
                "sum of parts" if not math.isnan(record.get("population", math.nan)) else "none"
            )
        records.append(record)
        geometries.append(geometry)
    new = gpd.GeoDataFrame(pd.DataFrame.from_records(records), geometry=geometries, crs=units.crs)
    new = _with_intensive(new)
    skip = _RECOMPUTED | set(recomputed)
    dropped = [c for c in others if not c.endswith("_verdict") and c not in skip]
    merged = any(len(v) > 1 or v[0].kind != "whole" for v in by_new.values())
    if dropped and merged:
        findings.append(
            Finding(
                "units",
                "",
                "not_aggregated",
                "these columns cannot be added up over merged units and are left empty for "
                f"them (supply them for the new units): {', '.join(dropped)}",
            )
        )
    new_hamlets = None
    if hamlets is not None:
        new_hamlets = hamlets.copy()
        new_hamlets["unit_id"] = [
            plan.hamlet_units.get(i, str(u)) for i, u in enumerate(hamlets["unit_id"])
        ]
        sums = coverage.hamlet_area_sums(new, new_hamlets)
        new = new.drop(columns=[c for c in sums.columns if c in new.columns]).join(sums)
    for column in ("population", "households"):
        if column not in new.columns:
            new[column] = np.nan
    return _ordered(new), new_hamlets, findings


_RECOMPUTED = frozenset(
    {
        "density_per_km2",
        "road_density_km_per_km2",
        "area_diff_km2",
        "area_diff_pct",
        "hamlet_area_km2",
        "hamlet_area_diff_pct",
        *(f"{g}_share_pct" for g in indicators.LANDUSE_GROUPS),
    }
)


def _piece_values(
    piece: Piece,
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None,
    columns: list[str],
    old_area: np.ndarray,
) -> tuple[np.ndarray, str, shapely.Geometry, float]:
    """Return a piece's counts, split method, geometry and area (km²)."""
    old = units.iloc[piece.unit]
    whole = np.array([float(old[c]) for c in columns], dtype="float64")
    if piece.kind == "whole":
        return whole, "", old.geometry, float(old_area[piece.unit])
    if piece.kind == "share":
        return whole * piece.share, "share", old.geometry, float(old_area[piece.unit]) * piece.share
    assert hamlets is not None  # plan_grouping makes hamlet pieces only with hamlets
    members = hamlets.loc[hamlets["unit_id"].astype(str) == str(old["id"])]
    inside = members.index.isin(hamlets.index[list(piece.hamlets)])
    hamlet_area = shapely.area(members.geometry.to_numpy())
    part = np.full(len(columns), np.nan)
    method = "hamlets"
    for k, column in enumerate(columns):
        value = whole[k]
        if math.isnan(value) or column == "official_area_km2":
            continue
        if column == "area_km2":
            weights = hamlet_area
        elif column in members.columns and members[column].notna().all():
            weights = members[column].to_numpy(dtype="float64")
        elif column in ("population", "households"):
            residential = (
                members["residential_km2"].to_numpy(dtype="float64")
                if "residential_km2" in members.columns
                else np.zeros(len(members))
            )
            if not np.nansum(residential) > 0:
                raise GroupingError(
                    f"unit {old['id']} ({old['name']}) is split by its hamlets, but its "
                    f"{column} cannot be divided: its hamlets have no {column} and no "
                    "residential land (ONT, ODT); give the hamlets' figures or a share per row"
                )
            weights = np.nan_to_num(residential)
            if column == "population":
                method = "dasymetric"
        else:
            weights = hamlet_area
        if not np.nansum(weights) > 0:
            weights = hamlet_area
        part[k] = value * float(np.sum(weights[inside])) / float(np.sum(weights))
    geometry = dissolve(members.geometry.to_numpy()[inside])
    area = float(np.sum(hamlet_area[inside])) / indicators.M2_PER_KM2
    return part, method, geometry, area


def _with_intensive(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Recompute densities, land-use shares, road density and area checks from the sums."""
    units = units.copy()
    units["density_per_km2"] = indicators.density_per_km2(
        units["population"] if "population" in units.columns else pd.Series(np.nan, units.index),
        units["area_km2"],
    )
    if "landuse_covered_km2" in units.columns:
        table = landuse_codes()
        covered = units["landuse_covered_km2"].to_numpy(dtype="float64")
        for group in indicators.LANDUSE_GROUPS:
            members = [
                c
                for c in units.columns
                if (m := re.fullmatch(r"landuse_(.+)_km2", c))
                and m.group(1) in table
                and table[m.group(1)].group == group
            ]
            total = units[members].sum(axis=1).to_numpy(dtype="float64")
            with np.errstate(invalid="ignore", divide="ignore"):
                units[f"{group}_share_pct"] = np.where(covered > 0, total / covered * 100.0, np.nan)
    if "road_km" in units.columns:
        units["road_density_km_per_km2"] = indicators.density_per_km2(
            units["road_km"], units["area_km2"]
        )
    if "official_area_km2" in units.columns:
        official = units["official_area_km2"].to_numpy(dtype="float64")
        diff = units["area_km2"].to_numpy(dtype="float64") - official
        units["area_diff_km2"] = diff
        with np.errstate(invalid="ignore", divide="ignore"):
            units["area_diff_pct"] = np.where(official > 0, diff / official * 100.0, np.nan)
    return units


def _ordered(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    leading = [c for c in _LEADING if c in zones.columns]
    verdicts = sorted(c for c in zones.columns if c.endswith("_verdict"))
    trailing = [*verdicts, "geometry"]
    middle = [c for c in zones.columns if c not in leading and c not in trailing]
    return zones[leading + middle + trailing]


# ----------------------------------------------------------------------------- evaluation


def evaluate_units(
    sets: Sequence[crit.CriteriaSet],
    units: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None = None,
    *,
    variants: Mapping[str, str | None] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, pd.DataFrame, pd.DataFrame]:
    """Evaluate criteria sets on units (and hamlets) exactly as :func:`geo.run` does.

    Parameters
    ----------
    sets : sequence of CriteriaSet
        The sets in force.
    units : geopandas.GeoDataFrame
        With ``id``, ``name`` and indicator columns.
    hamlets : geopandas.GeoDataFrame, optional
        With ``unit_id``.
    variants : mapping, optional
        The project's ``ward_of``, ``region`` and ``urban_class``.

    Returns
    -------
    units, hamlets : geopandas.GeoDataFrame
        With the ratio indicators the criteria read and one ``<family>_verdict``
        column per family.
    criteria : pandas.DataFrame
        Columns :data:`geo.criteria.CRITERIA_COLUMNS`.
    contributions : pandas.DataFrame
        Columns :data:`geo.criteria.CONTRIBUTION_COLUMNS`.
    """
    ratios = {c.indicator: c for s in sets for c in s.criteria if c.ratio is not None}

    def with_ratios(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame = frame.drop(columns=[c for c in frame.columns if c.endswith("_verdict")])
        for indicator, criterion in sorted(ratios.items()):
            computed = crit.indicator_values(criterion, frame)
            if indicator in frame.columns:  # a value given (an input, a kept unit) stays
                given = pd.to_numeric(frame[indicator], errors="coerce").to_numpy(dtype="float64")
                computed = np.where(np.isnan(given), computed, given)
            frame[indicator] = computed
        return frame

    units = with_ratios(units)
    rows = [crit.evaluate(s, units, level="unit", variants=variants) for s in sets]
    if hamlets is not None:
        hamlets = with_ratios(hamlets)
        rows += [crit.evaluate(s, hamlets, level="hamlet", variants=variants) for s in sets]
    kept = [r for r in rows if not r.empty]
    table = (
        pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=crit.CRITERIA_COLUMNS)
    )
    unit_rows = table.loc[table["level"] == "unit"]
    units = _ordered(_with_verdicts(units, unit_rows))
    contributions = pd.DataFrame(columns=crit.CONTRIBUTION_COLUMNS)
    if hamlets is not None:
        hamlets = _with_verdicts(hamlets, table.loc[table["level"] == "hamlet"])
        parts = [
            crit.hamlet_contributions(s, hamlets, unit_rows.loc[unit_rows["set"] == s.id])
            for s in sets
        ]
        parts = [p for p in parts if not p.empty]
        if parts:
            contributions = pd.concat(parts, ignore_index=True)
    return units, hamlets, table, contributions


def _with_verdicts(zones: gpd.GeoDataFrame, rows: pd.DataFrame) -> gpd.GeoDataFrame:
    zones = zones.copy()
    for family, group in rows.groupby("family", sort=True):
        column = f"{str(family).replace('-', '_')}_verdict"
        zones[column] = zones["id"].map(crit.verdicts(group)).fillna("not_assessed")
    return zones


# ----------------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """A grouping applied to a run: the new units evaluated, and the comparison.

    Attributes
    ----------
    before : RunResult
        The run of the old units.
    after : RunResult
        The new units, evaluated with the same criteria sets; write it with
        :func:`geo.outputs.write_outputs`.
    comparison : pandas.DataFrame
        One row per new unit: its old units, area and population before (the
        parts added up) and after, and each ward criterion's status before (of
        each part) and after.
    grouping : pandas.DataFrame
        The grouping applied (as read, or as proposed by the advisor).
    plan : GroupingPlan
        The grouping checked against the project.
    """

    before: RunResult
    after: RunResult
    comparison: pd.DataFrame
    grouping: pd.DataFrame
    plan: GroupingPlan


def apply_grouping(
    before: RunResult, grouping: pd.DataFrame, *, source: str = "grouping", title: str = ""
) -> Scenario:
    """Build, evaluate and compare the new units of a grouping.

    Parameters
    ----------
    before : RunResult
        A finished run of the old units (:func:`geo.run`).
    grouping : pandas.DataFrame
        From :func:`read_grouping` (or :func:`advise`).
    source : str, default "grouping"
        The grouping's file name, for messages.
    title : str, optional
        Name of the scenario (default: the project name and "sau sắp xếp / after merger").

    Returns
    -------
    Scenario

    Raises
    ------
    GroupingError
        If the grouping does not fit the project (see :func:`plan_grouping`).
    """
    plan = plan_grouping(grouping, before.units, before.hamlets, source=source)
    ratios = {c.indicator for s in before.sets for c in s.criteria if c.ratio is not None}
    units, hamlets, found = aggregate(before.units, plan, before.hamlets, recomputed=ratios)
    project = before.project
    units, hamlets, table, contributions = evaluate_units(
        before.sets, units, hamlets, variants=project.variants
    )
    findings = pd.concat(
        [
            before.findings,
            pd.DataFrame(
                [f.__dict__ for f in found],
                columns=["layer", "feature", "kind", "message", "value"],
            ),
        ],
        ignore_index=True,
    )
    name = title or f"{project.name} — sau sắp xếp / after merger"
    after = replace(
        before,
        project=replace(project, name=name),
        units=units,
        hamlets=hamlets,
        criteria=table,
        contributions=contributions,
        findings=findings,
    )
    return Scenario(before, after, comparison_table(before, after, plan), grouping, plan)


def comparison_table(before: RunResult, after: RunResult, plan: GroupingPlan) -> pd.DataFrame:
    """Return the before/after table of a scenario (one row per new unit).

    Columns: ``new_id``, ``new_name``, ``old_ids``, ``old_names``,
    ``n_old_units``, ``split_method``, ``area_before_km2`` (the parts' areas
    added up), ``area_after_km2`` (the dissolved area), ``area_diff_km2``,
    ``population_before`` (the parts added up), ``population_after``, then for
    each criterion of the ward standard ``<criterion>_before`` (each part's
    status, ``id:status;…``), ``<criterion>_after``, ``<criterion>_value`` and
    ``<criterion>_threshold``, then ``ward_verdict_before`` (per part) and
    ``ward_verdict_after``.
    """
    old = before.units
    old_ids = old["id"].astype(str).to_numpy()
    standard = before.standard
    old_rows = before.criteria.loc[
        (before.criteria["level"] == "unit") & (before.criteria["set"] == standard.id)
    ]
    new_rows = after.criteria.loc[
        (after.criteria["level"] == "unit") & (after.criteria["set"] == standard.id)
    ]
    old_status: dict[tuple[str, str], str] = {
        (str(r.id), str(r.criterion)): str(r.status) for r in old_rows.itertuples()
    }
    new_status = {(str(r.id), r.criterion): r for r in new_rows.itertuples()}
    old_verdict = dict(zip(old_ids, old.get("ward_verdict", pd.Series(dtype=str)), strict=False))
    population = old["population"].to_numpy(dtype="float64")
    by_new: dict[str, list[Piece]] = {}
    for piece in plan.pieces:
        by_new.setdefault(piece.new_id, []).append(piece)
    units = after.units.set_index(after.units["id"].astype(str))
    records = []
    for new_id, new_name in plan.names.items():
        pieces = by_new[new_id]
        unit = units.loc[new_id]
        parts = [old_ids[p.unit] for p in pieces]
        population_before = 0.0
        for piece in pieces:
            share = piece.share if piece.kind == "share" else math.nan
            if piece.kind == "hamlets":
                share = _population_share(before, piece)
            weight = 1.0 if piece.kind == "whole" else share
            population_before += population[piece.unit] * weight
        record: dict[str, object] = {
            "new_id": new_id,
            "new_name": new_name,
            "old_ids": unit["old_ids"],
            "old_names": unit["old_names"],
            "n_old_units": unit["n_old_units"],
            "split_method": unit["split_method"],
            "area_before_km2": unit["area_parts_km2"],
            "area_after_km2": unit["area_km2"],
            "area_diff_km2": unit["area_dissolve_diff_km2"],
            "population_before": population_before,
            "population_after": unit["population"],
        }
        for criterion in standard.criteria:
            if not criterion.applies_to("unit"):
                continue
            key = criterion.id
            record[f"{key}_before"] = ";".join(
                f"{part}:{old_status.get((part, key), 'not_assessed')}" for part in parts
            )
            row = new_status.get((new_id, key))
            record[f"{key}_after"] = row.status if row is not None else "not_assessed"
            record[f"{key}_value"] = row.value if row is not None else math.nan
            record[f"{key}_threshold"] = row.threshold if row is not None else math.nan
        record["ward_verdict_before"] = ";".join(
            f"{part}:{old_verdict.get(part, 'not_assessed')}" for part in parts
        )
        record["ward_verdict_after"] = unit.get("ward_verdict", "not_assessed")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _population_share(before: RunResult, piece: Piece) -> float:
    """Return the share of its unit's population a hamlet piece holds (as in :func:`aggregate`)."""
    units = before.units
    if "population" not in units.columns or before.hamlets is None:
        return math.nan
    old_area = shapely.area(units.geometry.to_numpy()) / indicators.M2_PER_KM2
    part, _, _, _ = _piece_values(piece, units, before.hamlets, ["population"], old_area)
    whole = float(units["population"].iloc[piece.unit])
    return float(part[0]) / whole if whole > 0 else math.nan


def before_after_map(scenario: Scenario, *, title: str = "") -> str:
    """Return a map of the new units with the old units drawn over them.

    The old units are passed to :func:`geo.webmap.render_map` as its second
    (hamlet) layer, with their ward-standard rows, so the reader can colour
    either layer by any criterion: the "hamlet" layer of this map holds the
    old units, as a note under the title says.
    """
    before, after = scenario.before, scenario.after
    old = before.units.copy()
    first_part: dict[int, str] = {}
    for piece in scenario.plan.pieces:
        first_part.setdefault(piece.unit, piece.new_id)
    old["unit_id"] = [first_part.get(i, "") for i in range(len(old))]
    old_rows = before.criteria.loc[before.criteria["level"] == "unit"].copy()
    old_rows["level"] = "hamlet"
    new_rows = after.criteria.loc[after.criteria["level"] == "unit"]
    project = after.project
    notes = [
        (
            "Lớp “thôn, xóm” của bản đồ này là các đơn vị cũ (trước sắp xếp) / on this map the "
            "hamlet layer holds the old units (before the merger)"
        ),
        *[n for n in (before.project.note,) if n],
    ]
    split = after.units.loc[after.units["split_method"].str.contains("share", na=False)]
    if not split.empty:
        notes.append(
            "Đơn vị chia theo tỷ lệ: vẽ cả ranh giới cũ / units split by a share are drawn with "
            f"the whole old outline: {', '.join(split['name'].astype(str))}"
        )
    return render_map(
        after.units,
        old,
        pd.concat([new_rows, old_rows], ignore_index=True),
        title=title or f"{before.project.name} — trước và sau / before and after",
        subtitle=(
            f"Tiêu chuẩn áp dụng ngày / standards as of {project.as_of:%d/%m/%Y}: "
            f"{after.standard.name_vi}"
        ),
        notes=notes,
        sources=[s for s in (project.sources,) if s],
        set_names={s.id: Label(s.name_vi, s.name_en) for s in after.sets},
    )


def write_scenario(
    scenario: Scenario,
    out_dir: str | Path,
    extra: Mapping[str, Callable[[Path], None]] | None = None,
) -> list[Path]:
    """Write a scenario: what ``geo run`` writes for the new units, the comparison and a map.

    Parameters
    ----------
    scenario : Scenario
    out_dir : str or Path
    extra : mapping of str to callable, optional
        More files to write (name → writer of a path), e.g. the advisor's.

    Returns
    -------
    list of Path
        ``map.html``, ``criteria.csv``, ``units.csv``, ``findings.csv``,
        ``results.gpkg`` (and ``hamlets.csv``, ``contributions.csv`` with
        hamlets), then ``comparison.csv``, ``map-before-after.html`` and the
        extra files. The files of ``geo run`` are moved into place together,
        then the others together; each is written whole or not at all.

    Raises
    ------
    OutputError
        If the folder cannot be written.
    """
    out = Path(out_dir)
    # no roadmap progress: the roadmap and history are the project's units', not these
    written = write_outputs(scenario.after, out, roadmap_progress=None)

    def write_map(path: Path) -> None:
        path.write_text(before_after_map(scenario), encoding="utf-8")

    writers: dict[str, Callable[[Path], None]] = {
        "comparison.csv": lambda path: write_csv(scenario.comparison, path),
        "map-before-after.html": write_map,
        **(extra or {}),
    }
    try:
        with output_lock(out):
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
            try:
                for name, write in writers.items():
                    write(staging / name)
                with signals_deferred():
                    for name in writers:
                        (staging / name).replace(out / name)
                        written.append(out / name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        if isinstance(error, GeoInputError):
            raise
        raise OutputError(
            f"--out {out}: cannot write the scenario outputs ({error.strerror or error}); check "
            "the folder is writable and the disk has space"
        ) from error
    return written


# ----------------------------------------------------------------------------- adjacency


def adjacency(
    units: gpd.GeoDataFrame, *, snap_m: float = SNAP_M, min_shared_m: float = MIN_SHARED_M
) -> pd.DataFrame:
    """Return the pairs of units that share a boundary of positive length.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Polygons in a projected CRS in metres.
    snap_m : float, default :data:`SNAP_M`
        Each unit's boundary is compared with its neighbour grown by this much,
        so that outlines digitised with small gaps or overlaps still count as
        neighbours; 0 compares them exactly.
    min_shared_m : float, default :data:`MIN_SHARED_M`
        The shared length above which two units are neighbours (a corner touch
        has none; with ``snap_m`` it has about 2 × ``snap_m``).

    Returns
    -------
    pandas.DataFrame
        ``a``, ``b`` (positions in ``units``, a < b) and ``shared_m`` (the mean
        of each boundary's length inside the other, in metres).

    Examples
    --------
    >>> from shapely import box
    >>> squares = gpd.GeoDataFrame(
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 100, 300, 200)],
    ...     crs="EPSG:9213",
    ... )
    >>> adjacency(squares, snap_m=0).to_dict("records")
    [{'a': 0, 'b': 1, 'shared_m': 100.0}]
    """
    indicators.area_km2(units)  # refuses a geographic CRS
    geometries = units.geometry.to_numpy()
    grown = shapely.buffer(geometries, snap_m) if snap_m > 0 else geometries
    left, right = shapely.STRtree(grown).query(geometries, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(geometries)
    one = shapely.length(shapely.intersection(boundaries[left], grown[right]))
    two = shapely.length(shapely.intersection(boundaries[right], grown[left]))
    shared = (one + two) / 2.0
    table = pd.DataFrame({"a": left, "b": right, "shared_m": shared})
    table = table.loc[table["shared_m"] > min_shared_m]
    return table.sort_values(["a", "b"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- advisor


@dataclass(frozen=True)
class Standard:
    """One criterion the advisor can judge on merged units.

    Attributes
    ----------
    criterion : Criterion
    threshold : float
    columns : tuple of str
        The counts it reads (summed over a merger).
    """

    criterion: crit.Criterion
    threshold: float
    columns: tuple[str, ...]

    def describe(self) -> str:
        """Return ``id operator threshold unit``, e.g. ``ward.population >= 21000 người``."""
        c = self.criterion
        return f"{c.id} {c.operator} {self.threshold:g} {c.unit_of_measure}"


def advisor_standards(
    criteria_set: crit.CriteriaSet,
    units: pd.DataFrame,
    variants: Mapping[str, str | None] | None = None,
) -> tuple[list[Standard], dict[str, str]]:
    """Return the criteria of a set the advisor can judge, and why the others are left out.

    A criterion is considered when it applies to units, compares a number with
    a fixed threshold, reads counts that add up over a merger (population,
    area, land use, facilities, roads, or a ratio of them), and has a value for
    every unit.

    Returns
    -------
    considered : list of Standard
    skipped : dict of str to str
        Criterion id → reason.
    """
    considered: list[Standard] = []
    skipped: dict[str, str] = {}
    for criterion in criteria_set.criteria:
        if not criterion.applies_to("unit"):
            continue
        threshold, reason = criterion.threshold_for(variants or {})
        if criterion.operator not in crit.COMPARISONS or threshold is None:
            skipped[criterion.id] = reason or "not a number compared with a fixed threshold"
            continue
        columns = (
            (*criterion.ratio.numerator, criterion.ratio.denominator)
            if criterion.ratio is not None
            else (criterion.indicator,)
        )
        if not all(is_extensive(c) for c in columns):
            skipped[criterion.id] = f"{criterion.indicator} does not add up over a merger"
            continue
        values = crit.indicator_values(criterion, pd.DataFrame(units))
        if np.isnan(values).any():
            missing = int(np.isnan(values).sum())
            skipped[criterion.id] = f"no {criterion.indicator} value for {missing} units"
            continue
        considered.append(Standard(criterion, float(threshold), tuple(columns)))
    return considered, skipped


@dataclass
class Advice:
    """What the advisor found.

    Attributes
    ----------
    standards : list of Standard
        The criteria considered.
    skipped : dict of str to str
        The criteria of the ward standard left out, with the reason.
    candidates : pandas.DataFrame
        Per failing unit, its ranked candidate mergers (``advice.csv``).
    grouping : pandas.DataFrame
        The proposed grouping of every unit, in the grouping-file format
        (``old_id``, ``new_id``, ``new_name``, ``note``): ``grouping.csv``.
    groups : pandas.DataFrame
        One row per proposed group: members, values, whether it meets.
    unplaced : pandas.DataFrame
        ``id``, ``name``, ``reason``: the units the heuristic could not place
        in a group that meets the standards (kept alone in ``grouping``).
    upper_bound : int or None
        No grouping can have more groups that meet: the smallest
        ⌊Σ value ÷ threshold⌋ over the ``>=`` criteria of summed counts.
    max_size : int
    """

    standards: list[Standard]
    skipped: dict[str, str]
    candidates: pd.DataFrame
    grouping: pd.DataFrame
    groups: pd.DataFrame
    unplaced: pd.DataFrame
    upper_bound: int | None
    max_size: int


CANDIDATE_COLUMNS = [
    "unit_id",
    "unit_name",
    "rank",
    "members",
    "member_names",
    "n_units",
    "excess",
    "compactness",
    "meets",
    "considered",
    "note",
]
"""Leading columns of ``advice.csv``; one ``value_<criterion>`` column per standard follows."""


class _Merger:
    """Evaluates sets of units against the standards, caching dissolved shapes."""

    def __init__(self, units: gpd.GeoDataFrame, standards: list[Standard]) -> None:
        self.units = units
        self.standards = standards
        self.geometries = units.geometry.to_numpy()
        columns = sorted({c for s in standards for c in s.columns} | {"area_km2"})
        self.columns = columns
        self.counts = {
            c: (
                shapely.area(self.geometries) / indicators.M2_PER_KM2
                if c == "area_km2"
                else pd.to_numeric(units[c], errors="coerce").to_numpy(dtype="float64")
                if c in units.columns
                else np.zeros(len(units))
            )
            for c in columns
        }
        self.shapes: dict[frozenset[int], shapely.Geometry] = {}
        # the summed area bounds the dissolved one from above: a set failing on sums fails
        # exactly too, when area only ever needs to be large enough
        self.presum = all(
            (s.criterion.operator in (">=", ">") and s.criterion.ratio is None)
            or "area_km2" not in s.columns
            for s in standards
        )

    def shape(self, members: frozenset[int]) -> shapely.Geometry:
        if members not in self.shapes:
            self.shapes[members] = dissolve(self.geometries[sorted(members)])
        return self.shapes[members]

    def sums(self, members: frozenset[int], *, exact: bool) -> dict[str, float]:
        index = sorted(members)
        sums = {c: float(np.sum(self.counts[c][index])) for c in self.columns}
        if exact and len(members) > 1:
            sums["area_km2"] = float(shapely.area(self.shape(members))) / indicators.M2_PER_KM2
        return sums

    def judge(
        self, members: frozenset[int], *, exact: bool = True
    ) -> tuple[bool, float, dict[str, float]]:
        """Return whether the set meets, its score and its values.

        The score is the relative excess summed over the criteria when it
        meets, the relative shortfall summed (negative) when it does not.
        """
        sums = self.sums(members, exact=exact)
        values: dict[str, float] = {}
        excess, shortfall, meets = 0.0, 0.0, True
        for standard in self.standards:
            criterion = standard.criterion
            if criterion.ratio is not None:
                frame = pd.DataFrame({c: [sums[c]] for c in standard.columns})
                value = float(crit.indicator_values(criterion, frame)[0])
            else:
                value = sums[criterion.indicator]
            values[criterion.id] = value
            relative = (value - standard.threshold) / standard.threshold
            if criterion.operator in ("<=", "<"):
                relative = -relative
            passed = crit.COMPARISONS[criterion.operator](value, standard.threshold)
            meets &= passed
            excess += max(relative, 0.0)
            shortfall += min(relative, 0.0) if not passed else 0.0
        return meets, (excess if meets else shortfall), values

    def meets(self, members: frozenset[int]) -> tuple[bool, float, dict[str, float]]:
        """Judge on summed values first (an upper bound of the dissolved area), then exactly."""
        if self.presum:
            judged = self.judge(members, exact=False)
            if not judged[0] or len(members) == 1:
                return judged
        return self.judge(members, exact=True)


def _neighbours(pairs: pd.DataFrame, n: int) -> list[set[int]]:
    found: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(pairs["a"], pairs["b"], strict=True):
        found[int(a)].add(int(b))
        found[int(b)].add(int(a))
    return found


def candidate_merges(
    units: gpd.GeoDataFrame,
    standards: list[Standard],
    pairs: pd.DataFrame,
    *,
    max_size: int = MAX_MERGE_SIZE,
    top: int = 5,
) -> pd.DataFrame:
    """For each unit that fails the standards, the smallest mergers of neighbours that meet them.

    Sets of adjacent units containing the failing unit are grown one
    neighbour at a time (breadth first) up to ``max_size`` units; a set that
    meets the standards is recorded and not grown further, and a set holding
    a recorded one is skipped, so every set reported is minimal (no smaller
    connected set of it containing the unit meets). They are ranked by the
    number of units, then by the relative excess over the thresholds summed
    over the criteria (Σ (value − threshold) / threshold, smaller = better),
    then by the Polsby–Popper compactness 4πA/P² of the dissolved shape
    (larger = better).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        With ``id``, ``name`` and the columns the standards read.
    standards : list of Standard
        From :func:`advisor_standards`.
    pairs : pandas.DataFrame
        From :func:`adjacency`.
    max_size : int, default :data:`MAX_MERGE_SIZE`
    top : int, default 5
        Candidates reported per failing unit.

    Returns
    -------
    pandas.DataFrame
        :data:`CANDIDATE_COLUMNS` and ``value_<criterion>``; a failing unit
        with no candidate gets one row with ``meets`` False and a note.
    """
    merger = _Merger(units, standards)
    neighbours = _neighbours(pairs, len(units))
    ids = units["id"].astype(str).to_numpy()
    names = units["name"].astype(str).to_numpy()
    considered = "; ".join(s.describe() for s in standards)
    rows = []
    for seed in range(len(units)):
        ok, _, alone = merger.meets(frozenset([seed]))
        if ok:
            continue
        found = _minimal_sets(seed, merger, neighbours, max_size)
        ranked = sorted(
            found,
            key=lambda item: (
                len(item[0]),
                item[1],
                -polsby_popper(merger.shape(item[0])),
                item[3],
            ),
        )
        if not ranked:
            note = (
                "no neighbour (no shared boundary)"
                if not neighbours[seed]
                else f"no merger of up to {max_size} adjacent units meets the standards"
            )
            rows.append(
                {
                    "unit_id": ids[seed],
                    "unit_name": names[seed],
                    "rank": 0,
                    "members": ids[seed],
                    "member_names": names[seed],
                    "n_units": 1,
                    "excess": math.nan,
                    "compactness": polsby_popper(merger.shape(frozenset([seed]))),
                    "meets": False,
                    "considered": considered,
                    "note": note,
                    **{f"value_{k}": v for k, v in alone.items()},
                }
            )
        for rank, (members, excess, values, _) in enumerate(ranked[:top], start=1):
            order = [seed, *sorted(members - {seed}, key=lambda i: ids[i])]
            rows.append(
                {
                    "unit_id": ids[seed],
                    "unit_name": names[seed],
                    "rank": rank,
                    "members": ";".join(ids[order]),
                    "member_names": ";".join(names[order]),
                    "n_units": len(members),
                    "excess": excess,
                    "compactness": polsby_popper(merger.shape(members)),
                    "meets": True,
                    "considered": considered,
                    "note": "",
                    **{f"value_{k}": v for k, v in values.items()},
                }
            )
    columns = CANDIDATE_COLUMNS + [f"value_{s.criterion.id}" for s in standards]
    return pd.DataFrame.from_records(rows, columns=columns)


def _minimal_sets(
    seed: int, merger: _Merger, neighbours: list[set[int]], max_size: int
) -> list[tuple[frozenset[int], float, dict[str, float], str]]:
    found: list[tuple[frozenset[int], float, dict[str, float], str]] = []
    frontier = [frozenset([seed])]
    seen = set(frontier)
    ids = merger.units["id"].astype(str).to_numpy()
    for _ in range(max_size - 1):
        grown = []
        for members in frontier:
            for extra in sorted(set().union(*(neighbours[m] for m in members)) - members):
                candidate = members | {extra}
                if candidate in seen:
                    continue
                seen.add(candidate)
                if any(f[0] <= candidate for f in found):
                    continue
                ok, excess, values = merger.meets(candidate)
                if ok:
                    found.append(
                        (candidate, excess, values, ";".join(sorted(ids[list(candidate)])))
                    )
                else:
                    grown.append(candidate)
        frontier = grown
    return found


def propose_grouping(
    units: gpd.GeoDataFrame,
    standards: list[Standard],
    pairs: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Group adjacent units so that every group meets the standards, with many groups.

    The heuristic (greedy, not optimal):

    1. A unit that meets the standards alone is a group of its own.
    2. The other units, furthest from the standards first (largest relative
       shortfall summed over the criteria), each seed a group that takes, one
       at a time, the unplaced failing neighbour that best closes its gap: if
       some neighbour makes the group meet, the one that exceeds the
       thresholds least (then the most compact result); otherwise the one that
       leaves the smallest shortfall. It stops when the group meets, or has no
       unplaced failing neighbour left (its units are then set free).
    3. Units set free join, one at a time, an adjacent group that still meets
       with them, the most compact result first; repeated while any joins.
    4. Units still left are reported as not placed (kept alone).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
    standards : list of Standard
    pairs : pandas.DataFrame
        From :func:`adjacency`.

    Returns
    -------
    grouping : pandas.DataFrame
        ``old_id``, ``new_id``, ``new_name``, ``note``: every unit, in the
        grouping-file format. A group takes the id and name of its member with
        the largest value of the first criterion (population, when considered),
        followed by "(+n)", the number of the other members.
    groups : pandas.DataFrame
        ``new_id``, ``new_name``, ``members``, ``n_units``, ``meets``,
        ``excess`` and ``value_<criterion>``.
    unplaced : pandas.DataFrame
        ``id``, ``name``, ``reason``.
    """
    merger = _Merger(units, standards)
    neighbours = _neighbours(pairs, len(units))
    ids = units["id"].astype(str).to_numpy()
    names = units["name"].astype(str).to_numpy()
    group_of = np.full(len(units), -1)
    groups: list[set[int]] = []
    failing = []
    for unit in range(len(units)):
        ok, score, _ = merger.meets(frozenset([unit]))
        if ok:
            group_of[unit] = len(groups)
            groups.append({unit})
        else:
            failing.append((score, ids[unit], unit))
    free: list[int] = []
    for _, _, seed in sorted(failing):
        if group_of[seed] >= 0 or seed in free:
            continue
        members = {seed}
        ok = False
        while not ok:
            options = sorted(
                v
                for v in set().union(*(neighbours[m] for m in members)) - members
                if group_of[v] < 0 and v not in free
            )
            if not options:
                break
            judged = [(v, *merger.meets(frozenset(members | {v}))) for v in options]
            meeting = [j for j in judged if j[1]]
            if meeting:
                best = min(
                    meeting,
                    key=lambda j: (j[2], -polsby_popper(merger.shape(frozenset(members | {j[0]})))),
                )
            else:
                best = max(judged, key=lambda j: (j[2], -j[0]))
            members.add(best[0])
            ok = bool(best[1])
        if ok:
            for m in members:
                group_of[m] = len(groups)
            groups.append(members)
        else:
            free += sorted(members, key=lambda m: ids[m])
    changed = True
    while changed and free:
        changed = False
        for unit in list(free):
            adjacent = sorted({int(group_of[v]) for v in neighbours[unit] if group_of[v] >= 0})
            joins: list[tuple[float, int]] = []
            for g in adjacent:
                joined = frozenset(groups[g] | {unit})
                if merger.meets(joined)[0]:
                    joins.append((-polsby_popper(merger.shape(joined)), g))
            if joins:
                _, g = min(joins)
                groups[g].add(unit)
                group_of[unit] = g
                free.remove(unit)
                changed = True
    unplaced = [
        {
            "id": ids[u],
            "name": names[u],
            "reason": "no neighbour (no shared boundary)"
            if not neighbours[u]
            else "no adjacent group meets the standards with it, and its unplaced neighbours "
            "together do not meet them",
        }
        for u in sorted(free, key=lambda u: ids[u])
    ]
    for u in free:
        group_of[u] = len(groups)
        groups.append({u})
    key = standards[0].columns[0] if standards else "area_km2"
    grouping_rows, group_rows = [], []
    unplaced_ids = {row["id"] for row in unplaced}
    for members in groups:
        order = sorted(members, key=lambda m: (-merger.counts[key][m], ids[m]))
        head = order[0]
        new_id = ids[head]
        new_name = names[head] if len(members) == 1 else f"{names[head]} (+{len(members) - 1})"
        ok, excess, values = merger.meets(frozenset(members))
        note = "not placed: fails alone" if new_id in unplaced_ids else ""
        grouping_rows += [
            {"old_id": ids[m], "new_id": new_id, "new_name": new_name, "note": note} for m in order
        ]
        group_rows.append(
            {
                "new_id": new_id,
                "new_name": new_name,
                "members": ";".join(ids[order]),
                "n_units": len(members),
                "meets": ok,
                "excess": excess,
                **{f"value_{k}": v for k, v in values.items()},
            }
        )
    return (
        pd.DataFrame.from_records(grouping_rows),
        pd.DataFrame.from_records(group_rows),
        pd.DataFrame.from_records(unplaced, columns=["id", "name", "reason"]),
    )


def advise(
    result: RunResult,
    *,
    max_size: int = MAX_MERGE_SIZE,
    top: int = 5,
    snap_m: float = SNAP_M,
    min_shared_m: float = MIN_SHARED_M,
) -> Advice:
    """Advise mergers for the units of a run that fail the ward standard.

    The standard is the ward set in force for the run (``result.standard``);
    only its criteria that :func:`advisor_standards` can judge are considered
    (population and natural area, when every unit has them).

    Parameters
    ----------
    result : RunResult
    max_size : int, default :data:`MAX_MERGE_SIZE`
        Largest candidate merger per failing unit.
    top : int, default 5
        Candidates reported per failing unit.
    snap_m, min_shared_m : float
        See :func:`adjacency`.

    Returns
    -------
    Advice

    Raises
    ------
    ValidationError
        If no criterion of the ward standard can be judged on merged units.
    """
    units = result.units.reset_index(drop=True)
    standards, skipped = advisor_standards(result.standard, units, result.project.variants)
    if not standards:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        raise ValidationError(
            f"{result.standard.id}: no criterion the advisor can judge on merged units "
            f"({reasons}); give every unit a population (layers.units.population or a table)"
        )
    pairs = adjacency(units, snap_m=snap_m, min_shared_m=min_shared_m)
    candidates = candidate_merges(units, standards, pairs, max_size=max_size, top=top)
    grouping, groups, unplaced = propose_grouping(units, standards, pairs)
    bounds = [
        math.floor(float(np.sum(_Merger(units, [s]).counts[s.columns[0]])) / s.threshold)
        for s in standards
        if s.criterion.ratio is None and s.criterion.operator in (">=", ">")
    ]
    return Advice(
        standards=standards,
        skipped=skipped,
        candidates=candidates,
        grouping=grouping,
        groups=groups,
        unplaced=unplaced,
        upper_bound=min(bounds) if bounds else None,
        max_size=max_size,
    )


def advice_notes(advice: Advice) -> list[str]:
    """Return the lines that say what the advisor considered and found (for outputs)."""
    lines = [
        "Tiêu chí được xét / criteria considered: "
        + "; ".join(s.describe() for s in advice.standards)
    ]
    lines += [f"Không xét / not considered: {k}: {v}" for k, v in advice.skipped.items()]
    meeting = int(advice.groups["meets"].sum())
    bound = f" (upper bound {advice.upper_bound})" if advice.upper_bound is not None else ""
    lines.append(
        f"Đề xuất / proposed: groups {len(advice.groups)}, meeting the standards {meeting}{bound}; "
        f"units not placed {len(advice.unplaced)}"
        + (f": {', '.join(advice.unplaced['name'])}" if len(advice.unplaced) else "")
    )
    return lines

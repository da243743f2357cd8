"""Join tables to layers and hamlets to their commune."""

from __future__ import annotations

import difflib

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import JoinError, ValidationError
from geo.indicators import intersection_measure
from geo.names import closest_names, match_key, nfc
from geo.project import TableSpec
from geo.read import read_notes
from geo.validate import Finding, parse_counts

MIN_HAMLET_SHARE = 0.5
"""A hamlet with less than this share of its area in its best commune is reported."""


def join_table(
    layer: gpd.GeoDataFrame, table: pd.DataFrame, spec: TableSpec
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Add a table's values (population, households) to the features it names.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        Validated layer with ``id`` and ``name``.
    table : pandas.DataFrame
        The table as read by :func:`geo.read.read_table` (text cells, indexed by
        row number in the file; its reading notes become findings).
    spec : TableSpec
        Key column, match mode (``id`` or ``name``) and value columns.

    Returns
    -------
    layer : geopandas.GeoDataFrame
        A copy with the value columns set (NaN where no row matched).
    findings : list of Finding
        Reading notes (encoding, header), rows that match no feature (with the
        closest names), features with no row, ids matched without leading zeros.

    Raises
    ------
    JoinError
        If a named column is missing, or a key is duplicated in the table or
        (when matching names) shared by two features.
    NumberFormatError
        If a value is not a number or is negative (the message names the row).
    """
    where = f"{spec.key} ({spec.path.name})"
    findings = [Finding(*note) for note in read_notes(table)]
    needed = [spec.key_column, *spec.columns.values()]
    missing = [column for column in needed if column not in table.columns]
    if missing:
        columns = [str(c) for c in table.columns]
        hints = [
            f"{column!r} → {close[0]!r}?"
            for column in missing
            if (close := difflib.get_close_matches(column, columns, n=1, cutoff=0.6))
        ]
        hint = f"; did you mean {', '.join(hints)}" if hints else ""
        raise JoinError(
            f"{where}: column {', '.join(map(repr, missing))} is not in the table "
            f"(columns: {', '.join(columns)}){hint}"
        )
    if table.index.name != "row":
        table = table.set_axis(pd.RangeIndex(2, len(table) + 2, name="row"))
    rows = table.loc[table[spec.key_column].notna()].copy()
    to_key = match_key if spec.match == "name" else _id_key
    rows["_key"] = rows[spec.key_column].map(lambda value: to_key(str(value)))
    rows = rows.loc[rows["_key"] != ""]
    feature_keys = layer["name" if spec.match == "name" else "id"].map(
        lambda value: to_key(str(value))
    )
    if spec.match == "id":
        rows["_key"], found = _match_without_zeros(rows, feature_keys, spec)
        findings += found
    _refuse_duplicates(rows.loc[rows["_key"].isin(set(feature_keys))], spec, where)
    if spec.match == "name":
        shared = feature_keys[feature_keys.duplicated(keep=False)]
        if not shared.empty:
            names = layer.loc[shared.index, "name"]
            raise JoinError(
                f"{where}: features {', '.join(sorted(set(names)))} have names that cannot be "
                f"told apart; join by id instead (key = <the table's code column>)"
            )
    matched = rows.loc[rows["_key"].isin(set(feature_keys))]
    joined = layer.copy()
    for value_name, column in spec.columns.items():
        counts = parse_counts(matched[column], f"{where} column {column!r}")
        by_key = pd.Series(counts.to_numpy(), index=matched["_key"].to_numpy(), dtype="float64")
        joined[value_name] = feature_keys.map(by_key).astype("float64").to_numpy()
    findings += _unmatched(rows, feature_keys, layer, spec)
    return joined, findings


def _id_key(value: str) -> str:
    text = nfc(value)
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def _match_without_zeros(
    rows: pd.DataFrame, feature_keys: pd.Series, spec: TableSpec
) -> tuple[pd.Series, list[Finding]]:
    """Match ids that lost their leading zeros (Excel turns 05491 into 5491)."""
    known = set(feature_keys)
    stripped: dict[str, list[str]] = {}
    for key in known:
        stripped.setdefault(key.lstrip("0"), []).append(key)
    keys = []
    fixed = 0
    for key in rows["_key"]:
        candidates = stripped.get(key.lstrip("0"), [])
        if key not in known and key.isdigit() and len(candidates) == 1:
            key = candidates[0]  # noqa: PLW2901 - the key, restored
            fixed += 1
        keys.append(key)
    findings = []
    if fixed:
        findings.append(
            Finding(
                spec.key,
                f"column {spec.key_column}",
                "id_leading_zeros",
                f"{fixed} key(s) matched after restoring leading zeros (e.g. 5491 → 05491); "
                "store the key column as text",
                float(fixed),
            )
        )
    return pd.Series(keys, index=rows.index, dtype="object"), findings


def _refuse_duplicates(rows: pd.DataFrame, spec: TableSpec, where: str) -> None:
    duplicated = rows[rows["_key"].duplicated(keep=False)]
    if duplicated.empty:
        return
    lines = [
        f"{value} (rows {', '.join(str(i) for i in group.index)})"
        for value, group in duplicated.groupby(spec.key_column, sort=True)
    ]
    raise JoinError(
        f"{where}: key column {spec.key_column!r} repeats {'; '.join(lines[:5])}; keep one row "
        "per feature, or filter the table to this area"
    )


def _unmatched(
    rows: pd.DataFrame, feature_keys: pd.Series, layer: gpd.GeoDataFrame, spec: TableSpec
) -> list[Finding]:
    candidates = [str(name) for name in layer["name"]]
    unmatched = rows.loc[~rows["_key"].isin(set(feature_keys))]
    findings = [
        Finding(
            spec.key,
            str(value),
            "unmatched_row",
            f"row {row} matches no {spec.joins} feature{_closest(str(value), candidates)}",
        )
        for row, value in unmatched[spec.key_column].items()
    ]
    matched = set(rows["_key"])
    findings += [
        Finding(
            spec.joins,
            str(layer["id"].iloc[position]),
            "no_table_row",
            f"{layer['name'].iloc[position]}: no row in {spec.key}",
        )
        for position in np.flatnonzero(~feature_keys.isin(matched).to_numpy())
    ]
    return findings


def _closest(value: str, candidates: list[str]) -> str:
    close = closest_names(value, candidates)
    return f"; closest: {', '.join(close)}" if close else ""


def assign_hamlets(
    hamlets: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Give each hamlet the id of its commune (``unit_id``).

    A hamlet layer with a ``unit`` field keeps it (checked against the units);
    otherwise each hamlet goes to the unit it overlaps most. A hamlet with
    less than :data:`MIN_HAMLET_SHARE` of its area in that unit is reported.

    Parameters
    ----------
    hamlets, units : geopandas.GeoDataFrame
        Validated layers in the same projected CRS.

    Returns
    -------
    hamlets : geopandas.GeoDataFrame
        A copy with ``unit_id``.
    findings : list of Finding

    Raises
    ------
    ValidationError
        If a hamlet lies outside every unit, or names a unit that does not exist.
    """
    assigned = hamlets.copy()
    findings: list[Finding] = []
    if "unit" in hamlets.columns:
        unknown = sorted(set(hamlets["unit"].dropna()) - set(units["id"]))
        if unknown:
            raise ValidationError(
                f"layers.hamlets: field unit names {', '.join(unknown)}, not ids of layers.units"
            )
        assigned["unit_id"] = hamlets["unit"]
        return assigned.drop(columns="unit"), findings
    hamlet_geoms = hamlets.geometry.to_numpy()
    unit_geoms = units.geometry.to_numpy()
    hamlet, unit, overlap = _overlaps(hamlet_geoms, unit_geoms)
    table = pd.DataFrame({"hamlet": hamlet, "unit": unit, "overlap": overlap})
    table = table.loc[table["overlap"] > 0]
    best = table.sort_values("overlap", ascending=False).drop_duplicates("hamlet")
    outside = sorted(set(range(len(hamlets))) - set(best["hamlet"]))
    if outside:
        ids = ", ".join(str(hamlets["id"].iloc[i]) for i in outside[:10])
        raise ValidationError(
            f"layers.hamlets: hamlet {ids} lies outside every unit of layers.units; check "
            "the CRS of both layers or remove it"
        )
    best = best.set_index("hamlet").sort_index()
    assigned["unit_id"] = units["id"].to_numpy()[best["unit"].to_numpy()]
    share = best["overlap"].to_numpy() / shapely.area(hamlet_geoms)
    findings = [
        Finding(
            "hamlets",
            str(hamlets["id"].iloc[position]),
            "ambiguous_unit",
            f"only {share[position]:.0%} of the hamlet lies in unit "
            f"{assigned['unit_id'].iloc[position]}, its largest overlap",
            float(share[position]),
        )
        for position in np.flatnonzero(share < MIN_HAMLET_SHARE)
    ]
    return assigned, findings


def _overlaps(hamlets: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (hamlet, unit, area of their intersection) of the pairs that meet.

    A hamlet that one unit covers (boundary included: most of them) overlaps it
    by its whole area and the others by none, so only the pairs of the other
    hamlets are intersected (at L: 2,000 hamlets, 0.42 s -> 0.1 s).
    """
    unit_at, hamlet_at = shapely.STRtree(hamlets).query(units, predicate="covers")
    once = np.bincount(hamlet_at, minlength=len(hamlets)) == 1
    alone = once[hamlet_at]
    rest = np.flatnonzero(~once)
    pairs = shapely.STRtree(units).query(hamlets[rest], predicate="intersects")
    met, unit_met = rest[pairs[0]], pairs[1]
    overlap = intersection_measure(hamlets[met], units[unit_met])  # on threads
    return (
        np.concatenate([hamlet_at[alone], met]),
        np.concatenate([unit_at[alone], unit_met]),
        np.concatenate([shapely.area(hamlets[hamlet_at[alone]]), overlap]),
    )

"""The inputs table: figures and decisions no layer holds, filled in by the user.

Income, poverty rates, budget balance, labour shares and yes/no decisions
("recognised by the competent authority") are entered per unit or per
hamlet in a long table, one row per (level, id, indicator)::

    level,id,name,indicator,description_vi,description_en,unit_of_measure,criteria,value,year,source
    unit,05491,Xã Quyết Thắng,budget_revenue_to_expenditure_pct,…,…,%,ward.budget_balance,112,2024,…

``geo template`` writes this table for the criteria sets in force, with every
row but ``value``, ``year`` and ``source`` filled in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.criteria import CriteriaSet, Criterion
from geo.errors import LayerReadError, ValidationError
from geo.names import fold
from geo.read import parse_number
from geo.validate import Finding

TEMPLATE_COLUMNS = [
    "level",
    "id",
    "name",
    "indicator",
    "description_vi",
    "description_en",
    "unit_of_measure",
    "criteria",
    "value",
    "year",
    "source",
]
REQUIRED_COLUMNS = ("level", "id", "indicator", "value")
_TRUE = {"co", "yes", "true", "dat", "x", "y"}
_FALSE = {"khong", "no", "false", "chua dat", "chua", "n"}


@dataclass(frozen=True)
class InputIndicator:
    """One figure the user supplies, at one level, with the criteria that read it."""

    level: str
    indicator: str
    description_vi: str
    description_en: str
    unit_of_measure: str
    criteria: tuple[str, ...]
    boolean: bool


def input_indicators(sets: Iterable[CriteriaSet]) -> list[InputIndicator]:
    """List the inputs the given criteria sets read, per level, in a stable order.

    An input is the indicator of a criterion marked ``input = true`` (at each
    level the criterion applies to) or the ``threshold_from`` of a criterion
    (at unit level).
    """
    found: dict[tuple[str, str], InputIndicator] = {}
    for criteria_set in sets:
        for criterion in criteria_set.criteria:
            for level, indicator, own in _inputs_of(criterion):
                key = (level, indicator)
                if key in found:
                    old = found[key]
                    found[key] = InputIndicator(
                        **{**old.__dict__, "criteria": (*old.criteria, criterion.id)}
                    )
                    continue
                found[key] = InputIndicator(
                    level=level,
                    indicator=indicator,
                    description_vi=criterion.name_vi if own else f"Ngưỡng cho {criterion.name_vi}",
                    description_en=criterion.name_en
                    if own
                    else f"Threshold for {criterion.name_en}",
                    unit_of_measure=criterion.unit_of_measure,
                    criteria=(criterion.id,),
                    boolean=own and criterion.operator == "is_true",
                )
    return sorted(found.values(), key=lambda i: (i.level != "unit", i.indicator))


def _inputs_of(criterion: Criterion) -> list[tuple[str, str, bool]]:
    levels = [level for level in ("unit", "hamlet") if criterion.applies_to(level)]
    inputs = [(level, criterion.indicator, True) for level in levels if criterion.input]
    if criterion.threshold_from:
        inputs.append(("unit", criterion.threshold_from, False))
    return inputs


def template(
    sets: Iterable[CriteriaSet], units: pd.DataFrame, hamlets: pd.DataFrame | None
) -> pd.DataFrame:
    """Return the inputs table to fill in: one row per feature and input.

    Parameters
    ----------
    sets : iterable of CriteriaSet
        The sets in force.
    units, hamlets : pandas.DataFrame
        Features with ``id`` and ``name``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEMPLATE_COLUMNS`, ``value``, ``year`` and ``source`` empty.
    """
    rows = []
    for item in input_indicators(sets):
        features = units if item.level == "unit" else hamlets
        if features is None:
            continue
        unit_hint = "1 = có / yes, 0 = không / no" if item.boolean else item.unit_of_measure
        rows += [
            {
                "level": item.level,
                "id": ident,
                "name": name,
                "indicator": item.indicator,
                "description_vi": item.description_vi,
                "description_en": item.description_en,
                "unit_of_measure": unit_hint,
                "criteria": " ".join(item.criteria),
                "value": "",
                "year": "",
                "source": "",
            }
            for ident, name in zip(features["id"], features["name"], strict=True)
        ]
    return pd.DataFrame(rows, columns=TEMPLATE_COLUMNS)


def read_inputs(path: Path) -> pd.DataFrame:
    """Read a filled-in inputs table (CSV or XLSX) and parse its values.

    Empty values are dropped. Yes/no values (``1``/``0``, ``có``/``không``,
    ``yes``/``no``, ``đạt``/``chưa đạt``) become 1 and 0; numbers may be
    written the Vietnamese way (``1.234,5``).

    Returns
    -------
    pandas.DataFrame
        Columns ``level``, ``id``, ``indicator``, ``value`` (float), ``row``
        (the row number in the file, counting the header as row 1).

    Raises
    ------
    ValidationError
        If a column is missing, a level is not ``unit``/``hamlet``, a value is
        not a number or yes/no, or a (level, id, indicator) repeats.
    """
    where = f"inputs.path = {path}"
    table = _read(path, where)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValidationError(
            f"{where}: column {', '.join(missing)} missing (columns: {', '.join(table.columns)})"
        )
    table = table.assign(row=np.arange(2, len(table) + 2))
    table = table.loc[table["value"].notna() & (table["value"].astype(str).str.strip() != "")]
    bad_level = table.loc[~table["level"].isin(["unit", "hamlet"])]
    if not bad_level.empty:
        first = bad_level.iloc[0]
        raise ValidationError(
            f"{where}: row {first['row']}: level {first['level']!r} must be unit or hamlet"
        )
    values = [
        _value(text, f"{where}: row {row}")
        for text, row in zip(table["value"], table["row"], strict=True)
    ]
    parsed = pd.DataFrame(
        {
            "level": table["level"].to_numpy(),
            "id": table["id"].astype(str).str.strip().to_numpy(),
            "indicator": table["indicator"].astype(str).str.strip().to_numpy(),
            "value": values,
            "row": table["row"].to_numpy(),
        }
    )
    repeated = parsed[parsed.duplicated(["level", "id", "indicator"], keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        rows = ", ".join(
            map(
                str,
                repeated.loc[
                    (repeated["id"] == first["id"]) & (repeated["indicator"] == first["indicator"]),
                    "row",
                ],
            )
        )
        raise ValidationError(
            f"{where}: {first['level']} {first['id']} {first['indicator']} is given more than "
            f"once (rows {rows}); keep one"
        )
    return parsed


def _read(path: Path, where: str) -> pd.DataFrame:
    if not path.exists():
        raise LayerReadError(f"{where}: file not found")
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            table = pd.read_excel(path, dtype=str)
        else:
            table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except UnicodeDecodeError as error:
        raise LayerReadError(f"{where}: not UTF-8 text ({error}); save it as UTF-8") from error
    except (OSError, ValueError) as error:
        raise LayerReadError(f"{where}: cannot read it: {error}") from error
    table.columns = [str(column).strip() for column in table.columns]
    return table


def _value(text: object, where: str) -> float:
    folded = fold(str(text))
    if folded in _TRUE:
        return 1.0
    if folded in _FALSE:
        return 0.0
    try:
        return parse_number(text)
    except ValueError:
        raise ValidationError(
            f"{where}: value {text!r} is neither a number nor yes/no (có/không)"
        ) from None


def merge_inputs(
    features: pd.DataFrame, inputs: pd.DataFrame, level: str, known: Iterable[InputIndicator]
) -> tuple[pd.DataFrame, list[Finding]]:
    """Add the inputs of one level as columns of ``features``.

    Parameters
    ----------
    features : pandas.DataFrame
        Units or hamlets (``id``, ``name``).
    inputs : pandas.DataFrame
        As returned by :func:`read_inputs`.
    level : {"unit", "hamlet"}
    known : iterable of InputIndicator
        The inputs the sets in force read; other rows are reported and ignored.

    Returns
    -------
    features : pandas.DataFrame
        A copy with one float column per input indicator of the level.
    findings : list of Finding
        Rows for unknown ids (with the closest names) or unused indicators.

    Raises
    ------
    ValidationError
        If an input would replace an indicator the pipeline computes.
    """
    rows = inputs.loc[inputs["level"] == level]
    wanted = {item.indicator for item in known if item.level == level}
    findings: list[Finding] = []
    clash = sorted(set(rows["indicator"]) & set(features.columns))
    if clash:
        first = rows.loc[rows["indicator"] == clash[0]].iloc[0]
        raise ValidationError(
            f"inputs: row {first['row']}: {clash[0]} is computed from the layers; it cannot "
            "be entered in the inputs table"
        )
    unused = rows.loc[~rows["indicator"].isin(wanted)]
    findings += [
        Finding(
            "inputs",
            f"row {row.row}",
            "unused_input",
            f"{row.indicator} is read by no {level}-level criterion in force; ignored",
        )
        for row in unused.itertuples()
    ]
    rows = rows.loc[rows["indicator"].isin(wanted)]
    ids = set(features["id"].astype(str))
    names = [str(n) for n in features["name"]]
    unknown = rows.loc[~rows["id"].isin(ids)]
    findings += [
        Finding(
            "inputs",
            f"row {row.row}",
            "unmatched_row",
            f"{level} id {row.id} is not in the layer{_closest(str(row.id), sorted(ids) + names)}",
        )
        for row in unknown.itertuples()
    ]
    rows = rows.loc[rows["id"].isin(ids)]
    merged = features.copy()
    for indicator in sorted(wanted):
        values = rows.loc[rows["indicator"] == indicator].set_index("id")["value"]
        merged[indicator] = merged["id"].astype(str).map(values).astype("float64").to_numpy()
    return merged, findings


def _closest(value: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(value, candidates, n=2, cutoff=0.6)
    return f" (closest: {', '.join(close)})" if close else ""

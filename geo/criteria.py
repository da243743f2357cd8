"""Legal criteria as data: load the sets, pick the one in force, evaluate features.

A criteria set is a TOML file under ``layers/criteria/``. Every threshold
carries its source and a confidence (``verified`` in the legal text,
``secondary`` source, or ``unknown``). A threshold that is not on record is
never invented: its criterion is reported ``not_assessed`` with the reason.
"""

from __future__ import annotations

import math
import operator as op
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import CriteriaFileError
from geo.resources import layers_dir

STATUSES = ("pass", "fail", "not_assessed")
CONFIDENCES = ("verified", "secondary", "unknown")
LEVELS = ("unit", "hamlet")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
}
CRITERIA_COLUMNS = [
    "level",
    "id",
    "name",
    "set",
    "criterion",
    "criterion_vi",
    "criterion_en",
    "value",
    "operator",
    "threshold",
    "unit_of_measure",
    "status",
    "gap",
    "ratio",
    "source",
    "confidence",
    "note",
]
"""Columns of the criteria table (one row per feature and criterion)."""

_SUPPLY_HINTS = {
    "population": (
        "layers.units.population, a [tables.*] table joined to units, "
        "or the population of every hamlet"
    ),
}
_SET_KEYS = {
    "id",
    "name_vi",
    "name_en",
    "in_force_from",
    "in_force_until",
    "variant",
    "not_checked",
}
_CRITERION_KEYS = {
    "id",
    "name_vi",
    "name_en",
    "level",
    "indicator",
    "operator",
    "unit_of_measure",
    "threshold",
    "source",
    "confidence",
    "confidence_note",
}
_CRITERION_REQUIRED = _CRITERION_KEYS - {"threshold", "confidence_note"}


@dataclass(frozen=True)
class Criterion:
    """One legal criterion: what is measured, the threshold, and its citation."""

    id: str
    name_vi: str
    name_en: str
    level: str
    indicator: str
    operator: str
    unit_of_measure: str
    threshold: float | dict[str, float] | None
    source: str
    confidence: str
    confidence_note: str = ""

    def threshold_for(self, variant: str | None) -> tuple[float | None, str]:
        """Return the threshold that applies to ``variant``, or None and why not.

        Parameters
        ----------
        variant : str or None
            The project's variant value (e.g. ``provincial-city``).

        Returns
        -------
        threshold : float or None
        reason : str
            Empty when a threshold applies; else what the user must supply.
        """
        if self.threshold is None:
            return None, f"threshold not on record ({self.source}); supply it in a criteria file"
        if isinstance(self.threshold, dict):
            if variant is None:
                options = ", ".join(sorted(self.threshold))
                return None, f"set project.ward_of ({options}) to choose the threshold"
            if variant not in self.threshold:
                return None, f"no threshold for {variant!r} in this standard"
            return self.threshold[variant], ""
        return self.threshold, ""


@dataclass(frozen=True)
class CriteriaSet:
    """A versioned set of criteria from one legal basis, with its dates in force."""

    id: str
    name_vi: str
    name_en: str
    in_force_from: date
    in_force_until: date | None
    variant: str | None
    not_checked: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    path: Path

    def in_force(self, day: date) -> bool:
        """Whether the set applies on ``day``."""
        return self.in_force_from <= day and (
            self.in_force_until is None or day <= self.in_force_until
        )


def load_criteria_set(path: str | Path) -> CriteriaSet:
    """Read and validate one criteria-set file.

    Parameters
    ----------
    path : str or Path
        A TOML file with a ``[set]`` table and ``[[criteria]]`` entries.

    Returns
    -------
    CriteriaSet

    Raises
    ------
    CriteriaFileError
        If the file is not TOML or breaks the schema; the message names the
        file and the key (e.g. ``criteria[1].confidence``).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CriteriaFileError(f"{path}: cannot read it: {error}") from error
    head = data.get("set")
    if not isinstance(head, dict):
        raise CriteriaFileError(f"{path}: [set]: missing section")
    _keys(head, _SET_KEYS, {"id", "name_vi", "name_en", "in_force_from"}, f"{path}: set")
    entries = data.get("criteria")
    if not isinstance(entries, list) or not entries:
        raise CriteriaFileError(f"{path}: [[criteria]]: the set has no criteria")
    criteria = tuple(_criterion(entry, f"{path}: criteria[{i}]") for i, entry in enumerate(entries))
    ids = [criterion.id for criterion in criteria]
    if len(set(ids)) != len(ids):
        raise CriteriaFileError(f"{path}: criteria ids repeat: {sorted(ids)}")
    until = head.get("in_force_until")
    for key in ("in_force_from", "in_force_until"):
        if key in head and not isinstance(head[key], date):
            raise CriteriaFileError(f"{path}: set.{key} = {head[key]!r}: must be a date")
    not_checked = head.get("not_checked", [])
    if not isinstance(not_checked, list) or not all(isinstance(s, str) for s in not_checked):
        raise CriteriaFileError(f"{path}: set.not_checked: must be a list of strings")
    return CriteriaSet(
        id=_text(head, "id", f"{path}: set"),
        name_vi=_text(head, "name_vi", f"{path}: set"),
        name_en=_text(head, "name_en", f"{path}: set"),
        in_force_from=head["in_force_from"],
        in_force_until=until,
        variant=head.get("variant"),
        not_checked=tuple(not_checked),
        criteria=criteria,
        path=path,
    )


def _criterion(entry: Any, where: str) -> Criterion:
    if not isinstance(entry, dict):
        raise CriteriaFileError(f"{where}: must be a table")
    _keys(entry, _CRITERION_KEYS, _CRITERION_REQUIRED, where)
    level = _choice(entry, "level", LEVELS, where)
    operator = _choice(entry, "operator", tuple(OPERATORS), where)
    confidence = _choice(entry, "confidence", CONFIDENCES, where)
    threshold = _threshold(entry.get("threshold"), f"{where}.threshold")
    if threshold is None and confidence != "unknown":
        raise CriteriaFileError(f"{where}.confidence: must be 'unknown' when no threshold is given")
    if threshold is not None and confidence == "unknown":
        raise CriteriaFileError(f"{where}.threshold: an 'unknown' criterion must not carry one")
    return Criterion(
        id=_text(entry, "id", where),
        name_vi=_text(entry, "name_vi", where),
        name_en=_text(entry, "name_en", where),
        level=level,
        indicator=_text(entry, "indicator", where),
        operator=operator,
        unit_of_measure=str(entry["unit_of_measure"]),
        threshold=threshold,
        source=_text(entry, "source", where),
        confidence=confidence,
        confidence_note=str(entry.get("confidence_note", "")),
    )


def _threshold(value: Any, where: str) -> float | dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise CriteriaFileError(f"{where} = {value!r}: must be a number or a table of numbers")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict) and value:
        return {str(k): _number(v, f"{where}.{k}") for k, v in value.items()}
    raise CriteriaFileError(f"{where} = {value!r}: must be a number or a table of numbers")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CriteriaFileError(f"{where} = {value!r}: must be a number")
    return float(value)


def _keys(entry: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CriteriaFileError(f"{where}.{unknown[0]}: unknown key (allowed: {sorted(allowed)})")
    missing = sorted(required - set(entry))
    if missing:
        raise CriteriaFileError(f"{where}.{missing[0]}: missing")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CriteriaFileError(f"{where}.{key} = {value!r}: must be a non-empty string")
    return value


def _choice(entry: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = entry[key]
    if value not in allowed:
        raise CriteriaFileError(f"{where}.{key} = {value!r}: must be one of {', '.join(allowed)}")
    return str(value)


def bundled_sets(folder: Path | None = None) -> list[CriteriaSet]:
    """Load every criteria set shipped in ``layers/criteria`` (or ``folder``)."""
    folder = folder or layers_dir() / "criteria"
    return [load_criteria_set(path) for path in sorted(folder.glob("*.toml"))]


def set_in_force(sets: Iterable[CriteriaSet], day: date, prefix: str = "ward-") -> CriteriaSet:
    """Return the set of a family (by id prefix) in force on ``day``.

    Raises
    ------
    CriteriaFileError
        If no set, or more than one, of the family is in force that day.
    """
    family = [s for s in sets if s.id.startswith(prefix)]
    found = [s for s in family if s.in_force(day)]
    if len(found) != 1:
        spans = "; ".join(f"{s.id}: {s.in_force_from}–{s.in_force_until or '…'}" for s in family)
        what = "no" if not found else "more than one"
        raise CriteriaFileError(f"{what} {prefix}* standard in force on {day} (on record: {spans})")
    return found[0]


def evaluate(
    criteria_set: CriteriaSet,
    features: pd.DataFrame,
    *,
    level: str,
    variant: str | None = None,
) -> pd.DataFrame:
    """Evaluate every criterion of a set, at one level, for every feature.

    Parameters
    ----------
    criteria_set : CriteriaSet
    features : pandas.DataFrame
        ``id``, ``name`` and the indicator columns the criteria read.
    level : {"unit", "hamlet"}
        Which criteria apply (those of this level).
    variant : str, optional
        Value of the set's variant (e.g. ``project.ward_of``).

    Returns
    -------
    pandas.DataFrame
        One row per feature and criterion, columns :data:`CRITERIA_COLUMNS`.
        ``gap`` is how much is missing in the criterion's unit (0 when it
        passes); ``ratio`` is value ÷ threshold.
    """
    rows = []
    for criterion in criteria_set.criteria:
        if criterion.level != level:
            continue
        threshold, reason = criterion.threshold_for(variant)
        values = (
            features[criterion.indicator].to_numpy(dtype="float64")
            if criterion.indicator in features.columns
            else np.full(len(features), np.nan)
        )
        for ident, name, value in zip(features["id"], features["name"], values, strict=True):
            status, gap, ratio, note = _judge(criterion, float(value), threshold, reason)
            rows.append(
                {
                    "level": level,
                    "id": ident,
                    "name": name,
                    "set": criteria_set.id,
                    "criterion": criterion.id,
                    "criterion_vi": criterion.name_vi,
                    "criterion_en": criterion.name_en,
                    "value": value,
                    "operator": criterion.operator,
                    "threshold": np.nan if threshold is None else threshold,
                    "unit_of_measure": criterion.unit_of_measure,
                    "status": status,
                    "gap": gap,
                    "ratio": ratio,
                    "source": criterion.source,
                    "confidence": criterion.confidence,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=CRITERIA_COLUMNS)


def _judge(
    criterion: Criterion, value: float, threshold: float | None, reason: str
) -> tuple[str, float, float, str]:
    if threshold is None:
        return "not_assessed", math.nan, math.nan, reason
    if math.isnan(value):
        hint = _SUPPLY_HINTS.get(criterion.indicator, "see the project file reference")
        return "not_assessed", math.nan, math.nan, f"no {criterion.indicator} value; supply {hint}"
    passed = OPERATORS[criterion.operator](value, threshold)
    gap = 0.0 if passed else abs(threshold - value)
    ratio = value / threshold if threshold else math.nan
    return ("pass" if passed else "fail"), gap, ratio, ""


def verdicts(rows: pd.DataFrame) -> pd.Series:
    """Combine criterion statuses per feature: fail if any fails, pass if all pass.

    Parameters
    ----------
    rows : pandas.DataFrame
        Criteria rows of one level (columns ``id`` and ``status``).

    Returns
    -------
    pandas.Series
        Indexed by feature id: ``pass``, ``fail`` or ``not_assessed``.
    """

    def combine(statuses: pd.Series) -> str:
        if (statuses == "fail").any():
            return "fail"
        if (statuses == "pass").all():
            return "pass"
        return "not_assessed"

    return rows.groupby("id", sort=False)["status"].agg(combine)

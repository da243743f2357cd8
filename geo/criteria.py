"""Legal criteria as data: load the sets, pick those in force, evaluate features.

A criteria set is a TOML file under ``layers/criteria/`` (schema below, checked
on load). Every threshold carries its source (document, article, dates in
force) and a confidence: ``verified`` in the legal text, ``secondary`` source,
or ``unknown``. A threshold that is not on record is never invented: its
criterion is reported ``not_assessed`` with the reason and what to supply.

Schema of a set file::

    [set]
    id = "ward-2023"              # unique
    family = "ward"               # sets of one family replace each other over time
    name_vi = "…"
    name_en = "…"
    document = "NQ 1211/2016/UBTVQH13 …"
    in_force_from = 2023-01-01
    in_force_until = 2025-12-31   # optional
    notes = ["…"]                 # optional caveats shown with the results

    [[criteria]]
    id = "ward.population"
    name_vi = "Quy mô dân số"
    name_en = "Population"
    group = "…"                   # optional heading (e.g. NTM group)
    level = "unit"                # unit | hamlet | both
    indicator = "population"      # a column computed by the pipeline or an input
    ratio = { numerator = ["landuse_DGD_km2"], denominator = "population", scale = 1e6 }
                                  # optional: the value is scale·Σnumerator/Σdenominator
    input = true                  # optional: the value comes from the inputs table
    operator = ">="               # >= > <= < is_true
    threshold = { district = 15000, provincial-city = 7000, town = 5000 }
    variant = "ward_of"           # ward_of | region | urban_class: keys of a threshold table
    threshold_from = "…"          # optional: threshold read from the inputs table
    threshold_factor = 1.1        # optional, with threshold_from
    unit_of_measure = "người"
    source = { document = "…", article = "Điều 8 khoản 1", in_force = 2023-01-01 }
    confidence = "verified"       # verified | secondary | unknown
    note = "…"                    # optional

A provincial layer file holds new sets and/or ``[[override]]`` entries
(``set``, ``criterion`` and any of ``threshold``, ``variant``,
``threshold_from``, ``threshold_factor``, ``source``, ``confidence``,
``note``) merged over the national sets.
"""

from __future__ import annotations

import math
import operator as op
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import CriteriaFileError
from geo.resources import layers_dir

STATUSES = ("pass", "fail", "not_assessed")
CONFIDENCES = ("verified", "secondary", "unknown")
LEVELS = ("unit", "hamlet", "both")
VARIANTS = ("ward_of", "region", "urban_class")
"""Project settings a threshold table may be keyed by."""
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
}
OPERATORS = (*COMPARISONS, "is_true")
CRITERIA_COLUMNS = [
    "level",
    "id",
    "name",
    "family",
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
CONTRIBUTION_COLUMNS = [
    "unit_id",
    "criterion",
    "id",
    "name",
    "contribution",
    "unit_of_measure",
    "share_of_gap_pct",
]
"""Columns of the hamlet-contribution table."""

_SET_KEYS = {
    "id",
    "family",
    "name_vi",
    "name_en",
    "document",
    "in_force_from",
    "in_force_until",
    "notes",
}
_SET_REQUIRED = {"id", "family", "name_vi", "name_en", "document", "in_force_from"}
_CRITERION_KEYS = {
    "id",
    "name_vi",
    "name_en",
    "group",
    "level",
    "indicator",
    "ratio",
    "input",
    "operator",
    "threshold",
    "variant",
    "threshold_from",
    "threshold_factor",
    "unit_of_measure",
    "source",
    "confidence",
    "note",
}
_CRITERION_REQUIRED = {
    "id",
    "name_vi",
    "name_en",
    "level",
    "indicator",
    "operator",
    "unit_of_measure",
    "source",
    "confidence",
}
_SOURCE_KEYS = {"document", "article", "in_force", "repealed", "url", "note"}
_OVERRIDE_KEYS = {
    "set",
    "criterion",
    "threshold",
    "variant",
    "threshold_from",
    "threshold_factor",
    "source",
    "confidence",
    "note",
}
_SUPPLY_HINTS = {
    "population": (
        "layers.units.population, a [tables.*] table joined to units, "
        "or the population of every hamlet"
    ),
}


@dataclass(frozen=True)
class Source:
    """Where a threshold comes from."""

    document: str
    article: str = ""
    in_force: date | None = None
    repealed: date | None = None
    url: str = ""
    note: str = ""

    def cite(self) -> str:
        """Return the citation as one line: document, article."""
        return f"{self.document}, {self.article}" if self.article else self.document


@dataclass(frozen=True)
class Ratio:
    """A value computed as ``scale · Σ numerator / Σ denominator``."""

    numerator: tuple[str, ...]
    denominator: str
    scale: float = 1.0


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
    source: Source
    confidence: str
    threshold: float | dict[str, float] | None = None
    variant: str | None = None
    threshold_from: str | None = None
    threshold_factor: float = 1.0
    ratio: Ratio | None = None
    input: bool = False
    group: str = ""
    note: str = ""
    overridden_by: str = ""

    def applies_to(self, level: str) -> bool:
        """Whether the criterion is evaluated at ``level`` (``unit`` or ``hamlet``)."""
        return self.level in (level, "both")

    def threshold_for(self, variants: Mapping[str, str | None]) -> tuple[float | None, str]:
        """Return the fixed threshold that applies, or None and why not.

        Parameters
        ----------
        variants : mapping
            The project's variant values (``ward_of``, ``region``, ``urban_class``).

        Returns
        -------
        threshold : float or None
            None also for ``is_true`` criteria and thresholds read from inputs.
        reason : str
            Empty when the criterion can be judged; else what the user must supply.
        """
        if self.operator == "is_true" or self.threshold_from:
            return None, ""
        if self.threshold is None:
            return None, f"threshold not on record ({self.source.cite()})" + (
                f"; {self.note}" if self.note else ""
            )
        if isinstance(self.threshold, dict):
            assert self.variant is not None  # checked on load
            value = variants.get(self.variant)
            if value is None:
                options = ", ".join(sorted(self.threshold))
                return None, f"set project.{self.variant} ({options}) to choose the threshold"
            if value not in self.threshold:
                return None, f"threshold for {self.variant} = {value!r} not on record"
            return self.threshold[value], ""
        return self.threshold, ""


@dataclass(frozen=True)
class CriteriaSet:
    """A versioned set of criteria from one legal basis, with its dates in force."""

    id: str
    family: str
    name_vi: str
    name_en: str
    document: str
    in_force_from: date
    in_force_until: date | None
    criteria: tuple[Criterion, ...]
    path: Path
    notes: tuple[str, ...] = field(default=())

    def in_force(self, day: date) -> bool:
        """Whether the set applies on ``day``."""
        return self.in_force_from <= day and (
            self.in_force_until is None or day <= self.in_force_until
        )

    @property
    def not_checked(self) -> tuple[str, ...]:
        """What the set cannot judge: its notes, then each criterion whose threshold is unknown."""
        unknown = tuple(
            f"{c.name_vi} / {c.name_en}: {c.note or 'threshold not on record'}"
            for c in self.criteria
            if c.confidence == "unknown"
        )
        return self.notes + unknown

    def criterion(self, criterion_id: str) -> Criterion:
        """Return the criterion with this id (KeyError if absent)."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)


# ----------------------------------------------------------------------------- loading


def load_criteria_file(path: str | Path) -> tuple[list[CriteriaSet], list[dict[str, Any]]]:
    """Read and validate one criteria file: at most one set, and overrides.

    Parameters
    ----------
    path : str or Path
        A TOML file with a ``[set]`` table and ``[[criteria]]`` entries, and/or
        ``[[override]]`` entries.

    Returns
    -------
    sets : list of CriteriaSet
        The set of the file, if it has one.
    overrides : list of dict
        The validated override entries (applied by :func:`apply_overrides`).

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
    _keys(data, {"set", "criteria", "override"}, set(), f"{path}:")
    sets = [_criteria_set(data, path)] if "set" in data or "criteria" in data else []
    overrides = data.get("override", [])
    if not isinstance(overrides, list):
        raise CriteriaFileError(f"{path}: override: must be [[override]] entries")
    for i, entry in enumerate(overrides):
        where = f"{path}: override[{i}]"
        if not isinstance(entry, dict):
            raise CriteriaFileError(f"{where}: must be a table")
        _keys(entry, _OVERRIDE_KEYS, {"set", "criterion"}, where)
    if not sets and not overrides:
        raise CriteriaFileError(f"{path}: no [set] and no [[override]]: nothing to load")
    return sets, [{**entry, "_file": str(path)} for entry in overrides]


def load_criteria_set(path: str | Path) -> CriteriaSet:
    """Read and validate a file holding one criteria set (see :func:`load_criteria_file`)."""
    sets, _ = load_criteria_file(path)
    if not sets:
        raise CriteriaFileError(f"{path}: [set]: missing section")
    return sets[0]


def _criteria_set(data: dict[str, Any], path: Path) -> CriteriaSet:
    head = data.get("set")
    if not isinstance(head, dict):
        raise CriteriaFileError(f"{path}: [set]: missing section")
    where = f"{path}: set"
    _keys(head, _SET_KEYS, _SET_REQUIRED, where)
    for key in ("in_force_from", "in_force_until"):
        if key in head and not isinstance(head[key], date):
            raise CriteriaFileError(f"{where}.{key} = {head[key]!r}: must be a date YYYY-MM-DD")
    notes = head.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise CriteriaFileError(f"{where}.notes: must be a list of strings")
    entries = data.get("criteria")
    if not isinstance(entries, list) or not entries:
        raise CriteriaFileError(f"{path}: [[criteria]]: the set has no criteria")
    criteria = tuple(_criterion(entry, f"{path}: criteria[{i}]") for i, entry in enumerate(entries))
    ids = [criterion.id for criterion in criteria]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CriteriaFileError(f"{path}: criteria ids repeat: {', '.join(repeated)}")
    return CriteriaSet(
        id=_text(head, "id", where),
        family=_text(head, "family", where),
        name_vi=_text(head, "name_vi", where),
        name_en=_text(head, "name_en", where),
        document=_text(head, "document", where),
        in_force_from=head["in_force_from"],
        in_force_until=head.get("in_force_until"),
        criteria=criteria,
        path=path,
        notes=tuple(notes),
    )


def _criterion(entry: Any, where: str) -> Criterion:
    if not isinstance(entry, dict):
        raise CriteriaFileError(f"{where}: must be a table")
    _keys(entry, _CRITERION_KEYS, _CRITERION_REQUIRED, where)
    ratio = entry.get("ratio")
    criterion = Criterion(
        id=_text(entry, "id", where),
        name_vi=_text(entry, "name_vi", where),
        name_en=_text(entry, "name_en", where),
        level=_choice(entry, "level", LEVELS, where),
        indicator=_text(entry, "indicator", where),
        operator=_choice(entry, "operator", OPERATORS, where),
        unit_of_measure=str(entry["unit_of_measure"]),
        source=_source(entry["source"], f"{where}.source"),
        confidence=_choice(entry, "confidence", CONFIDENCES, where),
        threshold=_threshold(entry.get("threshold"), f"{where}.threshold"),
        variant=entry.get("variant"),
        threshold_from=entry.get("threshold_from"),
        threshold_factor=_number(entry.get("threshold_factor", 1.0), f"{where}.threshold_factor"),
        ratio=None if ratio is None else _ratio(ratio, f"{where}.ratio"),
        input=_flag(entry.get("input", False), f"{where}.input"),
        group=str(entry.get("group", "")),
        note=str(entry.get("note", "")),
    )
    _check_consistency(criterion, where)
    return criterion


def _check_consistency(criterion: Criterion, where: str) -> None:
    """Check the rules that tie threshold, variant, operator and confidence together."""
    has_threshold = criterion.threshold is not None
    if has_threshold and criterion.operator == "is_true":
        raise CriteriaFileError(f"{where}.threshold: an is_true criterion takes no threshold")
    if has_threshold and criterion.threshold_from:
        raise CriteriaFileError(
            f"{where}.threshold_from: give threshold or threshold_from, not both"
        )
    if isinstance(criterion.threshold, dict) and criterion.variant not in VARIANTS:
        raise CriteriaFileError(
            f"{where}.variant = {criterion.variant!r}: a threshold table needs variant, one of "
            f"{', '.join(VARIANTS)}"
        )
    if not isinstance(criterion.threshold, dict) and criterion.variant is not None:
        raise CriteriaFileError(f"{where}.variant: only a threshold table takes a variant")
    judged = has_threshold or bool(criterion.threshold_from) or criterion.operator == "is_true"
    if not judged and criterion.confidence != "unknown":
        raise CriteriaFileError(f"{where}.confidence: must be 'unknown' when no threshold is given")
    if judged and criterion.confidence == "unknown":
        raise CriteriaFileError(
            f"{where}.threshold: an 'unknown' criterion must not carry one (nor be is_true or "
            "read its threshold from inputs)"
        )


def _source(value: Any, where: str) -> Source:
    if isinstance(value, str) and value.strip():
        return Source(document=value)
    if not isinstance(value, dict):
        raise CriteriaFileError(f"{where}: must be a table (document, article, in_force, …)")
    _keys(value, _SOURCE_KEYS, {"document"}, where)
    for key in ("in_force", "repealed"):
        if key in value and not isinstance(value[key], date):
            raise CriteriaFileError(f"{where}.{key} = {value[key]!r}: must be a date")
    return Source(
        document=_text(value, "document", where),
        article=str(value.get("article", "")),
        in_force=value.get("in_force"),
        repealed=value.get("repealed"),
        url=str(value.get("url", "")),
        note=str(value.get("note", "")),
    )


def _ratio(value: Any, where: str) -> Ratio:
    if not isinstance(value, dict):
        raise CriteriaFileError(f"{where}: must be a table (numerator, denominator, scale)")
    _keys(value, {"numerator", "denominator", "scale"}, {"numerator", "denominator"}, where)
    numerator = value["numerator"]
    if isinstance(numerator, str):
        numerator = [numerator]
    if not isinstance(numerator, list) or not all(isinstance(n, str) for n in numerator):
        raise CriteriaFileError(f"{where}.numerator: must be a column name or a list of them")
    return Ratio(
        numerator=tuple(numerator),
        denominator=_text(value, "denominator", where),
        scale=_number(value.get("scale", 1.0), f"{where}.scale"),
    )


def _threshold(value: Any, where: str) -> float | dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, dict) and value:
        return {str(k): _number(v, f"{where}.{k}") for k, v in value.items()}
    return _number(value, where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CriteriaFileError(f"{where} = {value!r}: must be a number")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CriteriaFileError(f"{where} = {value!r}: must be true or false")
    return value


def _keys(entry: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CriteriaFileError(
            f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})"
        )
    missing = sorted(required - set(entry))
    if missing:
        raise CriteriaFileError(f"{where}.{missing[0]}: missing")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CriteriaFileError(f"{where}.{key} = {value!r}: must be a non-empty string")
    return value


def _choice(entry: Mapping[str, Any], key: str, allowed: Sequence[str], where: str) -> str:
    value = entry[key]
    if value not in allowed:
        raise CriteriaFileError(f"{where}.{key} = {value!r}: must be one of {', '.join(allowed)}")
    return str(value)


def bundled_sets(folder: Path | None = None) -> list[CriteriaSet]:
    """Load every national criteria set shipped in ``layers/criteria`` (or ``folder``)."""
    folder = folder or layers_dir() / "criteria"
    sets = [load_criteria_set(path) for path in sorted(folder.glob("*.toml"))]
    ids = [s.id for s in sets]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CriteriaFileError(f"{folder}: set ids repeat: {', '.join(repeated)}")
    return sets


def load_sets(extra_files: Iterable[Path] = ()) -> list[CriteriaSet]:
    """Load the national sets, then each provincial file's sets and overrides over them.

    Parameters
    ----------
    extra_files : iterable of Path
        Provincial or city layer files, applied in order.

    Returns
    -------
    list of CriteriaSet
    """
    sets = bundled_sets()
    overrides: list[dict[str, Any]] = []
    for path in extra_files:
        more, entries = load_criteria_file(path)
        clash = {s.id for s in more} & {s.id for s in sets}
        if clash:
            raise CriteriaFileError(f"{path}: set id {', '.join(sorted(clash))} already exists")
        sets += more
        overrides += entries
    return apply_overrides(sets, overrides)


def apply_overrides(sets: list[CriteriaSet], overrides: list[dict[str, Any]]) -> list[CriteriaSet]:
    """Return ``sets`` with each override's keys replacing those of its criterion.

    Raises
    ------
    CriteriaFileError
        If an override names a set or criterion that does not exist, or the
        overridden criterion breaks the schema.
    """
    by_id = {s.id: s for s in sets}
    for i, entry in enumerate(overrides):
        where = f"{entry['_file']}: override[{i}]"
        target = by_id.get(entry["set"])
        if target is None:
            raise CriteriaFileError(f"{where}.set = {entry['set']!r}: no such criteria set")
        try:
            old = target.criterion(entry["criterion"])
        except KeyError:
            raise CriteriaFileError(
                f"{where}.criterion = {entry['criterion']!r}: not in set {target.id}"
            ) from None
        changes: dict[str, Any] = {"overridden_by": entry["_file"]}
        if "threshold" in entry:
            changes["threshold"] = _threshold(entry["threshold"], f"{where}.threshold")
        if "variant" in entry:
            changes["variant"] = entry["variant"]
        if "threshold_from" in entry:
            changes["threshold_from"] = entry["threshold_from"]
        if "threshold_factor" in entry:
            changes["threshold_factor"] = _number(
                entry["threshold_factor"], f"{where}.threshold_factor"
            )
        if "source" in entry:
            changes["source"] = _source(entry["source"], f"{where}.source")
        if "confidence" in entry:
            changes["confidence"] = _choice(entry, "confidence", CONFIDENCES, where)
        if "note" in entry:
            changes["note"] = str(entry["note"])
        new = replace(old, **changes)
        _check_consistency(new, where)
        criteria = tuple(new if c.id == old.id else c for c in target.criteria)
        by_id[target.id] = replace(target, criteria=criteria)
    return [by_id[s.id] for s in sets]


def sets_in_force(
    sets: Iterable[CriteriaSet], day: date, families: Iterable[str] | None = None
) -> list[CriteriaSet]:
    """Return, for each family, the set in force on ``day``.

    Parameters
    ----------
    sets : iterable of CriteriaSet
    day : datetime.date
    families : iterable of str, optional
        Only these families (default: all).

    Raises
    ------
    CriteriaFileError
        If two sets of one family are in force the same day, or a requested
        family has none in force.
    """
    sets = list(sets)
    wanted = sorted({s.family for s in sets} if families is None else set(families))
    found = []
    for family in wanted:
        members = [s for s in sets if s.family == family]
        current = [s for s in members if s.in_force(day)]
        if len(current) > 1:
            raise CriteriaFileError(
                f"more than one {family} set in force on {day}: {[s.id for s in current]}"
            )
        if current:
            found.append(current[0])
        elif families is not None:
            spans = "; ".join(
                f"{s.id}: {s.in_force_from}–{s.in_force_until or '…'}" for s in members
            )
            raise CriteriaFileError(
                f"no {family} criteria set in force on {day} (on record: {spans or 'none'})"
            )
    return found


def set_in_force(sets: Iterable[CriteriaSet], day: date, family: str = "ward") -> CriteriaSet:
    """Return the set of one family in force on ``day`` (see :func:`sets_in_force`)."""
    return sets_in_force(sets, day, [family])[0]


# ----------------------------------------------------------------------------- evaluation


def indicator_values(criterion: Criterion, features: pd.DataFrame) -> np.ndarray:
    """Return the criterion's indicator for every feature (NaN where unknown).

    A ratio criterion is computed from its columns: a missing count, land-use
    or road column counts as 0 when its layer was given (``count_*`` with any
    ``count_`` column, ``landuse_*`` with ``landuse_covered_km2``, ``road_*``
    with ``road_km``), else as unknown.
    """
    if criterion.ratio is None:
        return _column(features, criterion.indicator)
    ratio = criterion.ratio
    numerator = np.sum([_column(features, name) for name in ratio.numerator], axis=0)
    denominator = _column(features, ratio.denominator)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = ratio.scale * np.asarray(numerator, dtype="float64") / denominator
    return np.where(denominator > 0, value, np.nan)


def _column(features: pd.DataFrame, name: str) -> np.ndarray:
    if name in features.columns:
        return pd.to_numeric(features[name], errors="coerce").to_numpy(dtype="float64")
    layer_given = (
        (name.startswith("count_") and any(c.startswith("count_") for c in features.columns))
        or (name.startswith("landuse_") and "landuse_covered_km2" in features.columns)
        or (name.startswith("road_") and "road_km" in features.columns)
    )
    return np.zeros(len(features)) if layer_given else np.full(len(features), np.nan)


def evaluate(
    criteria_set: CriteriaSet,
    features: pd.DataFrame,
    *,
    level: str,
    variants: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Evaluate every criterion of a set that applies at ``level``, for every feature.

    Parameters
    ----------
    criteria_set : CriteriaSet
    features : pandas.DataFrame
        ``id``, ``name`` and the indicator (and input) columns the criteria read.
    level : {"unit", "hamlet"}
    variants : mapping, optional
        The project's ``ward_of``, ``region`` and ``urban_class``.

    Returns
    -------
    pandas.DataFrame
        One row per feature and criterion, columns :data:`CRITERIA_COLUMNS`.
        ``gap`` is how much is missing in the criterion's unit (0 when it
        passes); ``ratio`` is value ÷ threshold.
    """
    variants = variants or {}
    rows = []
    for criterion in criteria_set.criteria:
        if not criterion.applies_to(level):
            continue
        fixed, reason = criterion.threshold_for(variants)
        values = indicator_values(criterion, features)
        thresholds = (
            _column(features, criterion.threshold_from) * criterion.threshold_factor
            if criterion.threshold_from
            else np.full(len(features), np.nan if fixed is None else fixed)
        )
        source = criterion.source.cite() + (
            f" [override: {Path(criterion.overridden_by).name}]" if criterion.overridden_by else ""
        )
        for ident, name, value, threshold in zip(
            features["id"], features["name"], values, thresholds, strict=True
        ):
            status, gap, ratio, note = judge(criterion, float(value), float(threshold), reason)
            rows.append(
                {
                    "level": level,
                    "id": ident,
                    "name": name,
                    "family": criteria_set.family,
                    "set": criteria_set.id,
                    "criterion": criterion.id,
                    "criterion_vi": criterion.name_vi,
                    "criterion_en": criterion.name_en,
                    "value": value,
                    "operator": criterion.operator,
                    "threshold": threshold,
                    "unit_of_measure": criterion.unit_of_measure,
                    "status": status,
                    "gap": gap,
                    "ratio": ratio,
                    "source": source,
                    "confidence": criterion.confidence,
                    "note": note or criterion.note,
                }
            )
    return pd.DataFrame(rows, columns=CRITERIA_COLUMNS)


def judge(
    criterion: Criterion, value: float, threshold: float, reason: str = ""
) -> tuple[str, float, float, str]:
    """Judge one value: return status, gap, ratio to the standard, and a note.

    Parameters
    ----------
    criterion : Criterion
    value : float
        NaN when unknown.
    threshold : float
        NaN when unknown (ignored for ``is_true``).
    reason : str
        Why the threshold is unknown, if it is.

    Returns
    -------
    status : str
        ``pass``, ``fail`` or ``not_assessed``.
    gap : float
        How much is missing, in the criterion's unit; 0 on pass; NaN if not assessed
        or not numeric.
    ratio : float
        ``value / threshold`` ("% of standard" ÷ 100); NaN if not numeric.
    note : str
        Why the criterion is not assessed, if it is not.
    """
    if math.isnan(value):
        what = f"{criterion.indicator} value"
        hint = _SUPPLY_HINTS.get(
            criterion.indicator,
            "it in the inputs table (geo template)" if criterion.input else "the layer it needs",
        )
        return "not_assessed", math.nan, math.nan, f"no {what}; supply {hint}"
    if criterion.operator == "is_true":
        return ("pass" if value != 0 else "fail"), math.nan, math.nan, ""
    if math.isnan(threshold):
        if criterion.threshold_from and not reason:
            reason = f"no {criterion.threshold_from} value; supply it in the inputs table"
        return "not_assessed", math.nan, math.nan, reason
    passed = COMPARISONS[criterion.operator](value, threshold)
    gap = 0.0 if passed else abs(threshold - value)
    ratio = value / threshold if threshold else math.nan
    return ("pass" if passed else "fail"), gap, ratio, ""


def verdicts(rows: pd.DataFrame) -> pd.Series:
    """Combine criterion statuses per feature: fail if any fails, pass if all pass.

    Parameters
    ----------
    rows : pandas.DataFrame
        Criteria rows (columns ``id`` and ``status``).

    Returns
    -------
    pandas.Series
        Indexed by feature id: ``pass``, ``fail`` or ``not_assessed``.
    """
    status = rows["status"].astype(object)
    grouped = pd.DataFrame(
        {"fail": (status == "fail").to_numpy(), "other": (status != "pass").to_numpy()},
        index=pd.Index(rows["id"], name="id"),
    ).groupby(level="id", sort=False)
    any_fail, any_other = grouped["fail"].any(), grouped["other"].any()
    result = pd.Series("not_assessed", index=any_fail.index, name="status", dtype=object)
    result[~any_other.to_numpy()] = "pass"
    result[any_fail.to_numpy()] = "fail"
    return result


def hamlet_contributions(
    criteria_set: CriteriaSet,
    hamlets: pd.DataFrame,
    unit_rows: pd.DataFrame,
) -> pd.DataFrame:
    """Split each commune's gap on a ratio criterion among its hamlets.

    For a criterion ``V = s·ΣN/ΣD`` over the hamlets of a commune with
    threshold ``T``, hamlet ``h`` contributes ``(T·D_h − s·N_h) / ΣD`` (for
    ``>=``; the opposite sign for ``<=``) in the criterion's unit. The
    contributions sum to the commune's signed gap ``T − V``: positive ones pull
    the commune below the standard, negative ones make up for others.

    Parameters
    ----------
    criteria_set : CriteriaSet
    hamlets : pandas.DataFrame
        ``id``, ``name``, ``unit_id`` and the ratio columns.
    unit_rows : pandas.DataFrame
        The set's criteria rows at unit level (for thresholds).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CONTRIBUTION_COLUMNS`; ``share_of_gap_pct`` is the
        hamlet's contribution over the commune's gap where the commune fails.
    """
    rows = []
    for criterion in criteria_set.criteria:
        if criterion.ratio is None or not criterion.applies_to("unit"):
            continue
        if criterion.operator not in COMPARISONS:
            continue
        ratio = criterion.ratio
        numerator = np.sum([_column(hamlets, name) for name in ratio.numerator], axis=0)
        denominator = _column(hamlets, ratio.denominator)
        judged = unit_rows.loc[unit_rows["criterion"] == criterion.id]
        thresholds = dict(zip(judged["id"], judged["threshold"], strict=True))
        sign = 1.0 if criterion.operator in (">=", ">") else -1.0
        for unit_id, members in hamlets.groupby("unit_id", sort=True).groups.items():
            if unit_id not in thresholds:
                continue
            threshold = float(thresholds[unit_id])
            position = hamlets.index.get_indexer(members)
            total = float(np.nansum(denominator[position]))
            if math.isnan(threshold) or not total > 0:
                continue
            part = sign * (threshold * denominator[position] - ratio.scale * numerator[position])
            contribution = part / total
            gap = float(np.nansum(contribution))
            for pos, value in zip(position, contribution, strict=True):
                rows.append(
                    {
                        "unit_id": unit_id,
                        "criterion": criterion.id,
                        "id": hamlets["id"].iloc[pos],
                        "name": hamlets["name"].iloc[pos],
                        "contribution": value,
                        "unit_of_measure": criterion.unit_of_measure,
                        "share_of_gap_pct": value / gap * 100.0 if gap > 0 else math.nan,
                    }
                )
    return pd.DataFrame(rows, columns=CONTRIBUTION_COLUMNS)

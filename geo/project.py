"""The project file (``project.toml``): what the user's data is and where it lives.

The file is validated on load; every error names the offending key.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.crs import province_crs
from geo.errors import ProjectFileError
from geo.names import match_key
from geo.resources import layers_dir, ntm_regions

PROJECT_FILE = "project.toml"
WARD_OF_VALUES = ("district", "provincial-city", "town")
"""Which ward standard applies: ward of a district (quận), of a provincial city, of a town."""

LAYER_ROLES = ("units", "hamlets", "landuse", "infrastructure", "roads")

# Per section: allowed keys, and which of them are required.
_PROJECT_KEYS = {
    "name",
    "province",
    "crs",
    "ward_of",
    "region",
    "urban_class",
    "as_of",
    "criteria",
    "criteria_files",
    "sources",
    "note",
}
URBAN_CLASSES = ("special", "I", "II", "III", "IV", "V")
"""Urban class of the parent city or town (đô thị loại đặc biệt, I … V)."""
_LAYER_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "units": (
        {"path", "layer", "id", "name", "population", "households", "official_area"},
        {"path", "id", "name"},
    ),
    "hamlets": (
        {"path", "layer", "id", "name", "unit", "population", "households"},
        {"path", "id", "name"},
    ),
    "landuse": ({"path", "layer", "code"}, {"path", "code"}),
    "infrastructure": ({"path", "layer", "kind", "name"}, {"path", "kind"}),
    "roads": ({"path", "layer", "surface"}, {"path"}),
}
_TABLE_KEYS = {"path", "sheet", "joins", "key", "match", "name", "population", "households"}


@dataclass(frozen=True)
class LayerSpec:
    """Where one input layer is and which of its fields mean what.

    Attributes
    ----------
    role : str
        One of ``units``, ``hamlets``, ``landuse``, ``infrastructure``, ``roads``.
    path : Path
        The file, absolute.
    layer : str or None
        Layer name inside a multi-layer file (GeoPackage); None for the first.
    fields : dict of str to str
        Logical field (``id``, ``name``, ``population``, ``code``, ``kind``,
        ``surface``, …) → column name in the file.
    """

    role: str
    path: Path
    layer: str | None
    fields: dict[str, str]

    @property
    def key(self) -> str:
        """The project-file key of this layer, for messages."""
        return f"layers.{self.role}"


@dataclass(frozen=True)
class TableSpec:
    """A non-spatial table (CSV or XLSX) joined to a layer by key.

    Attributes
    ----------
    name : str
        The table's name in the project file (``tables.<name>``).
    path : Path
        The file, absolute.
    sheet : str or None
        Worksheet of an XLSX file; None for the first.
    joins : str
        ``hamlets`` or ``units``: the layer the rows belong to.
    key_column : str
        Column of the table holding the key.
    match : str
        ``id`` to match the key to the layer's id, ``name`` to match names
        ignoring diacritics, case, spacing and prefixes.
    columns : dict of str to str
        Logical value (``population``, ``households``) → column in the table.
    """

    name: str
    path: Path
    sheet: str | None
    joins: str
    key_column: str
    match: str
    columns: dict[str, str]

    @property
    def key(self) -> str:
        """The project-file key of this table, for messages."""
        return f"tables.{self.name}"


@dataclass(frozen=True)
class Project:
    """A validated project: settings, layers and tables.

    Attributes
    ----------
    root : Path
        The folder holding ``project.toml``; relative paths start here.
    name : str
        Display name of the project (usually the commune or city).
    crs : pyproj.CRS
        Projected CRS in which areas and lengths are computed.
    province : str or None
        Province name, as written.
    ward_of : str or None
        ``district``, ``provincial-city`` or ``town``.
    as_of : datetime.date
        Date whose legal standards apply.
    region : str or None
        New Rural Development region (``TDMNPB``, ``DBSH``, …), from the project
        file or the province.
    urban_class : str or None
        Urban class of the parent city (``special``, ``I`` … ``V``).
    families : tuple of str or None
        Criteria families to evaluate (``ward``, ``ntm``, …); None for all in force.
    criteria_files : tuple of Path
        Provincial or city criteria files merged over the national sets
        (``geo:NAME`` in the file: a bundled one, see :data:`BUNDLED_PREFIX`).
    inputs : Path or None
        The inputs table (non-spatial figures and decisions, see ``geo template``).
    layers : dict of str to LayerSpec
        By role; ``units`` is always present.
    tables : dict of str to TableSpec
        By name.
    sources : str
        Free text naming the data sources, shown with the outputs.
    note : str
        Free text caveat (e.g. illustrative data), shown with the outputs.
    """

    root: Path
    name: str
    crs: CRS
    province: str | None = None
    ward_of: str | None = None
    region: str | None = None
    urban_class: str | None = None
    families: tuple[str, ...] | None = None
    criteria_files: tuple[Path, ...] = ()
    inputs: Path | None = None
    as_of: date = field(default_factory=date.today)
    layers: dict[str, LayerSpec] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    sources: str = ""
    note: str = ""

    @property
    def file(self) -> Path:
        """Path of the project file."""
        return self.root / PROJECT_FILE

    @property
    def variants(self) -> dict[str, str | None]:
        """The settings that select threshold variants in criteria sets."""
        return {"ward_of": self.ward_of, "region": self.region, "urban_class": self.urban_class}


def load_project(folder: str | Path, *, as_of: date | None = None) -> Project:
    """Read and validate ``project.toml`` in ``folder``.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``project.toml`` (or the path of the file itself).
    as_of : datetime.date, optional
        Overrides ``project.as_of``.

    Returns
    -------
    Project

    Raises
    ------
    ProjectFileError
        If the file is missing or not TOML, or a key is unknown, missing or
        of the wrong type. The message names the key.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / PROJECT_FILE
    if not path.is_file():
        raise ProjectFileError(f"{path}: no project file here (expected {PROJECT_FILE})")
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ProjectFileError(f"{path}: not valid TOML: {error}") from error
    except UnicodeDecodeError as error:
        raise ProjectFileError(f"{path}: not UTF-8 text: {error}") from error
    return parse_project(data, root=path.parent.resolve(), as_of=as_of, file=path)


def parse_project(
    data: dict[str, Any], *, root: Path, as_of: date | None = None, file: Path | None = None
) -> Project:
    """Validate a parsed project mapping and return a :class:`Project`.

    Parameters
    ----------
    data : dict
        The TOML content.
    root : Path
        Folder that relative paths start from.
    as_of : datetime.date, optional
        Overrides ``project.as_of``.
    file : Path, optional
        The file the mapping came from, for messages.

    Returns
    -------
    Project
    """
    where = f"{file}: " if file else ""
    _check_keys(data, {"project", "layers", "tables", "inputs"}, "", where)
    section = _table(data, "project", where, required=True)
    _check_keys(section, _PROJECT_KEYS, "project", where)
    name = _string(section, "name", "project", where, required=True)
    province = _string(section, "province", "project", where)
    crs = _project_crs(section, province, where)
    ward_of = _string(section, "ward_of", "project", where)
    if ward_of is not None and ward_of not in WARD_OF_VALUES:
        raise ProjectFileError(
            f"{where}project.ward_of = {ward_of!r}: must be one of {', '.join(WARD_OF_VALUES)}"
        )
    urban_class = _string(section, "urban_class", "project", where)
    if urban_class is not None and urban_class not in URBAN_CLASSES:
        raise ProjectFileError(
            f"{where}project.urban_class = {urban_class!r}: must be one of "
            f"{', '.join(URBAN_CLASSES)}"
        )
    region = _region(section, province, where)
    families = _strings(section, "criteria", "project", where)
    criteria_files = tuple(
        _criteria_file(text, root, where)
        for text in _strings(section, "criteria_files", "project", where) or ()
    )
    inputs_section = _table(data, "inputs", where, required=False)
    _check_keys(inputs_section, {"path"}, "inputs", where)
    inputs = _path(inputs_section, "inputs", root, where) if inputs_section else None
    layers_section = _table(data, "layers", where, required=True)
    _check_keys(layers_section, set(LAYER_ROLES), "layers", where)
    if "units" not in layers_section:
        raise ProjectFileError(f"{where}layers.units: missing (the communes or wards to check)")
    layers = {
        role: _layer(role, layers_section[role], root, where)
        for role in LAYER_ROLES
        if role in layers_section
    }
    tables_section = _table(data, "tables", where, required=False)
    tables = {
        table_name: _table_spec(table_name, spec, root, where, layers)
        for table_name, spec in tables_section.items()
    }
    return Project(
        root=root,
        name=name or "",
        crs=crs,
        province=province,
        ward_of=ward_of,
        region=region,
        urban_class=urban_class,
        families=None if families is None else tuple(families),
        criteria_files=criteria_files,
        inputs=inputs,
        as_of=as_of or _date(section, where) or date.today(),
        layers=layers,
        tables=tables,
        sources=_string(section, "sources", "project", where) or "",
        note=_string(section, "note", "project", where) or "",
    )


def _project_crs(section: dict[str, Any], province: str | None, where: str) -> CRS:
    text = _string(section, "crs", "project", where)
    if text is None:
        if province is None:
            raise ProjectFileError(
                f"{where}project: give province (to pick its VN-2000 TM-3 CRS) or crs"
            )
        try:
            return province_crs(province)
        except ProjectFileError as error:
            raise ProjectFileError(f"{where}{error}") from error
    try:
        crs = CRS.from_user_input(text)
    except CRSError as error:
        raise ProjectFileError(f"{where}project.crs = {text!r}: not a known CRS") from error
    if not crs.is_projected:
        raise ProjectFileError(
            f"{where}project.crs = {text!r} is geographic (degrees); areas need a projected "
            "CRS in metres, e.g. EPSG:9213 (VN-2000 / TM-3 106-30)"
        )
    return crs


def _date(section: dict[str, Any], where: str) -> date | None:
    value = section.get("as_of")
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ProjectFileError(f"{where}project.as_of = {value!r}: must be a date YYYY-MM-DD")


def _layer(role: str, spec: Any, root: Path, where: str) -> LayerSpec:
    key = f"layers.{role}"
    if not isinstance(spec, dict):
        raise ProjectFileError(f"{where}{key}: must be a table of keys (path, id, …)")
    allowed, required = _LAYER_KEYS[role]
    _check_keys(spec, allowed, key, where)
    for name in sorted(required):
        _string(spec, name, key, where, required=True)
    fields = {
        name: value
        for name in sorted(allowed - {"path", "layer"})
        if (value := _string(spec, name, key, where)) is not None
    }
    return LayerSpec(
        role=role,
        path=_path(spec, key, root, where),
        layer=_string(spec, "layer", key, where),
        fields=fields,
    )


def _table_spec(
    name: str, spec: Any, root: Path, where: str, layers: dict[str, LayerSpec]
) -> TableSpec:
    key = f"tables.{name}"
    if not isinstance(spec, dict):
        raise ProjectFileError(f"{where}{key}: must be a table of keys (path, joins, key, …)")
    _check_keys(spec, _TABLE_KEYS, key, where)
    joins = _string(spec, "joins", key, where, required=True)
    if joins not in {"hamlets", "units"}:
        raise ProjectFileError(f"{where}{key}.joins = {joins!r}: must be hamlets or units")
    if joins not in layers:
        raise ProjectFileError(f"{where}{key}.joins = {joins!r} but layers.{joins} is not given")
    key_value = _string(spec, "key", key, where, required=True) or ""
    match = _string(spec, "match", key, where) or ("name" if key_value == "name" else "id")
    if match not in {"id", "name"}:
        raise ProjectFileError(f"{where}{key}.match = {match!r}: must be id or name")
    key_column = key_value
    if key_value == "name":
        key_column = _string(spec, "name", key, where) or "name"
    columns = {
        value_name: column
        for value_name in ("population", "households")
        if (column := _string(spec, value_name, key, where)) is not None
    }
    if not columns:
        raise ProjectFileError(f"{where}{key}: name at least one value column (population, …)")
    return TableSpec(
        name=name,
        path=_path(spec, key, root, where),
        sheet=_string(spec, "sheet", key, where),
        joins=joins,
        key_column=key_column,
        match=match,
        columns=columns,
    )


def _path(spec: dict[str, Any], key: str, root: Path, where: str) -> Path:
    return _resolve(_string(spec, "path", key, where, required=True) or "", root)


def _resolve(text: str, root: Path) -> Path:
    path = Path(text)
    return path if path.is_absolute() else (root / path).resolve()


BUNDLED_PREFIX = "geo:"
"""Prefix of a ``criteria_files`` entry that names a bundled criteria file
(``"geo:provincial/thai-nguyen.toml"``: ``layers/criteria/provincial/…``), so
that a project names it the same way wherever the project folder lies."""


def _criteria_file(text: str, root: Path, where: str) -> Path:
    """Resolve a ``criteria_files`` entry: bundled (``geo:…``) or relative to ``root``."""
    if not text.startswith(BUNDLED_PREFIX):
        return _resolve(text, root)
    bundled = layers_dir() / "criteria"
    path = bundled / text.removeprefix(BUNDLED_PREFIX)
    if not path.is_file():
        known = sorted(p.relative_to(bundled).as_posix() for p in bundled.rglob("*.toml"))
        raise ProjectFileError(
            f"{where}project.criteria_files: {text!r} is not a bundled criteria file; the bundled "
            f"ones are {', '.join(BUNDLED_PREFIX + k for k in known)} (or give a path relative "
            "to the project folder)"
        )
    return path


def _region(section: dict[str, Any], province: str | None, where: str) -> str | None:
    regions, by_province = ntm_regions()
    region = _string(section, "region", "project", where)
    if region is not None:
        if region not in regions:
            raise ProjectFileError(
                f"{where}project.region = {region!r}: must be one of {', '.join(regions)}"
            )
        return region
    if province is None:
        return None
    return by_province.get(match_key(province.removeprefix("Tỉnh ")))


def _strings(spec: dict[str, Any], name: str, key: str, where: str) -> list[str] | None:
    value = spec.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ProjectFileError(f"{where}{key}.{name} = {value!r}: must be a list of strings")
    return value


def _table(data: dict[str, Any], key: str, where: str, *, required: bool) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise ProjectFileError(f"{where}[{key}]: missing section")
        return {}
    if not isinstance(value, dict):
        raise ProjectFileError(f"{where}{key}: must be a section ([{key}])")
    return value


def _string(
    spec: dict[str, Any], name: str, key: str, where: str, *, required: bool = False
) -> str | None:
    value = spec.get(name)
    full = f"{key}.{name}"
    if value is None:
        if required:
            raise ProjectFileError(f"{where}{full}: missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProjectFileError(f"{where}{full} = {value!r}: must be a non-empty string")
    return value


def _check_keys(spec: dict[str, Any], allowed: set[str], key: str, where: str) -> None:
    for name in spec:
        if name in allowed:
            continue
        full = f"{key}.{name}" if key else name
        close = difflib.get_close_matches(name, sorted(allowed), n=1)
        allowed_text = ", ".join(sorted(allowed))
        hint = f" (did you mean {close[0]}?)" if close else f" (allowed: {allowed_text})"
        raise ProjectFileError(f"{where}{full}: unknown key{hint}")

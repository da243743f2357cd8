"""Coordinate reference systems: VN-2000 TM-3 by province, extent checks and unit guards.

Areas and lengths are only ever computed in a projected CRS. Vietnam's
cadastral standard is VN-2000 with a 3° transverse Mercator zone (scale
factor 0.9999, false easting 500 km) on the province's own central meridian.
The meridian of every province, old (63) and new (34, from 1 July 2025), is
kept as data with its sources and confidence in
``layers/reference/vn2000-zones.toml``.

Two mistakes put VN-2000 data hundreds of metres or kilometres off, and are
caught here: a TM-3 CRS without VN-2000's datum shift to WGS 84 (the
"internal" variant, about 200 m off), and coordinates whose CRS is wrong or
whose axes are swapped (outside Vietnam, or outside the stated province).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo.errors import GeographicCrsError, ProjectFileError, ValidationError
from geo.names import fold, match_key
from geo.resources import layers_dir

TM3_EPSG_BY_MERIDIAN: dict[float, int] = {
    102.0: 5896,  # VN-2000 / TM-3 zone 481 (same parameters as a TM-3 102°00' province zone)
    103.0: 9205,
    104.0: 9206,
    104.5: 9207,
    104.75: 9208,
    105.0: 5897,  # VN-2000 / TM-3 zone 482: central meridian 105°00', k = 0.9999
    105.5: 9209,
    105.75: 9210,
    106.0: 9211,
    106.25: 9212,
    106.5: 9213,
    107.0: 9214,
    107.25: 9215,
    107.5: 9216,
    107.75: 5899,
    108.0: 5898,  # VN-2000 / TM-3 zone 491: central meridian 108°00', k = 0.9999
    108.25: 9217,
    108.5: 9218,
}
"""EPSG code of the VN-2000 / TM-3 CRS for each central meridian (degrees east).

EPSG:5896-5898 are the three national TM-3 zones; their parameters (meridian,
k = 0.9999, false easting 500 km, VN-2000 datum) are those of a provincial
zone on the same meridian, so they serve the provinces on 105°00' and 108°00'.
"""

VN2000_TOWGS84 = (
    -191.90441429,
    -39.30318279,
    -111.45032835,
    0.00928836,
    -0.01975479,
    0.00427372,
    0.252906278,
)
"""VN-2000 → WGS 84 shift of EPSG transformation "VN-2000 to WGS 84 (2)", the one PROJ
uses for EPSG:9213, as PROJ ``+towgs84`` (position-vector rotations in arc-seconds, scale in
ppm; EPSG lists the rotations with the opposite signs, coordinate-frame convention)."""

SCALE_FACTOR = 0.9999
FALSE_EASTING = 500_000.0
LAYOUTS = {"63": "before 1 July 2025 (63 provinces)", "34": "from 1 July 2025 (34 provinces)"}
_OLD_WORDS = {"cu", "old", "63", "truoc2025", "truocsapnhap"}
_NEW_WORDS = {"moi", "new", "34", "2025", "sausapnhap"}
_PROVINCE_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ", "tp.")


@dataclass(frozen=True)
class ProvinceZone:
    """The VN-2000 TM-3 central meridian of one province, with its sources.

    Attributes
    ----------
    province : str
        Name, without "Tỉnh"/"Thành phố".
    meridian : float
        Central meridian, degrees east.
    source : str
        The sources (keys explained in the data file's header).
    confidence : str
        ``secondary``, ``c973-only`` or ``single-source`` (see the data file).
    layout : str
        ``63`` (until 30 June 2025) or ``34`` (from 1 July 2025).
    aliases : tuple of str
        Other spellings.
    members : tuple of str
        For a new province, the old provinces it was formed from.
    member_meridians : tuple of float
        Their meridians under Circular 973/2001.
    flagged : bool
        True when the members' meridians differ or the meridian changed in 2025.
    note : str
        Why it is flagged.
    bbox : tuple of float
        Approximate extent (lon_min, lat_min, lon_max, lat_max), WGS 84.
    """

    province: str
    meridian: float
    source: str
    confidence: str
    layout: str = "63"
    aliases: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    member_meridians: tuple[float, ...] = ()
    flagged: bool = False
    note: str = ""
    bbox: tuple[float, float, float, float] | None = field(default=None, compare=False)

    @property
    def epsg(self) -> int | None:
        """The EPSG code of the province's CRS, if EPSG has one."""
        return TM3_EPSG_BY_MERIDIAN.get(self.meridian)

    def describe(self) -> str:
        """Return e.g. ``Thái Nguyên (34 provinces) 106°30′``."""
        layout = "after 1 July 2025" if self.layout == "34" else "before 1 July 2025"
        return f"{self.province} ({layout}) {dms(self.meridian)}"


def dms(meridian: float) -> str:
    """Format a meridian as degrees and minutes.

    Examples
    --------
    >>> dms(106.5), dms(104.75)
    ('106°30′', '104°45′')
    """
    degrees = int(meridian)
    return f"{degrees}°{round((meridian - degrees) * 60):02d}′"


@cache
def _registry() -> tuple[tuple[ProvinceZone, ...], tuple[tuple[float, float, float, float], ...]]:
    path = layers_dir() / "reference" / "vn2000-zones.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    zones = tuple(
        ProvinceZone(
            province=entry["name"],
            meridian=float(entry["meridian"]),
            source=", ".join(entry["sources"]),
            confidence=entry["confidence"],
            layout=entry["layout"],
            aliases=tuple(entry.get("aliases", ())),
            members=tuple(entry.get("members", ())),
            member_meridians=tuple(float(m) for m in entry.get("member_meridians", ())),
            flagged=bool(entry.get("flagged", False)),
            note=entry.get("note", ""),
            bbox=_box(entry["bbox"]) if "bbox" in entry else None,
        )
        for entry in data["province"]
    )
    vietnam = data["vietnam"]
    boxes = (_box(vietnam["mainland"]), *(_box(box) for box in vietnam["islands"]))
    return zones, boxes


def _box(values: list[float]) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in values)
    return west, south, east, north


def province_zones() -> tuple[ProvinceZone, ...]:
    """Return every province on record (63 old and 34 new)."""
    return _registry()[0]


def vietnam_boxes() -> tuple[tuple[float, float, float, float], ...]:
    """Return the approximate extent of Vietnam: the mainland box, then island boxes."""
    return _registry()[1]


def _province_key(name: str) -> tuple[str, str | None]:
    """Return the matching key of a province name and the layout it asks for, if any."""
    text = fold(name)
    layout = None
    if "(" in text and text.rstrip().endswith(")"):
        text, _, qualifier = text.rstrip(")").partition("(")
        word = qualifier.replace(" ", "")
        if word in _OLD_WORDS:
            layout = "63"
        elif word in _NEW_WORDS:
            layout = "34"
    for prefix in _PROVINCE_PREFIXES:
        if text.startswith(prefix):
            text = text.removeprefix(prefix)
            break
    return match_key(text), layout


def find_zones(province: str) -> list[ProvinceZone]:
    """Return the provinces on record that ``province`` may name (both layouts).

    Names are compared ignoring diacritics, case, spacing and the "Tỉnh",
    "Thành phố", "TP." prefixes; a trailing ``(cũ)``/``(old)`` or
    ``(mới)``/``(new)``/``(2025)`` picks the layout.

    Examples
    --------
    >>> [z.layout for z in find_zones("Tỉnh Bắc Ninh")]
    ['63', '34']
    >>> [z.meridian for z in find_zones("Bac Ninh (moi)")]
    [107.0]
    """
    key, layout = _province_key(province)
    return [zone for zone, keys in _zone_keys() if key in keys and layout in {None, zone.layout}]


@cache
def _zone_keys() -> tuple[tuple[ProvinceZone, frozenset[str]], ...]:
    """Each province on record with the matching keys of its name and aliases."""
    return tuple(
        (zone, frozenset(_province_key(name)[0] for name in (zone.province, *zone.aliases)))
        for zone in province_zones()
    )


def province_zone(province: str) -> ProvinceZone:
    """Return the one province on record named ``province``.

    Raises
    ------
    ProjectFileError
        If the name is not on record, or names an old and a new province
        whose meridians differ (the message gives both and how to choose).
    """
    zones = find_zones(province)
    if not zones:
        raise ProjectFileError(
            f"project.province = {province!r}: not a province on record (see "
            "layers/reference/vn2000-zones.toml); check the spelling, or set project.crs, "
            'e.g. crs = "EPSG:9213" for VN-2000 / TM-3 106°30′'
        )
    meridians = {zone.meridian for zone in zones}
    if len(meridians) > 1:
        options = "; ".join(
            f"{z.describe()} (EPSG:{z.epsg}): write province = "
            f'"{z.province} ({"cũ" if z.layout == "63" else "mới"})"'
            for z in zones
        )
        raise ProjectFileError(
            f"project.province = {province!r} names two provinces with different VN-2000 "
            f"meridians: {options}; or set project.crs"
        )
    return max(zones, key=lambda z: z.layout == "34")


def tm3_crs(meridian: float) -> CRS:
    """Return the VN-2000 TM-3 CRS on a central meridian.

    The EPSG CRS when EPSG has one; otherwise one built from a PROJ string with
    the VN-2000 datum shift :data:`VN2000_TOWGS84` (as PROJ applies it for
    EPSG:9213), so that it lands where an EPSG zone would.

    Examples
    --------
    >>> tm3_crs(106.5).to_epsg()
    9213
    >>> tm3_crs(106.75).to_epsg() is None
    True
    """
    code = TM3_EPSG_BY_MERIDIAN.get(meridian)
    if code is not None:
        return CRS.from_epsg(code)
    towgs84 = ",".join(repr(v) for v in VN2000_TOWGS84)
    return CRS.from_proj4(
        f"+proj=tmerc +lat_0=0 +lon_0={meridian!r} +k={SCALE_FACTOR} +x_0={FALSE_EASTING:.0f} "
        f"+y_0=0 +ellps=WGS84 +towgs84={towgs84} +units=m +no_defs +type=crs"
    )


def province_crs(province: str) -> CRS:
    """Return the VN-2000 TM-3 CRS of a province.

    Parameters
    ----------
    province : str
        Province name, with or without diacritics or the "Tỉnh"/"Thành phố"
        prefix; ``(cũ)`` or ``(mới)`` after the name picks the layout when
        the old and new province of that name have different meridians.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    ProjectFileError
        If the province is not on record or is ambiguous; the message says to set ``crs``.

    Examples
    --------
    >>> province_crs("Thai Nguyen").to_epsg()
    9213
    >>> province_crs("Thành phố Hà Nội").to_epsg()
    5897
    """
    return tm3_crs(province_zone(province).meridian)


def province_bounds(province: str | None) -> tuple[float, float, float, float] | None:
    """Return the union of the boxes of every province ``province`` may name, or None."""
    if not province:
        return None
    boxes = [zone.bbox for zone in find_zones(province) if zone.bbox is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def tm3_meridian(crs: CRS) -> float | None:
    """Return the central meridian if ``crs`` is a TM-3 projection of Vietnam's kind, else None.

    A transverse Mercator with scale factor 0.9999, false easting 500 km and a
    meridian between 102° and 110° east.
    """
    base = crs.source_crs if crs.is_bound and crs.source_crs is not None else crs
    operation = base.coordinate_operation
    if (
        not base.is_projected
        or operation is None
        or "Transverse Mercator" not in operation.method_name
    ):
        return None
    params = {p.name: float(p.value) for p in operation.params if isinstance(p.value, int | float)}
    meridian = params.get("Longitude of natural origin")
    if (
        meridian is None
        or abs(params.get("Scale factor at natural origin", 0) - SCALE_FACTOR) > 1e-9
        or abs(params.get("False easting", 0) - FALSE_EASTING) > 1e-3
        or not 102.0 <= meridian <= 110.0
    ):
        return None
    return float(meridian)


def lacks_vn2000_shift(crs: CRS) -> bool:
    """Return whether ``crs`` is a VN-2000 TM-3 projection without the datum shift to WGS 84.

    Such a CRS (``+proj=tmerc … +k=0.9999 +ellps=WGS84`` with no ``+towgs84``,
    or on the WGS 84 datum) is the "internal" VN-2000: data that is really
    VN-2000 lands about 200 m off when it is reprojected.
    """
    if tm3_meridian(crs) is None:
        return False
    if crs.is_bound:
        operation = crs.coordinate_operation
        towgs84 = getattr(operation, "towgs84", None) if operation is not None else None
        return not towgs84 or not any(abs(v) > 0 for v in towgs84)
    datum = fold(crs.datum.name if crs.datum else "")
    return not any(word in datum for word in ("vietnam", "vn-2000", "vn_2000", "vn2000"))


@lru_cache(maxsize=16)
def lonlat_transformer(crs: CRS) -> Transformer:
    """Return the transformer from ``crs`` to WGS 84 longitude and latitude, made once per CRS.

    A project's layers share one CRS: 3 ms a layer saved. pyproj's transformers
    may be used from several threads (since pyproj 3.1).
    """
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_lonlat(crs: CRS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinates to WGS 84 longitude and latitude; inf where impossible."""
    try:
        transformer = lonlat_transformer(crs)
    except CRSError:  # pragma: no cover - a CRS pyproj read is always transformable to WGS 84
        return np.full_like(x, np.inf), np.full_like(y, np.inf)
    with np.errstate(all="ignore"):
        lon, lat = transformer.transform(x, y, errcheck=False)
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 360)
    lon[bad] = np.inf
    lat[bad] = np.inf
    return lon, lat


def inside(
    lon: np.ndarray,
    lat: np.ndarray,
    boxes: tuple[tuple[float, float, float, float], ...],
    margin: float,
) -> np.ndarray:
    """Return which points fall inside any of ``boxes`` grown by ``margin`` degrees."""
    result = np.zeros(lon.shape, dtype=bool)
    for west, south, east, north in boxes:
        result |= (
            (lon >= west - margin)
            & (lon <= east + margin)
            & (lat >= south - margin)
            & (lat <= north + margin)
        )
    return result


def require_projected(crs: CRS | None, what: str) -> CRS:
    """Return ``crs`` if it is projected in metres, else raise.

    Parameters
    ----------
    crs : pyproj.CRS or None
        The CRS in which ``what`` is about to be measured.
    what : str
        What is being measured, for the message (e.g. ``"hamlet areas"``).

    Raises
    ------
    GeographicCrsError
        If ``crs`` is missing, geographic, or not in metres.
    """
    if crs is None or not crs.is_projected:
        raise GeographicCrsError(
            f"cannot compute {what} in {crs.name if crs else 'an unknown CRS'}: areas and "
            "lengths need a projected CRS in metres (set project.crs or project.province)"
        )
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in {"metre", "meter"}:
        raise GeographicCrsError(f"cannot compute {what} in {crs.name}: its unit is {unit!r}")
    return crs


def require_same_crs(what: str, *layers: gpd.GeoDataFrame | None) -> None:
    """Raise unless the given layers (None ones skipped) share one CRS.

    Parameters
    ----------
    what : str
        What is about to be computed, for the message.
    *layers : geopandas.GeoDataFrame or None

    Raises
    ------
    ValidationError
        If two layers are in different CRSs.
    """
    crs = [layer.crs for layer in layers if layer is not None]
    if any(other != crs[0] for other in crs[1:]):
        names = ", ".join(str(c.name if c is not None else None) for c in crs)
        raise ValidationError(f"{what}: the layers are in different CRSs ({names}); reproject them")

"""Coordinate reference systems: VN-2000 TM-3 by province, and unit guards.

Areas and lengths are only ever computed in a projected CRS. Vietnam's
cadastral standard is VN-2000 with a 3° transverse Mercator zone (scale
factor 0.9999) on the province's own central meridian.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS

from geo.errors import GeographicCrsError, ProjectFileError
from geo.names import match_key

TM3_EPSG_BY_MERIDIAN: dict[float, int] = {
    103.0: 9205,
    104.0: 9206,
    104.5: 9207,
    104.75: 9208,
    105.5: 9209,
    105.75: 9210,
    106.0: 9211,
    106.25: 9212,
    106.5: 9213,
    107.0: 9214,
    107.25: 9215,
    107.5: 9216,
    107.75: 5899,
    108.25: 9217,
    108.5: 9218,
}
"""EPSG code of the VN-2000 / TM-3 CRS for each central meridian (degrees east)."""


@dataclass(frozen=True)
class ProvinceZone:
    """The VN-2000 TM-3 central meridian of one province, with its source."""

    province: str
    meridian: float
    source: str
    confidence: str


PROVINCE_ZONES: tuple[ProvinceZone, ...] = (
    ProvinceZone(
        "Thái Nguyên",
        106.5,
        "Circular 973/2001/TT-TCĐC, appendix (central meridians by province); "
        "EPSG:9213 VN-2000 / TM-3 106-30",
        "secondary",
    ),
)
"""Provinces whose meridian is on record. Others must set ``crs`` themselves."""

_ZONES_BY_KEY = {match_key(zone.province): zone for zone in PROVINCE_ZONES}


def province_crs(province: str) -> CRS:
    """Return the VN-2000 TM-3 CRS of a province.

    Parameters
    ----------
    province : str
        Province name, with or without diacritics or the "Tỉnh" prefix.

    Returns
    -------
    pyproj.CRS
        The EPSG CRS of the province's central meridian.

    Raises
    ------
    ProjectFileError
        If the province is not on record; the message says to set ``crs``.

    Examples
    --------
    >>> province_crs("Thai Nguyen").to_epsg()
    9213
    """
    key = match_key(province.removeprefix("Tỉnh ").removeprefix("tinh "))
    zone = _ZONES_BY_KEY.get(key)
    if zone is None:
        known = ", ".join(z.province for z in PROVINCE_ZONES)
        raise ProjectFileError(
            f"project.province = {province!r}: its VN-2000 TM-3 meridian is not on record "
            f'(known: {known}). Set project.crs, e.g. crs = "EPSG:9213" for 106°30\'.'
        )
    return CRS.from_epsg(TM3_EPSG_BY_MERIDIAN[zone.meridian])


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

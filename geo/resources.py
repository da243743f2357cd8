"""Locate the bundled data: samples, criteria sets and reference tables."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import NamedTuple

from geo.names import match_key

SAMPLE_PROJECT = "quyet-thang"
"""The sample that ``geo run`` uses when no project folder is given."""


def layers_dir() -> Path:
    """Return the folder of bundled layers (``layers/`` of the source tree).

    In an installed wheel it is packaged as ``geo/_layers``.
    """
    packaged = Path(__file__).parent / "_layers"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "layers"


def sample_project_dir(name: str = SAMPLE_PROJECT) -> Path:
    """Return the folder of a bundled sample project."""
    return layers_dir() / name


class LandUseCode(NamedTuple):
    """One land-use code and the official group it belongs to."""

    code: str
    group: str
    vi: str
    en: str


@cache
def ntm_regions() -> tuple[dict[str, str], dict[str, str]]:
    """Return the New Rural Development regions and the provinces known to lie in each.

    Returns
    -------
    regions : dict
        Region code → Vietnamese name.
    by_province : dict
        Province match key (see :func:`geo.names.match_key`) → region code.
    """
    with (layers_dir() / "reference" / "ntm-regions.toml").open("rb") as handle:
        data = tomllib.load(handle)
    regions = {code: entry["vi"] for code, entry in data["regions"].items()}
    by_province = {match_key(name): code for name, code in data["provinces"].items()}
    return regions, by_province


@cache
def landuse_codes() -> dict[str, LandUseCode]:
    """Return the land-use code table (code → group and names).

    Read from ``layers/reference/landuse-codes.toml``; see its header for
    the source.
    """
    path = layers_dir() / "reference" / "landuse-codes.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return {
        code: LandUseCode(code, entry["group"], entry["vi"], entry["en"])
        for code, entry in data["codes"].items()
    }

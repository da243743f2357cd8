"""Dasymetric population: put each hamlet's people on its residential land.

A hamlet's population is a count for the whole hamlet; people live on its
residential parcels (``ONT`` rural, ``ODT`` urban residential land). Each
hamlet's count is split over the exact parcel × hamlet pieces (parcels are cut
at hamlet boundaries by :func:`geo.indicators.split_pieces`) in proportion
to their area, so the pieces of a hamlet add up to its population to float
precision.

The semantics are tobler's ``area_interpolate``: *extensive* variables
(counts: population, households) are split in proportion to area; *intensive*
variables (rates, shares, densities) are area-weighted means, so a piece
takes its hamlet's value and a parcel cut by two hamlets takes the
area-weighted mean of theirs (:func:`parcel_values`).

A hamlet with people but no residential land keeps them on its whole area
(one fallback piece) and is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import require_projected, require_same_crs
from geo.indicators import Pieces, split_pieces
from geo.validate import Finding

M2_PER_KM2 = 1_000_000.0

RESIDENTIAL_CODES: tuple[str, ...] = ("ONT", "ODT")
"""Land-use codes of residential land: ``ONT`` (rural), ``ODT`` (urban).

Data that only has the umbrella code ``OCT`` (residential land) can pass
``residential_codes=("ONT", "ODT", "OCT")``.
"""

FALLBACK_PARCEL = -1
"""``parcel`` of a fallback piece: the whole hamlet, for lack of residential land."""

PIECE_COLUMNS = ["hamlet_id", "parcel", "code", "area_m2", "fallback"]
"""Leading columns of the pieces table; the allocated variables follow, then ``geometry``."""


class Allocation(NamedTuple):
    """The result of :func:`allocate_population`.

    Attributes
    ----------
    pieces : geopandas.GeoDataFrame
        One row per residential piece (a parcel's part inside one hamlet):
        ``hamlet_id``; ``parcel``, the integer position of the parcel in the
        land-use layer (:data:`FALLBACK_PARCEL` for a fallback piece);
        ``code``; ``area_m2``; ``fallback`` (bool); then the allocated
        variables (``population`` …) and the piece's polygon.
    hamlets : pandas.DataFrame
        Aligned with the hamlets: ``residential_km2``,
        ``density_per_residential_km2`` (people per km² of residential land),
        ``residential_m2_per_person`` and ``dasymetric_fallback`` (True where
        the hamlet has people but no residential land).
    findings : list of Finding
        ``no_residential_land`` for each fallback hamlet (value: its population).
    """

    pieces: gpd.GeoDataFrame
    hamlets: pd.DataFrame
    findings: list[Finding]


def allocate_population(
    hamlets: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame,
    *,
    extensive: Sequence[str] = ("population",),
    intensive: Sequence[str] = (),
    residential_codes: Sequence[str] = RESIDENTIAL_CODES,
    pieces: Pieces | None = None,
) -> Allocation:
    """Allocate hamlet counts to residential land in proportion to area.

    Parameters
    ----------
    hamlets : geopandas.GeoDataFrame
        Hamlets with ``id`` and the ``extensive`` and ``intensive`` columns,
        in a projected CRS in metres. The first extensive column (normally
        ``population``) drives the per-hamlet indicators and the fallback.
    landuse : geopandas.GeoDataFrame
        Parcels with a ``code`` column, same CRS.
    extensive : sequence of str, default ("population",)
        Counts, split in proportion to piece area (NaN stays NaN).
    intensive : sequence of str, default ()
        Rates, copied to each piece (the area-weighted mean of a single hamlet).
    residential_codes : sequence of str, default :data:`RESIDENTIAL_CODES`
        Land-use codes counted as residential (compared upper-case).
    pieces : geo.indicators.Pieces, optional
        All parcels already split by these hamlets
        (:func:`geo.indicators.split_pieces`, ideally with the cut parts of
        the residential parcels kept, see :func:`residential`): the
        residential pieces are taken from it instead of splitting again.

    Returns
    -------
    Allocation
        ``pieces``, per-hamlet ``hamlets`` indicators and ``findings``.

    Raises
    ------
    GeographicCrsError
        If the CRS is not projected in metres.
    ValidationError
        If the layers are not all in the same CRS.
    KeyError
        If a named column is missing.

    Notes
    -----
    Within a hamlet, piece value = hamlet value × piece area / residential
    area of the hamlet, so the pieces sum to the hamlet value up to float
    rounding (relative error ~1e-15). A hamlet whose first extensive value is
    positive but which has no residential land gets one fallback piece, its
    whole polygon, holding all its values; ``residential_km2`` stays 0 and the
    density is NaN there.
    """
    require_projected(hamlets.crs, "residential areas")
    require_same_crs("residential areas", hamlets, landuse)
    missing = [c for c in (*extensive, *intensive) if c not in hamlets.columns]
    if missing:
        raise KeyError(f"hamlets have no column {', '.join(missing)}")
    codes = landuse["code"].astype("string").str.upper()
    is_residential = (
        codes.isin([c.upper() for c in residential_codes]).fillna(False).to_numpy(dtype=bool)
    )
    residential_at = np.flatnonzero(is_residential)
    parcels = landuse.geometry.to_numpy()[residential_at]
    zones = hamlets.geometry.to_numpy()
    if pieces is None:
        split = split_pieces(parcels, zones, keep=np.ones(len(parcels), dtype=bool))
    else:  # the residential parcels' pieces, in the same order as a split of them alone
        own = is_residential[pieces.item]
        split = Pieces(
            np.searchsorted(residential_at, pieces.item[own]),
            pieces.zone[own],
            pieces.amount[own],
            None if pieces.geometry is None else pieces.geometry[own],
        )
    position, zone, area = split.item, split.zone, split.amount
    whole = area == shapely.area(parcels[position])
    geometry = parcels[position].copy()
    cut = np.flatnonzero(~whole)
    known = split.geometry[cut] if split.geometry is not None else np.full(cut.size, None)
    missing = cut[shapely.is_missing(known)]
    geometry[cut] = known
    geometry[missing] = shapely.intersection(parcels[position[missing]], zones[zone[missing]])
    residential_m2 = np.bincount(zone, weights=area, minlength=len(zones))

    driver = extensive[0] if extensive else None
    people = (
        hamlets[driver].to_numpy(dtype="float64") if driver else np.zeros(len(zones), dtype=float)
    )
    fallback = np.flatnonzero((residential_m2 == 0) & (np.nan_to_num(people) > 0))
    parcel = residential_at[position]
    piece_zone = np.concatenate([zone, fallback])
    piece_area = np.concatenate([area, shapely.area(zones[fallback])])
    total_area = np.bincount(piece_zone, weights=piece_area, minlength=len(zones))
    share = piece_area / total_area[piece_zone]

    ids = hamlets["id"].astype(str).to_numpy()
    table = pd.DataFrame(
        {
            "hamlet_id": ids[piece_zone],
            "parcel": np.concatenate([parcel, np.full(fallback.size, FALLBACK_PARCEL)]),
            "code": pd.array(
                np.concatenate([codes.to_numpy(dtype=object)[parcel], [None] * fallback.size]),
                dtype="string",
            ),
            "area_m2": piece_area,
            "fallback": np.concatenate([np.zeros(zone.size, bool), np.ones(fallback.size, bool)]),
        }
    )
    for column in extensive:
        table[column] = hamlets[column].to_numpy(dtype="float64")[piece_zone] * share
    for column in intensive:
        table[column] = hamlets[column].to_numpy()[piece_zone]
    piece_frame = gpd.GeoDataFrame(
        table, geometry=np.concatenate([geometry, zones[fallback]]), crs=hamlets.crs
    )

    residential_km2 = residential_m2 / M2_PER_KM2
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(residential_m2 > 0, people / residential_km2, np.nan)
        per_person = np.where(people > 0, residential_m2 / people, np.nan)
    flags = np.zeros(len(zones), dtype=bool)
    flags[fallback] = True
    per_hamlet = pd.DataFrame(
        {
            "residential_km2": residential_km2,
            "density_per_residential_km2": density,
            "residential_m2_per_person": per_person,
            "dasymetric_fallback": flags,
        },
        index=hamlets.index,
    )
    names = hamlets["name"].astype(str).to_numpy() if "name" in hamlets.columns else ids
    findings = [
        Finding(
            "hamlets",
            str(ids[h]),
            "no_residential_land",
            f"{names[h]}: không có đất ở ({', '.join(residential_codes)}); dân số được phân bổ "
            f"trên toàn bộ diện tích thôn, xóm / no residential land "
            f"({', '.join(residential_codes)}); its population is spread over its whole area",
            float(people[h]),
        )
        for h in fallback
    ]
    return Allocation(piece_frame, per_hamlet, findings)


def residential(
    landuse: pd.DataFrame, residential_codes: Sequence[str] = RESIDENTIAL_CODES
) -> np.ndarray:
    """Mask of the parcels with a residential code (compared upper-case)."""
    codes = landuse["code"].astype("string").str.upper()
    wanted = [c.upper() for c in residential_codes]
    return codes.isin(wanted).fillna(False).to_numpy(dtype=bool)


def parcel_values(
    pieces: pd.DataFrame,
    *,
    extensive: Sequence[str] = ("population",),
    intensive: Sequence[str] = (),
) -> pd.DataFrame:
    """Add the pieces of each parcel back together.

    Parameters
    ----------
    pieces : pandas.DataFrame
        ``Allocation.pieces`` (fallback pieces are left out).
    extensive : sequence of str, default ("population",)
        Counts: summed over the parcel's pieces.
    intensive : sequence of str, default ()
        Rates: area-weighted mean over the parcel's pieces.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parcel`` (position in the land-use layer): ``area_m2``,
        then the extensive and intensive columns.
    """
    own = pieces.loc[~pieces["fallback"].to_numpy(dtype=bool)]
    grouped = own.groupby("parcel", sort=True)
    result = grouped[["area_m2", *extensive]].sum(min_count=1)
    for column in intensive:
        weighted = (own[column] * own["area_m2"]).groupby(own["parcel"]).sum(min_count=1)
        result[column] = weighted / result["area_m2"]
    return result

"""The land-use parcels cut at zone boundaries: ``results.gpkg``'s ``landuse_by_hamlet``.

Also what the map needs of parcels a per-commune run does not keep (:class:`LanduseSummary`).

:func:`pieces_layer` builds the layer from a split (:func:`geo.indicators.split_pieces`):
the whole-layer run builds it once for all parcels (:func:`geo.outputs.landuse_by_zone`),
the per-commune run once per commune, for the pieces in that commune's zones. A
per-commune run keeps its pieces on disk as they come (:class:`PiecesSpill`), so its
memory stays that of the largest commune; the GeoPackage layer is then written from
the file, batch by batch (:meth:`PiecesSpill.reader`).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from geo import parallel
from geo.indicators import Pieces
from geo.layer_writer import ArrowLayer, arrow_layer, crs_text, polygons_made_multi
from geo.resources import landuse_codes

_POLYGON, _MULTIPOLYGON = 3, 6
BATCH_ROWS = 65_536
"""Pieces per batch written from a :class:`PiecesSpill`."""


def pieces_layer(
    landuse: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    pieces: Pieces,
    *,
    by_hamlet: bool,
    parcel_numbers: np.ndarray | None = None,
    categorical: bool = False,
) -> gpd.GeoDataFrame:
    """Return one feature per (parcel, zone) piece with a positive area.

    Parameters
    ----------
    landuse : geopandas.GeoDataFrame
        Validated parcels with ``code``, in a projected CRS.
    zones : geopandas.GeoDataFrame
        Hamlets (``id``, ``unit_id``) or units (``id``), same CRS.
    pieces : Pieces
        ``landuse``'s geometries split by ``zones``' with the crossing flags
        (:func:`geo.indicators.split_pieces`); the cut parts it kept are used,
        the others are cut here.
    by_hamlet : bool
        Whether ``zones`` are hamlets (``hamlet_id`` is then filled, else null).
    parcel_numbers : numpy.ndarray of int, optional
        Aligned with ``landuse``: the ``parcel`` value of each parcel's pieces;
        default the 1-based position in ``landuse`` (the input row when
        validation dropped no feature: :attr:`geo.RunResult.landuse_rows`).
    categorical : bool, default False
        Give the text columns as :class:`pandas.Categorical` (codes into
        their distinct values), the same texts without a million strings
        taken: for writing (Arrow dictionary columns, which GDAL writes as the
        texts they stand for).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``lu_group`` (``agricultural``, ``non_agricultural``,
        ``unused``, or empty for unknown codes), ``hamlet_id``, ``unit_id``,
        ``parcel`` and ``area_m2``, in the pieces' order.
    """
    parcels = landuse.geometry.to_numpy()
    zone_geoms = zones.geometry.to_numpy()
    parcel_index, zone_index, area = pieces.item, pieces.zone, pieces.amount
    crossing = np.asarray(pieces.crossing, dtype=bool)
    geometries = parcels[parcel_index].copy()
    if crossing.any():
        geometries[crossing] = _polygonal_all(_cut_parts(parcels, zone_geoms, pieces))
    # text columns taken from their few distinct values in Arrow: a million Python strings
    # would take 0.15 s a column to convert; the codes are factorized on the parcels, as
    # they are (Arrow's hashing), and only their distinct values made text
    code = landuse["code"]
    parcel_code, uniques = pd.factorize(code, use_na_sentinel=False)
    distinct = pd.Series(uniques, dtype=code.dtype).astype(str).to_numpy(dtype=object)
    code_at = parcel_code[parcel_index]
    table = landuse_codes()
    groups = [table[c].group if c in table else "" for c in distinct]
    zone_ids = zones["id"].astype(str).to_numpy()
    unit_ids = zones["unit_id"].astype(str).to_numpy() if by_hamlet else zone_ids
    numbers = np.arange(1, len(parcels) + 1) if parcel_numbers is None else parcel_numbers
    text = _categories if categorical else _text
    return gpd.GeoDataFrame(
        {
            "code": text(np.asarray(distinct, dtype=object), code_at),
            "lu_group": text(np.array(groups, dtype=object), code_at),
            "hamlet_id": text(zone_ids, zone_index)
            if by_hamlet
            else np.full(len(zone_index), None, dtype=object),
            "unit_id": text(unit_ids, zone_index),
            "parcel": np.asarray(numbers, dtype="int64")[parcel_index],
            "area_m2": area,
        },
        geometry=geometries,
        crs=landuse.crs,
    )


def _text(values: np.ndarray, at: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Return ``values[at]`` as pandas makes text of Python strings, taken in Arrow when it can.

    With pandas' Arrow-backed ``str`` (pandas 3) the strings are taken in
    Arrow; with object text (pandas 2) they stay Python objects.
    """
    dtype = pd.Series(["text"]).dtype  # what pandas makes of Python strings
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return values[at]
    taken = pa.array(values, type=pa.string(), from_pandas=True).take(pa.array(at, pa.int64()))
    return pd.array(taken, dtype=dtype)


def _categories(values: np.ndarray, at: np.ndarray) -> pd.Categorical:
    """Return ``values[at]`` (strings) as a Categorical of ``values``' distinct strings."""
    codes, distinct = pd.factorize(values)
    return pd.Categorical.from_codes(codes[at], categories=pd.Index(distinct))


def _cut_parts(parcels: np.ndarray, zones: np.ndarray, pieces: Pieces) -> np.ndarray:
    """Return the parts of the pieces that cross a zone boundary, in order.

    The parts the split kept are reused; the others are intersected here, a
    zone's pairs together, on :data:`geo.parallel.THREADS` threads.
    """
    crossing = np.flatnonzero(np.asarray(pieces.crossing, dtype=bool))
    parts = np.full(crossing.size, None, dtype=object)
    if pieces.geometry is not None:
        parts[:] = pieces.geometry[crossing]
    todo = np.flatnonzero(shapely.is_missing(parts))
    if todo.size:
        pairs = crossing[todo]
        order = np.argsort(pieces.zone[pairs], kind="stable")
        zone = pieces.zone[pairs][order]
        cut = parallel.map_slices(
            shapely.intersection,
            parcels[pieces.item[pairs][order]],
            zones[zone],
            cuts=np.flatnonzero(np.r_[True, zone[1:] != zone[:-1]]),
        )
        parts[todo[order]] = cut
    return parts


def _polygonal_all(geometries: np.ndarray) -> np.ndarray:
    """Keep the polygons of each intersection (drop the lines and points it may hold).

    A polygon or multipolygon is kept as it is; a collection holding none gets an
    empty polygon; one holding one polygon (a piece with a sliver line or point
    beside it: most of them) gets that polygon, as a union of it alone would
    be; one holding more gets their union.
    """
    result = np.asarray(geometries, dtype=object).copy()
    other = np.flatnonzero(~np.isin(shapely.get_type_id(result), [_POLYGON, _MULTIPOLYGON]))
    if other.size == 0:
        return result
    parts, owner = shapely.get_parts(result[other], return_index=True)
    kinds = shapely.get_type_id(parts)
    polygonal = np.isin(kinds, [_POLYGON, _MULTIPOLYGON])
    parts, owner, kinds = parts[polygonal], owner[polygonal], kinds[polygonal]
    count = np.bincount(owner, minlength=other.size)
    first = np.searchsorted(owner, np.arange(other.size))  # parts come owner by owner
    result[other[count == 0]] = shapely.Polygon()
    lone = np.flatnonzero(count == 1)
    alone = kinds[first[lone]] == _POLYGON
    result[other[lone[alone]]] = parts[first[lone[alone]]]
    for position in np.r_[lone[~alone], np.flatnonzero(count > 1)]:
        result[other[position]] = shapely.union_all(
            parts[first[position] : first[position] + count[position]]
        )
    return result


class PiecesSpill:
    """The pieces of a per-commune run, written commune by commune to a scratch file.

    ``crs`` is the pieces' (the project's). Each :meth:`add` appends one
    commune's layer (:func:`pieces_table`, with feature ids in ``parcel``) to
    an Arrow IPC file in the system's temporary folder; the file is deleted
    with this object. Once closed (:meth:`close`: the parcels' numbers, the
    zones' order), :meth:`reader` gives the layer :func:`pieces_layer` gives
    for the whole layer, in the same order, batch by batch, whatever the order
    the communes came in.
    """

    def __init__(self, crs: object) -> None:
        handle, name = tempfile.mkstemp(prefix="geo-pieces-", suffix=".arrow")
        os.close(handle)
        self.path = Path(name)
        self._delete = weakref.finalize(self, self.path.unlink, missing_ok=True)
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._batches = 0
        self.crs = crs_text(crs)
        self.rows = 0
        self.kinds: set[int] = set()  # geometry type ids present
        self.codes: set[str] = set()
        self._fids: np.ndarray | None = None
        self._numbers: np.ndarray | None = None
        self._zones = pa.array([], type=pa.string())
        self._zone_column = "hamlet_id"

    def add(self, layer: ArrowLayer, kinds: set[int]) -> None:
        """Append one commune's pieces (:func:`pieces_table`) and their geometry type ids."""
        if self._writer is None:
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = pa.ipc.new_file(self._sink, PIECES_SCHEMA)
        self._writer.write_table(layer.table)
        self._batches += 1
        self.rows += layer.table.num_rows
        self.kinds |= kinds
        self.codes |= {str(c) for c in layer.table["code"].unique().to_pylist() if c is not None}

    def close(
        self, fids: np.ndarray, numbers: np.ndarray, zone_ids: np.ndarray, *, by_hamlet: bool
    ) -> None:
        """Finish the file and say how to number and order its pieces.

        Parameters
        ----------
        fids, numbers : numpy.ndarray of int
            Aligned: ``parcel`` will read ``numbers[i]`` where it holds ``fids[i]``.
        zone_ids : numpy.ndarray of str
            The ids of all the zones (hamlets, or units without hamlets) in
            the order :func:`geo.indicators.split_pieces` gives a parcel's pieces.
        by_hamlet : bool
            Whether the zones are hamlets (``hamlet_id``) or units (``unit_id``).
        """
        if self._writer is not None and self._sink is not None:
            self._writer.close()
            self._sink.close()
            self._writer = self._sink = None
        order = np.argsort(fids, kind="stable")
        self._fids = np.asarray(fids, dtype="int64")[order]
        self._numbers = np.asarray(numbers, dtype="int64")[order]
        self._zones = pa.array(np.asarray(zone_ids, dtype=object), type=pa.string())
        self._zone_column = "hamlet_id" if by_hamlet else "unit_id"

    @property
    def geometry_type(self) -> str:
        """``Polygon``, ``MultiPolygon`` (both kinds: all made multi) or ``Unknown`` (none)."""
        if not self.kinds:
            return "Unknown"
        return "Polygon" if self.kinds == {_POLYGON} else "MultiPolygon"

    def reader(self, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Return the layer's batches, in the whole-layer run's order (parcel, then zone).

        Parcels are numbered as :meth:`close` says (their rows in the layer)
        and polygons made multi where the layer holds both kinds. The file is
        memory-mapped: only the keys to sort by and one batch at a time are
        held in memory.
        """
        if self._fids is None or self._numbers is None or self._writer is not None:
            raise RuntimeError("PiecesSpill.reader() before close()")
        fids, numbers, zones = self._fids, self._numbers, self._zones
        zone_column, multi = self._zone_column, self.geometry_type == "MultiPolygon"
        multi = multi and _POLYGON in self.kinds
        path, batches = self.path, self._batches

        def ordered() -> Iterator[pa.RecordBatch]:
            if not batches:
                return
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()  # mapped, not copied
                parcel = numbers[np.searchsorted(fids, table["parcel"].to_numpy())]
                found = pc.index_in(table[zone_column], value_set=zones)  # no Python strings
                zone = found.fill_null(-1).to_numpy()
                order = np.lexsort((zone, parcel))
                for start in range(0, len(order), batch_rows):
                    rows = order[start : start + batch_rows]
                    yield _finished(
                        table.take(rows).combine_chunks().to_batches()[0],
                        parcel[rows],
                        multi=multi,
                    )

        return pa.RecordBatchReader.from_batches(PIECES_SCHEMA, ordered())


def _finished(batch: pa.RecordBatch, parcel: np.ndarray, *, multi: bool) -> pa.RecordBatch:
    """Give a spilled batch its parcels' numbers, and its polygons multi when the layer is."""
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    columns["parcel"] = pa.array(parcel, type=pa.int64())
    if multi:  # in the WKB pieces_table wrote, without decoding it
        wkb = columns["geometry"].to_numpy(zero_copy_only=False)
        columns["geometry"] = pa.array(polygons_made_multi(wkb), pa.binary())
    return pa.record_batch(list(columns.values()), schema=PIECES_SCHEMA)


PIECES_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("lu_group", pa.string()),
        ("hamlet_id", pa.string()),
        ("unit_id", pa.string()),
        ("parcel", pa.int64()),
        ("area_m2", pa.float64()),
        ("geometry", pa.binary()),
    ]
)
"""The columns of :func:`pieces_layer` as Arrow, the same for every commune."""


def pieces_table(layer: gpd.GeoDataFrame) -> tuple[ArrowLayer, set[int]]:
    """Return a commune's :func:`pieces_layer` as Arrow, and its geometry type ids.

    Polygons are left as they are: :class:`PiecesSpill` makes them multi when
    the whole layer holds both kinds.
    """
    kinds = set(np.unique(shapely.get_type_id(layer.geometry.to_numpy())).tolist())
    found = arrow_layer(layer, multi=False)
    return ArrowLayer(found.table.cast(PIECES_SCHEMA), found.geometry_type, found.crs), kinds


@dataclass(frozen=True)
class LanduseSummary:
    """What the map needs of a land-use layer it does not hold: parcels and area per code.

    Attributes
    ----------
    parcels : int
        Validated parcels (with a geometry).
    area_m2 : dict of str to float
        Their area per code, as the layer spells it (``""`` for a missing code).
    """

    parcels: int = 0
    area_m2: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, codes: pd.Series, geometries: np.ndarray) -> LanduseSummary:
        """Summarise parcels: their ``code`` column and geometries, aligned."""
        keys = codes.astype(object).where(codes.notna(), "").astype(str).to_numpy()
        sums = pd.Series(shapely.area(geometries), index=keys).groupby(level=0, sort=True).sum()
        return cls(len(keys), {str(k): float(v) for k, v in sums.items()})

    def __add__(self, other: LanduseSummary) -> LanduseSummary:
        """Return the summary of both sets of parcels."""
        area = dict(self.area_m2)
        for code, m2 in other.area_m2.items():
            area[code] = area.get(code, 0.0) + m2
        return LanduseSummary(self.parcels + other.parcels, area)

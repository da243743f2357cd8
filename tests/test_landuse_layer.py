"""A per-commune run's parcel pieces on disk: numbered, ordered and typed as the whole layer's."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely

from geo.indicators import split_pieces
from geo.landuse_layer import (
    PIECES_SCHEMA,
    PiecesSpill,
    _polygonal_all,
    pieces_layer,
    pieces_table,
)


def _commune(unit: str, hamlet: str, fids: list[int], geometries: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["LUA"] * len(fids),
            "lu_group": ["agricultural"] * len(fids),
            "hamlet_id": [hamlet] * len(fids),
            "unit_id": [unit] * len(fids),
            "parcel": fids,
            "area_m2": shapely.area(np.array(geometries, dtype=object)),
        },
        geometry=geometries,
        crs=9213,
    )


def test_spill_numbers_orders_and_makes_polygons_multi_when_both_kinds_came():
    square = shapely.box(0, 0, 10, 10)
    two = shapely.MultiPolygon([shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)])
    spill = PiecesSpill(9213)
    # the second commune comes first (a dask partition finishing early)
    spill.add(*pieces_table(_commune("U2", "H2", [30, 10], [square, square])))
    spill.add(*pieces_table(_commune("U1", "H1", [10, 20], [two, square])))
    assert spill.path.exists()
    with pytest.raises(RuntimeError, match="before close"):
        spill.reader()
    # feature ids 10, 20, 30 are parcels 1, 3, 4 (one dropped before 20); hamlets ordered H1, H2
    spill.close(np.array([30, 10, 20]), np.array([4, 1, 3]), np.array(["H1", "H2"]), by_hamlet=True)
    assert spill.geometry_type == "MultiPolygon"
    table = spill.reader().read_all()
    assert table.schema == PIECES_SCHEMA
    assert table["parcel"].to_pylist() == [1, 1, 3, 4]
    assert table["hamlet_id"].to_pylist() == ["H1", "H2", "H1", "H2"]
    geometries = shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False))
    assert shapely.get_type_id(geometries).tolist() == [6, 6, 6, 6]
    assert shapely.area(geometries).tolist() == [200.0, 100.0, 100.0, 100.0]
    assert spill.codes == {"LUA"}
    assert spill.rows == 4
    path = spill.path
    del spill
    assert not path.exists()  # the scratch file goes with the spill


def test_spill_of_single_polygons_stays_polygon_and_an_empty_one_is_unknown():
    spill = PiecesSpill(9213)
    spill.add(*pieces_table(_commune("U1", "H1", [1], [shapely.box(0, 0, 1, 1)])))
    spill.close(np.array([1]), np.array([1]), np.array(["H1"]), by_hamlet=True)
    assert spill.geometry_type == "Polygon"
    [batch] = list(spill.reader())
    assert shapely.get_type_id(shapely.from_wkb(batch["geometry"].to_pylist())).tolist() == [3]
    empty = PiecesSpill(9213)
    empty.close(
        np.array([], dtype="int64"), np.array([], dtype="int64"), np.array([]), by_hamlet=False
    )
    assert empty.geometry_type == "Unknown"
    assert empty.reader().read_all().num_rows == 0
    assert isinstance(empty.reader().schema, pa.Schema)


def test_pieces_layer_takes_text_per_piece_with_missing_and_unknown_codes():
    parcels = gpd.GeoDataFrame(
        {"code": ["LUA", None, "XYZ"]},
        geometry=[
            shapely.box(0, 0, 10, 10),
            shapely.box(10, 0, 20, 10),
            shapely.box(20, 0, 30, 10),
        ],
        crs=9213,
    )
    hamlets = gpd.GeoDataFrame(
        {"id": ["H1", "H2"], "unit_id": ["U1", "U1"]},
        geometry=[shapely.box(0, 0, 15, 10), shapely.box(15, 0, 30, 10)],
        crs=9213,
    )
    pieces = split_pieces(parcels.geometry.to_numpy(), hamlets.geometry.to_numpy())
    layer = pieces_layer(parcels, hamlets, pieces, by_hamlet=True)
    assert layer["parcel"].tolist() == [1, 2, 2, 3]
    assert layer["code"].tolist()[0] == "LUA"
    assert layer["code"].iloc[1:3].isna().all()  # no code
    assert layer["code"].iloc[3] == "XYZ"
    assert layer["lu_group"].tolist() == ["agricultural", "", "", ""]  # unknown: empty
    assert layer["hamlet_id"].tolist() == ["H1", "H1", "H2", "H2"]
    assert layer["unit_id"].tolist() == ["U1"] * 4
    assert layer["area_m2"].tolist() == [100.0, 50.0, 50.0, 100.0]
    units = pieces_layer(
        parcels, hamlets.drop(columns="unit_id"), pieces, by_hamlet=False
    )  # the zones are units: no hamlet
    assert units["hamlet_id"].isna().all()
    assert units["unit_id"].tolist() == ["H1", "H1", "H2", "H2"]


def test_cut_parts_keep_only_their_polygons():
    from geo.landuse_layer import _polygonal_all

    square = shapely.box(0, 0, 1, 1)
    mixed = shapely.GeometryCollection(
        [square, shapely.LineString([(2, 0), (3, 0)]), shapely.box(1, 0, 2, 1)]
    )
    kept = _polygonal_all(np.array([square, mixed, shapely.Point(0, 0)], dtype=object))
    assert kept[0] is square
    assert shapely.get_type_id(kept).tolist() == [3, 3, 3]
    assert shapely.area(kept).tolist() == [1.0, 2.0, 0.0]
    assert kept[2].is_empty


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """One intersection's polygons, one by one: the reference for _polygonal_all."""
    if shapely.get_type_id(geometry) in (3, 6):
        return geometry
    parts = shapely.get_parts(geometry)
    parts = parts[np.isin(shapely.get_type_id(parts), [3, 6])]
    return shapely.union_all(parts) if parts.size else shapely.Polygon()


def test_the_polygons_of_intersections_kept_at_once_are_those_kept_one_by_one():
    square, other = shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)
    line, point = shapely.LineString([(10, 0), (10, 10)]), shapely.Point(40, 40)
    pieces = np.array(
        [
            square,
            shapely.MultiPolygon([square, other]),
            shapely.GeometryCollection([square, line]),  # one polygon and a sliver line
            shapely.GeometryCollection([line, point]),  # nothing polygonal: empty
            shapely.GeometryCollection([square, other, line]),  # two polygons: their union
            shapely.GeometryCollection([square, shapely.box(10, 0, 20, 10)]),  # touching
            shapely.GeometryCollection([point, shapely.MultiPolygon([square, other])]),
            shapely.GeometryCollection([other]),
        ],
        dtype=object,
    )
    at_once = _polygonal_all(pieces)
    one_by_one = [_polygonal(piece) for piece in pieces]
    assert shapely.to_wkb(at_once).tolist() == shapely.to_wkb(one_by_one).tolist()
    assert shapely.area(at_once).tolist() == [100.0, 200.0, 100.0, 0.0, 200.0, 200.0, 200.0, 100.0]
    assert pieces[2].geom_type == "GeometryCollection"  # the input is left as it was

"""A per-commune run's parcel pieces on disk: numbered, ordered and typed as the whole layer's."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely

from geo.landuse_layer import PIECES_SCHEMA, PiecesSpill, pieces_table


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

"""Read input layers and tables exactly as they are on disk (read-only)."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from geo.errors import LayerReadError
from geo.project import LayerSpec, TableSpec

PARQUET_SUFFIXES = (".parquet", ".geoparquet")


def read_layer(spec: LayerSpec) -> gpd.GeoDataFrame:
    """Read one layer of the project.

    Any format GDAL reads (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, …)
    goes through pyogrio; GeoParquet through geopandas.

    Parameters
    ----------
    spec : LayerSpec
        Which file and layer.

    Returns
    -------
    geopandas.GeoDataFrame
        As stored: no reprojection, no repair.

    Raises
    ------
    LayerReadError
        If the file is missing, unreadable or has no such layer.
    """
    where = f"{spec.key}.path = {spec.path}"
    if not spec.path.exists():
        raise LayerReadError(f"{where}: file not found")
    try:
        if spec.path.suffix.lower() in PARQUET_SUFFIXES:
            return gpd.read_parquet(spec.path)
        return gpd.read_file(spec.path, layer=spec.layer, engine="pyogrio", use_arrow=True)
    except (DataSourceError, DataLayerError) as error:
        layers = _layer_names(spec)
        hint = f" (layers in the file: {', '.join(layers)})" if layers else ""
        raise LayerReadError(f"{where}: cannot read it as a layer: {error}{hint}") from error
    except (OSError, ValueError) as error:
        raise LayerReadError(f"{where}: cannot read it: {error}") from error


def _layer_names(spec: LayerSpec) -> list[str]:
    try:
        return [str(name) for name in pyogrio.list_layers(spec.path)[:, 0]]
    except (DataSourceError, OSError):
        return []


def read_table(spec: TableSpec) -> pd.DataFrame:
    """Read a CSV or XLSX table with every cell as text.

    Codes keep their leading zeros; numbers are parsed later with
    :func:`parse_number`, which knows Vietnamese formatting.

    Parameters
    ----------
    spec : TableSpec
        Which file (and sheet).

    Returns
    -------
    pandas.DataFrame
        Columns as in the file, values as strings (missing cells are NA).

    Raises
    ------
    LayerReadError
        If the file is missing or unreadable.
    """
    where = f"{spec.key}.path = {spec.path}"
    if not spec.path.exists():
        raise LayerReadError(f"{where}: file not found")
    suffix = spec.path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            table = pd.read_excel(spec.path, sheet_name=spec.sheet or 0, dtype=str)
        elif suffix in {".csv", ".txt"}:
            table = pd.read_csv(spec.path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
            table = table.replace({"": pd.NA})
        else:
            raise LayerReadError(f"{where}: unsupported table format {suffix!r} (use CSV or XLSX)")
    except UnicodeDecodeError as error:
        raise LayerReadError(f"{where}: not UTF-8 text ({error}); save it as UTF-8") from error
    except (OSError, ValueError) as error:
        raise LayerReadError(f"{where}: cannot read it: {error}") from error
    table.columns = [str(column).strip() for column in table.columns]
    return table


_VN_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_VN_DECIMAL = re.compile(r"^-?\d+,\d+$")


def parse_number(text: object) -> float:
    """Parse a number written the English or the Vietnamese way.

    In Vietnamese the thousands separator is ``.`` and the decimal mark is
    ``,``: ``"1.234"`` is one thousand two hundred thirty-four and
    ``"1.234,5"`` is 1234.5. Spaces are ignored.

    Parameters
    ----------
    text : object
        A cell value.

    Returns
    -------
    float
        NaN for an empty cell.

    Raises
    ------
    ValueError
        If the text is not a number.

    Examples
    --------
    >>> parse_number("1.234"), parse_number("1.234,5"), parse_number("17252"), parse_number("3,5")
    (1234.0, 1234.5, 17252.0, 3.5)
    """
    if text is None or text is pd.NA:
        return float("nan")
    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text).strip().replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        return float("nan")
    if _VN_THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif _VN_DECIMAL.match(cleaned):
        cleaned = cleaned.replace(",", ".")
    return float(cleaned)

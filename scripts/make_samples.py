"""Generate the bundled sample projects and the ``tn-city-2009`` test fixture.

Run by hand from the repository root::

    python scripts/make_samples.py [--shared DIR]

``DIR`` (default ``<repo>/../shared``) holds the real public data in
``data/thai-nguyen/`` (see its ``SOURCES.md``). The script writes:

* ``layers/quyet-thang/``: old commune Quyết Thắng (GSO 05491) of Thái Nguyên
  city. The outline, the OpenStreetMap points and the census totals are real;
  hamlets, land-use parcels, roads and part of the points are generated here,
  deterministically, and labelled illustrative.
* ``layers/thai-nguyen-2025/``: the 92 communes and wards of the new Thái
  Nguyên province (after 1 July 2025).
* ``tests/data/tn-city-2009/``: the 2009 outlines of the old Thái Nguyên city
  with the 2019 census rows, for an end-to-end test.

Every random draw comes from ``numpy.random.default_rng`` with a fixed seed, so
two runs give byte-identical files (GeoPackage timestamps are pinned with
GDAL's ``OGR_CURRENT_DATE``; the shapefile header date is pinned too). Nothing
at test time reads ``../shared``.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import re
import sqlite3
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Point, Polygon, mapping

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "scripts/make_samples.py"
SEED = 5491
"""Base seed (the GSO code of Quyết Thắng); each step derives its own stream."""

WGS84 = "EPSG:4326"
VN2000_TM3 = "EPSG:9213"
"""VN-2000 / TM-3 106-30, the cadastral CRS of Thái Nguyên."""

PINNED_DATE = "2025-03-01T00:00:00Z"
"""Timestamp written into GeoPackages and shapefile headers, for reproducibility."""

DATA_FILES = {
    "communes_2009": "tn_communes_2009_censusVN2009.geojson",
    "wards_2025": "tn_2025_wards_sapnhap_thanglequoc.geojson",
    "pois": "tn_province2025_osm_pois_hotosm.geojson",
    "population": "tn_province2025_population_2019_hgscarlette.csv",
    "households": "tn_province2025_household_size_2019_hgscarlette.csv",
}

QT_CODE = "05491"
QT_NAME = "Xã Quyết Thắng"
QT_OFFICIAL_KM2 = 12.93
OLD_CITY = "Thành phố Thái Nguyên"

HAMLET_COUNT = 18
HAMLET_NAMES = (
    "Xóm Cây Thị",
    "Xóm Giữa",
    "Xóm Khuôn 1",
    "Xóm Khuôn 2",
    "Xóm Đồng Kiểu",
    "Xóm Núi Nến",
    "Xóm Cây Xanh",
    "Xóm Nam Thái",
    "Xóm Nhà Thờ",
    "Xóm Soi Mít",
    "Xóm Gốc Sữa",
    "Xóm Đồng Tâm",
    "Xóm Bến Oánh",
    "Xóm Cây Si",
    "Xóm Sơn Tiến",
    "Xóm Trung Tâm",
    "Xóm Đồng Bãi",
)
"""Illustrative hamlet names; the hamlet seeded at the OSM pagoda is "Xóm Làng Cả"."""

PAGODA_OSM_ID = 9028301082
"""OSM node "Chùa Làng Cả", a village pagoda: the seed of hamlet "Xóm Làng Cả"."""

OSM_KINDS = {
    "school": "school",
    "kindergarten": "kindergarten",
    "university": "university",
    "college": "university",
    "clinic": "health_station",
    "hospital": "health_station",
    "doctors": "health_station",
    "community_centre": "cultural_house",
    "marketplace": "market",
    "place_of_worship": "place_of_worship",
    "townhall": "administration",
}
"""OSM ``amenity`` → infrastructure ``kind``; anything else is ``other``."""

ROAD_WIDTH_M = {"asphalt": 12.0, "concrete": 6.0, "gravel": 5.0, "earth": 4.0}
"""Width of the road corridor carved out of the land-use parcels as DGT."""

ROAD_DENSITY_TARGET = 4.5
"""Target road density of the illustrative network, km per km²."""

PARCEL_SEEDS = (250, 10, 70)
"""Parcel seeds: uniform points, points per hamlet centre, corridor segment seeds."""

RIVER_WIDTH_M = 30.0
CANAL_WIDTH_M = 8.0

LANDUSE_SHARES = {
    "ONT": 0.14,
    "DGD": 0.08,
    "MNC": 0.018,
    "NTS": 0.025,
    "TMD": 0.012,
    "SKC": 0.015,
    "NTD": 0.015,
    "CSD": 0.015,
    "DTT": 0.007,
    "LUA": 0.20,
    "CLN": 0.18,
    "RSX": 0.12,
    "HNK": 0.05,
}
"""Target share of the commune's area per land-use code grown from seeds.

SON, DTL and DGT come from the river, canal and road corridors; DVH and DYT
are the parcels under the cultural houses and the health station. The four
agricultural codes share what is left, in the ratio given here.
"""

LANDUSE_LABELS = {
    "LUA": "Đất chuyên trồng lúa nước (rice)",
    "HNK": "Đất trồng cây hàng năm khác (other annual crops)",
    "CLN": "Đất trồng cây lâu năm (perennial crops, tea, fruit)",
    "RSX": "Đất rừng sản xuất (production forest)",
    "NTS": "Đất nuôi trồng thủy sản (aquaculture)",
    "ONT": "Đất ở tại nông thôn (rural residential)",
    "DGD": "Đất xây dựng cơ sở giáo dục và đào tạo (education)",
    "DYT": "Đất xây dựng cơ sở y tế (health)",
    "DVH": "Đất xây dựng cơ sở văn hóa (culture)",
    "DTT": "Đất xây dựng cơ sở thể dục thể thao (sports)",
    "DGT": "Đất giao thông (roads)",
    "DTL": "Đất thủy lợi (irrigation)",
    "TMD": "Đất thương mại, dịch vụ (commerce, services)",
    "SKC": "Đất cơ sở sản xuất phi nông nghiệp (non-farm production)",
    "NTD": "Đất nghĩa trang, nghĩa địa (cemetery)",
    "SON": "Đất sông, ngòi, kênh, rạch, suối (rivers, streams)",
    "MNC": "Đất có mặt nước chuyên dùng (water bodies)",
    "CSD": "Đất chưa sử dụng (unused)",
}
"""Land-use codes of the sample (Land Law 2013 / Circular 27/2018 codes)."""

BAND_CODES = ("SON", "DTL", "DGT")

UNITS_SIMPLIFY_TOLERANCE_DEG = 4e-5
"""Coverage simplification of the 2025 units (≈4 m), to keep the file under 3 MB.

``shapely.coverage_simplify`` keeps shared edges shared. Set to 0 to keep every
source vertex (the file is then about 4 MB).
"""

_NAME_PREFIXES = ("thi tran ", "phuong ", "xa ")


# --------------------------------------------------------------------------- helpers


def rng_for(step: str) -> np.random.Generator:
    """Return the random generator of one generation step.

    Parameters
    ----------
    step : str
        Name of the step; each step gets an independent, fixed stream.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with ``SEED`` and a hash of ``step``.
    """
    digest = hashlib.sha256(step.encode()).digest()
    return np.random.default_rng([SEED, int.from_bytes(digest[:8], "little")])


def find_data_dir(shared: Path) -> Path:
    """Return the folder holding the Thái Nguyên files under ``shared``.

    Parameters
    ----------
    shared : pathlib.Path
        The ``--shared`` folder: either it or its ``data/thai-nguyen`` holds the files.

    Returns
    -------
    pathlib.Path
        The folder with every file of ``DATA_FILES``.

    Raises
    ------
    FileNotFoundError
        If no candidate folder holds them all.
    """
    for candidate in (shared / "data" / "thai-nguyen", shared / "thai-nguyen", shared):
        if all((candidate / name).is_file() for name in DATA_FILES.values()):
            return candidate
    msg = f"none of the Thái Nguyên data files found under {shared}; pass --shared DIR"
    raise FileNotFoundError(msg)


def fold_key(name: str) -> str:
    """Return the matching key of a commune name.

    Strips a leading "Xã ", "Phường " or "Thị trấn ", removes diacritics
    (``đ`` → ``d``), spaces and punctuation, and case-folds.

    Parameters
    ----------
    name : str
        A name such as ``"Xã Quyết Thắng"`` or ``"QuyếtThắng"``.

    Returns
    -------
    str
        For example ``"quyetthang"``.
    """
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().strip()
    text = " ".join(text.split())
    for prefix in _NAME_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return re.sub(r"[^0-9a-z]+", "", text)


def lower_first(text: str) -> str:
    """Return ``text`` with its first letter in lower case ("Xóm A" → "xóm A")."""
    return text[:1].lower() + text[1:]


def largest_remainder(weights: Sequence[float], total: int) -> np.ndarray:
    """Round ``total * weights / sum(weights)`` to integers that sum to ``total``.

    Parameters
    ----------
    weights : sequence of float
        Non-negative weights, not all zero.
    total : int
        The exact integer total to distribute.

    Returns
    -------
    numpy.ndarray
        Integer shares; ties in the remainders go to the lower index.
    """
    w = np.asarray(weights, dtype=float)
    exact = w / w.sum() * total
    shares = np.floor(exact).astype(int)
    remainder = exact - shares
    order = sorted(range(len(w)), key=lambda i: (-remainder[i], i))
    for i in order[: total - int(shares.sum())]:
        shares[i] += 1
    return shares


def to_crs(geoms: Iterable[shapely.Geometry], src: str, dst: str) -> np.ndarray:
    """Reproject shapely geometries the way geopandas does.

    Parameters
    ----------
    geoms : iterable of shapely.Geometry
        Geometries in ``src``.
    src, dst : str
        CRS strings such as ``"EPSG:4326"``.

    Returns
    -------
    numpy.ndarray
        The geometries in ``dst``.
    """
    return gpd.GeoSeries(list(geoms), crs=src).to_crs(dst).to_numpy()


def to_wgs84_exact(geoms: Iterable[shapely.Geometry]) -> np.ndarray:
    """Reproject EPSG:9213 geometries to EPSG:4326 so that reprojecting back returns them.

    PROJ's VN-2000 → WGS 84 pipeline drops the ellipsoidal height, so a round
    trip EPSG:9213 → 4326 → 9213 moves points by up to about 1 mm. Parcels that
    tile the outline in EPSG:9213 would then leave sub-millimetre slivers along
    it. A few fixed-point steps pick the EPSG:4326 coordinates whose forward
    projection lands on the original EPSG:9213 point (to about 1e-9 m).

    Parameters
    ----------
    geoms : iterable of shapely.Geometry
        Geometries in EPSG:9213.

    Returns
    -------
    numpy.ndarray
        The geometries in EPSG:4326.
    """
    forward = Transformer.from_crs(WGS84, VN2000_TM3, always_xy=True)
    inverse = Transformer.from_crs(VN2000_TM3, WGS84, always_xy=True)

    def solve(xy: np.ndarray) -> np.ndarray:
        target = xy.copy()
        aim = xy.copy()
        for _ in range(4):
            lon, lat = inverse.transform(aim[:, 0], aim[:, 1])
            x, y = forward.transform(lon, lat)
            aim -= np.column_stack([x, y]) - target
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(list(geoms), dtype=object), solve)


def random_points_in(region: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` uniform random points inside ``region``.

    Parameters
    ----------
    region : shapely.Geometry
        A polygonal geometry.
    n : int
        Number of points.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n, 2)``.
    """
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(2 * n, 64), 2))
        inside = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        found.append(inside)
        count += len(inside)
    return np.vstack(found)[:n]


def best_candidate_points(
    region: shapely.Geometry,
    fixed: np.ndarray,
    n: int,
    rng: np.random.Generator,
    candidates: int = 40,
) -> np.ndarray:
    """Spread ``n`` points over ``region`` with Mitchell's best-candidate sampling.

    Parameters
    ----------
    region : shapely.Geometry
        Where new points may go.
    fixed : numpy.ndarray
        Points that are already placed, shape ``(k, 2)``; they are kept first.
    n : int
        Total number of points wanted (including ``fixed``).
    rng : numpy.random.Generator
        Source of randomness.
    candidates : int, default 40
        Candidates drawn per new point; the one farthest from all placed points wins.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n, 2)``.
    """
    points = [tuple(p) for p in fixed]
    while len(points) < n:
        cand = random_points_in(region, candidates, rng)
        if not points:
            points.append(tuple(cand[0]))
            continue
        placed = np.asarray(points)
        dist = np.hypot(
            cand[:, None, 0] - placed[None, :, 0], cand[:, None, 1] - placed[None, :, 1]
        )
        points.append(tuple(cand[int(np.argmax(dist.min(axis=1)))]))
    return np.asarray(points)


def chaikin(coords: np.ndarray, iterations: int) -> np.ndarray:
    """Smooth a polyline by Chaikin corner cutting, keeping its end points.

    Parameters
    ----------
    coords : numpy.ndarray
        Vertices, shape ``(n, 2)``.
    iterations : int
        Number of corner-cutting passes.

    Returns
    -------
    numpy.ndarray
        The smoothed vertices.
    """
    pts = np.asarray(coords, dtype=float)
    for _ in range(iterations):
        a, b = pts[:-1], pts[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        inner = np.empty((2 * len(a), 2))
        inner[0::2], inner[1::2] = q, r
        pts = np.vstack([pts[:1], inner[1:-1], pts[-1:]])
    return pts


def wiggly_line(
    start: np.ndarray,
    end: np.ndarray,
    rng: np.random.Generator,
    *,
    bends: int = 2,
    jitter: float = 0.08,
    smooth: int = 2,
) -> LineString:
    """Return a gently bending line from ``start`` to ``end``.

    Parameters
    ----------
    start, end : numpy.ndarray
        End points.
    rng : numpy.random.Generator
        Source of randomness.
    bends : int, default 2
        Number of interior control points.
    jitter : float, default 0.08
        Standard deviation of their sideways offset, as a fraction of the length.
    smooth : int, default 2
        Chaikin passes.

    Returns
    -------
    shapely.LineString
        The line.
    """
    start, end = np.asarray(start, float), np.asarray(end, float)
    vec = end - start
    length = float(np.hypot(*vec))
    normal = np.array([-vec[1], vec[0]]) / length
    t = np.linspace(0.0, 1.0, bends + 2)
    pts = start + np.outer(t, vec)
    pts[1:-1] += np.outer(rng.normal(0.0, jitter * length, bends), normal)
    return LineString(chaikin(pts, smooth))


def explode_lines(geom: shapely.Geometry) -> list[LineString]:
    """Return the non-empty line parts of ``geom``."""
    parts = shapely.get_parts(geom)
    return [p for p in parts if isinstance(p, LineString) and p.length > 0]


def explode_polygons(geom: shapely.Geometry) -> list[Polygon]:
    """Return the polygon parts of ``geom`` with a positive area."""
    out: list[Polygon] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, Polygon) and part.area > 0:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(explode_polygons(part))
    return out


def minimum_spanning_tree(points: np.ndarray) -> list[tuple[int, int]]:
    """Return the Euclidean minimum spanning tree of ``points`` (Prim's algorithm).

    Parameters
    ----------
    points : numpy.ndarray
        Shape ``(n, 2)``.

    Returns
    -------
    list of tuple of int
        Edges ``(i, j)`` with ``i < j``, in the order they were added.
    """
    n = len(points)
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    in_tree = np.zeros(n, bool)
    in_tree[0] = True
    best = dist[0].copy()
    parent = np.zeros(n, int)
    edges: list[tuple[int, int]] = []
    for _ in range(n - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        edges.append((min(j, int(parent[j])), max(j, int(parent[j]))))
        in_tree[j] = True
        closer = dist[j] < best
        best = np.where(closer, dist[j], best)
        parent = np.where(closer, j, parent)
    return edges


def faces_of(lines: Sequence[shapely.Geometry], region: shapely.Geometry) -> list[Polygon]:
    """Node ``lines`` with the boundary of ``region`` and return the faces inside it.

    The faces tile ``region`` exactly: neighbouring faces share identical
    vertices, since they come from one noded line work.

    Parameters
    ----------
    lines : sequence of shapely.Geometry
        Linear geometries that cut the region.
    region : shapely.Geometry
        The polygon to tile.

    Returns
    -------
    list of shapely.Polygon
        Faces whose interior point lies inside ``region``.
    """
    noded = shapely.union_all([region.boundary, *lines])
    faces = explode_polygons(shapely.polygonize(shapely.get_parts(noded)))
    shapely.prepare(region)
    inside = shapely.contains(region, shapely.point_on_surface(faces))
    return [f for f, keep in zip(faces, inside, strict=True) if keep]


def shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Return the length of the boundary that two faces share."""
    return float(shapely.length(shapely.intersection(a.boundary, b.boundary)))


def merge_small_faces(
    faces: list[Polygon], labels: list[str | None], min_area: float, metric: np.ndarray
) -> tuple[list[Polygon], list[str | None]]:
    """Merge faces smaller than ``min_area`` into the neighbour they share most edge with.

    Parameters
    ----------
    faces : list of shapely.Polygon
        Faces of one noded coverage.
    labels : list of str or None
        A label per face; a merged group keeps the label of its largest face.
    min_area : float
        Threshold on ``metric``.
    metric : numpy.ndarray
        Area of each face in square metres.

    Returns
    -------
    tuple
        The merged faces and their labels.
    """
    parent = list(range(len(faces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(faces)
    for i in sorted(np.flatnonzero(metric < min_area), key=lambda k: (metric[k], k)):
        neighbours = [int(j) for j in tree.query(faces[i], predicate="intersects") if j != i]
        scored = [(shared_length(faces[i], faces[j]), -j) for j in neighbours]
        scored = [s for s in scored if s[0] > 0]
        if scored:
            parent[root(i)] = root(-max(scored)[1])
    groups: dict[int, list[int]] = {}
    for i in range(len(faces)):
        groups.setdefault(root(i), []).append(i)
    merged: list[Polygon] = []
    merged_labels: list[str | None] = []
    for members in sorted(groups.values()):
        union = shapely.union_all([faces[i] for i in members])
        label = labels[max(members, key=lambda k: (metric[k], -k))]
        for part in explode_polygons(union):
            merged.append(part)
            merged_labels.append(label)
    return merged, merged_labels


# --------------------------------------------------------------------------- writers


def _native(value: object) -> object:
    """Return ``value`` as a JSON-serialisable Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA:
        return None
    return value


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, precision: int | None = None) -> None:
    """Write a compact, deterministic GeoJSON FeatureCollection, one feature a line.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Features in EPSG:4326.
    path : pathlib.Path
        Output file (UTF-8).
    precision : int, optional
        Round coordinates to this many decimals.
    """
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        msg = f"{path}: GeoJSON output must be EPSG:4326"
        raise ValueError(msg)
    geoms = gdf.geometry.to_numpy()
    if precision is not None:
        geoms = shapely.transform(geoms, lambda c: np.round(c, precision))
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    lines = []
    for row, geom in zip(gdf[columns].itertuples(index=False), geoms, strict=True):
        props = {c: _native(v) for c, v in zip(columns, row, strict=True)}
        feature = {"type": "Feature", "properties": props, "geometry": mapping(geom)}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """Write one GeoPackage layer, replacing the file, as small as it can be.

    The layers are small, so there is no spatial index; the SQLite file is
    then vacuumed with 1 KiB pages (GDAL's default 4 KiB pages and metadata
    tables take about 100 KB even for a handful of features).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Features with a CRS.
    path : pathlib.Path
        Output file.
    layer : str
        Layer name.
    """
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", SPATIAL_INDEX="NO")
    with closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA page_size = 1024")
        con.execute("VACUUM")


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a UTF-8 shapefile (with ``.cpg``) and pin the ``.dbf`` header date.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Features with a CRS.
    path : pathlib.Path
        The ``.shp`` path; sibling files are replaced.
    """
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        path.with_suffix(ext).unlink(missing_ok=True)
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding="UTF-8")
    year, month, day = (int(x) for x in PINNED_DATE[:10].split("-"))
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[1:4] = bytes((year - 1900, month, day))
    dbf.write_bytes(bytes(data))


def toml_value(value: str | list[str]) -> str:
    """Return ``value`` as a TOML basic string (or an array of them)."""
    return json.dumps(value, ensure_ascii=False)


def write_toml(path: Path, tables: list[tuple[str, dict[str, str | list[str]]]]) -> None:
    """Write a flat TOML file of string (or string-array) keys and check that it parses.

    Parameters
    ----------
    path : pathlib.Path
        Output file.
    tables : list of tuple
        ``(table name, {key: string value})`` in output order.
    """
    chunks = []
    for name, items in tables:
        body = "\n".join(f"{key} = {toml_value(value)}" for key, value in items.items())
        chunks.append(f"[{name}]\n{body}\n")
    text = "\n".join(chunks)
    tomllib.loads(text)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- Quyết Thắng


def load_outline(data: Path) -> Polygon:
    """Return the 2009 outline of Quyết Thắng in EPSG:4326.

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.

    Returns
    -------
    shapely.Polygon
        The single polygon of the commune.
    """
    communes = gpd.read_file(data / DATA_FILES["communes_2009"])
    row = communes[(communes["commune_vn"] == QT_NAME) & (communes["district_vn"] == OLD_CITY)]
    if len(row) != 1:
        msg = f"expected one row for {QT_NAME} in {DATA_FILES['communes_2009']}, got {len(row)}"
        raise ValueError(msg)
    parts = explode_polygons(row.geometry.iloc[0])
    if len(parts) != 1:
        msg = f"{QT_NAME}: expected a single polygon, got {len(parts)} parts"
        raise ValueError(msg)
    return parts[0]


def load_osm_points(data: Path, outline: Polygon) -> gpd.GeoDataFrame:
    """Return the OSM points inside ``outline`` as infrastructure rows (EPSG:4326).

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.
    outline : shapely.Polygon
        The commune outline in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``kind``, ``name``, ``source``, ``osm_id``; one row per OSM id.
    """
    pois = gpd.read_file(data / DATA_FILES["pois"])
    pois = pois[pois.within(outline)].drop_duplicates("osm_id").sort_values("osm_id")
    return gpd.GeoDataFrame(
        {
            "kind": [OSM_KINDS.get(a, "other") for a in pois["amenity"].fillna("")],
            "name": pois["name"].fillna("").tolist(),
            "source": "OpenStreetMap (ODbL)",
            "osm_id": pd.array(pois["osm_id"].astype("int64"), dtype="Int64"),
        },
        geometry=pois.geometry.to_numpy(),
        crs=WGS84,
    )


def make_river(outline: Polygon, avoid: np.ndarray, rng: np.random.Generator) -> LineString:
    """Return an illustrative stream crossing the commune from north to south (EPSG:9213).

    Parameters
    ----------
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    avoid : numpy.ndarray
        Points the stream must stay 250 m away from.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    shapely.LineString
        The stream, not yet clipped.
    """
    minx, miny, maxx, maxy = outline.bounds
    cx = (minx + maxx) / 2
    for _ in range(200):
        top = np.array([cx + rng.uniform(-1500, 1000), maxy + 300])
        bottom = np.array([cx + rng.uniform(-1000, 1500), miny - 300])
        line = wiggly_line(top, bottom, rng, bends=5, jitter=0.05, smooth=3)
        inside = line.intersection(outline)
        far = all(line.distance(Point(p)) > 250 for p in avoid)
        if far and inside.length > 3000:
            return line
    msg = "could not place the illustrative stream"
    raise RuntimeError(msg)


def make_canals(river: LineString, outline: Polygon, rng: np.random.Generator) -> list[LineString]:
    """Return three straight-ish irrigation canals branching off the stream (EPSG:9213)."""
    inside = max(explode_lines(river.intersection(outline)), key=lambda g: g.length)
    canals = []
    for fraction, side in ((0.25, 1.0), (0.5, -1.0), (0.75, 1.0)):
        start = inside.interpolate(fraction, normalized=True)
        ahead = inside.interpolate(min(fraction + 0.02, 1.0), normalized=True)
        vec = np.array([ahead.x - start.x, ahead.y - start.y])
        angle = np.arctan2(vec[1], vec[0]) + side * np.pi / 2 + rng.uniform(-0.5, 0.5)
        length = rng.uniform(1300, 2100)
        end = np.array([start.x, start.y]) + length * np.array([np.cos(angle), np.sin(angle)])
        line = wiggly_line(np.array([start.x, start.y]), end, rng, bends=2, jitter=0.03, smooth=0)
        canals.extend(explode_lines(line.intersection(outline)))
    return canals


def make_hamlet_seeds(
    outline: Polygon, pagoda: np.ndarray, river: LineString, rng: np.random.Generator
) -> np.ndarray:
    """Return ``HAMLET_COUNT`` hamlet centres; the first is the OSM pagoda (EPSG:9213)."""
    region = outline.buffer(-200).difference(river.buffer(120))
    return best_candidate_points(region, pagoda[None, :], HAMLET_COUNT, rng)


def make_hamlets(outline: Polygon, seeds: np.ndarray) -> list[Polygon]:
    """Tile ``outline`` with the Voronoi cells of ``seeds`` (EPSG:9213).

    A cell that the outline cuts into several parts keeps the part holding its
    seed; the other parts join the neighbour they share the longest edge with,
    so every hamlet is one polygon and the hamlets tile the outline exactly.

    Parameters
    ----------
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    seeds : numpy.ndarray
        Hamlet centres, shape ``(n, 2)``.

    Returns
    -------
    list of shapely.Polygon
        One polygon per seed, in seed order.
    """
    edges = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=outline, only_edges=True)
    faces = faces_of([edges], outline)
    centres = shapely.get_coordinates(shapely.point_on_surface(faces))
    owner = np.argmin(
        np.hypot(centres[:, None, 0] - seeds[None, :, 0], centres[:, None, 1] - seeds[None, :, 1]),
        axis=1,
    )
    pieces: list[tuple[Polygon, int]] = []
    for k in range(len(seeds)):
        union = shapely.union_all([f for f, o in zip(faces, owner, strict=True) if o == k])
        pieces.extend((part, k) for part in explode_polygons(union))
    seed_points = [Point(p) for p in seeds]
    main = {k: part for part, k in pieces if part.intersects(seed_points[k])}
    stray = [part for part, k in pieces if main[k] is not part]
    for part in stray:
        best = max(range(len(seeds)), key=lambda k: (shared_length(part, main[k]), -k))
        main[best] = shapely.union_all([main[best], part])
    hamlets = [main[k] for k in range(len(seeds))]
    if any(h.geom_type != "Polygon" for h in hamlets):
        msg = "a hamlet is not a single polygon"
        raise RuntimeError(msg)
    return hamlets


def make_roads(
    outline: Polygon, seeds: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Return an illustrative road network clipped to ``outline`` (EPSG:9213).

    A through road crosses the commune west to east (asphalt); a minimum
    spanning tree joins the hamlet centres, plus the shortest extra links
    (concrete, some asphalt or gravel); lanes branch off each hamlet centre
    until the density reaches ``ROAD_DENSITY_TARGET``.

    Parameters
    ----------
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    seeds : numpy.ndarray
        Hamlet centres.
    names : sequence of str
        Hamlet names, in seed order.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``surface``, ``name``, ``source``; one LineString per row.
    """
    short = [n.removeprefix("Xóm ") for n in names]
    rows: list[tuple[str, str, LineString]] = []

    def add(line: LineString, surface: str, name: str) -> None:
        rows.extend((surface, name, part) for part in explode_lines(line.intersection(outline)))

    minx, _, maxx, _ = outline.bounds
    cy = outline.centroid.y
    west = np.array([minx - 300, cy + rng.uniform(-500, 500)])
    east = np.array([maxx + 300, cy + rng.uniform(-500, 500)])
    add(wiggly_line(west, east, rng, bends=5, jitter=0.03, smooth=3), "asphalt", "Đường trục chính")

    tree = minimum_spanning_tree(seeds)
    for i, j in tree:
        surface = "asphalt" if rng.random() < 0.2 else "concrete"
        line = wiggly_line(seeds[i], seeds[j], rng, bends=2, jitter=0.08, smooth=2)
        add(line, surface, f"Đường liên xóm {short[i]} – {short[j]}")
    dist = np.hypot(*(seeds[:, None, :] - seeds[None, :, :]).transpose(2, 0, 1))
    in_tree = set(tree)
    extra = sorted(
        (dist[i, j], i, j)
        for i in range(len(seeds))
        for j in range(i + 1, len(seeds))
        if (i, j) not in in_tree
    )[:5]
    for _, i, j in extra:
        surface = "concrete" if rng.random() < 0.5 else "gravel"
        line = wiggly_line(seeds[i], seeds[j], rng, bends=2, jitter=0.08, smooth=2)
        add(line, surface, f"Đường liên xóm {short[i]} – {short[j]}")

    target_m = ROAD_DENSITY_TARGET * outline.area / 1e3
    k = 0
    while sum(r[2].length for r in rows) < target_m:
        i = k % len(seeds)
        k += 1
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(250, 650)
        start = seeds[i] + rng.normal(0, 40, 2)
        end = start + length * np.array([np.cos(angle), np.sin(angle)])
        surface = str(rng.choice(["concrete", "concrete", "gravel", "earth"]))
        add(
            wiggly_line(start, end, rng, bends=1, jitter=0.1, smooth=2),
            surface,
            f"Ngõ {lower_first(names[i])}",
        )
    return gpd.GeoDataFrame(
        {
            "surface": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "source": "illustrative",
        },
        geometry=[r[2] for r in rows],
        crs=VN2000_TM3,
    )


def make_illustrative_points(
    outline: Polygon,
    seeds: np.ndarray,
    names: Sequence[str],
    *,
    through_road: LineString,
    avoid: shapely.Geometry,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Return illustrative cultural houses, health station, market and schools (EPSG:9213).

    Parameters
    ----------
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    seeds : numpy.ndarray
        Hamlet centres.
    names : sequence of str
        Hamlet names, in seed order.
    through_road : shapely.LineString
        The main road, for the market.
    avoid : shapely.Geometry
        Corridors (roads, water) where no point may fall.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``kind``, ``name``, ``source``, ``osm_id`` (empty).
    """
    allowed = outline.buffer(-30).difference(avoid.buffer(8))
    shapely.prepare(allowed)

    def near(origin: np.ndarray, lo: float, hi: float) -> Point:
        for _ in range(500):
            angle = rng.uniform(0, 2 * np.pi)
            radius = rng.uniform(lo, hi)
            p = Point(origin + radius * np.array([np.cos(angle), np.sin(angle)]))
            if allowed.contains(p):
                return p
        msg = "could not place an illustrative point"
        raise RuntimeError(msg)

    rows: list[tuple[str, str, Point]] = [
        ("cultural_house", f"Nhà văn hóa {lower_first(name)}", near(seed, 30, 90))
        for seed, name in zip(seeds, names, strict=True)
    ]
    centre = np.array(outline.centroid.coords[0])
    by_centrality = np.argsort(np.hypot(*(seeds - centre).T), kind="stable")
    c0, c1, c2 = (seeds[i] for i in by_centrality[:3])
    rows += [
        ("health_station", "Trạm y tế xã Quyết Thắng", near(c0, 120, 200)),
        ("kindergarten", "Trường Mầm non Quyết Thắng", near(c0, 150, 260)),
        ("school", "Trường Tiểu học Quyết Thắng", near(c1, 150, 260)),
        ("school", "Trường THCS Quyết Thắng", near(c1, 200, 320)),
        (
            "kindergarten",
            f"Điểm trường mầm non {lower_first(names[by_centrality[2]])}",
            near(c2, 100, 200),
        ),
    ]
    on_road = through_road.interpolate(through_road.project(Point(centre)))
    rows.append(("market", "Chợ Quyết Thắng", near(np.array(on_road.coords[0]), 30, 60)))
    return gpd.GeoDataFrame(
        {
            "kind": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "source": "illustrative",
            "osm_id": pd.array([None] * len(rows), dtype="Int64"),
        },
        geometry=[r[2] for r in rows],
        crs=VN2000_TM3,
    )


def make_parcel_faces(
    outline: Polygon,
    seeds: np.ndarray,
    bands: dict[str, shapely.Geometry],
    rng: np.random.Generator,
) -> tuple[list[Polygon], list[str | None]]:
    """Return parcels tiling the outline, in EPSG:9213, with their corridor code.

    Voronoi cells of seeded points (denser around hamlet centres) are cut by the
    stream, canal and road corridors; the corridors themselves are cut into
    segments by a coarser Voronoi diagram. Everything is noded as one line work
    together with the outline, so the parcels tile it exactly. The noding is
    done in EPSG:9213, the CRS the tool measures in: a straight edge in
    EPSG:4326 is not straight in EPSG:9213, so noding in EPSG:4326 would leave
    millimetre slivers along the outline once reprojected.

    Parameters
    ----------
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    seeds : numpy.ndarray
        Hamlet centres (EPSG:9213).
    bands : dict
        ``{"SON" | "DTL" | "DGT": polygon in EPSG:9213}``, in priority order.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    tuple
        Parcels (EPSG:9213) and, per parcel, its corridor code or None.
    """
    uniform = random_points_in(outline, PARCEL_SEEDS[0], rng)
    clustered = np.vstack([s + rng.normal(0, 170, size=(PARCEL_SEEDS[1], 2)) for s in seeds])
    shapely.prepare(outline)
    clustered = clustered[shapely.contains_xy(outline, clustered[:, 0], clustered[:, 1])]
    points = np.vstack([uniform, clustered])
    frame = outline.buffer(50)
    corridors = shapely.union_all(list(bands.values()))
    fine = shapely.voronoi_polygons(MultiPoint(points), extend_to=outline, only_edges=True)
    coarse = shapely.voronoi_polygons(
        MultiPoint(random_points_in(outline, PARCEL_SEEDS[2], rng)),
        extend_to=outline,
        only_edges=True,
    )
    lines = [
        fine.intersection(frame).difference(corridors),
        coarse.intersection(corridors),
        *(g.boundary for g in bands.values()),
    ]
    faces = faces_of(lines, outline)
    probes = shapely.point_on_surface(faces)
    labels: list[str | None] = [None] * len(faces)
    for code, geom in reversed(bands.items()):
        shapely.prepare(geom)
        for i in np.flatnonzero(shapely.contains(geom, probes)):
            labels[i] = code
    return merge_small_faces(faces, labels, 40.0, shapely.area(faces))


def grow_patches(
    codes: list[str | None],
    starts: Sequence[tuple[str, int, np.ndarray, float]],
    neighbours: Sequence[Sequence[int]],
    centroids: np.ndarray,
    areas: np.ndarray,
    *,
    reach: Sequence[float] | None = None,
) -> None:
    """Grow one patch of parcels per start, nearest first, until its quota is met.

    Parameters
    ----------
    codes : list of str or None
        Code per parcel; None is free. Updated in place.
    starts : sequence of tuple
        ``(code, start parcel, origin point, quota in m²)``. All patches grow
        together, so neighbouring patches share the ground between them. A
        start parcel that already has the patch's code extends that patch.
    neighbours : sequence of sequence of int
        Adjacency lists.
    centroids : numpy.ndarray
        Parcel centroids, shape ``(n, 2)``.
    areas : numpy.ndarray
        Parcel areas in m².
    reach : sequence of float, optional
        Per start, a factor dividing distances: a patch with twice the reach
        claims ground twice as far away when patches compete. Default 1.
    """
    reach = [1.0] * len(starts) if reach is None else reach
    heap = [(0.0, k, idx) for k, (_, idx, _, _) in enumerate(starts)]
    heapq.heapify(heap)
    filled = np.zeros(len(starts))
    while heap:
        _, k, idx = heapq.heappop(heap)
        code, first, origin, quota = starts[k]
        if filled[k] >= quota:
            continue
        if codes[idx] is None:
            codes[idx] = code
            filled[k] += areas[idx]
        elif not (idx == first and codes[idx] == code):
            continue
        for nb in neighbours[idx]:
            if codes[nb] is None:
                dist = float(np.hypot(*(centroids[nb] - origin))) / reach[k]
                heapq.heappush(heap, (dist, k, nb))


def free_components(
    codes: Sequence[str | None], neighbours: Sequence[Sequence[int]]
) -> list[list[int]]:
    """Return the connected groups of free parcels (each sorted by index)."""
    seen: set[int] = set()
    groups = []
    for i, c in enumerate(codes):
        if c is not None or i in seen:
            continue
        stack, group = [i], []
        seen.add(i)
        while stack:
            j = stack.pop()
            group.append(j)
            for nb in neighbours[j]:
                if codes[nb] is None and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        groups.append(sorted(group))
    return groups


def nearest_free(point: np.ndarray, codes: Sequence[str | None], centroids: np.ndarray) -> int:
    """Return the index of the free parcel whose centroid is nearest to ``point``."""
    free = np.array([c is None for c in codes])
    dist = np.where(free, np.hypot(*(centroids - point).T), np.inf)
    return int(np.argmin(dist))


def pick_spread(
    candidates: np.ndarray, k: int, centroids: np.ndarray, rng: np.random.Generator
) -> list[int]:
    """Pick ``k`` well-spread parcels among ``candidates`` (best-candidate sampling)."""
    chosen = [int(rng.choice(candidates))]
    while len(chosen) < min(k, len(candidates)):
        pool = rng.choice(candidates, size=min(30, len(candidates)), replace=False)
        pool = np.array([c for c in pool if c not in chosen])
        if len(pool) == 0:
            break
        gap = np.min(
            np.hypot(
                *(centroids[pool][:, None, :] - centroids[chosen][None, :, :]).transpose(2, 0, 1)
            ),
            axis=1,
        )
        chosen.append(int(pool[int(np.argmax(gap))]))
    return chosen


def assign_landuse(
    parcels9213: np.ndarray,
    labels: list[str | None],
    *,
    outline: Polygon,
    seeds: np.ndarray,
    points: gpd.GeoDataFrame,
    water: shapely.Geometry,
    through_road: LineString,
    rng: np.random.Generator,
) -> list[str]:
    """Give every parcel a land-use code by growing spatially coherent patches.

    Parameters
    ----------
    parcels9213 : numpy.ndarray
        Parcels in EPSG:9213.
    labels : list of str or None
        Corridor code (SON, DTL, DGT) per parcel, or None.
    outline : shapely.Polygon
        Commune outline in EPSG:9213.
    seeds : numpy.ndarray
        Hamlet centres.
    points : geopandas.GeoDataFrame
        All infrastructure points in EPSG:9213.
    water : shapely.Geometry
        The stream and canals (lines).
    through_road : shapely.LineString
        The main road.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of str
        Code per parcel.
    """
    total = outline.area
    codes: list[str | None] = list(labels)
    areas = shapely.area(parcels9213)
    centroids = shapely.get_coordinates(shapely.centroid(parcels9213))
    tree = shapely.STRtree(parcels9213)
    pairs = tree.query(parcels9213, predicate="dwithin", distance=13.0)
    neighbours: list[list[int]] = [[] for _ in parcels9213]
    for a, b in zip(*pairs, strict=True):
        if a != b:
            neighbours[int(a)].append(int(b))
    hamlet_dist = np.min(
        np.hypot(*(centroids[:, None, :] - seeds[None, :, :]).transpose(2, 0, 1)), axis=1
    )

    def start(code: str, xy: np.ndarray, quota: float) -> tuple[str, int, np.ndarray, float]:
        return (code, nearest_free(xy, codes, centroids), xy, quota)

    def small_free(xy: np.ndarray) -> int:
        free = np.array([c is None for c in codes])
        dist = np.where(free, np.hypot(*(centroids - xy).T), np.inf)
        near = np.argsort(dist, kind="stable")[:5]
        return int(min(near, key=lambda i: (areas[i], i)))

    def xy_of(kind: str) -> list[np.ndarray]:
        sel = points[points["kind"] == kind]
        return [np.array(g.coords[0]) for g in sel.geometry]

    # the smallest of the nearest free parcels under each cultural house and the health station
    for xy in xy_of("cultural_house"):
        codes[small_free(xy)] = "DVH"
    for xy in xy_of("health_station"):
        codes[small_free(xy)] = "DYT"

    # education: the OSM university and college get campuses, schools a plot
    campus_share = {"university": 0.045, "college": 0.015}
    edu = []
    for _, row in points[points["kind"].isin(["university", "school", "kindergarten"])].iterrows():
        xy = np.array(row.geometry.coords[0])
        name = str(row["name"]).casefold()
        if row["kind"] == "university":
            share = campus_share["college" if "trung cấp" in name else "university"]
        elif "vùng cao" in name:
            share = 0.01
        else:
            share = 0.0015
        edu.append(start("DGD", xy, share * total))
    grow_patches(codes, edu, neighbours, centroids, areas)

    # commerce around the market and along the through road; sports grounds
    road_points = [through_road.interpolate(f, normalized=True) for f in (0.3, 0.62)]
    commerce = [start("TMD", xy, 0.004 * total) for xy in xy_of("market")]
    commerce += [start("TMD", np.array(p.coords[0]), 0.004 * total) for p in road_points]
    grow_patches(codes, commerce, neighbours, centroids, areas)
    sports = [seeds[int(np.argmin(np.hypot(*(seeds - outline.centroid.coords[0]).T)))]]
    sports += xy_of("university")[:1]
    grow_patches(
        codes,
        [start("DTT", xy + 120, 0.0035 * total) for xy in sports],
        neighbours,
        centroids,
        areas,
    )

    # rural residential around every hamlet centre
    weights = rng.lognormal(0.0, 0.3, len(seeds))
    quotas = LANDUSE_SHARES["ONT"] * total * weights / weights.sum()
    grow_patches(
        codes,
        [start("ONT", s, q) for s, q in zip(seeds, quotas, strict=True)],
        neighbours,
        centroids,
        areas,
    )

    # industry near the east end of the through road
    east = through_road.interpolate(0.9, normalized=True)
    grow_patches(
        codes,
        [start("SKC", np.array(east.coords[0]), LANDUSE_SHARES["SKC"] * total)],
        neighbours,
        centroids,
        areas,
    )

    def free_where(mask: np.ndarray) -> np.ndarray:
        free = np.array([c is None for c in codes])
        return np.flatnonzero(free & mask)

    # village ponds with fish ponds next to them
    near_water = shapely.distance(shapely.points(centroids), water) < 600
    ponds = pick_spread(
        free_where((hamlet_dist > 120) & (hamlet_dist < 500) & near_water), 3, centroids, rng
    )
    grow_patches(
        codes,
        [start("MNC", centroids[i], LANDUSE_SHARES["MNC"] * total / 3) for i in ponds],
        neighbours,
        centroids,
        areas,
    )
    grow_patches(
        codes,
        [start("NTS", centroids[i], LANDUSE_SHARES["NTS"] * total / 3) for i in ponds],
        neighbours,
        centroids,
        areas,
    )

    # cemeteries and unused land far from the hamlets, unused land in the west
    far = pick_spread(free_where(hamlet_dist > np.quantile(hamlet_dist, 0.8)), 3, centroids, rng)
    grow_patches(
        codes,
        [start("NTD", centroids[i], LANDUSE_SHARES["NTD"] * total / 3) for i in far],
        neighbours,
        centroids,
        areas,
    )
    west_x = np.quantile(centroids[:, 0], 0.25)
    unused = pick_spread(
        free_where((centroids[:, 0] < west_x) & (hamlet_dist > 300)), 2, centroids, rng
    )
    grow_patches(
        codes,
        [start("CSD", centroids[i], LANDUSE_SHARES["CSD"] * total / 2) for i in unused],
        neighbours,
        centroids,
        areas,
    )

    # farmland: forest in the west, rice along the water, perennials near villages
    assigned = sum(areas[i] for i, c in enumerate(codes) if c is not None)
    agri = {c: LANDUSE_SHARES[c] for c in ("LUA", "CLN", "RSX", "HNK")}
    scale = (total - assigned) / sum(agri.values())
    west_x = np.quantile(centroids[:, 0], 0.4)
    seeds_by_code = {
        "RSX": (free_where((centroids[:, 0] < west_x) & (hamlet_dist > 350)), 4),
        "LUA": (free_where(near_water & (hamlet_dist > 200)), 5),
        "CLN": (free_where((hamlet_dist > 200) & (hamlet_dist < 700)), 5),
        "HNK": (free_where(hamlet_dist > 150), 4),
    }
    farm = []
    taken: set[int] = set()
    for code, (candidates, k) in seeds_by_code.items():
        pool = np.array([c for c in candidates if c not in taken])
        chosen = pick_spread(pool, k, centroids, rng)
        taken.update(chosen)
        farm += [(code, i, centroids[i], agri[code] * scale / len(chosen)) for i in chosen]
    grow_patches(codes, farm, neighbours, centroids, areas, reach=[np.sqrt(f[3]) for f in farm])

    # pockets the patches did not reach, largest first, go to the code furthest below target
    target = {c: agri[c] * scale for c in agri}
    for _ in range(500):
        pockets = free_components(codes, neighbours)
        if not pockets:
            break
        pocket = max(pockets, key=lambda p: (sum(areas[i] for i in p), -min(p)))
        done = Counter()
        for i, c in enumerate(codes):
            done[c] += areas[i]
        deficit = {c: target[c] - done[c] for c in target}
        code = max(deficit, key=lambda c: (deficit[c], c))
        if deficit[code] <= 0:
            break
        middle = np.mean(centroids[pocket], axis=0)
        first = min(pocket, key=lambda i: (float(np.hypot(*(centroids[i] - middle))), i))
        grow_patches(
            codes, [(code, first, centroids[first], deficit[code])], neighbours, centroids, areas
        )

    # anything left joins the nearest farm patch
    farm_codes = set(agri)
    grow_patches(
        codes,
        [(c, i, centroids[i], np.inf) for i, c in enumerate(codes) if c in farm_codes],
        neighbours,
        centroids,
        areas,
    )
    # whatever is still left takes the most common code among its neighbours
    while any(c is None for c in codes):
        updates = {}
        for i, c in enumerate(codes):
            if c is not None:
                continue
            around = [
                codes[j] for j in sorted(neighbours[i]) if codes[j] not in (None, *BAND_CODES)
            ]
            if around:
                updates[i] = Counter(around).most_common(1)[0][0]
        if not updates:
            codes = [c if c is not None else "CSD" for c in codes]
            break
        for i, c in updates.items():
            codes[i] = c
    return [str(c) for c in codes]


def make_population(
    data: Path, hamlets: Sequence[Polygon], ont: shapely.Geometry, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    """Distribute the 2019 census totals of Quyết Thắng over the hamlets.

    Population follows each hamlet's rural residential land (ONT) with a
    log-normal factor (σ 0.2); households follow population with a household
    size drawn between 3.9 and 5.0. Largest-remainder rounding makes both
    totals exact.

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.
    hamlets : sequence of shapely.Polygon
        Hamlets in EPSG:9213.
    ont : shapely.Geometry
        Union of the ONT parcels in EPSG:9213.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    tuple
        Population per hamlet, households per hamlet, census population, and
        the non-empty household counts of the census row (their sum is the
        census household total).
    """
    pop = pd.read_csv(data / DATA_FILES["population"])
    hh = pd.read_csv(data / DATA_FILES["households"])
    key = fold_key(QT_NAME)
    pop_row = pop[(pop["district"] == "TháiNguyên") & (pop["ward"].map(fold_key) == key)]
    hh_row = hh[(hh["district"] == "TháiNguyên") & (hh["ward"].map(fold_key) == key)]
    if len(pop_row) != 1 or len(hh_row) != 1:
        msg = "expected one census row for Quyết Thắng in each 2019 table"
        raise ValueError(msg)
    total_pop = int(pop_row["total"].iloc[0])
    hh_cols = [c for c in hh.columns if c.startswith(("urban_", "rural_"))]
    hh_parts = [int(v) for v in hh_row[hh_cols].fillna(0).to_numpy().ravel() if v > 0]
    total_hh = sum(hh_parts)
    ont_area = shapely.area(shapely.intersection(np.asarray(hamlets), ont))
    population = largest_remainder(ont_area * rng.lognormal(0.0, 0.2, len(hamlets)), total_pop)
    size = rng.uniform(3.9, 5.0, len(hamlets))
    households = largest_remainder(population / size, total_hh)
    return population, households, total_pop, hh_parts


def check_tiling(pieces: Sequence[shapely.Geometry], outline: Polygon, what: str) -> dict:
    """Check that ``pieces`` tile ``outline`` (both in a metric CRS) within 1 m².

    Returns
    -------
    dict
        ``outline``, ``sum`` and ``union`` areas in m².

    Raises
    ------
    RuntimeError
        If the sum or the union of the areas differs from the outline's by 1 m² or more.
    """
    areas = {
        "outline": outline.area,
        "sum": float(shapely.area(np.asarray(pieces)).sum()),
        "union": shapely.union_all(np.asarray(pieces)).area,
        "sym_diff": shapely.symmetric_difference(
            shapely.union_all(np.asarray(pieces)), outline
        ).area,
    }
    if abs(areas["sum"] - areas["outline"]) >= 1 or abs(areas["union"] - areas["outline"]) >= 1:
        msg = f"{what} do not tile the outline: {areas}"
        raise RuntimeError(msg)
    if not all(shapely.is_valid(np.asarray(pieces))) or any(
        shapely.get_type_id(np.asarray(pieces)) != 3
    ):
        msg = f"{what}: invalid geometry or not a Polygon"
        raise RuntimeError(msg)
    return areas


def make_quyet_thang(data: Path, out: Path) -> dict:
    """Write ``layers/quyet-thang/`` and return summary figures.

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.
    out : pathlib.Path
        Output folder.

    Returns
    -------
    dict
        Figures for the report and ``SOURCES.md``.
    """
    out.mkdir(parents=True, exist_ok=True)
    commune = gpd.GeoDataFrame(
        {"code": [QT_CODE], "name": [QT_NAME]}, geometry=[load_outline(data)], crs=WGS84
    )
    write_geojson(commune, out / "commune.geojson")
    # use the outline exactly as written, so every layer tiles what the tool reads
    outline4326 = gpd.read_file(out / "commune.geojson").geometry.iloc[0]
    outline = to_crs([outline4326], WGS84, VN2000_TM3)[0]

    osm = load_osm_points(data, outline4326)
    osm9213 = osm.to_crs(VN2000_TM3)
    pagoda = np.array(osm9213.geometry[osm9213["osm_id"] == PAGODA_OSM_ID].iloc[0].coords[0])

    river = make_river(outline, pagoda[None, :], rng_for("river"))
    canals = make_canals(river, outline, rng_for("canals"))
    seeds = make_hamlet_seeds(outline, pagoda, river, rng_for("hamlet-seeds"))
    order = sorted(range(len(seeds)), key=lambda i: (-round(seeds[i, 1] / 900), seeds[i, 0]))
    seeds = seeds[order]
    pagoda_at = order.index(0)
    names_iter = iter(HAMLET_NAMES)
    names = ["Xóm Làng Cả" if i == pagoda_at else next(names_iter) for i in range(len(seeds))]
    codes = [f"QT{i + 1:02d}" for i in range(len(seeds))]
    hamlets = make_hamlets(outline, seeds)
    check_tiling(hamlets, outline, "hamlets")
    write_gpkg(
        gpd.GeoDataFrame({"code": codes, "name": names}, geometry=hamlets, crs=VN2000_TM3),
        out / "hamlets.gpkg",
        "hamlets",
    )

    roads = make_roads(outline, seeds, names, rng_for("roads"))
    through_road = shapely.line_merge(
        shapely.union_all(roads.geometry[roads["name"] == "Đường trục chính"].to_numpy())
    )
    through_road = max(explode_lines(through_road), key=lambda g: g.length)
    river_band = river.buffer(RIVER_WIDTH_M / 2, cap_style="flat").intersection(outline)
    canal_band = shapely.union_all(
        [c.buffer(CANAL_WIDTH_M / 2, cap_style="flat", join_style="mitre") for c in canals]
    ).intersection(outline)
    road_band = shapely.union_all(
        [
            g.buffer(ROAD_WIDTH_M[s] / 2, cap_style="flat", join_style="mitre", mitre_limit=2.0)
            for g, s in zip(roads.geometry, roads["surface"], strict=True)
        ]
    ).intersection(outline)
    bands = {"SON": river_band, "DTL": canal_band, "DGT": road_band}

    illustrative = make_illustrative_points(
        outline,
        seeds,
        names,
        through_road=through_road,
        avoid=shapely.union_all([river_band, canal_band, road_band]),
        rng=rng_for("points"),
    )
    points9213 = pd.concat([osm9213, illustrative], ignore_index=True)

    parcel_list, labels = make_parcel_faces(outline, seeds, bands, rng_for("parcels"))
    parcels9213 = np.asarray(parcel_list)
    landuse_codes = assign_landuse(
        parcels9213,
        labels,
        outline=outline,
        seeds=seeds,
        points=points9213,
        water=shapely.union_all([river, *canals]),
        through_road=through_road,
        rng=rng_for("landuse"),
    )
    landuse = gpd.GeoDataFrame({"code": landuse_codes}, geometry=parcels9213, crs=VN2000_TM3)
    landuse = landuse.set_geometry(to_wgs84_exact(parcels9213), crs=WGS84)
    write_gpkg(landuse, out / "landuse.gpkg", "landuse")

    infrastructure = gpd.GeoDataFrame(points9213, geometry="geometry", crs=VN2000_TM3).to_crs(WGS84)
    write_gpkg(infrastructure, out / "infrastructure.gpkg", "infrastructure")
    write_gpkg(roads.to_crs(WGS84), out / "roads.gpkg", "roads")

    ont = shapely.union_all(
        [p for p, c in zip(parcels9213, landuse_codes, strict=True) if c == "ONT"]
    )
    population, households, total_pop, hh_parts = make_population(
        data, hamlets, ont, rng_for("population")
    )
    table = pd.DataFrame(
        {"code": codes, "name": names, "population": population, "households": households}
    )
    table.to_csv(out / "population.csv", index=False, lineterminator="\n", encoding="utf-8")

    landuse_area = pd.Series(shapely.area(parcels9213)).groupby(landuse_codes).sum()
    summary = {
        "outline_km2": outline.area / 1e6,
        "hamlets": len(hamlets),
        "hamlet_check": check_tiling(
            gpd.read_file(out / "hamlets.gpkg").to_crs(VN2000_TM3).geometry, outline, "hamlets"
        ),
        "parcels": len(parcels9213),
        "landuse_check": check_tiling(
            gpd.read_file(out / "landuse.gpkg").to_crs(VN2000_TM3).geometry, outline, "parcels"
        ),
        "landuse_share": (landuse_area / landuse_area.sum()).sort_values(ascending=False),
        "road_km": float(roads.length.sum()) / 1e3,
        "road_km_by_surface": roads.length.groupby(roads["surface"]).sum() / 1e3,
        "road_segments": len(roads),
        "population": int(population.sum()),
        "households": int(households.sum()),
        "census_population": total_pop,
        "census_households": sum(hh_parts),
        "household_parts": hh_parts,
        "osm_points": osm,
        "points": infrastructure,
    }
    write_quyet_thang_project(out)
    write_quyet_thang_sources(out, summary)
    return summary


def write_quyet_thang_project(out: Path) -> None:
    """Write ``project.toml`` of the Quyết Thắng sample."""
    sources = (
        "Ranh giới xã: bản đồ xã năm 2009 (gói R censusVN2009, MIT); điểm OSM: © OpenStreetMap "
        "contributors (ODbL); tổng dân số và số hộ: Tổng điều tra dân số 2019 (GSO, qua "
        "hgscarlette/vn-demographic). / Commune outline: 2009 polygons (R package censusVN2009, "
        "MIT); OSM points: © OpenStreetMap contributors (ODbL); population and household totals: "
        "2019 census (GSO, via hgscarlette/vn-demographic)."
    )
    note = (
        "Dữ liệu minh họa: ranh giới xóm, thửa đất sử dụng đất, đường giao thông và một phần các "
        "điểm hạ tầng là giả lập (scripts/make_samples.py), không phải số liệu thật; số dân từng "
        "xóm được chia từ tổng điều tra 2019. / Illustrative data: hamlet boundaries, land-use "
        "parcels, roads and part of the points are generated (scripts/make_samples.py), not "
        "real; hamlet populations are the 2019 census total split by a model."
    )
    write_toml(
        out / "project.toml",
        [
            (
                "project",
                {
                    "name": "Quyết Thắng",
                    "province": "Thái Nguyên",
                    "ward_of": "provincial-city",
                    "as_of": "2025-03-01",
                    "criteria_files": ["geo:provincial/thai-nguyen.toml"],
                    "sources": sources,
                    "note": note,
                },
            ),
            ("layers.units", {"path": "commune.geojson", "id": "code", "name": "name"}),
            ("layers.hamlets", {"path": "hamlets.gpkg", "id": "code", "name": "name"}),
            ("layers.landuse", {"path": "landuse.gpkg", "code": "code"}),
            ("layers.infrastructure", {"path": "infrastructure.gpkg", "kind": "kind"}),
            ("layers.roads", {"path": "roads.gpkg", "surface": "surface"}),
            (
                "tables.population",
                {
                    "path": "population.csv",
                    "joins": "hamlets",
                    "key": "code",
                    "population": "population",
                    "households": "households",
                },
            ),
        ],
    )


def write_quyet_thang_sources(out: Path, s: dict) -> None:
    """Write ``SOURCES.md`` of the Quyết Thắng sample from the summary figures."""
    shares = "\n".join(
        f"| {code} | {LANDUSE_LABELS[code]} | {share * 100:.1f} |"
        for code, share in s["landuse_share"].items()
    )
    surfaces = ", ".join(f"{k} {v:.1f} km" for k, v in s["road_km_by_surface"].items())
    osm_rows = "\n".join(
        f"| {r.osm_id} | {r.name} | {r.kind} |" for r in s["osm_points"].itertuples()
    )
    illustrative = s["points"][s["points"]["source"] == "illustrative"]["kind"].value_counts()
    ill_text = ", ".join(f"{n} {k}" for k, n in sorted(illustrative.items()))
    hh_parts = " + ".join(f"{n:,}" for n in s["household_parts"])
    per_hh = s["census_population"] / s["census_households"]
    hc, lc = s["hamlet_check"], s["landuse_check"]
    text = f"""# Quyết Thắng sample: sources

Old commune **Quyết Thắng** (GSO code 05491) of Thái Nguyên city, as in its 2023–2025 review for
ward status. On 1 July 2025 it merged with ward Thịnh Đán and commune Phúc Hà into the new ward
Quyết Thắng (code 05455, Resolution 1683/NQ-UBTVQH15).

Every file here is written by `{SCRIPT}` (base seed {SEED}; each step draws from its own
`numpy.random.default_rng` stream). Do not edit by hand: change the script and rerun it.
Running it twice gives identical files.

**Real**: the outline, the OpenStreetMap points, the 2019 census totals.
**Illustrative** (generated, not real): hamlets and their names, land-use parcels, roads,
the points marked `source = "illustrative"`, and the split of the census totals over hamlets.
No public hamlet boundaries, land-use parcels or road network exist for this commune in any
source reachable here.

## `commune.geojson`: the outline (real, coarse)

- What: one feature, EPSG:4326, fields `code` = "05491", `name` = "Xã Quyết Thắng". No
  population field: the tool sums the hamlets' population for the commune and says so.
- Source: the polygon of "Xã Quyết Thắng", district "Thành phố Thái Nguyên", in
  `tn_communes_2009_censusVN2009.geojson`, from the R package censusVN2009
  (choisy/censusVN2009), unchanged (22 vertices).
- Licence: MIT. Vintage: boundaries after 2008.
- Caveats: coarse. Its area in EPSG:9213 is **{s["outline_km2"]:.2f} km²**, against the
  official natural area of **{QT_OFFICIAL_KM2} km²** (1,293 ha, the `area` field of the same
  file, the commune's 2004 founding figure), so areas and densities computed on it are about
  {(1 - s["outline_km2"] / QT_OFFICIAL_KM2) * 100:.0f} % off the official ones.

## `hamlets.gpkg`: {s["hamlets"]} hamlets (illustrative)

- What: layer `hamlets`, EPSG:9213 (VN-2000 / TM-3 106-30, the cadastral CRS, unlike the other
  layers, so the sample exercises reprojection), fields `code` (QT01…), `name` (e.g. "Xóm Cây
  Thị").
- How: {s["hamlets"]} centres spread by best-candidate sampling, at least 200 m inside the
  outline and 120 m from the illustrative stream; the first centre is the OpenStreetMap pagoda
  "Chùa Làng Cả" (node {PAGODA_OSM_ID}), whose hamlet is named "Xóm Làng Cả". The hamlets are
  the Voronoi cells of the centres (`shapely.voronoi_polygons`) noded with the outline. They
  tile the commune exactly: sum of areas {hc["sum"]:,.3f} m², union {hc["union"]:,.3f} m²,
  outline {hc["outline"]:,.3f} m²; each is one valid Polygon.
- Caveats: names are in the style of Thái Nguyên hamlets but do **not** describe real hamlets,
  their number or their positions. Licence: generated by this project (MIT).

## `population.csv`: population and households per hamlet (totals real, split illustrative)

- What: columns `code,name,population,households`, UTF-8.
- Totals: the 2019 census row of Quyết Thắng (`QuyếtThắng`, district `TháiNguyên`,
  ward_id VNM.56.8.20_1): population **{s["census_population"]:,}** (column `total` of
  `tn_province2025_population_2019_hgscarlette.csv`) and households
  **{s["census_households"]:,}**, the sum of the household-count columns `urban_1` … `urban_5`,
  `rural_1_2`, `rural_3`, `rural_4`, `rural_5` of
  `tn_province2025_household_size_2019_hgscarlette.csv` (the urban ones are empty or 0 for this
  commune: {hh_parts}).
- Source: 2019 Population and Housing Census (GSO), via repo hgscarlette/vn-demographic.
  Licence: census figures are public facts; the repo states no licence. Vintage: 2019-04-01.
- How: population follows each hamlet's ONT (rural residential) land in `landuse.gpkg` times a
  seeded log-normal factor; households follow population with a seeded household size of
  3.9–5.0; largest-remainder rounding makes the sums exact ({s["population"]:,} people,
  {s["households"]:,} households).
- Caveats: the split is illustrative. The census gives {per_hh:.2f} persons per household, above
  the ~3.5 of neighbouring units, possibly because the total includes people living outside
  households (the commune hosts university campuses).

## `landuse.gpkg`: {s["parcels"]} land-use parcels (illustrative)

- What: layer `landuse`, EPSG:4326, field `code` (land-use codes of the Land Law 2013
  classification).
- How: Voronoi cells of about {PARCEL_SEEDS[0] + PARCEL_SEEDS[1] * s["hamlets"]} seeded points
  (uniform, plus clusters around the hamlet centres, where plots are smaller), cut by an
  illustrative stream (SON, {RIVER_WIDTH_M:.0f} m wide), three irrigation canals (DTL,
  {CANAL_WIDTH_M:.0f} m) and the road corridors of `roads.gpkg` (DGT, 4–12 m by surface); the
  corridors are cut into segments by a coarser diagram. All line work is noded with the outline
  in EPSG:9213 and written to EPSG:4326 so that reprojecting back lands on the same points; the
  parcels tile the commune exactly (in EPSG:9213: outline {lc["outline"]:,.3f} m², sum
  {lc["sum"]:,.3f} m², union {lc["union"]:,.3f} m²). Slivers under 40 m² are merged into a
  neighbour. The parcels ignore the hamlets, so many cross hamlet boundaries.
- Codes grow as coherent patches from seeds (nearest first, each to a quota): DVH under the
  cultural houses, DYT under the health station, DGD around the university, college and
  schools, TMD at the market and along the main road, DTT, ONT around every hamlet centre, SKC
  at the east end of the main road, MNC village ponds with NTS fish ponds, NTD and CSD away from
  the hamlets, then RSX (west), LUA (near water), CLN and HNK. Licence: generated by this project
  (MIT). Shares of the commune's area:

| code | meaning | share % |
|---|---|---|
{shares}

## `infrastructure.gpkg`: points (part real, part illustrative)

- What: layer `infrastructure`, EPSG:4326, fields `kind`, `name`, `source`, `osm_id`.
- Real: the OpenStreetMap points of `tn_province2025_osm_pois_hotosm.geojson` (HOT export
  "Vietnam Points of Interest", shipped in the wheel geoclip-vietnam 1.0.2; about 2025) inside
  the outline, duplicates by `osm_id` dropped; `source` = "OpenStreetMap (ODbL)". Licence: ODbL,
  © OpenStreetMap contributors. Kinds from `amenity`: school → school, kindergarten →
  kindergarten, university/college → university, clinic/hospital/doctors → health_station,
  community_centre → cultural_house, marketplace → market, place_of_worship →
  place_of_worship, townhall → administration, anything else → other.

| osm_id | name | kind |
|---|---|---|
{osm_rows}

- Illustrative (`source` = "illustrative", no `osm_id`): {ill_text}: a cultural house near each
  hamlet centre, a health station, a market on the main road, schools and kindergartens near
  central hamlets. Names are generic, positions not real.
- Caveats: the OSM university point lies at the edge of the coarse outline (it is also listed
  under Quán Triều).

## `roads.gpkg`: {s["road_segments"]} road lines (illustrative)

- What: layer `roads`, EPSG:4326, fields `surface` (asphalt, concrete, gravel, earth), `name`,
  `source` = "illustrative".
- How: a main road crossing the commune west to east (asphalt), a minimum spanning tree over the
  hamlet centres plus the five shortest extra links (mostly concrete), and lanes from each
  hamlet centre until the density reaches {ROAD_DENSITY_TARGET} km/km²; all smoothed and clipped
  to the outline. Total {s["road_km"]:.1f} km, {s["road_km"] / s["outline_km2"]:.2f} km/km²
  ({surfaces}). Licence: generated by this project (MIT).

## `project.toml`

The project file: units, hamlets, land use, points, roads and the population table (joined to
hamlets by `code`); `ward_of = "provincial-city"`, `as_of = "2025-03-01"`.
"""
    (out / "SOURCES.md").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- Thái Nguyên 2025


def make_thai_nguyen_2025(data: Path, out: Path) -> dict:
    """Write ``layers/thai-nguyen-2025/`` and return summary figures.

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.
    out : pathlib.Path
        Output folder.

    Returns
    -------
    dict
        Figures for the report and ``SOURCES.md``.
    """
    out.mkdir(parents=True, exist_ok=True)
    wards = gpd.read_file(data / DATA_FILES["wards_2025"]).sort_values("code", kind="stable")
    types = wards["fullName"].str.extract(r"^(Phường|Xã)\s", expand=False)
    if types.isna().any():
        msg = f"unit type not found in: {wards.loc[types.isna(), 'fullName'].tolist()}"
        raise ValueError(msg)
    geoms = wards.geometry.to_numpy()
    if UNITS_SIMPLIFY_TOLERANCE_DEG > 0:
        geoms = shapely.coverage_simplify(geoms, UNITS_SIMPLIFY_TOLERANCE_DEG)
    rounded = shapely.transform(geoms, lambda c: np.round(c, 6))
    invalid = ~shapely.is_valid(rounded)
    fixed = [
        shapely.multipolygons(explode_polygons(shapely.make_valid(g))) if bad else g
        for g, bad in zip(rounded, invalid, strict=True)
    ]
    units = gpd.GeoDataFrame(
        {
            "code": wards["code"].to_numpy(),
            "name": wards["fullName"].to_numpy(),
            "areaKm2": wards["areaKm2"].to_numpy(),
            "type": types.to_numpy(),
        },
        geometry=fixed,
        crs=WGS84,
    )
    write_geojson(units, out / "units.geojson", precision=6)
    written = gpd.read_file(out / "units.geojson")
    src_area = wards.to_crs(VN2000_TM3).area.to_numpy()
    new_area = written.to_crs(VN2000_TM3).area.to_numpy()
    summary = {
        "units": len(written),
        "phuong": int((written["type"] == "Phường").sum()),
        "xa": int((written["type"] == "Xã").sum()),
        "make_valid": int(invalid.sum()),
        "all_valid": bool(written.is_valid.all()),
        "size_mb": (out / "units.geojson").stat().st_size / 1e6,
        "vertices_src": int(shapely.get_num_coordinates(wards.geometry.to_numpy()).sum()),
        "vertices": int(shapely.get_num_coordinates(written.geometry.to_numpy()).sum()),
        "max_area_change_pct": float(np.max(np.abs(new_area / src_area - 1)) * 100),
        "total_km2": float(new_area.sum() / 1e6),
        "overlap_km2": float((new_area.sum() - written.to_crs(VN2000_TM3).union_all().area) / 1e6),
        "official_km2": float(wards["areaKm2"].sum()),
    }
    sources = (
        "Ranh giới 92 xã, phường tỉnh Thái Nguyên từ 1/7/2025: thanglequoc/"
        "vietnamese-provinces-database (MIT), theo bản đồ đơn vị hành chính cấp xã 2025 của "
        "Chính phủ. / Boundaries of the 92 communes and wards of Thái Nguyên province from "
        "1 July 2025: thanglequoc/vietnamese-provinces-database (MIT), derived from the "
        "government reference map of commune-level units (2025)."
    )
    note = (
        "Chưa đánh giá dân số: tổng điều tra 2019 theo xã cũ, nhiều xã mới chia tách xã cũ nên "
        "không suy ra được. Ranh giới đã được đơn giản hóa nhẹ (~4 m). / Population not "
        "assessed: the 2019 census is by old commune and several new units split old ones, so "
        "it cannot be derived here. Boundaries lightly simplified (~4 m)."
    )
    write_toml(
        out / "project.toml",
        [
            (
                "project",
                {
                    "name": "Thái Nguyên (2025)",
                    "province": "Thái Nguyên",
                    "sources": sources,
                    "note": note,
                },
            ),
            (
                "layers.units",
                {"path": "units.geojson", "id": "code", "name": "name", "official_area": "areaKm2"},
            ),
        ],
    )
    simplify = (
        f"then simplified with `shapely.coverage_simplify` (tolerance "
        f"{UNITS_SIMPLIFY_TOLERANCE_DEG:g}°, about 4 m; shared edges stay shared) from "
        f"{summary['vertices_src']:,} to {summary['vertices']:,} vertices, which changes no "
        f"unit's area by more than {summary['max_area_change_pct']:.4f} %,"
        if UNITS_SIMPLIFY_TOLERANCE_DEG > 0
        else "with every source vertex kept,"
    )
    text = f"""# Thái Nguyên 2025 sample: sources

The {summary["units"]} communes and wards ({summary["phuong"]} phường, {summary["xa"]} xã) of the
new Thái Nguyên province, in force since 1 July 2025 (old Thái Nguyên and old Bắc Kạn merged;
Resolution 1683/NQ-UBTVQH15 for the communes of old Thái Nguyên). Written by `{SCRIPT}`; do not
edit by hand.

## `units.geojson`

- What: {summary["units"]} unit polygons, EPSG:4326; fields `code` (GSO code), `name` (full
  name, e.g. "Phường Đức Xuân"), `areaKm2` (official natural area in km², kept for comparison),
  `type` ("Phường" or "Xã", from the name).
- Source: `tn_2025_wards_sapnhap_thanglequoc.geojson`, repo
  thanglequoc/vietnamese-provinces-database (`json/geojson/19_thai_nguyen/`), derived from the
  government reference map of commune-level units (layer diaphanhanhchinhcapxa_2025).
- Licence: MIT. Vintage: data set dated 2026-03-11, boundaries in force since 2025-07-01.
- Geometry: the source polygons, {simplify} and coordinates rounded to 6 decimals (about
  0.1 m); {summary["make_valid"]} geometries needed `make_valid` after rounding; all are valid.
  The file is {summary["size_mb"]:.2f} MB, written compactly (one feature a line).
- Caveats: the source has small overlaps between neighbouring units ({summary["overlap_km2"]:.4f}
  km² in all, kept). Total area in EPSG:9213: {summary["total_km2"]:,.1f} km² (official sum
  {summary["official_km2"]:,.1f} km²).

## `project.toml`

Units only; no `ward_of` and no `as_of`, so the standards in force today apply.

**No population.** The 2019 census is tabulated by old commune, and several new units were
formed from parts of old ones, so a population per new unit cannot be derived honestly from
it; population-based criteria are left unassessed.
"""
    (out / "SOURCES.md").write_text(text, encoding="utf-8")
    return summary


# --------------------------------------------------------------------------- tn-city-2009


def make_tn_city_2009(data: Path, out: Path) -> dict:
    """Write the ``tests/data/tn-city-2009/`` fixture and return summary figures.

    Parameters
    ----------
    data : pathlib.Path
        The shared data folder.
    out : pathlib.Path
        Output folder.

    Returns
    -------
    dict
        The matching table and unmatched names.
    """
    out.mkdir(parents=True, exist_ok=True)
    communes = gpd.read_file(data / DATA_FILES["communes_2009"])
    city = communes[communes["district_vn"] == OLD_CITY].copy()
    city["MA_XA"] = city["commune_id"].astype("int64").astype(str)
    city = city.sort_values("MA_XA", kind="stable")
    shp = gpd.GeoDataFrame(
        {"MA_XA": city["MA_XA"].to_numpy(), "TEN_XA": city["commune_vn"].to_numpy()},
        geometry=city.geometry.to_numpy(),
        crs=WGS84,
    )
    write_shapefile(shp, out / "communes.shp")

    raw = pd.read_csv(
        data / DATA_FILES["population"], dtype=str, keep_default_na=False, encoding="utf-8"
    )
    census = raw[(raw["city"] == "TháiNguyên") & (raw["district"] == "TháiNguyên")]
    census.to_csv(out / "census2019.csv", index=False, lineterminator="\n", encoding="utf-8")

    census_by_key = {
        fold_key(w): (w, int(t)) for w, t in zip(census["ward"], census["total"], strict=True)
    }
    areas = shp.to_crs(VN2000_TM3).area / 1e6
    rows = []
    for ma, ten, area in zip(shp["MA_XA"], shp["TEN_XA"], areas, strict=True):
        hit = census_by_key.get(fold_key(ten))
        rows.append((ma, ten, float(area), hit[0] if hit else None, hit[1] if hit else None))
    unit_keys = {fold_key(t) for t in shp["TEN_XA"]}
    unmatched_census = [
        (w, int(t))
        for w, t in zip(census["ward"], census["total"], strict=True)
        if fold_key(w) not in unit_keys
    ]
    unmatched_units = [r[1] for r in rows if r[3] is None]

    g = shp.to_crs(VN2000_TM3)
    overlap_km2 = (g.area.sum() - g.union_all().area) / 1e6
    tree = shapely.STRtree(g.geometry.to_numpy())
    pairs = []
    for a, b in zip(*tree.query(g.geometry.to_numpy(), predicate="intersects"), strict=True):
        if a < b:
            inter = g.geometry.iloc[a].intersection(g.geometry.iloc[b]).area / 1e6
            if inter > 0.01:
                pairs.append((g["TEN_XA"].iloc[a], g["TEN_XA"].iloc[b], inter))

    write_toml(
        out / "project.toml",
        [
            (
                "project",
                {
                    "name": "Thành phố Thái Nguyên (2009 outlines)",
                    "province": "Thái Nguyên",
                    "ward_of": "provincial-city",
                    "as_of": "2025-03-01",
                },
            ),
            ("layers.units", {"path": "communes.shp", "id": "MA_XA", "name": "TEN_XA"}),
            (
                "tables.population",
                {
                    "path": "census2019.csv",
                    "joins": "units",
                    "key": "name",
                    "name": "ward",
                    "population": "total",
                },
            ),
        ],
    )
    table = "\n".join(
        f"| {ma} | {ten} | {area:.3f} | {total:,} |"
        if total is not None
        else f"| {ma} | {ten} | {area:.3f} | no row |"
        for ma, ten, area, _, total in rows
    )
    extra = ", ".join(f"{w} ({t:,})" for w, t in unmatched_census) or "none"
    elsewhere = {
        fold_key(w): (w, d, int(t)) for w, d, t in raw[["ward", "district", "total"]].to_numpy()
    }
    missing = (
        ", ".join(
            f"{name} (its 2019 row, {elsewhere[fold_key(name)][0]} "
            f"{int(elsewhere[fold_key(name)][2]):,}, is under district "
            f"{elsewhere[fold_key(name)][1]}: it left the city between 2009 and 2019)"
            if fold_key(name) in elsewhere
            else name
            for name in unmatched_units
        )
        or "none"
    )
    largest = sorted(pairs, key=lambda t: -t[2])[:3]
    overlaps = (
        f"{len(pairs)} pairs of neighbours overlap by more than 0.01 km²; the largest: "
        + "; ".join(f"{a} / {b} {km2:.2f} km²" for a, b, km2 in largest)
        if pairs
        else "no pair overlaps by more than 0.01 km²"
    )
    text = f"""# tn-city-2009: every commune and ward of a city

Fixture for an end-to-end test: the {len(shp)} units of the old Thái Nguyên city as drawn in
2009, with the 2019 census rows of the city, in a layout the tool must adapt to (a shapefile
with Vietnamese field names; a census table whose names have no spaces). Written by
`{SCRIPT}`; do not edit by hand.

- `communes.shp` (+ `.shx`, `.dbf`, `.prj`, `.cpg` = UTF-8), EPSG:4326: the rows of
  `tn_communes_2009_censusVN2009.geojson` (R package censusVN2009, MIT) whose `district_vn` is
  "Thành phố Thái Nguyên". Fields `MA_XA` (the package's `commune_id` as an integer string; not
  a GSO code) and `TEN_XA` (`commune_vn`, with diacritics). Polygons are coarse and unchanged.
- `census2019.csv`: the rows of `tn_province2025_population_2019_hgscarlette.csv` with
  `city` = `district` = "TháiNguyên" (2019 census, GSO, via hgscarlette/vn-demographic; public
  facts, the repo states no licence), columns and values unchanged. Names have no spaces
  ("QuyếtThắng"), which the tool must match to "Xã Quyết Thắng".
- `project.toml`: units → `communes.shp`; population joined to units by name (`name = "ward"`,
  `population = "total"`).

Caveats: the {len(shp)} units include Cao Ngạn and Đồng Bẩm, listed under the city in the 2009
file, which gives them attributes duplicated from other rows (ignored here: only names and
outlines are used). The polygons are coarse and overlap by {overlap_km2:.2f} km² in all
({overlaps}).

Names matched by stripping "Xã ", "Phường " or "Thị trấn ", removing diacritics (đ → d),
spaces and punctuation, and case-folding. Areas are planimetric, in EPSG:9213.

| MA_XA | TEN_XA | area km² (EPSG:9213) | 2019 census total |
|---|---|---|---|
{table}

Unmatched units ("no row" above): {missing}.

Census rows with no unit (they joined the city between 2009 and 2019 and are drawn under other
districts in the 2009 file): {extra}.
"""
    (out / "README.md").write_text(text, encoding="utf-8")
    return {
        "rows": rows,
        "unmatched_census": unmatched_census,
        "unmatched_units": unmatched_units,
        "overlap_km2": overlap_km2,
        "overlap_pairs": pairs,
    }


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Generate every sample and fixture; print a short report.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared",
        help="folder holding data/thai-nguyen/ (default: <repo>/../shared)",
    )
    args = parser.parse_args(argv)
    data = find_data_dir(args.shared)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE})

    qt = make_quyet_thang(data, REPO / "layers" / "quyet-thang")
    print(
        f"quyet-thang: {qt['hamlets']} hamlets, {qt['parcels']} parcels, "
        f"{qt['road_km']:.1f} km roads ({qt['road_km'] / qt['outline_km2']:.2f} km/km²), "
        f"population {qt['population']:,}, households {qt['households']:,}"
    )
    print(f"  hamlets: {qt['hamlet_check']}")
    print(f"  landuse: {qt['landuse_check']}")
    print("  shares %: " + ", ".join(f"{k} {v * 100:.1f}" for k, v in qt["landuse_share"].items()))
    tn = make_thai_nguyen_2025(data, REPO / "layers" / "thai-nguyen-2025")
    print(f"thai-nguyen-2025: {tn}")
    city = make_tn_city_2009(data, REPO / "tests" / "data" / "tn-city-2009")
    for row in city["rows"]:
        print(f"  {row[0]} {row[1]:<26} {row[2]:7.3f} km²  {row[4] if row[4] else 'no row'}")
    print(f"  unmatched census rows: {city['unmatched_census']}")
    print(f"  unmatched units: {city['unmatched_units']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Deterministic synthetic project data for the benchmarks (issue 8), at three scales.

=====  ========  =======  =========  ============================================
scale  communes  hamlets  parcels    extent (EPSG:9213, around Thái Nguyên city)
=====  ========  =======  =========  ============================================
S      1         20       10,000     4 × 4 km
M      10        200      100,000    20 × 8 km
L      100       2,000    1,000,000  40 × 40 km (x 430–470 km, y 2,370–2,410 km)
=====  ========  =======  =========  ============================================

What is generated, all in VN-2000 / TM-3 106°30′ (EPSG:9213), from one seed:

- **communes**: the Voronoi cells of a jittered 4 km grid (about 16 km² each, like the old
  communes of Thái Nguyên: median 13.8 km²);
- **hamlets**: 20 Voronoi cells in each commune. Every edge of that network (commune edges
  included) is densified to about 30 m and bent by a smooth random curve, the way real
  boundaries follow streams and paths (the new Thái Nguyên units have a vertex every ~29 m),
  and the faces are rebuilt by polygonize, so hamlets tile their commune exactly and a commune
  is the union of its hamlets (shared edges share their vertices);
- **parcels**: Voronoi cells of seeded points clipped to their commune, so that they tile it;
  half the points are clustered around the hamlet centres (small residential and garden
  parcels, 200–700 m²), half spread uniformly (fields and forest, ~3,000 m²); about 7 vertices
  each. Land-use codes come from ``layers/reference/landuse-codes.toml`` with shares that
  depend on the distance to the village centre (residential ``ONT``, ``ODT`` in every fifth,
  "urban", commune; rice, perennial crops and tea, then forest further out);
- **1 % invalid parcels** (among those of 200 m² or more): a figure-eight (bow-tie) loop
  inserted at a corner, the classic self-intersection; ``make_valid`` repairs it, leaving a
  0.27 m² hole;
- **infrastructure** points with kinds (a cultural house per hamlet; schools, kindergartens, a
  health station, a market, … per commune; a university per 25 communes);
- **roads**: a minimum spanning tree of the Delaunay graph of the hamlet centres plus a third
  of the other short Delaunay edges (asphalt between communes, concrete inside), and eight
  lanes out of each hamlet centre (concrete, gravel, earth), all bent like the boundaries;
- a **population** table per hamlet (CSV) and an official area per commune.

They are written as a project folder (``project.toml``, five GeoPackages, ``population.csv``)
that ``geo.load_project`` accepts, so the benchmark runs the real pipeline::

    python benchmarks/generate.py --scale M [--data /tmp/geo-bench] [--seed 8] [--force]

The folder is ``<data>/<scale>-seed<seed>``; a ``manifest.json`` written last marks it
complete, and a later call with the same generator version, scale and seed reuses it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

VERSION = 2
"""Bumped whenever the generated data changes, so that caches are rebuilt."""
CRS = "EPSG:9213"
ORIGIN = (430_000.0, 2_370_000.0)
DEFAULT_SEED = 8
DEFAULT_DATA = Path("/tmp/geo-bench")
INVALID_SHARE = 0.01
MIN_INVALID_AREA_M2 = 200.0
BOUNDARY_SPACING_M = 30.0
ROAD_SPACING_M = 40.0
LANES_PER_HAMLET = 8
LANDUSE_CODES = Path(__file__).resolve().parents[1] / "layers" / "reference" / "landuse-codes.toml"


@dataclass(frozen=True)
class Scale:
    name: str
    columns: int
    rows: int
    hamlets_per_commune: int
    parcels_per_commune: int
    cell_m: float = 4_000.0

    @property
    def communes(self) -> int:
        return self.columns * self.rows

    @property
    def hamlets(self) -> int:
        return self.communes * self.hamlets_per_commune

    @property
    def parcels(self) -> int:
        return self.communes * self.parcels_per_commune


SCALES = {
    "S": Scale("S", 1, 1, 20, 10_000),
    "M": Scale("M", 5, 2, 20, 10_000),
    "L": Scale("L", 10, 10, 20, 10_000),
}
TINY = Scale("T", 2, 1, 4, 300, cell_m=1_500.0)
"""For the tests: 2 communes, 8 hamlets, 600 parcels."""


@dataclass
class Synthetic:
    """The generated layers, in EPSG:9213, with the column names of ``project.toml``."""

    scale: Scale
    seed: int
    communes: gpd.GeoDataFrame
    hamlets: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    infrastructure: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    population: pd.DataFrame
    invalid: np.ndarray  # positions of the parcels made invalid


# --------------------------------------------------------------------------- land use

# Shares by parcel count in three rings around a village centre: the core (within 1.5 σ of
# the residential cluster), the fields (within 4 σ) and beyond (fields, tea, forest).
CORE = {
    "ONT": 46, "DGT": 10, "CLN": 8, "LUA": 6, "HNK": 5, "TMD": 4, "DGD": 2.5, "NTS": 2,
    "DTL": 2, "DVH": 1.5, "DTT": 1.5, "SKC": 1.5, "DSH": 1, "PNK": 1, "DCH": 0.8, "TSC": 0.5,
    "DYT": 0.5, "TON": 0.5, "TIN": 0.5, "NTD": 0.5,
}  # fmt: skip
FIELDS = {
    "LUA": 22, "CLN": 18, "ONT": 10, "LUC": 8, "HNK": 8, "DGT": 6, "NTS": 5, "DTL": 5,
    "LUK": 4, "BHK": 3, "NTD": 2, "SON": 2, "SKC": 1, "MNC": 1, "COC": 1, "NKH": 1, "TMD": 1,
    "DGD": 0.5, "DTT": 0.5,
}  # fmt: skip
OUTER = {
    "RSX": 38, "CLN": 20, "LUA": 8, "RPH": 6, "HNK": 5, "NHK": 3, "DCS": 3, "SON": 3, "DGT": 3,
    "NTS": 2, "DTL": 2, "ONT": 2, "BCS": 1, "NTD": 1, "MNC": 1, "NCS": 0.5, "SKS": 0.5,
    "CSD": 0.5,
}  # fmt: skip

SYLLABLES = (
    "An", "Bình", "Cao", "Đồng", "Hòa", "Hợp", "Khánh", "Lập", "Minh", "Nam", "Phú", "Phúc",
    "Quang", "Sơn", "Tân", "Thành", "Thắng", "Thịnh", "Tiến", "Trung", "Vinh", "Xuân", "Yên",
    "Hưng", "Quyết", "Đoàn", "Kết", "Linh", "Cường", "Lợi", "Đức", "Hà", "Cầu", "Khuôn",
)  # fmt: skip


def _known_codes() -> set[str]:
    import tomllib

    with LANDUSE_CODES.open("rb") as file:
        return set(tomllib.load(file)["codes"])


# --------------------------------------------------------------------------- geometry helpers


def _voronoi(points: np.ndarray, extent: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of ``points`` (n × 2), in the points' order, extended over ``extent``."""
    if len(points) == 1:
        return np.array([extent], dtype=object)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
    return shapely.get_parts(cells)


def _spread_points(
    rng: np.random.Generator, polygon: shapely.Geometry, count: int, min_gap: float
) -> np.ndarray:
    """``count`` random points inside ``polygon``, at least ``min_gap`` apart where possible."""
    shapely.prepare(polygon)
    x0, y0, x1, y1 = polygon.bounds
    chosen: list[np.ndarray] = []
    gap = min_gap
    while len(chosen) < count:
        for _ in range(200):
            point = rng.uniform((x0, y0), (x1, y1))
            if not shapely.contains_xy(polygon, *point):
                continue
            if all(np.hypot(*(point - other)) >= gap for other in chosen):
                chosen.append(point)
                break
        else:
            gap *= 0.8
    return np.array(chosen)


def _bend(
    line: shapely.Geometry,
    rng: np.random.Generator,
    spacing: float,
    relative: float,
    cap: float,
) -> shapely.Geometry:
    """Densify a line to ``spacing`` and bend it by a smooth random curve; ends stay put.

    The offset is a sine series, flattened near both ends, of amplitude ``relative`` ×
    length (at most ``cap`` metres).
    """
    length = line.length
    steps = max(math.ceil(length / spacing), 2)
    along = np.linspace(0.0, length, steps + 1)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    ends = shapely.get_coordinates(line)[[0, -1]]
    tangent = np.gradient(xy, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    t = along / length
    harmonics = np.arange(1, 7)
    weights = rng.normal(size=harmonics.size) / harmonics**1.5
    offset = np.sin(np.pi * np.outer(t, harmonics)) @ weights
    # flat near the ends, so that bent edges leave a junction in their first direction
    ramp = min(150.0, length / 3)
    offset *= np.minimum(1.0, np.minimum(along, length - along) / ramp) ** 2
    offset *= min(relative * length, cap) / max(np.abs(offset).max(), 1e-12)
    xy = xy + normal * offset[:, None]
    xy[0], xy[-1] = ends[0], ends[1]
    return shapely.linestrings(xy)


def _figure_eight(polygon: shapely.Geometry, size: float = 0.3) -> shapely.Geometry:
    """Insert a small bow-tie loop at a corner of a polygon's shell (invalid).

    The widest corner whose loop lies inside the polygon is used, so that the repaired
    parcel (``make_valid``: the loop becomes a 0.27 m² hole) still fits its neighbours.
    """
    ring = shapely.get_coordinates(polygon.exterior)[:-1]
    before = np.roll(ring, 1, axis=0) - ring
    after = np.roll(ring, -1, axis=0) - ring
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    after /= np.linalg.norm(after, axis=1, keepdims=True)
    cosine = np.einsum("ij,ij->i", before, after)
    shapely.prepare(polygon)
    for i in np.argsort(cosine, kind="stable"):
        bisector = before[i] + after[i]
        norm = np.linalg.norm(bisector)
        # a straight corner (a vertex on a straight edge): go across the edge
        bisector = bisector / norm if norm > 1e-6 else np.array([-after[i][1], after[i][0]])
        if not shapely.contains_xy(polygon, *(ring[i] + bisector * size)):
            bisector = -bisector  # a reflex corner
        across = np.array([-bisector[1], bisector[0]])
        v = ring[i]
        loop = [
            v + bisector * 2 * size + across * size,
            v + bisector * 4 * size - across * size,
            v + bisector * 4 * size + across * size,
            v + bisector * 2 * size - across * size,
            v,
        ]
        if shapely.contains(polygon, shapely.convex_hull(shapely.multipoints(loop))):
            break
    shell = np.vstack([ring[: i + 1], loop, ring[i + 1 :], ring[:1]])
    return shapely.polygons(shell)


# --------------------------------------------------------------------------- the generator


def generate(scale: Scale, seed: int = DEFAULT_SEED) -> Synthetic:
    """Generate every layer of one scale from ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, VERSION])
    x0, y0 = ORIGIN
    width, height = scale.columns * scale.cell_m, scale.rows * scale.cell_m
    extent = shapely.box(x0, y0, x0 + width, y0 + height)

    # communes: a jittered grid, then its Voronoi cells
    cx, cy = np.meshgrid(np.arange(scale.columns) + 0.5, np.arange(scale.rows) + 0.5)
    centres = np.column_stack([cx.ravel(), cy.ravel()]) * scale.cell_m + (x0, y0)
    centres += rng.uniform(-0.3, 0.3, centres.shape) * scale.cell_m
    straight = shapely.intersection(_voronoi(centres, extent), extent)

    # hamlets: Voronoi cells of spread-out points in each commune
    per = scale.hamlets_per_commune
    seeds = []
    cells = []
    gap = 0.5 * math.sqrt(scale.cell_m**2 / per)
    for commune in straight:
        points = _spread_points(rng, commune, per, gap)
        seeds.append(points)
        cells.append(shapely.intersection(_voronoi(points, commune.buffer(scale.cell_m)), commune))
    hamlet_seeds = np.vstack(seeds)
    hamlet_cells = np.concatenate(cells)
    commune_of_hamlet = np.repeat(np.arange(scale.communes), per)

    # bend every edge of the boundary network once, then rebuild the faces
    network = shapely.line_merge(shapely.union_all(shapely.boundary(hamlet_cells)))
    edges = shapely.get_parts(network)
    # (an edge turning a corner of the extent is only densified: bending it around the corner
    # could fold it onto itself)
    bent = [
        _bend(e, rng, BOUNDARY_SPACING_M, 0.03, 60.0)
        if shapely.get_num_coordinates(e) == 2
        else shapely.segmentize(e, BOUNDARY_SPACING_M)
        for e in edges
    ]
    noded = shapely.union_all(np.array(bent, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = shapely.point_on_surface(faces)
    (_, owner) = shapely.STRtree(hamlet_cells).query_nearest(inside, all_matches=False)
    hamlet_geoms = np.empty(len(hamlet_cells), dtype=object)
    for h in range(len(hamlet_cells)):
        mine = faces[owner == h]
        assert len(mine), f"hamlet {h} lost its face"
        hamlet_geoms[h] = mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine)
    commune_geoms = np.array(
        [
            shapely.coverage_union_all(hamlet_geoms[commune_of_hamlet == c])
            for c in range(scale.communes)
        ],
        dtype=object,
    )

    names = _unique_names(rng, scale.communes)
    commune_codes = [f"{90001 + 3 * c:05d}" for c in range(scale.communes)]
    urban = np.arange(scale.communes) % 5 == 2
    area_km2 = shapely.area(commune_geoms) / 1e6
    communes = gpd.GeoDataFrame(
        {
            "ma_xa": commune_codes,
            "ten_xa": [f"Xã {n}" for n in names],
            "dien_tich": np.round(area_km2 * (1 + rng.normal(0, 0.004, scale.communes)), 2),
        },
        geometry=commune_geoms,
        crs=CRS,
    )
    hamlet_codes = [
        f"{commune_codes[c]}-{j + 1:02d}" for c in range(scale.communes) for j in range(per)
    ]
    hamlet_names = [
        f"Xóm {SYLLABLES[int(rng.integers(len(SYLLABLES)))]} {j + 1}"
        for c in range(scale.communes)
        for j in range(per)
    ]
    hamlets = gpd.GeoDataFrame(
        {"ma_thon": hamlet_codes, "ten_thon": hamlet_names}, geometry=hamlet_geoms, crs=CRS
    )

    landuse, invalid = _parcels(
        rng,
        scale,
        communes=commune_geoms,
        hamlet_seeds=hamlet_seeds,
        commune_of_hamlet=commune_of_hamlet,
        urban=urban,
    )
    infrastructure = _services(
        rng,
        scale,
        hamlet_seeds=hamlet_seeds,
        commune_of_hamlet=commune_of_hamlet,
        commune_names=names,
        hamlet_names=hamlet_names,
    )
    roads = _roads(rng, hamlet_seeds, commune_of_hamlet)
    people = np.round(rng.lognormal(math.log(800), 0.35, scale.hamlets)).astype(int)
    population = pd.DataFrame(
        {
            "ma_thon": hamlet_codes,
            "ten_thon": hamlet_names,
            "dan_so": people,
            "so_ho": np.round(people / rng.uniform(3.3, 4.1, scale.hamlets)).astype(int),
        }
    )
    return Synthetic(
        scale, seed, communes, hamlets, landuse, infrastructure, roads, population, invalid
    )


def _unique_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for _ in range(count):
        a, b = rng.choice(len(SYLLABLES), 2, replace=False)
        name = f"{SYLLABLES[a]} {SYLLABLES[b]}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return names


def _parcels(
    rng: np.random.Generator,
    scale: Scale,
    *,
    communes: np.ndarray,
    hamlet_seeds: np.ndarray,
    commune_of_hamlet: np.ndarray,
    urban: np.ndarray,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    known = _known_codes()
    rings = [CORE, FIELDS, OUTER]
    for shares in rings:
        missing = set(shares) - known
        assert not missing, f"codes not in landuse-codes.toml: {missing}"
    tables = [(list(s), np.array(list(s.values())) / sum(s.values())) for s in rings]
    n = scale.parcels_per_commune
    sigma = 0.03 * scale.cell_m  # 120 m at 4 km: a village of ~250 parcels of ~350 m²
    geoms = []
    codes = []
    for c, commune in enumerate(communes):
        shapely.prepare(commune)
        centres = hamlet_seeds[commune_of_hamlet == c]
        x0, y0, x1, y1 = commune.bounds
        accepted = np.empty((0, 2))
        while len(accepted) < n:
            k = n
            clustered = centres[rng.integers(len(centres), size=k // 2)] + rng.normal(
                0, sigma, (k // 2, 2)
            )
            spread = rng.uniform((x0, y0), (x1, y1), (k - k // 2, 2))
            candidates = np.vstack([clustered, spread])
            rng.shuffle(candidates)
            keep = shapely.contains_xy(commune, candidates[:, 0], candidates[:, 1])
            accepted = np.vstack([accepted, candidates[keep]])
        points = accepted[:n]
        cells = _voronoi(points, shapely.box(x0, y0, x1, y1).buffer(scale.cell_m))
        cut = ~shapely.contains_properly(commune, cells)
        cells[cut] = shapely.intersection(cells[cut], commune)
        geoms.append(cells)
        distance = (
            np.min(np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2), axis=1) / sigma
        )
        ring = np.digitize(distance, [1.5, 4.0])
        chosen = np.empty(n, dtype=object)
        for r, (labels, p) in enumerate(tables):
            mask = ring == r
            chosen[mask] = rng.choice(labels, size=int(mask.sum()), p=p)
        if urban[c]:
            chosen[chosen == "ONT"] = "ODT"
        codes.append(chosen)
    geometry = np.concatenate(geoms)
    # big enough that the repair (-0.27 m²) stays well under the pipeline's 1 % refusal
    polygons = np.flatnonzero(
        (shapely.get_type_id(geometry) == shapely.GeometryType.POLYGON)
        & (shapely.area(geometry) >= MIN_INVALID_AREA_M2)
    )
    count = round(INVALID_SHARE * len(geometry))
    invalid = np.sort(rng.choice(polygons, size=count, replace=False))
    geometry[invalid] = [_figure_eight(g) for g in geometry[invalid]]
    frame = gpd.GeoDataFrame({"loai_dat": np.concatenate(codes)}, geometry=geometry, crs=CRS)
    return frame, invalid


SERVICES_PER_COMMUNE = {
    "school": 3,
    "kindergarten": 2,
    "health_station": 1,
    "market": 1,
    "administration": 1,
    "sports_ground": 1,
    "place_of_worship": 2,
}
SERVICE_NAMES = {
    "school": "Trường",
    "kindergarten": "Trường mầm non",
    "health_station": "Trạm y tế xã",
    "market": "Chợ",
    "administration": "UBND xã",
    "sports_ground": "Sân vận động",
    "place_of_worship": "Chùa",
    "university": "Trường cao đẳng",
}


def _services(
    rng: np.random.Generator,
    scale: Scale,
    *,
    hamlet_seeds: np.ndarray,
    commune_of_hamlet: np.ndarray,
    commune_names: list[str],
    hamlet_names: list[str],
) -> gpd.GeoDataFrame:
    xy = [hamlet_seeds + rng.normal(0, 60, hamlet_seeds.shape)]
    kinds = ["cultural_house"] * len(hamlet_seeds)
    names = [f"Nhà văn hóa {n}" for n in hamlet_names]
    extra = dict(SERVICES_PER_COMMUNE)
    for c in range(scale.communes):
        mine = np.flatnonzero(commune_of_hamlet == c)
        wanted = dict(extra)
        if c % 25 == 12:
            wanted["university"] = 1
        for kind, count in wanted.items():
            hosts = rng.choice(mine, size=count, replace=count > len(mine))
            xy.append(hamlet_seeds[hosts] + rng.normal(0, 150, (count, 2)))
            kinds += [kind] * count
            names += [f"{SERVICE_NAMES[kind]} {commune_names[c]}"] * count
    points = np.vstack(xy)
    return gpd.GeoDataFrame(
        {"kind": kinds, "name": names}, geometry=shapely.points(points), crs=CRS
    )


def _roads(
    rng: np.random.Generator, hamlet_seeds: np.ndarray, commune_of_hamlet: np.ndarray
) -> gpd.GeoDataFrame:
    lines = []
    surfaces = []
    if len(hamlet_seeds) > 1:
        triangles = shapely.delaunay_triangles(shapely.multipoints(hamlet_seeds), only_edges=True)
        segments = shapely.get_coordinates(shapely.get_parts(triangles)).reshape(-1, 2, 2)
        lookup = {tuple(p): i for i, p in enumerate(hamlet_seeds.tolist())}
        pairs = [(lookup[tuple(a)], lookup[tuple(b)]) for a, b in segments.tolist()]
        graph: nx.Graph[int] = nx.Graph()
        for a, b in pairs:
            graph.add_edge(a, b, weight=float(np.hypot(*(hamlet_seeds[a] - hamlet_seeds[b]))))
        tree = {tuple(sorted(e)) for e in nx.minimum_spanning_edges(graph, data=False)}
        lengths = np.array([graph[a][b]["weight"] for a, b in pairs])
        short = np.quantile(lengths, 0.6)
        for (a, b), length in zip(pairs, lengths, strict=True):
            key = (min(a, b), max(a, b))
            if key not in tree and (length > short or rng.random() > 1 / 3):
                continue
            line = shapely.linestrings([hamlet_seeds[a], hamlet_seeds[b]])
            lines.append(_bend(line, rng, ROAD_SPACING_M, 0.04, 80.0))
            between = commune_of_hamlet[a] != commune_of_hamlet[b]
            surfaces.append(
                "asphalt"
                if between and rng.random() < 0.7
                else rng.choice(["asphalt", "concrete", "gravel"], p=[0.2, 0.6, 0.2])
            )
    for seed_xy in hamlet_seeds:
        angles = rng.uniform(0, 2 * np.pi, LANES_PER_HAMLET)
        reach = rng.uniform(150, 600, LANES_PER_HAMLET)
        for angle, length in zip(angles, reach, strict=True):
            end = seed_xy + length * np.array([np.cos(angle), np.sin(angle)])
            line = shapely.linestrings([seed_xy, end])
            lines.append(_bend(line, rng, ROAD_SPACING_M, 0.06, 40.0))
            surfaces.append(rng.choice(["concrete", "gravel", "earth"], p=[0.5, 0.2, 0.3]))
    return gpd.GeoDataFrame(
        {"surface": [str(s) for s in surfaces]}, geometry=np.array(lines, dtype=object), crs=CRS
    )


# --------------------------------------------------------------------------- writing

PROJECT_TOML = """\
[project]
name = "Benchmark {scale}"
province = "Thái Nguyên"
ward_of = "provincial-city"
as_of = "2025-03-01"
note = "Synthetic data (benchmarks/generate.py, scale {scale}, seed {seed}); not real."

[layers.units]
path = "communes.gpkg"
id = "ma_xa"
name = "ten_xa"
official_area = "dien_tich"

[layers.hamlets]
path = "hamlets.gpkg"
id = "ma_thon"
name = "ten_thon"

[layers.landuse]
path = "landuse.gpkg"
code = "loai_dat"

[layers.infrastructure]
path = "infrastructure.gpkg"
kind = "kind"
name = "name"

[layers.roads]
path = "roads.gpkg"
surface = "surface"

[tables.population]
path = "population.csv"
joins = "hamlets"
key = "ma_thon"
population = "dan_so"
households = "so_ho"
"""


def write(data: Synthetic, folder: Path) -> None:
    """Write the project folder (``project.toml``, GeoPackages, ``population.csv``)."""
    folder.mkdir(parents=True, exist_ok=True)
    layers = {
        "communes": data.communes,
        "hamlets": data.hamlets,
        "landuse": data.landuse,
        "infrastructure": data.infrastructure,
        "roads": data.roads,
    }
    for name, frame in layers.items():
        path = folder / f"{name}.gpkg"
        path.unlink(missing_ok=True)
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", use_arrow=True)
    data.population.to_csv(folder / "population.csv", index=False, encoding="utf-8")
    (folder / "project.toml").write_text(
        PROJECT_TOML.format(scale=data.scale.name, seed=data.seed), encoding="utf-8"
    )


def _manifest(scale: Scale, seed: int) -> dict[str, object]:
    return {"generator": VERSION, "seed": seed, "scale": asdict(scale)}


def dataset_dir(scale: Scale, data_dir: Path, seed: int) -> Path:
    return data_dir / f"{scale.name}-seed{seed}"


def cached(scale: Scale, data_dir: Path, seed: int) -> Path | None:
    """The folder of a complete earlier generation with the same parameters, if any."""
    folder = dataset_dir(scale, data_dir, seed)
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return None
    found = json.loads(manifest.read_text(encoding="utf-8"))
    wanted = _manifest(scale, seed)
    return folder if all(found.get(k) == v for k, v in wanted.items()) else None


def ensure(
    scale: Scale, data_dir: Path = DEFAULT_DATA, seed: int = DEFAULT_SEED, *, force: bool = False
) -> tuple[Path, dict[str, object]]:
    """Generate and write one scale unless a complete copy is cached; return folder, manifest."""
    folder = None if force else cached(scale, data_dir, seed)
    if folder is not None:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return folder, {**manifest, "cached": True}
    folder = dataset_dir(scale, data_dir, seed)
    if folder.exists():
        shutil.rmtree(folder)
    start = time.perf_counter()
    data = generate(scale, seed)
    generated = time.perf_counter() - start
    write(data, folder)
    written = time.perf_counter() - start - generated
    manifest = {
        **_manifest(scale, seed),
        "counts": {
            "communes": len(data.communes),
            "hamlets": len(data.hamlets),
            "parcels": len(data.landuse),
            "invalid_parcels": len(data.invalid),
            "infrastructure": len(data.infrastructure),
            "roads": len(data.roads),
            "parcel_vertices_mean": float(
                shapely.get_num_coordinates(data.landuse.geometry.to_numpy()).mean()
            ),
        },
        "generate_s": round(generated, 2),
        "write_s": round(written, 2),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder, {**manifest, "cached": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="S")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="cache folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    folder, manifest = ensure(SCALES[args.scale], args.data, args.seed, force=args.force)
    if manifest["cached"]:
        print(f"generation: cached in {folder}")
    else:
        print(
            f"generation: {manifest['generate_s']:.1f} s, writing {manifest['write_s']:.1f} s "
            f"→ {folder}"
        )
    print(json.dumps(manifest.get("counts", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())

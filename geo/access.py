"""Access to services: how far each hamlet's people live from a school, a clinic, ….

Distances start where people live: the residential pieces of
:func:`geo.dasymetric.allocate_population`, each represented by a point inside
it and weighted by the population allocated to it. For each kind of facility
(the ``kind`` values of the infrastructure layer) the tool reports, per
hamlet, the population-weighted mean distance to the nearest facility and the
share of the population within a distance threshold, both

* in a straight line (``dist_<kind>_m``, ``share_within_<kind>_pct``), and
* along the road network when roads are given (``netdist_<kind>_m``,
  ``netshare_within_<kind>_pct``): origins and facilities are snapped to the
  nearest point of a road, the snap distance is added, and a multi-source
  Dijkstra runs from all facilities of a kind at once
  (:func:`scipy.sparse.csgraph.dijkstra` from a virtual node joined to them).

Everything is computed offline, in the projected CRS, in metres. Facilities
outside the study area count only if they are in the infrastructure layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geo import parallel
from geo.crs import require_projected, require_same_crs
from geo.labels import INFRASTRUCTURE_LABELS, Label
from geo.labels import format_number_vi as _vi
from geo.validate import Finding

DEFAULT_THRESHOLDS_M: Mapping[str, float] = MappingProxyType(
    {
        "school": 1_000.0,
        "health_station": 2_000.0,
        "cultural_house": 500.0,
        "market": 1_500.0,
    }
)
"""Facility kinds checked by default, with the distance (m) counted as "within reach".

These are the tool's defaults for a first look, **not legal thresholds**: no
Vietnamese standard on record here sets these distances. Pass your own
``thresholds_m`` (any ``kind`` of the infrastructure layer) to
:func:`hamlet_access`.
"""

DEFAULT_SNAP_TOLERANCE_M = 5.0
"""A road end this close (m) to another road is joined to it (digitising undershoots).

Five metres is the order of the planimetric accuracy of 1:10,000 topographic
road data; cadastral surveys at 1:2,000 can use 1 m.
"""

NODE_GRID_M = 0.001
"""Roads are noded with snap-rounding on this grid (m): crossings become junctions."""

_POINT = 0  # shapely.GeometryType.POINT

_SOURCE = -1  # the virtual node joined to every facility of a kind (networkx)

SPARSE_MIN_NODES = 5_000
"""From this many road nodes, Dijkstra runs on scipy's sparse graph (30,000 nodes: 0.03 s
a kind against networkx's 0.1 s); below it networkx is as fast, and importing
:mod:`scipy.sparse` (0.1 s) would cost more."""

KDTREE_MIN_ORIGINS = 20_000
"""From this many origins, distances between points, and from points to the roads, are
measured on a k-d tree (:class:`scipy.spatial.KDTree`, the same distances as GEOS's,
several times faster at 260,000 origins); below it GEOS's tree is fast enough, and
importing :mod:`scipy.spatial` (0.2 s) would cost more."""

SNAP_SAMPLE_M = 20.0
"""Points are snapped to the roads through samples taken along each road segment at most
this far apart (:class:`_SegmentIndex`)."""

SNAP_BLOCK = 32_768
"""Points snapped at a time on a thread (:class:`_SegmentIndex`)."""

SNAP_NEIGHBOURS = 8
"""The samples looked at around a point being snapped; when they cannot prove its nearest
road piece (3 to 9 % of the points in the synthetic L network), GEOS's tree finds it."""


@dataclass(frozen=True)
class RoadGraph:
    """A road network as a graph, with the road pieces its edges stand for.

    Attributes
    ----------
    edges : numpy.ndarray of shapely.LineString
        The noded road pieces, one per edge of ``edge_nodes``.
    edge_nodes : numpy.ndarray of int, shape (n, 2)
        The nodes at the start and the end of each piece, numbered from 0
        (every number below ``nodes`` is used).
    snap_tolerance_m : float
        The tolerance the graph was built with.
    ignored_m : float
        Length of road (m) left out: the pieces not connected to the largest
        part of the network (see :func:`road_graph`).
    """

    edges: np.ndarray
    edge_nodes: np.ndarray
    snap_tolerance_m: float
    ignored_m: float = 0.0

    @property
    def nodes(self) -> int:
        """The number of nodes (road ends and junctions)."""
        return int(self.edge_nodes.max()) + 1 if self.edge_nodes.size else 0

    @cached_property
    def graph(self) -> nx.Graph[int]:
        """The network as a :class:`networkx.Graph`, built on first use.

        Nodes are integers; each edge has ``weight``, its length in m (the
        shortest piece when two pieces join the same nodes). Large networks
        are routed on :attr:`links` without it (:data:`SPARSE_MIN_NODES`).
        """
        graph: nx.Graph[int] = nx.Graph()
        graph.add_nodes_from(range(self.nodes))
        for (a, b), length in zip(self.edge_nodes.tolist(), self.lengths_m, strict=True):
            if not graph.has_edge(a, b) or graph[a][b]["weight"] > length:
                graph.add_edge(a, b, weight=float(length))
        return graph

    @property
    def lengths_m(self) -> np.ndarray:
        """Length of each road piece, in metres."""
        return shapely.length(self.edges)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """GEOS's tree of the road pieces (positions as in ``edges``)."""
        return shapely.STRtree(self.edges)

    @cached_property
    def segment_index(self) -> _SegmentIndex:
        """The road pieces' segments on a k-d tree, for snapping many points."""
        return _SegmentIndex(self.edges)

    def build_indexes(self) -> None:
        """Build the indexes that snapping uses (:attr:`edge_tree`, :attr:`segment_index`) now.

        They are otherwise built on first use; this builds them on the calling
        thread, e.g. beside other work before the distances are measured.
        """
        _ = self.edge_tree, self.segment_index

    @cached_property
    def links(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each pair of joined nodes once: lower node, upper node, shortest piece's length (m).

        The edges of ``graph`` as arrays (loops left out), for
        :func:`scipy.sparse.csgraph.dijkstra`.
        """
        if self.edge_nodes.size == 0:
            return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
        low, high = np.sort(self.edge_nodes, axis=1).T
        length = self.lengths_m
        order = np.lexsort((length, high, low))
        low, high, length = low[order], high[order], length[order]
        first = np.r_[True, (low[1:] != low[:-1]) | (high[1:] != high[:-1])] & (low != high)
        return low[first], high[first], length[first]


def road_graph(
    roads: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    largest_component: bool = True,
) -> RoadGraph:
    """Build the road graph from road lines.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        (Multi)LineStrings in a projected CRS in metres.
    snap_tolerance_m : float, default :data:`DEFAULT_SNAP_TOLERANCE_M`
        A road end within this distance of another road (its end or any point
        along it) is joined to it by a connector as long as the gap.
    largest_component : bool, default True
        Keep only the largest connected part of the network (by length), as
        osmnx does: origins and facilities then join the network where it
        goes somewhere, not on a stray lane. The length left out is in
        ``RoadGraph.ignored_m``.

    Returns
    -------
    RoadGraph

    Raises
    ------
    GeographicCrsError
        If the CRS is not projected in metres.

    Notes
    -----
    Lines are noded with snap-rounding (:data:`NODE_GRID_M`): two roads that
    cross are joined at the crossing, so a bridge over a road becomes a
    junction. Overlapping duplicate lines are dissolved.
    """
    require_projected(roads.crs, "road network distances")
    lines = shapely.get_parts(roads.geometry.to_numpy())
    lines = lines[~shapely.is_empty(lines) & (shapely.length(lines) > 0)]
    if lines.size == 0:
        return _graph(lines, snap_tolerance_m, 0.0)
    connectors = _connectors(lines, snap_tolerance_m)
    noded = shapely.union_all(np.concatenate([lines, connectors]), grid_size=NODE_GRID_M)
    edges = shapely.get_parts(noded)
    edges = edges[shapely.length(edges) > 0]
    network = _graph(edges, snap_tolerance_m, 0.0)
    if not largest_component:
        return network
    lengths = network.lengths_m
    count, component = _components(network)
    edge_component = component[network.edge_nodes[:, 0]]
    size = np.bincount(edge_component, weights=lengths, minlength=count)
    keep = edge_component == int(np.argmax(size))
    return _graph(edges[keep], snap_tolerance_m, float(lengths[~keep].sum()))


def _components(network: RoadGraph) -> tuple[int, np.ndarray]:
    """Return the number of connected parts and the part of each node (from 0).

    The parts are numbered by their lowest node, as networkx finds them and as
    scipy numbers them (used from :data:`SPARSE_MIN_NODES` nodes on): a tie
    on length keeps the same part either way.
    """
    if network.nodes >= SPARSE_MIN_NODES:
        from scipy import sparse
        from scipy.sparse import csgraph

        low, high, _ = network.links
        adjacency = sparse.csr_array(
            (np.ones(low.size), (low, high)), shape=(network.nodes, network.nodes)
        )
        count, component = csgraph.connected_components(adjacency, directed=False)
        return int(count), np.asarray(component, dtype=np.intp)
    component = np.empty(network.nodes, dtype=np.intp)
    parts = list(nx.connected_components(network.graph))
    for number, nodes in enumerate(parts):
        component[list(nodes)] = number
    return len(parts), component


def _graph(edges: np.ndarray, snap_tolerance_m: float, ignored_m: float) -> RoadGraph:
    """Build the graph of noded road pieces: their ends, numbered, are its nodes."""
    if edges.size == 0:
        return RoadGraph(edges, np.empty((0, 2), dtype=int), snap_tolerance_m, ignored_m)
    xy = shapely.get_coordinates(edges)  # first and last of each piece: no Point made
    last = np.cumsum(shapely.get_num_coordinates(edges)) - 1
    first = np.r_[0, last[:-1] + 1]
    ends = np.column_stack([xy[first], xy[last]]).reshape(-1, 2)
    _, node = np.unique(ends, axis=0, return_inverse=True)
    return RoadGraph(edges, node.reshape(-1, 2), snap_tolerance_m, ignored_m)


def nearest_distance_m(origins: np.ndarray, facilities: np.ndarray) -> np.ndarray:
    """Return the straight-line distance from each origin to its nearest facility.

    Parameters
    ----------
    origins, facilities : numpy.ndarray of shapely geometries
        In one projected CRS in metres.

    Returns
    -------
    numpy.ndarray of float
        Metres, aligned with ``origins``; NaN without facilities.

    Examples
    --------
    >>> nearest_distance_m(np.array([shapely.Point(0, 0)]),
    ...                    np.array([shapely.Point(300, 400), shapely.Point(0, 900)]))
    array([500.])
    """
    return _nearest_distance_m(origins, facilities)


def _nearest_distance_m(
    origins: np.ndarray, facilities: np.ndarray, origin_xy: np.ndarray | None = None
) -> np.ndarray:
    """Measure as :func:`nearest_distance_m` does.

    ``origin_xy``: the origins' :func:`_xy` when they are points, made once by
    a caller measuring several kinds of facility.
    """
    result = np.full(len(origins), np.nan)
    if len(origins) == 0 or len(facilities) == 0:
        return result
    if (
        len(origins) >= KDTREE_MIN_ORIGINS
        and (origin_xy is not None or _points(origins))
        and _points(facilities)
    ):
        return _point_distance_m(_xy(origins) if origin_xy is None else origin_xy, facilities)
    index, _, distance = _nearest(shapely.STRtree(facilities), origins)
    result[index] = distance
    return result


def _points(geometries: np.ndarray) -> bool:
    return bool((shapely.get_type_id(geometries) == _POINT).all())


def _xy(points: np.ndarray) -> np.ndarray:
    """Return the points' coordinates, shape (n, 2); NaN for an empty point."""
    xy = np.full((len(points), 2), np.nan)
    coordinates, index = shapely.get_coordinates(points, return_index=True)
    xy[index] = coordinates
    return xy


def _point_distance_m(origins: np.ndarray, facilities: np.ndarray) -> np.ndarray:
    """:func:`nearest_distance_m` from points (:func:`_xy`) to points, on a k-d tree.

    :class:`scipy.spatial.KDTree` measures ``sqrt(dx² + dy²)`` as GEOS
    does (the same distances, bit for bit, at L); empty points are left out
    (origins: NaN).
    """
    from scipy.spatial import KDTree

    result = np.full(len(origins), np.nan)
    targets = _xy(facilities)
    targets = targets[~np.isnan(targets).any(axis=1)]
    known = ~np.isnan(origins).any(axis=1)
    if len(targets) and known.any():
        result[known], _ = KDTree(targets).query(origins[known], workers=parallel.THREADS)
    return result


def _nearest(
    tree: shapely.STRtree, points: np.ndarray, *, lowest: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the nearest tree geometry of each point, and its distance, on threads.

    As ``tree.query_nearest(points, return_distance=True, all_matches=False)``
    (one match a point, the tree's choice among equidistant ones), ordered by
    point; points without a match (empty) are left out. ``lowest``: among
    equidistant geometries, the one at the lowest position in the tree. The
    tree is built when it is created, so threads only read it.
    """

    def nearest(part: np.ndarray) -> np.ndarray:
        (index, found), distance = tree.query_nearest(
            part, return_distance=True, all_matches=lowest
        )
        if lowest and index.size:
            order = np.lexsort((found, index))
            first = order[np.r_[True, index[order][1:] != index[order][:-1]]]
            index, found, distance = index[first], found[first], distance[first]
        out = np.full((len(part), 2), np.nan)
        out[index, 0] = found
        out[index, 1] = distance
        return out

    table = parallel.map_slices(nearest, np.asarray(points, dtype=object))
    index = np.flatnonzero(~np.isnan(table[:, 0]))
    return index, table[index, 0].astype(np.intp), table[index, 1]


def network_distance_m(
    network: RoadGraph, origins: np.ndarray, facilities: np.ndarray
) -> np.ndarray:
    """Return the road distance from each origin to its nearest facility.

    Origins and facilities are snapped to the nearest point of a road piece;
    the distance is snap of the origin + path along the roads + snap of the
    facility.

    Parameters
    ----------
    network : RoadGraph
        From :func:`road_graph`.
    origins, facilities : numpy.ndarray of shapely.Point
        In the network's CRS.

    Returns
    -------
    numpy.ndarray of float
        Metres, aligned with ``origins``: ``inf`` where no facility can be
        reached along the roads, NaN without facilities or roads.
    """
    if len(origins) == 0 or network.edges.size == 0:
        return np.full(len(origins), np.nan)
    return _network_distance(network, _snap(network, origins), facilities)


def _network_distance(network: RoadGraph, origins: _Snapped, facilities: np.ndarray) -> np.ndarray:
    """Return the road distance from snapped origins to the nearest facility."""
    o_edge, o_pos, o_snap = origins
    if len(facilities) == 0:
        return np.full(len(o_edge), np.nan)
    lengths = network.lengths_m
    f_edge, f_pos, f_snap = _snap(network, facilities)
    u, v = network.edge_nodes[f_edge, 0], network.edge_nodes[f_edge, 1]
    starts = (
        pd.DataFrame(
            {
                "node": np.concatenate([u, v]),
                "cost": np.concatenate([f_snap + f_pos, f_snap + lengths[f_edge] - f_pos]),
            }
        )
        .groupby("node")["cost"]
        .min()
    )
    to_node = _costs_from(network, starts.index.to_numpy(), starts.to_numpy(dtype="float64"))
    a, b = network.edge_nodes[o_edge, 0], network.edge_nodes[o_edge, 1]
    result = o_snap + np.minimum(o_pos + to_node[a], lengths[o_edge] - o_pos + to_node[b])
    # a facility on the origin's own road piece is reached along it directly
    own = pd.DataFrame({"edge": f_edge, "pos": f_pos, "snap": f_snap})
    here = pd.DataFrame({"origin": np.arange(len(o_edge)), "edge": o_edge, "at": o_pos})
    both = here.merge(own, on="edge")
    if not both.empty:
        direct = (both["snap"] + (both["pos"] - both["at"]).abs()).groupby(both["origin"]).min()
        positions = direct.index.to_numpy()
        result[positions] = np.minimum(
            result[positions], o_snap[positions] + direct.to_numpy(dtype="float64")
        )
    return result


def _costs_from(network: RoadGraph, nodes: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Return the least cost of reaching each node of the network from ``nodes`` (inf if none).

    A multi-source Dijkstra from a virtual node joined to each of ``nodes``
    by an edge weighing its starting cost (0 allowed): networkx's on small
    networks, from :data:`SPARSE_MIN_NODES` nodes scipy's on the sparse
    graph (which keeps explicit zeros as edges).
    """
    count = network.nodes
    if count < SPARSE_MIN_NODES:
        graph = network.graph
        graph.add_weighted_edges_from(
            (_SOURCE, int(n), float(c)) for n, c in zip(nodes, costs, strict=True)
        )
        try:
            reached = nx.single_source_dijkstra_path_length(graph, _SOURCE, weight="weight")
        finally:
            graph.remove_node(_SOURCE)
        to_node = np.full(count, np.inf)
        for node, cost in reached.items():
            if node != _SOURCE:
                to_node[node] = cost
        return to_node
    from scipy import sparse
    from scipy.sparse import csgraph

    low, high, length = network.links
    source = np.full(len(nodes), count)
    sparse_graph = sparse.csr_array(
        (np.r_[length, costs], (np.r_[low, source], np.r_[high, nodes])),
        shape=(count + 1, count + 1),
    )
    reached_all = csgraph.dijkstra(sparse_graph, directed=False, indices=count)
    return np.asarray(reached_all[:count], dtype="float64")


def piece_distances(
    pieces: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    kinds: Mapping[str, float] | list[str] = DEFAULT_THRESHOLDS_M,
    roads: gpd.GeoDataFrame | RoadGraph | None = None,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
) -> pd.DataFrame:
    """Distance from each residential piece to the nearest facility of each kind.

    Parameters
    ----------
    pieces : geopandas.GeoDataFrame
        Residential pieces (``Allocation.pieces``), in a projected CRS.
    facilities : geopandas.GeoDataFrame
        Points with a ``kind`` column, same CRS.
    kinds : mapping or list of str, default :data:`DEFAULT_THRESHOLDS_M`
        The kinds to measure (the keys of a mapping).
    roads : geopandas.GeoDataFrame or RoadGraph, optional
        Road lines (a graph is built) or a graph from :func:`road_graph`.
    snap_tolerance_m : float, default :data:`DEFAULT_SNAP_TOLERANCE_M`
        Used when a graph is built from ``roads``.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``pieces``: ``dist_<kind>_m`` and, with roads,
        ``netdist_<kind>_m`` (``inf`` if unreachable by road), from a point
        inside each piece (:func:`shapely.point_on_surface`). NaN for a kind
        with no facility.

    Raises
    ------
    GeographicCrsError
        If the CRS is not projected in metres.
    ValidationError
        If the layers are not all in the same CRS.
    """
    require_projected(pieces.crs, "distances")
    require_same_crs("distances", pieces, facilities, roads if _is_frame(roads) else None)
    origins = parallel.map_slices(shapely.point_on_surface, pieces.geometry.to_numpy())
    network = road_graph(roads, snap_tolerance_m=snap_tolerance_m) if _is_frame(roads) else roads
    kind_of = facilities["kind"].astype("string").to_numpy(dtype=object, na_value=None)
    snapped = (
        _snap(network, origins)
        if isinstance(network, RoadGraph) and network.edges.size and len(origins)
        else None
    )
    # point_on_surface gives points: their coordinates once for every kind
    origin_xy = _xy(origins) if len(origins) >= KDTREE_MIN_ORIGINS else None
    result = pd.DataFrame(index=pieces.index)
    for kind in kinds:
        points = shapely.get_parts(facilities.geometry.to_numpy()[kind_of == kind])
        result[f"dist_{kind}_m"] = _nearest_distance_m(origins, points, origin_xy)
        if snapped is not None and isinstance(network, RoadGraph):
            result[f"netdist_{kind}_m"] = _network_distance(network, snapped, points)
        elif network is not None:
            result[f"netdist_{kind}_m"] = np.nan
    return result


def hamlet_access(
    hamlets: pd.DataFrame,
    pieces: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | RoadGraph | None = None,
    thresholds_m: Mapping[str, float] = DEFAULT_THRESHOLDS_M,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    weight: str = "population",
) -> tuple[pd.DataFrame, list[Finding]]:
    """Population-weighted access of each hamlet to each kind of facility.

    Parameters
    ----------
    hamlets : pandas.DataFrame
        Hamlets with ``id`` (only ids are used; the result is aligned to them).
    pieces : geopandas.GeoDataFrame
        Residential pieces with ``hamlet_id``, ``area_m2`` and ``weight``
        (``Allocation.pieces`` of :func:`geo.dasymetric.allocate_population`).
    facilities : geopandas.GeoDataFrame
        Points with a ``kind`` column, same projected CRS.
    roads : geopandas.GeoDataFrame or RoadGraph, optional
        Road lines or a prebuilt graph; without them only straight-line
        distances are computed.
    thresholds_m : mapping of str to float, default :data:`DEFAULT_THRESHOLDS_M`
        Kinds to measure and the distance (m) counted as within reach. The
        defaults are the tool's, not legal thresholds.
    snap_tolerance_m : float, default :data:`DEFAULT_SNAP_TOLERANCE_M`
        See :func:`road_graph`.
    weight : str, default "population"
        Column of ``pieces`` weighting the pieces. Where a hamlet's pieces
        hold no positive weight (population unknown or 0), they are weighted
        by area, which within a hamlet is the same as its allocated population.

    Returns
    -------
    access : pandas.DataFrame
        Aligned with ``hamlets``; for each kind, ``dist_<kind>_m`` (weighted
        mean straight-line distance to the nearest facility, m) and
        ``share_within_<kind>_pct`` (% of the weight within the threshold);
        with roads, ``netdist_<kind>_m`` and ``netshare_within_<kind>_pct``
        likewise along the roads. NaN for a hamlet without pieces or a kind
        without facilities; ``netdist`` is NaN for a hamlet some of whose
        people cannot reach the kind by road.
    findings : list of Finding
        ``road_pieces_ignored`` with the length of road (m) not connected to
        the main network; ``no_facility`` per kind absent from ``facilities``;
        ``unreachable_by_road`` per hamlet and kind when some of its people
        cannot reach that kind along the roads (value: that share in %).
    """
    network = road_graph(roads, snap_tolerance_m=snap_tolerance_m) if _is_frame(roads) else roads
    distances = piece_distances(pieces, facilities, kinds=list(thresholds_m), roads=network)
    # pieces grouped by hamlet: codes in the order of the sorted ids, as groupby on the ids
    owner, owners = pd.factorize(pieces["hamlet_id"].astype(str).to_numpy(), sort=True)
    at = pd.Index(owners).get_indexer(pd.Index(hamlets["id"].astype(str)))

    def per_hamlet(values: pd.Series) -> np.ndarray:
        """Values by group code → aligned with ``hamlets`` (NaN for a hamlet without pieces)."""
        by_code = values.reindex(range(len(owners))).to_numpy(dtype="float64")
        return (
            np.where(at >= 0, by_code[np.maximum(at, 0)], np.nan)
            if len(owners)
            else (np.full(len(at), np.nan))
        )

    raw = pd.to_numeric(pieces[weight], errors="coerce").fillna(0.0).to_numpy(dtype="float64")
    has_weight = pd.Series(raw).groupby(owner).transform("sum").to_numpy() > 0
    w = np.where(has_weight, raw, pieces["area_m2"].to_numpy(dtype="float64"))
    total = pd.Series(w).groupby(owner).sum()
    result = pd.DataFrame(index=hamlets.index)
    findings: list[Finding] = []
    if isinstance(network, RoadGraph) and network.ignored_m > 0:
        findings.append(
            Finding(
                "roads",
                "",
                "road_pieces_ignored",
                f"{_vi(network.ignored_m)} m đường không nối với mạng đường chính, không dùng "
                f"để tính khoảng cách / {network.ignored_m:,.0f} m of road not connected to the "
                "main network, left out of road distances",
                network.ignored_m,
            )
        )
    present = set(facilities["kind"].dropna().astype(str))
    for kind, threshold in thresholds_m.items():
        if kind not in present:
            findings.append(
                Finding(
                    "infrastructure",
                    kind,
                    "no_facility",
                    f"không có {_label(kind).vi.lower()} ({kind}); không tính được khoảng cách / "
                    f"no {_label(kind).en.lower()} ({kind}); its distances are not computed",
                )
            )
        for prefix in ("", "net"):
            column = f"{prefix}dist_{kind}_m"
            if column not in distances.columns:
                continue
            d = distances[column].to_numpy(dtype="float64")
            within = pd.Series(w * (d <= threshold)).groupby(owner).sum() / total * 100.0
            with np.errstate(invalid="ignore"):  # 0 people × unreachable (inf) is nothing
                weighted = np.where(w > 0, w * d, 0.0)
            mean = pd.Series(weighted).groupby(owner).sum() / total
            if np.isnan(d).all():
                mean[:] = np.nan
                within[:] = np.nan
            result[column] = per_hamlet(mean)
            result[f"{prefix}share_within_{kind}_pct"] = per_hamlet(within)
            if prefix == "net":
                lost = pd.Series(w * np.isinf(d)).groupby(owner).sum() / total * 100.0
                for code, share in lost[lost > 0].items():
                    findings.append(
                        Finding(
                            "hamlets",
                            str(owners[code]),
                            "unreachable_by_road",
                            f"{_vi(share, 1)} % dân số không đến được {_label(kind).vi.lower()} "
                            f"theo đường giao thông / {share:.1f} % of the population cannot "
                            f"reach a {_label(kind).en.lower()} by road",
                            float(share),
                        )
                    )
                result[column] = result[column].where(np.isfinite(result[column]))
    return result, findings


def _label(kind: str) -> Label:
    return INFRASTRUCTURE_LABELS.get(kind, Label(kind, kind))


def _is_frame(roads: object) -> bool:
    return isinstance(roads, gpd.GeoDataFrame)


def _connectors(lines: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Return short lines joining road ends to the nearest other road within the tolerance.

    Each connector runs from the end to the nearest point of the other road
    and on for one grid step past it, so that noding surely splits that road.
    """
    if tolerance_m <= 0:
        return np.empty(0, dtype=object)
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    owner = np.tile(np.arange(len(lines)), 2)
    end, line = shapely.STRtree(lines).query(ends, predicate="dwithin", distance=tolerance_m)
    other = line != owner[end]
    end, line = end[other], line[other]
    gap = shapely.distance(ends[end], lines[line])
    table = pd.DataFrame({"end": end, "line": line, "gap": gap})
    touching = table.loc[table["gap"] <= NODE_GRID_M, "end"].unique()
    table = table.loc[~table["end"].isin(touching)].sort_values(["end", "gap"])
    table = table.drop_duplicates("end")
    if table.empty:
        return np.empty(0, dtype=object)
    start = shapely.get_coordinates(ends[table["end"].to_numpy()])
    target = shapely.get_coordinates(
        shapely.get_point(
            shapely.shortest_line(ends[table["end"].to_numpy()], lines[table["line"].to_numpy()]),
            -1,
        )
    )
    step = target - start
    step /= np.linalg.norm(step, axis=1, keepdims=True)
    ends_past = target + step * 2 * NODE_GRID_M
    return np.asarray(shapely.linestrings(np.stack([start, ends_past], axis=1)), dtype=object)


class _Snapped(NamedTuple):
    edge: np.ndarray  # the nearest road piece
    position: np.ndarray  # metres along it from its start
    snap: np.ndarray  # metres from the point to the piece


def _snap(network: RoadGraph, points: np.ndarray) -> _Snapped:
    """Return the nearest road piece of each point, the position along it and the snap (m).

    Among road pieces at the same distance, the lowest-numbered one. From
    :data:`KDTREE_MIN_ORIGINS` points, the pieces are found on the k-d tree of
    :class:`_SegmentIndex` (GEOS's tree for the points it leaves), else on
    GEOS's: the same pieces and distances either way.
    """
    xy = _xy(points) if len(points) >= KDTREE_MIN_ORIGINS else None
    if xy is not None and np.isfinite(xy).all() and network.edges.size:
        edge, snap, proven = network.segment_index.nearest(xy)
        rest = np.flatnonzero(~proven)
        if rest.size:
            _, edge[rest], snap[rest] = _nearest(network.edge_tree, points[rest], lowest=True)
    else:
        _, edge, snap = _nearest(network.edge_tree, points, lowest=True)
    position = shapely.line_locate_point(network.edges[edge], points)
    return _Snapped(edge, position, snap)


class _SegmentIndex:
    """The segments of road pieces, with a k-d tree of samples along them.

    Each segment is cut into equal parts of at most :data:`SNAP_SAMPLE_M`,
    sampled at their middles: every point of a segment lies within ``half`` of
    one of its samples. So a segment at distance d from a point has a sample
    within d + ``half`` of it, and when a point's :data:`SNAP_NEIGHBOURS`
    nearest samples reach farther than the nearest of their segments + ``half``,
    every segment as near as that one is among theirs: its nearest piece is
    proven. Distances are GEOS's point-to-segment formula, bit for bit.

    Parameters
    ----------
    edges : numpy.ndarray of shapely.LineString
    """

    def __init__(self, edges: np.ndarray) -> None:
        from scipy.spatial import KDTree

        xy, edge = shapely.get_coordinates(edges, return_index=True)
        at = np.flatnonzero(edge[1:] == edge[:-1])  # segment k runs from xy[at[k]]
        self.start, self.end, self.edge = xy[at], xy[at + 1], edge[at]
        step = self.end - self.start
        length = np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1])
        parts = np.maximum(np.ceil(length / SNAP_SAMPLE_M), 1).astype(np.intp)
        self.owner = np.repeat(np.arange(at.size), parts)  # the segment of each sample
        nth = np.arange(self.owner.size) - np.repeat(np.cumsum(parts) - parts, parts)
        along = (nth + 0.5) / parts[self.owner]
        samples = self.start[self.owner] + step[self.owner] * along[:, None]
        # a micrometre more covers the rounding of the samples' coordinates
        self.half = float((length / parts).max()) / 2 + 1e-6 if at.size else 0.0
        self.tree = KDTree(samples if at.size else np.zeros((0, 2)))

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest road piece of each point (finite ``xy``), its distance (m), and if proven.

        Where not proven, the piece and distance are those of the nearest
        sampled segments only. Slices of the points on threads.
        """
        table = parallel.map_slices(self._nearest, xy)
        return table[:, 0].astype(np.intp), table[:, 1], table[:, 2] > 0

    def _nearest(self, xy: np.ndarray) -> np.ndarray:
        if len(xy) > SNAP_BLOCK:  # bounded temporaries: a block is 2 MB a neighbour
            blocks = range(0, len(xy), SNAP_BLOCK)
            return np.concatenate([self._nearest(xy[at : at + SNAP_BLOCK]) for at in blocks])
        count = min(SNAP_NEIGHBOURS, self.owner.size)
        reach, sample = self.tree.query(xy, k=count)
        reach = reach.reshape(len(xy), count)
        segment = self.owner[sample.reshape(len(xy), count)]
        distance = _segment_distance(xy, self.start[segment], self.end[segment])
        best = distance.min(axis=1)
        proven = (reach[:, -1] > best + self.half) | (count == self.owner.size)
        tied = distance == best[:, None]
        edge = np.where(tied, self.edge[segment], np.iinfo(np.intp).max).min(axis=1)
        return np.column_stack([edge, best, proven])


def _segment_distance(xy: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance from points ``xy`` (n, 2) to segments ``start``-``end`` (n, k, 2), as GEOS.

    ``geos::algorithm::Distance::pointToSegment``, operation for operation: to
    the nearer end beyond the segment's ends, else along the perpendicular.
    """
    px, py = xy[:, 0, None], xy[:, 1, None]
    ax, ay, bx, by = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    to_a = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    to_b = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
        across = np.abs(s) * np.sqrt(len2)
    distance = np.where(r >= 1.0, to_b, across)
    return np.where((r <= 0.0) | ((ax == bx) & (ay == by)), to_a, distance)

"""Fuzzing: random project files, tables and geometries, and a corpus of mutated files.

Every case must end with a clear error (a GeoInputError, exit code 2 with one
line) or a correct result, never another exception or a traceback. Hypothesis
runs derandomized (a fixed seed) with a bounded number of examples, so CI is
reproducible and stays within a few seconds per property.
"""

from __future__ import annotations

import shutil
import string
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Polygon

from geo.cli import main
from geo.errors import GeoInputError, ProjectFileError
from geo.join import join_table
from geo.project import LayerSpec, TableSpec, parse_project
from geo.read import read_table
from geo.validate import validate_layer

BAD = Path(__file__).parent / "data" / "bad"
FUZZ = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TN = CRS.from_epsg(9213)
X0, Y0 = 430_000.0, 2_385_000.0

# --- project files -------------------------------------------------------------------------
KEYS = [
    "name",
    "province",
    "crs",
    "ward_of",
    "as_of",
    "sources",
    "note",
    "path",
    "id",
    "layer",
    "joins",
    "key",
    "match",
    "population",
    "households",
    "unit",
    "code",
    "kind",
    "wardof",
]
scalars = st.one_of(
    st.text(max_size=12),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.booleans(),
    st.sampled_from(
        ["Thái Nguyên", "EPSG:9213", "EPSG:4326", "2025-03-01", "town", "hamlets", "id"]
    ),
    st.dates(),
)
tables = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), scalars, max_size=6),
    lambda inner: st.dictionaries(
        st.sampled_from([*KEYS, "units", "hamlets", "roads", "p"]), inner, max_size=4
    ),
    max_leaves=12,
)
projects = st.fixed_dictionaries(
    {}, optional={"project": tables, "layers": tables, "tables": tables, "extra": scalars}
)


@FUZZ
@given(data=projects)
def test_any_project_mapping_loads_or_names_the_key(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("p")
    try:
        project = parse_project(data, root=root)
    except ProjectFileError as error:
        message = str(error)
    else:
        message = ""
        assert project.crs.is_projected
        assert "units" in project.layers
    assert message or project


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_project_file(tmp_path_factory, raw, capsys):
    root = tmp_path_factory.mktemp("p")
    (root / "project.toml").write_bytes(raw)
    assert main(["run", str(root), "--out", str(root / "out")]) == 2
    assert capsys.readouterr().err.startswith("geo: error: ")


# --- attribute tables ----------------------------------------------------------------------
cells = st.one_of(
    st.sampled_from(
        [
            "Xóm Cây Thị",
            "Khuôn 1",
            "xom khuon 11",
            "Đồng Kiệm",
            "",
            "—",
            "nan",
            "inf",
            "1.234",
            "1.234,5",
            "17,252",
            "-3",
            "1e9",
            "12 345",
            "abc",
            "X· QuyÕt",
            "Xaõ",
        ]
    ),
    st.text(
        alphabet=string.printable
        + "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚĂĐĨŨƠàáâãèéêìíòóôõùúăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
        max_size=12,
    ),
)
rows = st.lists(st.tuples(cells, cells, cells), max_size=8)


def hamlet_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["A1", "A2", "B1"], "name": ["Xóm Cây Thị", "Xóm Khuôn 1", "Thôn Đồng Kiệm"]},
        geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10)] * 3,
        crs=TN,
    )


@FUZZ
@given(
    body=rows,
    header=st.sampled_from(["name,dan_so,so_ho", "TIÊU ĐỀ\nname,dan_so,so_ho", "a,b,c", ""]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1258-ish", "latin-1", "utf-16"]),
)
def test_any_csv_joins_or_says_why(tmp_path_factory, body, header, encoding):
    root = tmp_path_factory.mktemp("t")
    text = header + "\n" + "".join(f"{a},{b},{c}\n" for a, b, c in body)
    path = root / "population.csv"
    codec = {"cp1258-ish": "cp1258"}.get(encoding, encoding)
    path.write_bytes(text.encode(codec, errors="replace"))
    spec = TableSpec(
        "population",
        path,
        None,
        "hamlets",
        "name",
        "name",
        {"population": "dan_so", "households": "so_ho"},
    )
    try:
        joined, findings = join_table(hamlet_layer(), read_table(spec), spec)
    except GeoInputError as error:
        assert str(error)  # noqa: PT017 - any GeoInputError is a clear end
        return
    assert (joined["population"].dropna() >= 0).all()
    assert all(f.kind for f in findings)


# --- geometries ----------------------------------------------------------------------------
coordinate = st.one_of(
    st.floats(-3000, 3000, allow_nan=False),
    st.sampled_from([0.0, 1e-9, 1e12, 1e300, -1e300, float("nan"), float("inf")]),
)
rings = st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=9)


def polygon(ring: list[tuple[float, float]], spike: bool, duplicate: bool) -> Polygon:
    """A ring from the drawn points: a finite start (so it closes), maybe a spike or a repeat."""
    points = [(X0, Y0)] + [(X0 + x, Y0 + y) for x, y in ring]
    if duplicate:
        points.insert(1, points[1])
    if spike:
        points.insert(2, (points[1][0] + 500, points[1][1]))
        points.insert(3, points[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # shapely warns on NaN while building
        return Polygon([*points, points[0]])


@FUZZ
@given(
    shapes=st.lists(st.tuples(rings, st.booleans(), st.booleans()), min_size=1, max_size=4),
    role=st.sampled_from(["units", "landuse"]),
)
def test_any_polygons_validate_or_say_why(shapes, role):
    geometries = [polygon(r, s, d) for r, s, d in shapes]
    raw = gpd.GeoDataFrame(
        {"id": [f"P{i}" for i in range(len(geometries))], "name": "x", "code": "LUA"},
        geometry=geometries,
        crs=TN,
    )
    fields = {"id": "id", "name": "name"} if role == "units" else {"code": "code"}
    spec = LayerSpec(role, Path(f"{role}.gpkg"), None, fields)
    try:
        layer, findings = validate_layer(raw, spec, TN, province="Thái Nguyên")
    except GeoInputError as error:
        assert str(error)  # noqa: PT017 - any GeoInputError is a clear end
        return
    geoms = layer.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert np.isfinite(shapely.get_coordinates(geoms)).all()
    assert set(layer.geom_type) <= {"Polygon", "MultiPolygon"}
    assert len(layer) + sum(f.kind.endswith("dropped") for f in findings) == len(raw)


# --- mutated files through the CLI ---------------------------------------------------------
def mutations() -> list[tuple[str, str, bytes]]:
    """(case, file name, content) for the units layer: truncations, bit flips, bad encodings."""
    good = (BAD / "duplicate-ids.geojson").read_bytes().replace(b'"001", "001"', b'"001", "002"')
    gpkg = (BAD / "two-layers.gpkg").read_bytes()
    cases = [
        ("truncated geojson", "u.geojson", good[: len(good) // 2]),
        ("geojson bad json", "u.geojson", good.replace(b"]", b"", 3)),
        (
            "geojson latin-1 names",
            "u.geojson",
            good.decode().replace("Xã", "X\udce3").encode("utf-8", "surrogateescape"),
        ),
        ("gpkg header only", "u.gpkg", gpkg[:100]),
        ("gpkg zeroed page", "u.gpkg", gpkg[:4096] + bytes(512) + gpkg[4608:]),
    ]
    rng = np.random.default_rng(20250701)
    for i in range(12):
        data = bytearray(good)
        for position in rng.integers(0, len(data), size=3):
            data[position] = int(rng.integers(0, 256))
        cases.append((f"geojson 3 random bytes #{i}", "u.geojson", bytes(data)))
    for i, cut in enumerate(rng.integers(200, len(gpkg), size=6)):
        cases.append((f"gpkg cut at {cut} #{i}", "u.gpkg", gpkg[:cut]))
    dbf = (BAD / "hamlets-tcvn3.dbf").read_bytes()
    cases.append(("dbf wrong encoding", "h.dbf", dbf))
    return cases


MUTATIONS = mutations()


@pytest.mark.parametrize(("case", "name", "content"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_files_end_clearly(  # noqa: PLR0917
    tiny_project, tmp_path, capsys, case, name, content
):
    if name == "h.dbf":  # a TCVN3 shapefile whose .cpg claims UTF-8
        for suffix in (".shp", ".shx", ".prj", ".dbf"):
            shutil.copy((BAD / "hamlets-tcvn3").with_suffix(suffix), tiny_project / f"h{suffix}")
        (tiny_project / "h.cpg").write_text("UTF-8")
        old, new = 'path = "hamlets.gpkg"\nlayer = "xom"', 'path = "h.shp"'
    else:
        (tiny_project / name).write_bytes(content)
        if name.endswith(".gpkg"):
            old, new = 'path = "hamlets.gpkg"\nlayer = "xom"', f'path = "{name}"\nlayer = "xom"'
        else:
            old, new = 'path = "communes.geojson"', f'path = "{name}"'
    project = tiny_project / "project.toml"
    project.write_text(project.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    code = main(["run", str(tiny_project), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code in {0, 2}, err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("geo: error: ")
        assert err.count("\n") == 1

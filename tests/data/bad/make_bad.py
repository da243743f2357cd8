"""Regenerate the bad-input fixtures of this folder (deterministic; run from anywhere).

Each file is one kind of bad input for the tiny test project of ``tests/conftest.py``
(two communes and three hamlets near Thái Nguyên city, VN-2000 / TM-3 106°30′,
EPSG:9213). ``tests/test_bad_input.py`` drops each one into a copy of that project
and checks how the run ends. See README.md here for the list.

    python tests/data/bad/make_bad.py
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from openpyxl import Workbook
from shapely.geometry import Polygon, box

HERE = Path(__file__).parent
TN = "EPSG:9213"
X0, Y0 = 430_000.0, 2_385_000.0  # as in tests/conftest.py
INTERNAL_PRJ = (
    'PROJCS["VN2000 noi bo TM3 106-30",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",'
    '6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
    'PARAMETER["central_meridian",106.5],PARAMETER["scale_factor",0.9999],'
    'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]'
)
HAMLET_NAMES = ["Xóm Cây Thị", "Xóm Khuôn 1", "Thôn Đồng Kiệm"]


def sq(x: float, y: float, w: float, h: float) -> Polygon:
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def units(**columns: list) -> gpd.GeoDataFrame:
    data = {"MA": ["001", "002"], "TEN": ["Xã Thử Nghiệm", "Xã Bên Cạnh"], **columns}
    return gpd.GeoDataFrame(data, geometry=[sq(0, 0, 3000, 2000), sq(3000, 0, 2000, 2000)], crs=TN)


def hamlets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["A1", "A2", "B1"], "name": HAMLET_NAMES},
        geometry=[sq(0, 0, 1500, 2000), sq(1500, 0, 1500, 2000), sq(3000, 0, 2000, 2000)],
        crs=TN,
    )


def write(frame: gpd.GeoDataFrame, name: str, **kwargs: object) -> None:
    path = HERE / name
    if path.suffix == ".shp":
        for old in HERE.glob(f"{path.stem}.*"):
            old.unlink()
    else:
        path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, **kwargs)
    if path.suffix == ".gpkg":
        _normalise_gpkg(path)


def _normalise_gpkg(path: Path) -> None:
    """Blank GDAL's timestamps so that regenerating gives the same bytes."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_contents SET last_change = '2025-01-01T00:00:00.000Z'")
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size = 512")
    db.execute("VACUUM")
    db.close()


def legacy_dbf(name: str, texts: list[str], *, cpg: str | None = None) -> None:
    """A hamlets shapefile whose DBF holds ``texts`` (characters standing for bytes)."""
    frame = hamlets()
    frame["name"] = texts
    write(frame, name, encoding="latin1")
    (HERE / name).with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        (HERE / name).with_suffix(".cpg").write_text(cpg)


def tcvn3(text: str) -> str:
    from geo.encoding import TCVN3_TABLE

    reverse = {v: chr(k) for k, v in TCVN3_TABLE.items()}
    return "".join(reverse.get(ch, ch) for ch in text)


def vni(text: str) -> str:
    from geo.encoding import VNI_TABLE

    reverse = {v: k for k, v in sorted(VNI_TABLE.items(), key=lambda kv: -len(kv[0]))}
    return "".join(reverse.get(ch, ch) for ch in text)


def main() -> None:
    from geo.encoding import encode_cp1258

    # --- files that cannot be read --------------------------------------------------------
    (HERE / "empty.geojson").write_bytes(b"")
    (HERE / "garbage.gpkg").write_bytes(bytes((i * 37 + 11) % 256 for i in range(1500)))
    (HERE / "bad-json.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"MA": "001"}, "geometry": {"type": "Polygon", "coordinates": [[[105.8, 21.5], ',
        encoding="utf-8",
    )
    write(units(), "full.gpkg", layer="xa")  # then cut to a third: a truncated GeoPackage
    data = (HERE / "full.gpkg").read_bytes()
    (HERE / "truncated.gpkg").write_bytes(data[: len(data) // 3])
    (HERE / "full.gpkg").unlink()
    (HERE / "no-features.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": []}), encoding="utf-8"
    )
    two = hamlets()
    write(two, "two-layers.gpkg", layer="xom")
    pyogrio.write_dataframe(two, HERE / "two-layers.gpkg", layer="thon", append=False)
    _normalise_gpkg(HERE / "two-layers.gpkg")
    pd.DataFrame({"MA": ["001"], "TEN": ["x"]}).to_csv(HERE / "table-as-layer.csv", index=False)

    # --- CRS -------------------------------------------------------------------------------
    write(units(), "no-crs.shp")
    (HERE / "no-crs.prj").unlink()
    write(units(), "internal-vn2000.shp")
    (HERE / "internal-vn2000.prj").write_text(INTERNAL_PRJ)
    outside = units().set_crs("EPSG:3857", allow_override=True)  # metres read as Web Mercator
    write(outside, "outside-vietnam.fgb")
    other = units().set_crs("EPSG:9209", allow_override=True)  # 106°30' numbers, 105°30' CRS
    write(other, "other-meridian.fgb")
    lonlat = units().to_crs(4326)
    lonlat.geometry = lonlat.geometry.map(lambda g: Polygon([(y, x) for x, y in g.exterior.coords]))
    write(lonlat, "swapped-axes.geojson")

    # --- geometries ------------------------------------------------------------------------
    points = units()
    points.geometry = points.geometry.centroid
    write(points, "points-as-units.geojson")
    zm = hamlets()
    zm.geometry = zm.geometry.map(lambda g: Polygon([(x, y, 25.0) for x, y in g.exterior.coords]))
    write(zm, "hamlets-z.fgb")
    null_unit = units()
    null_unit.loc[1, "geometry"] = None
    write(null_unit, "null-geometry-units.geojson")
    landuse = gpd.GeoDataFrame(
        {"loai_dat": ["LUA", "ONT", "HNK", "BHK"]},
        geometry=[
            sq(1400, 0, 200, 100),
            Polygon(),
            Polygon(
                [
                    (X0 + 100, Y0 + 100),
                    (X0 + 200, Y0 + 200),
                    (X0 + 200, Y0 + 100),
                    (X0 + 100, Y0 + 200),
                ]
            ),  # bow-tie: 2 × 2,500 m²
            None,
        ],
        crs=TN,
    )
    write(landuse, "landuse-empty-and-bowtie.fgb", layer_options={"SPATIAL_INDEX": "NO"})
    spike = hamlets()
    a1 = [(0, 0), (1500, 0), (1500, 0), (1500, 1000), (1700, 1000), (1500, 1000), (1500, 2000)]
    a1 = [(X0 + x, Y0 + y) for x, y in [*a1, (0, 2000), (0, 0)]]  # duplicate vertex, spike
    spike.loc[0, "geometry"] = Polygon(a1)
    write(spike, "hamlets-spike.fgb")
    big = hamlets()
    shell = sq(0, 0, 1500, 2000).exterior.coords
    hole = sq(1000, 500, 1000, 1000).exterior.coords  # half of the hole is outside the shell
    big.loc[0, "geometry"] = Polygon(shell, [hole])
    write(big, "hamlets-unrepairable.fgb")

    # --- ids -------------------------------------------------------------------------------
    write(
        units(MA_DUP=["001", "001"]).drop(columns="MA").rename(columns={"MA_DUP": "MA"}),
        "duplicate-ids.geojson",
    )
    write(
        units(MA_NULL=["001", None]).drop(columns="MA").rename(columns={"MA_NULL": "MA"}),
        "null-ids.geojson",
    )
    far = hamlets()
    far.loc[3] = ["Z9", "Xóm Lạc", sq(20_000, 0, 100, 100)]
    write(far, "hamlet-outside.fgb")

    # --- tables ----------------------------------------------------------------------------
    def table(rows: list[tuple[str, str, str]], name: str) -> None:
        pd.DataFrame(rows, columns=["name", "dan_so", "so_ho"]).to_csv(HERE / name, index=False)

    table(
        [
            ("xom cay thi", "4000", "1100"),
            ("Khuon Mot", "3000", "850"),
            ("Đồng Kiệm", "3999", "1000"),
        ],
        "population-unmatched.csv",
    )
    table(
        [
            ("xom cay thi", "4000", "1100"),
            ("Khuôn 1", "3000", "850"),
            ("Đồng Kiệm", "3999", "1000"),
            ("Xóm Cây Thị", "4000", "1100"),
        ],
        "population-duplicate.csv",
    )
    table(
        [
            ("xom cay thi", "bốn nghìn", "1100"),
            ("Khuôn 1", "3000", "850"),
            ("Đồng Kiệm", "3999", "1000"),
        ],
        "population-text.csv",
    )
    table(
        [
            ("xom cay thi", "4000", "1100"),
            ("Khuôn 1", "-3000", "850"),
            ("Đồng Kiệm", "3999", "1000"),
        ],
        "population-negative.csv",
    )
    table(
        [
            ("xom cay thi", "4.000", "1.100"),
            ("Khuôn 1", "3.000,0", "850"),
            ("Đồng Kiệm", "3 999", "1,000"),
        ],
        "population-vn-format.csv",
    )
    rows = [
        ("Xóm Cây Thị", "4000", "1100"),
        ("Xóm Khuôn 1", "3000", "850"),
        ("Thôn Đồng Kiệm", "3999", "1000"),
    ]
    (HERE / "population-cp1258.csv").write_bytes(
        encode_cp1258("name,dan_so,so_ho\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    )
    (HERE / "population-tcvn3.csv").write_bytes(
        tcvn3("name,dan_so,so_ho\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)).encode(
            "latin-1"
        )
    )
    merged = Workbook()
    sheet = merged.active
    sheet.title = "dan so"
    sheet.append(["DÂN SỐ CÁC XÓM NĂM 2024"])
    sheet.merge_cells("A1:C1")
    sheet.append(["name", "Dân số", None])
    sheet.append([None, "dan_so", "so_ho"])
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B2:C2")
    for name, people, households in rows:
        sheet.append([name, int(people), int(households)])
    sheet.append(["Tổng cộng", 10999, 2950])
    merged.save(HERE / "population-merged-header.xlsx")
    vni_book = Workbook()
    vni_sheet = vni_book.active
    vni_sheet.append(["name", "dan_so", "so_ho"])
    for name, people, households in rows:
        vni_sheet.append([vni(name), people, households])
    vni_book.save(HERE / "population-vni.xlsx")
    for path in HERE.glob("population-*.xlsx"):
        _normalise_xlsx(path)

    # --- legacy text in attribute tables ---------------------------------------------------
    legacy_dbf("hamlets-tcvn3.shp", [tcvn3(n) for n in HAMLET_NAMES])
    legacy_dbf("hamlets-vni.shp", [vni(n) for n in HAMLET_NAMES])
    legacy_dbf(
        "hamlets-cp1258-wrong-cpg.shp",
        [encode_cp1258(n).decode("latin-1") for n in HAMLET_NAMES],
        cpg="UTF-8",
    )

    # --- project files ---------------------------------------------------------------------
    (HERE / "project-unknown-key.toml").write_text(
        '[project]\nname = "x"\nprovince = "Thái Nguyên"\nward_off = "town"\n'
        '[layers.units]\npath = "communes.geojson"\nid = "MA"\nname = "TEN"\n',
        encoding="utf-8",
    )
    (HERE / "project-wrong-type.toml").write_text(
        '[project]\nname = "x"\nprovince = "Thái Nguyên"\n'
        '[layers.units]\npath = "communes.geojson"\nid = 3\nname = "TEN"\n',
        encoding="utf-8",
    )
    (HERE / "project-missing-section.toml").write_text(
        '[project]\nname = "x"\nprovince = "Thái Nguyên"\n', encoding="utf-8"
    )
    (HERE / "project-bad-toml.toml").write_bytes(b'[project\nname = "x\xff"\n')
    for stray in HERE.glob("*.aux.xml"):
        stray.unlink()
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


def _normalise_xlsx(path: Path) -> None:
    """Rewrite an XLSX with fixed zip timestamps and document dates (same bytes every time)."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        items = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in items:
            fixed = _fixed_dates(content) if name == "docProps/core.xml" else content
            target.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), fixed)


def _fixed_dates(xml: bytes) -> bytes:
    import re

    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2025-01-01T00:00:00Z", xml)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE.parents[2]))
    main()

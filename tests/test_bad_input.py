"""Every kind of bad input, each with a fixture from tests/data/bad/, through the CLI.

Each case ends either with exit code 2 and one line saying which file, feature
or row, what is wrong and what to do, or with a correct result (exit 0) whose
repair or conversion is recorded in findings.csv. Every run checks that the
input files are byte for byte the same afterwards, failed runs included.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo.cli import main

BAD = Path(__file__).parent / "data" / "bad"
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def use(project: Path, fixture: str) -> str:
    """Copy a fixture (with its shapefile parts) into the project; return its file name."""
    source = BAD / fixture
    if source.suffix == ".shp":
        for suffix in SHAPEFILE_PARTS:
            if source.with_suffix(suffix).exists():
                shutil.copy(source.with_suffix(suffix), project / f"{source.stem}{suffix}")
    else:
        shutil.copy(source, project / fixture)
    return fixture


def edit(project: Path, *pairs: tuple[str, str]) -> None:
    path = project / "project.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


def run(project: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI; assert the inputs are untouched; return (exit code, stderr)."""
    before = digest(project)
    code = main(["run", str(project), "--out", str(out)])
    assert digest(project) == before, "an input file changed"
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    if code != 0:
        assert err.count("\n") == 0, err
        assert err.startswith("geo: error: "), err
    return code, err


def findings(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "findings.csv", encoding="utf-8-sig", dtype=str)


UNITS = 'path = "communes.geojson"'
HAMLETS = ('path = "hamlets.gpkg"\nlayer = "xom"', 'path = "{file}"')
LANDUSE = 'path = "landuse.fgb"'
TABLE = 'path = "population.csv"'

REFUSED = [
    # (case, fixture, project.toml edits, expected words in the one-line error)
    (
        "missing file",
        None,
        [(UNITS, 'path = "khong-co.geojson"')],
        "khong-co.geojson: file not found",
    ),
    (
        "missing layer",
        "two-layers.gpkg",
        [('path = "hamlets.gpkg"\nlayer = "xom"', 'path = "two-layers.gpkg"\nlayer = "khong_co"')],
        "no layer 'khong_co' in the file (layers: xom, thon); fix layers.hamlets.layer",
    ),
    (
        "empty file",
        "empty.geojson",
        [(UNITS, 'path = "empty.geojson"')],
        "the file is empty (0 bytes)",
    ),
    (
        "not a GIS file",
        "garbage.gpkg",
        [(UNITS, 'path = "garbage.gpkg"')],
        "cannot read it as a map layer",
    ),
    ("truncated GeoPackage", "truncated.gpkg", [(UNITS, 'path = "truncated.gpkg"')], "truncated"),
    (
        "GeoJSON with bad JSON",
        "bad-json.geojson",
        [(UNITS, 'path = "bad-json.geojson"')],
        "bad-json.geojson: cannot read",
    ),
    (
        "layer without features",
        "no-features.geojson",
        [(UNITS, 'path = "no-features.geojson"')],
        "the layer holds no features",
    ),
    (
        "table given as a layer",
        "table-as-layer.csv",
        [(UNITS, 'path = "table-as-layer.csv"')],
        "has no geometry",
    ),
    (
        "no CRS",
        "no-crs.shp",
        [(UNITS, 'path = "no-crs.shp"')],
        "no-crs.shp): the layer has no CRS; save it with one",
    ),
    (
        "VN-2000 without datum shift",
        "internal-vn2000.shp",
        [(UNITS, 'path = "internal-vn2000.shp"')],
        "VN-2000 TM-3 106°30′ projection without VN-2000's datum shift to WGS 84",
    ),
    (
        "CRS outside Vietnam",
        "outside-vietnam.fgb",
        [(UNITS, 'path = "outside-vietnam.fgb"')],
        "2 of 2 feature(s) lie outside Vietnam",
    ),
    (
        "CRS outside the province",
        "other-meridian.fgb",
        [(UNITS, 'path = "other-meridian.fgb"')],
        "fit Thái Nguyên in VN-2000 TM-3 106°30′ (EPSG:9213)",
    ),
    (
        "swapped axes",
        "swapped-axes.geojson",
        [(UNITS, 'path = "swapped-axes.geojson"')],
        "x and y look swapped",
    ),
    (
        "wrong geometry type",
        "points-as-units.geojson",
        [(UNITS, 'path = "points-as-units.geojson"')],
        "2 feature(s) of type Point",
    ),
    (
        "null geometry of a unit",
        "null-geometry-units.geojson",
        [(UNITS, 'path = "null-geometry-units.geojson"')],
        "feature id=002 has no geometry",
    ),
    (
        "repair changes area too much",
        "hamlets-unrepairable.fgb",
        [(HAMLETS[0], 'path = "hamlets-unrepairable.fgb"')],
        "more than 1%; fix it in a GIS",
    ),
    (
        "duplicate ids",
        "duplicate-ids.geojson",
        [(UNITS, 'path = "duplicate-ids.geojson"')],
        "id 001 is used by more than one feature",
    ),
    (
        "null ids",
        "null-ids.geojson",
        [(UNITS, 'path = "null-ids.geojson"')],
        "feature(s) 2 (1-based) have no id",
    ),
    (
        "hamlet outside every unit",
        "hamlet-outside.fgb",
        [(HAMLETS[0], 'path = "hamlet-outside.fgb"')],
        "hamlet Z9 lies outside every unit",
    ),
    (
        "duplicate rows",
        "population-duplicate.csv",
        [(TABLE, 'path = "population-duplicate.csv"')],
        "repeats",
    ),
    (
        "non-numeric count",
        "population-text.csv",
        [(TABLE, 'path = "population-text.csv"')],
        "row 2 holds 'bốn nghìn', which is not a number",
    ),
    (
        "negative count",
        "population-negative.csv",
        [(TABLE, 'path = "population-negative.csv"')],
        "row 3 holds '-3000', a negative count",
    ),
]


@pytest.mark.parametrize(
    ("case", "fixture", "edits", "expected"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_refused_with_one_clear_line(  # noqa: PLR0917
    tiny_project, tmp_path, capsys, case, fixture, edits, expected
):
    if fixture:
        use(tiny_project, fixture)
    edit(tiny_project, *edits)
    out = tmp_path / "out"
    code, err = run(tiny_project, out, capsys)
    assert code == 2, err
    assert expected in err
    assert not out.exists() or not any(out.iterdir())


PROJECT_FILES = [
    ("project-unknown-key.toml", "project.ward_off: unknown key (did you mean ward_of?)"),
    ("project-wrong-type.toml", "layers.units.id = 3: must be a non-empty string"),
    ("project-missing-section.toml", "[layers]: missing section"),
    ("project-bad-toml.toml", "project.toml: not"),
]


@pytest.mark.parametrize(("fixture", "expected"), PROJECT_FILES)
def test_project_file_mistakes_name_the_key(tiny_project, tmp_path, capsys, fixture, expected):
    shutil.copy(BAD / fixture, tiny_project / "project.toml")
    code, err = run(tiny_project, tmp_path / "out", capsys)
    assert code == 2
    assert expected in err


def test_z_coordinates_are_dropped(tiny_project, tmp_path, capsys):
    edit(tiny_project, (HAMLETS[0], 'path = "hamlets-z.fgb"'))
    use(tiny_project, "hamlets-z.fgb")
    code, _ = run(tiny_project, tmp_path / "out", capsys)
    assert code == 0
    hamlets = pd.read_csv(tmp_path / "out" / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["area_km2"].to_dict() == pytest.approx({"A1": 3.0, "A2": 3.0, "B1": 4.0})
    assert hamlets["population"].to_dict() == {"A1": 4_000, "A2": 3_000, "B1": 3_999}


def test_empty_and_invalid_landuse_is_dropped_or_repaired_on_record(tiny_project, tmp_path, capsys):
    use(tiny_project, "landuse-empty-and-bowtie.fgb")
    edit(tiny_project, (LANDUSE, 'path = "landuse-empty-and-bowtie.fgb"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out)
    assert sorted(found.loc[found["kind"] == "empty_geometry_dropped", "feature"]) == ["#2", "#4"]
    [repair] = found.loc[found["kind"] == "geometry_repaired"].itertuples()
    assert "Self-intersection" in repair.message
    assert float(repair.value) == pytest.approx(5_000.0)
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets.loc["A1", "landuse_HNK_km2"] == pytest.approx(0.005)


def test_spike_and_duplicate_vertex_are_repaired_with_their_area_change(
    tiny_project, tmp_path, capsys
):
    use(tiny_project, "hamlets-spike.fgb")
    edit(tiny_project, (HAMLETS[0], 'path = "hamlets-spike.fgb"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    [repair] = findings(out).query("kind == 'geometry_repaired'").itertuples()
    assert repair.feature == "id=A1"
    assert float(repair.value) == pytest.approx(0.0, abs=1e-6)
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets.loc["A1", "area_km2"] == pytest.approx(3.0)


def test_unmatched_rows_get_the_closest_names_and_hamlets_without_rows_are_listed(
    tiny_project, tmp_path, capsys
):
    use(tiny_project, "population-unmatched.csv")
    edit(tiny_project, (TABLE, 'path = "population-unmatched.csv"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out).set_index("kind")
    assert found.loc["unmatched_row", "feature"] == "Khuon Mot"
    assert found.loc["unmatched_row", "message"] == (
        "row 3 matches no hamlets feature; closest: Xóm Khuôn 1"
    )
    assert found.loc["no_table_row", "feature"] == "A2"


def test_vietnamese_formatted_numbers(tiny_project, tmp_path, capsys):
    use(tiny_project, "population-vn-format.csv")
    edit(tiny_project, (TABLE, 'path = "population-vn-format.csv"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["population"].tolist() == [4_000, 3_000, 3_999]
    assert hamlets["households"].tolist() == [1_100, 850, 1_000]


@pytest.mark.parametrize(
    ("fixture", "encoding"),
    [("population-cp1258.csv", "CP1258"), ("population-tcvn3.csv", "TCVN3")],
)
def test_csv_in_a_legacy_encoding_is_converted_on_record(
    tiny_project, tmp_path, capsys, fixture, encoding
):
    use(tiny_project, fixture)
    edit(tiny_project, (TABLE, f'path = "{fixture}"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out)
    [note] = found.loc[found["kind"] == "encoding_converted", "message"]
    assert f"read as {encoding} (detected)" in note
    assert "unmatched_row" not in set(found["kind"])
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["population"].tolist() == [4_000, 3_000, 3_999]


def test_excel_title_row_and_two_row_merged_header(tiny_project, tmp_path, capsys):
    use(tiny_project, "population-merged-header.xlsx")
    edit(tiny_project, (TABLE, 'path = "population-merged-header.xlsx"\nsheet = "dan so"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out).set_index("kind")
    assert found.loc["header_detected", "message"] == (
        "header found on row 2 (1 row(s) above it skipped, header rows 2-3 read as one)"
    )
    assert found.loc["unmatched_row", "feature"] == "Tổng cộng"
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["population"].tolist() == [4_000, 3_000, 3_999]
    assert hamlets["households"].tolist() == [1_100, 850, 1_000]


def test_excel_typed_in_a_vni_font_is_converted(tiny_project, tmp_path, capsys):
    use(tiny_project, "population-vni.xlsx")
    edit(tiny_project, (TABLE, 'path = "population-vni.xlsx"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out)
    [note] = found.loc[found["kind"] == "encoding_converted", "message"]
    assert note == "column 'name' is in VNI (detected); 3 value(s) converted to Unicode"
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["population"].tolist() == [4_000, 3_000, 3_999]


@pytest.mark.parametrize(
    ("fixture", "encoding"),
    [
        ("hamlets-tcvn3.shp", "TCVN3"),
        ("hamlets-vni.shp", "VNI"),
        ("hamlets-cp1258-wrong-cpg.shp", "CP1258"),
    ],
)
def test_dbf_in_a_legacy_encoding_is_converted_on_record(
    tiny_project, tmp_path, capsys, fixture, encoding
):
    use(tiny_project, fixture)
    edit(tiny_project, (HAMLETS[0], f'path = "{fixture}"'))
    out = tmp_path / "out"
    assert run(tiny_project, out, capsys)[0] == 0
    found = findings(out)
    [note] = found.loc[found["kind"] == "encoding_converted", "message"]
    assert (
        note
        == f"{fixture} field 'name' is in {encoding} (detected); 3 value(s) converted to Unicode"
    )
    hamlets = pd.read_csv(out / "hamlets.csv", encoding="utf-8-sig").set_index("id")
    assert hamlets["name"].to_dict() == {
        "A1": "Xóm Cây Thị",
        "A2": "Xóm Khuôn 1",
        "B1": "Thôn Đồng Kiệm",
    }
    assert hamlets["population"].to_dict() == {"A1": 4_000, "A2": 3_000, "B1": 3_999}

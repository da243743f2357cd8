"""The project file: good files load, mistakes are refused naming the key."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from conftest import TINY_PROJECT

from geo.errors import ProjectFileError
from geo.project import load_project
from geo.resources import layers_dir, sample_project_dir


def write(folder: Path, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "project.toml").write_text(text, encoding="utf-8")
    return folder


def test_tiny_project_loads(tmp_path):
    project = load_project(write(tmp_path / "p", TINY_PROJECT))
    assert project.name == "Xã Thử Nghiệm"
    assert project.crs.to_epsg() == 9213
    assert project.as_of == date(2025, 3, 1)
    assert project.ward_of == "provincial-city"
    assert set(project.layers) == {"units", "hamlets", "landuse", "infrastructure", "roads"}
    assert project.layers["units"].fields == {"id": "MA", "name": "TEN"}
    assert project.layers["hamlets"].layer == "xom"
    table = project.tables["population"]
    assert (table.joins, table.match, table.key_column) == ("hamlets", "name", "name")
    assert table.columns == {"population": "dan_so", "households": "so_ho"}
    assert project.layers["units"].path == (tmp_path / "p" / "communes.geojson").resolve()


def test_as_of_argument_overrides_the_file(tmp_path):
    project = load_project(write(tmp_path / "p", TINY_PROJECT), as_of=date(2026, 1, 1))
    assert project.as_of == date(2026, 1, 1)


def test_explicit_crs_wins(tmp_path):
    text = TINY_PROJECT.replace('province = "Thái Nguyên"', 'crs = "EPSG:32648"')
    assert load_project(write(tmp_path / "p", text)).crs.to_epsg() == 32648


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('ward_of = "provincial-city"', 'ward_of = "city"', "project.ward_of"),
        (
            'ward_of = "provincial-city"',
            'ward_off = "town"',
            "project.ward_off: unknown key (did you mean ward_of?)",
        ),
        ('as_of = "2025-03-01"', 'as_of = "1/3/2025"', "project.as_of"),
        ('as_of = "2025-03-01"', "as_of = 2025", "project.as_of"),
        ('province = "Thái Nguyên"', 'crs = "EPSG:4326"', "geographic"),
        ('province = "Thái Nguyên"', 'province = "Atlantis"', "project.crs"),
        ('province = "Thái Nguyên"', 'crs = "EPSG:99999999"', "project.crs"),
        ('id = "MA"', "id = 3", "layers.units.id"),
        ('id = "MA"\n', "", "layers.units.id: missing"),
        ('joins = "hamlets"', 'joins = "villages"', "tables.population.joins"),
        ("[layers.roads]", "[layers.rivers]", "layers.rivers: unknown key"),
        ('population = "dan_so"', 'populaton = "dan_so"', "tables.population.populaton"),
        ('name = "Xã Thử Nghiệm"', 'title = "x"', "project.title"),
    ],
)
def test_mistakes_name_the_key(tmp_path, old, new, message):
    assert old in TINY_PROJECT
    folder = write(tmp_path / "p", TINY_PROJECT.replace(old, new, 1))
    with pytest.raises(ProjectFileError) as caught:
        load_project(folder)
    assert message in str(caught.value)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ProjectFileError, match="no project file"):
        load_project(tmp_path)
    with pytest.raises(ProjectFileError, match="not valid TOML"):
        load_project(write(tmp_path / "p", "[project\nname = 1"))


def test_units_layer_required(tmp_path):
    text = '[project]\nname = "x"\nprovince = "Thái Nguyên"\n[layers.hamlets]\npath = "h.gpkg"\nid = "a"\nname = "b"\n'
    with pytest.raises(ProjectFileError, match=r"layers\.units: missing"):
        load_project(write(tmp_path / "p", text))


def test_bundled_criteria_file_is_found_wherever_the_project_lies(tmp_path):
    # the sample names its provincial file as "geo:…": a copy of the folder still runs
    copy = tmp_path / "elsewhere" / "quyet-thang"
    shutil.copytree(sample_project_dir(), copy)
    project = load_project(copy)
    assert project.criteria_files == (layers_dir() / "criteria/provincial/thai-nguyen.toml",)
    assert project.criteria_files[0].is_file()
    text = TINY_PROJECT.replace(
        "[project]\n", '[project]\ncriteria_files = ["geo:provincial/ha-noi.toml"]\n', 1
    )
    with pytest.raises(
        ProjectFileError, match=r"criteria_files: 'geo:provincial/ha-noi.toml'"
    ) as err:
        load_project(write(tmp_path / "p", text))
    assert "geo:provincial/thai-nguyen.toml" in str(err.value)  # the bundled ones are listed

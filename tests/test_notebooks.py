"""The notebooks run from top to bottom (nbclient), in this interpreter, so they cannot rot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "geo-tests"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernel spec that runs this interpreter with this checkout of geo on the path."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "geo tests", "language": "python"}),
        encoding="utf-8",
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return KERNEL


def execute(name: str, kernel: str):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name=kernel, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    return notebook, outputs


def test_notebooks_are_thin_and_import_from_geo():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert "import geo" in code
        assert "def " not in code
        assert "class " not in code
        assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")


def test_sample_commune_notebook(kernel):
    _, outputs = execute("01-sample-commune.ipynb", kernel)
    assert "Quyết Thắng 2025-03-01" in outputs[0].text
    tables = [o["data"].get("text/html", "") for o in outputs if o.output_type == "execute_result"]
    assert any("17252" in t and "not_assessed" in t for t in tables)  # the commune's row
    assert any("Xóm Bến Oánh" in t for t in tables)  # the densest hamlet
    assert "<iframe srcdoc=" in tables[-1]  # the map, inline and self-contained
    assert "leaflet" in tables[-1].lower()


def test_province_notebook_ranks_all_92_units(kernel):
    _, outputs = execute("02-province-check.ipynb", kernel)
    assert "92 units" in outputs[0].text
    ranked = outputs[1]["data"]["text/plain"]
    assert "Phường Sông Công" in ranked.splitlines()[1]  # the smallest margin to 5.5 km²
    assert "[15 rows x" in ranked or len(ranked.splitlines()) >= 15

"""The examples in the package's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geo


def _modules_with_examples() -> list[str]:
    names = ["geo", *(f"geo.{m.name}" for m in pkgutil.iter_modules(geo.__path__))]
    return [
        name
        for name in names
        if name != "geo.__main__"
        and ">>>" in (importlib.util.find_spec(name).loader.get_source(name) or "")
    ]


MODULES = _modules_with_examples()


def test_modules_with_examples_are_found():
    assert {"geo.encoding", "geo.names", "geo.crs"} <= set(MODULES)
    examples = doctest.testmod(importlib.import_module("geo.encoding"))
    assert examples.attempted >= 8


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

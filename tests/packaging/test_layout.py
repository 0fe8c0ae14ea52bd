"""The distribution ships every package and assembly tree (DESIGN.md §1).

A non-editable ``pip install .`` only contains the packages pyproject.toml
names, so a folder with an ``__init__.py`` that is missing from the list would
work in a checkout and break when installed.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed():
    tool = _pyproject()["tool"]["setuptools"]
    mapping = tool["package-dir"]
    listed = set(tool["packages"])
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found - listed == set(), "packages missing from pyproject.toml"
    assert listed - found == set(), "listed packages without a folder"


def test_assembly_trees_are_importable_resources():
    for pkg in ("septum.firmware", "septum.kernel"):
        files = [p.name for p in resources.files(pkg).iterdir()]
        assert any(f.endswith(".S") for f in files), pkg
    assert resources.files("septum.userland").joinpath("system.toml").is_file()


def test_cli_entry_point_is_declared():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["septum"] == "septum.hypervisor.cli:main"

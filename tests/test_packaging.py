"""pyproject.toml lists every package (it cannot use `find`: templates/ installs as auditkit.templates),
and the report's templates load from the installed package."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_folder_is_listed() -> None:
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "auditkit").rglob("__init__.py") if "__pycache__" not in init.parts}
    listed = set(setuptools_config()["packages"])
    assert found | {"auditkit.templates"} == listed, "add the package to [tool.setuptools] packages"


def test_templates_are_package_data_and_load() -> None:
    config = setuptools_config()
    assert config["package-dir"]["auditkit.templates"] == "templates"
    patterns = config["package-data"]["auditkit.templates"]
    for path in (ROOT / "templates").iterdir():
        if path.is_file() and path.suffix != ".py":
            assert any(fnmatch.fnmatch(path.name, p) for p in patterns), f"{path.name} would not ship"
    from auditkit.report.html import _environment

    template = _environment().get_template("report.html.j2")
    assert Path(template.filename or "").resolve().parent == ROOT / "templates"

"""Sphinx configuration of auditkit's documentation: ``make docs`` builds it into docs/_build/html.

The policy reference, the explainers' settings and the metric catalog are written at build time from
the code that holds their facts, by the local extension in ``_ext/auditkit_reference.py``.
Nothing is fetched: no intersphinx, and the theme is the built-in ``alabaster``.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # this checkout's auditkit, whatever is installed
sys.path.insert(0, str(DOCS / "_ext"))

import auditkit  # noqa: E402

project = "auditkit"
author = "the auditkit authors"
copyright = "the auditkit authors"
release = auditkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "auditkit_reference",
]

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = False

# The docstrings are Google style ("Args:", "Returns:", "Attributes:").
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_attr_annotations = True
napoleon_custom_sections = [("Class attributes", "params_style")]  # auditkit.explainers.Explainer

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_mock_imports: list[str] = []

# The modules' own doctests run under pytest (--doctest-modules); the docs build tests the examples
# of its pages (``.. doctest::`` blocks), not the ``>>>`` blocks that autodoc copies from docstrings.
doctest_test_doctest_blocks = ""


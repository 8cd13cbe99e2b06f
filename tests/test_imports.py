"""Imports flow one way between auditkit's parts (STYLE.md, "Shape of the package"), and the package
root stays light.

The graph is read from the source with :mod:`ast`: one node per top-level subpackage or module of
auditkit (``auditkit.engine``, ``auditkit.errors``, ...), ``auditkit`` itself for a name read from the
package root (``import auditkit`` then ``auditkit.__version__``, or ``from auditkit import certify``).
Every import counts, those inside functions too, except those under ``if TYPE_CHECKING:``, which never
run. ``python tests/test_imports.py [PACKAGE_DIR]`` prints the cycles of any checkout's package.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "auditkit"


def _module_name(path: Path, package: Path) -> str:
    """``auditkit.engine.audit`` for ``<package>/engine/audit.py``; a package is its ``__init__``."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str:
    """The part of auditkit that ``module`` (a dotted name under it) belongs to."""
    return ".".join(module.split(".")[:2])


def _is_part(name: str, package: Path) -> bool:
    """Whether ``auditkit.<name>`` is a module or subpackage (else a name defined by the root)."""
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` except those in the body of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _targets(statement: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             package: Path) -> Iterator[str]:
    """The auditkit nodes one import statement of ``module`` loads."""
    root = package.name
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.name == root or alias.name.startswith(root + "."):
                yield _node(alias.name)
        return
    if statement.level:  # relative: from the module's package, up level - 1 more
        base = module.split(".")
        base = base[: len(base) - statement.level + (1 if is_package else 0)]
        source = ".".join(base + ([statement.module] if statement.module else []))
    else:
        source = statement.module or ""
    if source == root:  # from auditkit import X: a part, or a name the root defines
        for alias in statement.names:
            yield f"{root}.{alias.name}" if _is_part(alias.name, package) else root
    elif source.startswith(root + "."):
        yield _node(source)


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, str]]:
    """``{node: {imported node: "file:line" of the first import that makes the edge}}``, without an
    edge from a node to itself."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        module = _module_name(path, package)
        source = _node(module)
        edges = graph.setdefault(source, {})
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for statement in sorted(_runtime_imports(tree), key=lambda s: s.lineno):
            for target in _targets(statement, module, path.name == "__init__.py", package):
                if target != source:
                    where = f"{path.relative_to(package.parent).as_posix()}:{statement.lineno}"
                    edges.setdefault(target, where)
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Every elementary cycle of ``graph`` as ``[a, b, ..., a]``, each once: from its smallest node,
    through larger ones only."""
    found: list[list[str]] = []

    def walk(way: list[str]) -> None:
        for target in sorted(graph.get(way[-1], {})):
            if target == way[0]:
                found.append([*way, target])
            elif target > way[0] and target not in way:
                walk([*way, target])

    for start in sorted(graph):
        walk([start])
    return sorted(found, key=lambda cycle: (len(cycle), cycle))


def describe(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    """``a -> b (file:line) -> a (file:line)``."""
    steps = [f"{b} ({graph[a][b]})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join([cycle[0], *steps])


def test_no_import_cycle_between_the_parts_of_auditkit() -> None:
    graph = import_graph()
    found = [describe(cycle, graph) for cycle in cycles(graph)]
    assert not found, "import cycles between auditkit's parts:\n" + "\n".join(found)


def test_the_analysis_sees_cycles_and_ignores_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "auditkit"
    files = {
        "__init__.py": "def __getattr__(name):\n    from auditkit.api import certify\n    return certify\n",
        "api.py": "from auditkit.engine import run\n",
        "errors.py": "",
        "engine/__init__.py": "from .core import run\n",
        "engine/core.py": ("from typing import TYPE_CHECKING\nfrom ..errors import E\n"
                           "if TYPE_CHECKING:\n    from auditkit.api import certify\n"
                           "def run():\n    import auditkit.report.text\n"),
        "report/__init__.py": "",
        "report/text.py": "import auditkit\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    graph = import_graph(package)
    assert graph == {
        "auditkit": {"auditkit.api": "auditkit/__init__.py:2"},
        "auditkit.api": {"auditkit.engine": "auditkit/api.py:1"},
        "auditkit.engine": {"auditkit.errors": "auditkit/engine/core.py:2",
                            "auditkit.report": "auditkit/engine/core.py:6"},
        "auditkit.errors": {},
        "auditkit.report": {"auditkit": "auditkit/report/text.py:1"},
    }
    assert cycles(graph) == [["auditkit", "auditkit.api", "auditkit.engine", "auditkit.report", "auditkit"]]


def test_importing_the_package_loads_neither_torch_nor_the_api() -> None:
    """A notebook still gets ``auditkit.certify`` and the rest, resolved on first use (PEP 562)."""
    code = textwrap.dedent("""
        import sys
        import auditkit
        assert "torch" not in sys.modules, "import auditkit imported torch"
        assert "auditkit.api" not in sys.modules, "import auditkit imported auditkit.api"
        assert set(auditkit.__all__) <= set(dir(auditkit))
        from auditkit._version import __version__
        assert auditkit.__version__ == __version__
        from auditkit.api import Certification, audit, certify
        from auditkit.signing.options import SigningOptions
        assert (auditkit.certify, auditkit.audit, auditkit.Certification) == (certify, audit, Certification)
        assert auditkit.SigningOptions is SigningOptions
        try:
            auditkit.no_such_name
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise AssertionError("auditkit.no_such_name resolved")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr


if __name__ == "__main__":
    checked = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE
    found_graph = import_graph(checked)
    for found_cycle in cycles(found_graph):
        print(describe(found_cycle, found_graph))

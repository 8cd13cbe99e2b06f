"""Property: whatever is done to a shipped policy, loading it succeeds or raises a placed PolicyError."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.errors import PolicyError
from auditkit.policy import load_policy

from .conftest import POLICIES

TEXTS = [p.read_text(encoding="utf-8") for p in POLICIES]

WRONG_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.none(),
    st.booleans(),
    st.just(10**40),
    st.integers(max_value=-1),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
KEY_NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
SYNTAX_ERRORS = st.sampled_from(
    ["[", "]", "{a: 1", "  bad: indent", " x", "\t", "- - -", "a: b: c", "'", "&", "*x", "op: >="]
)


def _containers(node: yaml.Node) -> list[yaml.Node]:
    """Every mapping and list node of the tree, root first."""
    found = [node] if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) else []
    if isinstance(node, yaml.MappingNode):
        for _, value in node.value:
            found += _containers(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found += _containers(item)
    return found


@st.composite
def mutated_policies(draw: st.DrawFn) -> str:
    """A shipped policy with one random key deleted or renamed, value replaced, or syntax broken."""
    text = draw(st.sampled_from(TEXTS))
    kind = draw(st.sampled_from(["delete", "rename", "replace", "syntax"]))
    if kind == "syntax":
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        return "\n".join([*lines[:at], draw(SYNTAX_ERRORS), *lines[at:]]) + "\n"
    root = copy.deepcopy(yaml.compose(text, Loader=yaml.SafeLoader))
    containers = _containers(root)
    node = draw(st.sampled_from(containers))
    if not node.value:
        return yaml.serialize(root)
    i = draw(st.integers(0, len(node.value) - 1))
    if kind == "delete":
        del node.value[i]
    elif kind == "rename" and isinstance(node, yaml.MappingNode):
        node.value[i] = (yaml.ScalarNode("tag:yaml.org,2002:str", draw(KEY_NAMES)), node.value[i][1])
    else:
        new = yaml.compose(yaml.safe_dump(draw(WRONG_VALUES)), Loader=yaml.SafeLoader)
        if isinstance(node, yaml.MappingNode):
            node.value[i] = (node.value[i][0], new)
        else:
            node.value[i] = new
    return yaml.serialize(root)


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations") / "policy.yaml"


def test_unmutated_serialised_policies_load(policy_path: Path) -> None:
    for text in TEXTS:
        policy_path.write_text(yaml.serialize(yaml.compose(text, Loader=yaml.SafeLoader)), encoding="utf-8")
        load_policy(policy_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_policies())
def test_mutated_policies_load_or_raise_a_placed_policy_error(policy_path: Path, text: str) -> None:
    policy_path.write_text(text, encoding="utf-8")
    try:
        load_policy(policy_path)
    except PolicyError as error:
        assert error.file == policy_path
        assert str(error).startswith(f"{policy_path}:")
        n_lines = len(text.splitlines())
        assert error.line is not None and 1 <= error.line <= max(n_lines, 1), (error.line, n_lines)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_policies())
def test_cli_exits_2_naming_the_file_never_a_traceback(policy_path: Path, text: str) -> None:
    """Through `auditkit validate` (which also checks data paths): exit 0 or 2, one clear line."""
    import contextlib
    import io

    from auditkit.cli import main

    policy_path.write_text(text, encoding="utf-8")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["validate", str(policy_path), "--quiet"])
    out, err = stdout.getvalue(), stderr.getvalue()
    assert code in (0, 2)
    assert "Traceback" not in err
    if code == 2:
        lines = err.splitlines()  # one line per problem of the file, each naming it
        assert lines and all(line.startswith(f"auditkit: error: {policy_path}") for line in lines), err
        assert err.endswith("\n") and len(lines) == err.count("\n")
    else:
        assert err == "" and out == ""

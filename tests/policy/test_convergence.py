"""The ``convergence`` section and Integrated Gradients' ``method``: defaults, reading, refusals."""

from __future__ import annotations

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import load_policy

from .conftest import MINIMAL


def test_off_by_default(write) -> None:
    c = load_policy(write(MINIMAL)).convergence
    assert (c.enabled, c.images, c.seed, c.share) == (False, 100, 0, 0.5)


def test_read_and_resolved(write) -> None:
    text = MINIMAL + "convergence:\n  enabled: true\n  images: 40\n  seed: 3\n  share: 0.25\n"
    policy = load_policy(write(text))
    assert policy.to_dict()["convergence"] == {"enabled": True, "images": 40, "seed": 3, "share": 0.25}


@pytest.mark.parametrize(("line", "message"), [
    ("  images: 1", "policy.yaml:8: convergence.images: expected an integer in [2, "),
    ("  share: 0", "policy.yaml:8: convergence.share: expected a number in (0, 1], got 0"),
    ("  share: 1.5", "policy.yaml:8: convergence.share: expected a number in (0, 1], got 1.5"),
    ("  enabld: true", "policy.yaml:8: convergence.enabld: unknown key 'enabld'; did you mean 'enabled'?"),
])
def test_refusals_name_file_line_and_key(write, line: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(write(MINIMAL + "convergence:\n" + line + "\n"))
    assert message in str(info.value)


def test_integrated_gradients_method(write) -> None:
    text = MINIMAL + "  - name: integrated_gradients\n    method: gausslegendre\n    steps: 8\n"
    (_, ig) = load_policy(write(text)).explainers
    assert dict(ig.settings) == {"steps": 8, "baseline": "zero", "method": "gausslegendre"}
    expected = (r"policy.yaml:8: explainers\[1\].method: expected one of 'riemann_trapezoid', "
                r"'gausslegendre', got 'riemann_left'")
    with pytest.raises(PolicyError, match=expected):
        load_policy(write(MINIMAL + "  - name: integrated_gradients\n    method: riemann_left\n"))

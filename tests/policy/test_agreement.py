"""``metrics.agreement`` and the thresholds on a pair metric: defaults, values, one-line errors."""

from __future__ import annotations

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import PAIR_METRICS, load_policy, pair_members

from .conftest import MINIMAL

THREE = MINIMAL.replace("  - name: saliency\n", "  - name: saliency\n  - name: gradcam\n  - name: random\n")


def threshold(metric: str = "agreement", value: float = 0.3, explainers: str = "all") -> str:
    return (f"thresholds:\n  - id: A1\n    metric: {metric}\n    op: \">=\"\n    value: {value}\n"
            f"    explainers: {explainers}\n")


def test_default_and_written_top_k(write) -> None:
    assert load_policy(write(MINIMAL)).metrics.agreement.top_k == 0.1
    policy = load_policy(write(THREE + "metrics:\n  agreement:\n    top_k: 1\n"))
    assert policy.metrics.agreement.top_k == 1.0
    assert policy.to_dict()["metrics"]["agreement"] == {"top_k": 1.0}


@pytest.mark.parametrize("metric", sorted(PAIR_METRICS))
def test_a_pair_threshold_pairs_every_method_but_the_controls(write, metric: str) -> None:
    (t,) = load_policy(write(THREE + threshold(metric))).thresholds
    assert t.metric == metric and t.explainers == "all"
    assert pair_members(t.explainers, ["saliency", "gradcam", "random"]) == ["saliency", "gradcam"]
    (listed,) = load_policy(write(THREE + threshold(metric, explainers="[saliency, random]"))).thresholds
    assert pair_members(listed.explainers, ["saliency", "gradcam", "random"]) == ["saliency", "random"]


@pytest.mark.parametrize(
    ("policy", "key", "match"),
    [
        (THREE + "metrics:\n  agreement:\n    top_k: 0\n", "metrics.agreement.top_k",
         r"expected a number in \(0, 1\], got 0"),
        (THREE + "metrics:\n  agreement:\n    top_k: 1.5\n", "metrics.agreement.top_k",
         r"expected a number in \(0, 1\]"),
        (THREE + "metrics:\n  agreement:\n    k: 5\n", "metrics.agreement.k", "unknown key 'k'"),
        (THREE + threshold(value=1.2), "thresholds[0].value", r"must be in \[0, 1\]"),
        (MINIMAL + threshold(), "thresholds[0].metric", "compares pairs of explainers, and this threshold "
                                                         "names 1 \\(saliency\\): name at least two"),
        (THREE + threshold(explainers="[gradcam]"), "thresholds[0].explainers", "names 1 \\(gradcam\\)"),
        (MINIMAL.replace("saliency", "random") + threshold(), "thresholds[0].metric", "names 0 \\(none\\)"),
    ],
)
def test_errors_name_the_key(write, policy: str, key: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:
        load_policy(write(policy))
    assert info.value.key == key and info.value.line is not None
    assert "\n" not in str(info.value)

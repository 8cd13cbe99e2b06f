"""The ``properties`` section: defaults, the transformations list, and the rules on property thresholds."""

from __future__ import annotations

import pytest

from auditkit.errors import PolicyError
from auditkit.explainers.registry import EXPLAINERS
from auditkit.policy import COMPLETE_EXPLAINERS, load_policy, schema

from .conftest import MINIMAL

PROPERTIES = """\
properties:
  robustness:
    radius: 0.05
    perturbations: 4
    samples: 50
    seed: 3
  invariance:
    transformations:
      - name: hflip
      - name: translate
        pixels: 2
      - name: rotate
      - name: brightness
        delta: -0.2
    samples: 60
  completeness:
    enabled: false
"""


def test_defaults_when_left_out(write) -> None:
    p = load_policy(write(MINIMAL)).properties
    assert (p.robustness.enabled, p.robustness.radius, p.robustness.perturbations) == (True, 0.02, 10)
    assert [(t.name, t.amount) for t in p.invariance.transformations] == [
        ("translate", 1), ("rotate", 10.0), ("brightness", 0.1)]
    assert p.completeness.enabled and p.completeness.samples == 200


def test_section_is_read_and_round_trips(write) -> None:
    policy = load_policy(write(MINIMAL + PROPERTIES))
    p = policy.properties
    assert (p.robustness.radius, p.robustness.perturbations, p.robustness.samples, p.robustness.seed) == (
        0.05, 4, 50, 3)
    assert [(t.name, t.amount) for t in p.invariance.transformations] == [
        ("hflip", None), ("translate", 2), ("rotate", 10.0), ("brightness", -0.2)]
    assert not p.completeness.enabled
    assert policy.to_dict()["properties"]["invariance"]["transformations"] == [
        {"name": "hflip"}, {"name": "translate", "pixels": 2}, {"name": "rotate", "degrees": 10.0},
        {"name": "brightness", "delta": -0.2}]


def threshold(metric: str, op: str = "<=", value: float = 0.3, explainers: str = "all") -> str:
    return (f"thresholds:\n  - id: P1\n    metric: {metric}\n    op: \"{op}\"\n    value: {value}\n"
            f"    explainers: {explainers}\n")


@pytest.mark.parametrize("metric", ["sensitivity_max", "robustness_distance", "invariance_distance"])
def test_property_thresholds_validate(write, metric: str) -> None:
    (t,) = load_policy(write(MINIMAL + threshold(metric))).thresholds
    assert t.metric == metric


@pytest.mark.parametrize(
    ("extra", "key", "match"),
    [
        ("properties:\n  robustness:\n    radios: 0.1\n", "properties.robustness.radios",
         "unknown key 'radios'; did you mean 'radius'"),
        ("properties:\n  robustness:\n    radius: 0\n", "properties.robustness.radius",
         r"expected a number in \(0, 1\], got 0"),
        ("properties:\n  robustness:\n    perturbations: 0\n", "properties.robustness.perturbations",
         "expected an integer in"),
        ("properties:\n  invariance:\n    transformations:\n      - name: flip\n",
         "properties.invariance.transformations[0].name", "did you mean 'hflip'"),
        ("properties:\n  invariance:\n    transformations:\n      - name: hflip\n        pixels: 1\n",
         "properties.invariance.transformations[0].pixels", "hflip has no setting 'pixels'"),
        ("properties:\n  invariance:\n    transformations:\n      - name: rotate\n        degrees: 0\n",
         "properties.invariance.transformations[0].degrees", "identity"),
        ("properties:\n  invariance:\n    transformations:\n      - name: brightness\n        delta: 1\n",
         "properties.invariance.transformations[0].delta", r"expected a number in \(-1, 1\) or null"),
        ("properties:\n  invariance:\n    transformations:\n      - name: hflip\n      - name: hflip\n",
         "properties.invariance.transformations[1].name", "listed twice"),
        ("properties:\n  invariance:\n    transformations: []\n", "properties.invariance.transformations",
         "non-empty list"),
        ("properties:\n  completeness:\n    seed: 1\n", "properties.completeness.seed", "unknown key 'seed'"),
        (threshold("robustness_distance", op=">="), "thresholds[0].op", "lower is better"),
        (threshold("invariance_distance", value=1.5), "thresholds[0].value", r"must be in \[0, 1\]"),
        ("properties:\n  robustness:\n    enabled: false\n" + threshold("sensitivity_max"),
         "thresholds[0].metric", "properties.robustness, which is disabled"),
        (threshold("completeness_error"), "thresholds[0].explainers", "saliency claims no completeness"),
    ],
)
def test_errors_name_the_key(write, extra: str, key: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:
        load_policy(write(MINIMAL + extra))
    assert info.value.key == key
    assert info.value.line is not None


def test_completeness_threshold_on_integrated_gradients(write) -> None:
    text = MINIMAL + "  - name: integrated_gradients\n" + threshold(
        "completeness_error", value=0.05, explainers="[integrated_gradients]")
    (t,) = load_policy(write(text)).thresholds
    assert t.explainers == ("integrated_gradients",)


def test_completeness_claims_agree_with_the_explainers() -> None:
    claims = {name for name, cls in EXPLAINERS.items() if cls.completeness_baseline is not None}
    assert claims == set(COMPLETE_EXPLAINERS)
    assert set(schema.PROPERTY_METRICS) <= set(schema.METRIC_RANGES)

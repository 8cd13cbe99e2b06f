"""One agreement test per registry: every table that names metrics, explainers, dataset kinds or model
families is derived from its owner, and the owner's facts hold where the code uses them."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from auditkit import catalog
from auditkit.catalog import METRICS, names
from auditkit.constraints import Invalid, Setting
from auditkit.data.load import DATASET_KINDS, SPLITS
from auditkit.engine import agreement, scoring, verdicts
from auditkit.engine.sanity import GATED_METRICS, UNGATED_EXPLAINERS
from auditkit.errors import ExplainerError
from auditkit.explainers import EXPLAINERS, explainer_settings, make_explainer
from auditkit.models.registry import MODEL_FAMILIES, build_model
from auditkit.policy import schema


def test_metric_catalog_is_what_the_policy_scoring_and_gates_use() -> None:
    assert tuple(schema.METRIC_RANGES) == tuple(METRICS)
    assert (scoring.SCORE_METRICS + scoring.PROPERTY_SCORES + verdicts.AUDIT_METRICS
            + agreement.PAIR_SCORES == tuple(METRICS))
    assert schema.PAIR_METRICS == set(agreement.PAIR_SCORES)
    assert GATED_METRICS == ("mege", "reco_corrected")
    for name, metric in METRICS.items():
        low, high = metric.range
        assert low < high, name
        if metric.gate is not None:  # a gate is itself a gated, per-explainer score
            assert METRICS[metric.gate].gated and metric.scope == "explainer", name
        assert (metric.section is not None) == (metric.scope == "property"), name
    assert set(verdicts.GATES) == {n for n, m in METRICS.items() if m.gate}


def test_lower_is_better_metrics_take_only_upper_limits() -> None:
    for name, metric in METRICS.items():
        values = {"id": "t", "metric": name, "op": ">=", "value": metric.range[0],
                  "explainers": "all", "estimate": "point"}
        problems = dict(schema.ThresholdSpec.problems(values))
        assert ("op" in problems) == (not metric.higher_is_better), name


def test_every_explainer_metric_is_a_score_of_every_explainer() -> None:
    fields = {f for f in scoring.ExplainerScores.__dataclass_fields__}
    assert set(names(scope="explainer")) <= fields
    assert set(names(scope="property")) <= set(scoring.PropertyScores.__dataclass_fields__)
    assert catalog.label("mege") == "MeGe" and catalog.label("no_such_metric") == "no_such_metric"


def test_the_document_keys_every_score_by_its_catalog_name() -> None:
    """results.json's ``scores`` of an explainer, of its properties and of a sanity level are keyed by
    the catalog's names, so :meth:`AuditDocument.score` finds every metric of the catalog."""
    from auditkit.engine.scoring import ChanceLevel, ExplainerScores, PropertyScores, TransformationScore
    from auditkit.results import Estimate

    def estimate(i: int) -> Estimate:
        return Estimate(i / 10, i / 10 - 0.01, i / 10 + 0.01)

    explainer = {m: i for i, m in enumerate(names(scope="explainer"), start=1)}
    prop = {m: i for i, m in enumerate(names(scope="property"), start=11)}
    properties = PropertyScores(**{m: estimate(i) for m, i in prop.items()}, robustness_images=3,
                                sensitivity_undefined=0, invariance_images=3,
                                transformations=(TransformationScore("hflip", {}, estimate(1), 2, 1),),
                                completeness_images=0, completeness_undefined=0)
    scores = ExplainerScores(name="saliency", **{m: estimate(i) for m, i in explainer.items()},
                             reco_chance=ChanceLevel(None, "none"), n_s_eq=1, n_s_neq=1, n_ignored=0,
                             n_degenerate=0, mu_images=1, mu_undefined=0, properties=properties)
    entry = scores.document({"absolute": True})
    assert tuple(entry.scores) == names(scope="explainer")
    assert tuple(entry.properties.scores) == names(scope="property")
    assert entry.settings == {"absolute": True} and entry.properties.invariance_left_out == 1
    for metric, i in {**explainer, **prop}.items():
        assert entry.score(metric) == estimate(i), metric


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_explainer_declares_its_facts_and_the_policy_reads_them(name: str) -> None:
    cls = EXPLAINERS[name]
    assert cls.name == name and cls.label.strip()
    keywords = explainer_settings(cls)
    assert set(cls.settings) <= set(keywords), "a declared setting must be an __init__ keyword"
    assert dict(schema.EXPLAINER_SETTINGS[name]) == {
        key: Setting(constraint, keywords[key]) for key, constraint in cls.settings.items()}
    for key, setting in schema.EXPLAINER_SETTINGS[name].items():
        assert setting.constraint.check(setting.default) == setting.default, (name, key)
    assert (name in schema.COMPLETE_EXPLAINERS) == (cls.completeness_baseline is not None)
    assert (name in UNGATED_EXPLAINERS) == cls.control
    if cls.budget is not None:  # the setting the convergence checks double: a count
        assert getattr(cls.settings[cls.budget], "kind", None) is int, (name, cls.budget)


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_the_class_refuses_exactly_what_the_policy_refuses(name: str) -> None:
    """For each declared setting: values just inside and outside its bounds, and a wrong type."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 16, 3)).eval()
    for key, setting in schema.EXPLAINER_SETTINGS[name].items():
        constraint = setting.constraint
        probes = ["text", None, True]
        for bound in (getattr(constraint, "low", None), getattr(constraint, "high", None)):
            if bound is not None and math.isfinite(bound):
                step = 1 if constraint.kind is int else 1e-9
                probes += [constraint.kind(bound + d) for d in (0, -step, step)]
        for value in probes:
            try:
                constraint.check(value)
                policy_accepts = True
            except Invalid:
                policy_accepts = False
            try:
                make_explainer(name, model, layer=model[0], background=torch.zeros(1, 1, 4, 4),
                               **{key: value})
                class_accepts = True
            except ExplainerError:
                class_accepts = False
            assert class_accepts == policy_accepts, (name, key, value)


def test_dataset_kinds_and_splits_are_the_loaders() -> None:
    assert schema.DatasetSpec.constraints["kind"].resolve().values == DATASET_KINDS
    assert set(SPLITS) == set(DATASET_KINDS)
    split_words = set(schema.DatasetSpec.constraints["split"].values)
    assert set().union(*map(set, SPLITS.values())) <= split_words


def test_model_families_are_the_registry() -> None:
    assert schema.ModelSpec.constraints["family"].resolve().inner.values == MODEL_FAMILIES
    for family in MODEL_FAMILIES:
        model = build_model(family, num_classes=3, in_channels=1, image_size=(8, 8)).eval()
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_explainer_keywords_not_declared_are_internal() -> None:
    """Only ``absolute`` (Saliency's and SmoothGrad's sign switch, set by SmoothGrad on its inner
    Saliency) is an ``__init__`` keyword a policy cannot set; the paper's maps are absolute."""
    undeclared = {(n, k) for n, cls in EXPLAINERS.items() for k in explainer_settings(cls)
                  if k not in cls.settings}
    assert undeclared == {("saliency", "absolute"), ("smoothgrad", "absolute")}
    assert "absolute" in inspect.signature(EXPLAINERS["saliency"].__init__).parameters

"""The results.json the engine writes is what :class:`auditkit.results.Results` reads: every metric of
the catalog is found, for every explainer, where the readers look for it."""

from __future__ import annotations

import json

import pytest

from auditkit.catalog import METRICS
from auditkit.engine.audit import SCHEMA_VERSION
from auditkit.results import Estimate, Results


def test_every_catalog_metric_is_where_the_readers_look(tiny_run) -> None:
    data = json.loads((tiny_run.out / "results.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    results = Results(data)
    assert results.explainers == tuple(data["policy"]["resolved"]["explainers"][i]["name"]
                                       for i in range(len(results.explainers)))
    for name, metric in METRICS.items():
        if metric.scope == "model":
            found = results.score(None, name)
            assert isinstance(found, Estimate) and found.value is not None, name
            continue
        for explainer in results.explainers:
            found = results.score(explainer, name)
            assert isinstance(found, Estimate), (explainer, name)
            assert found.value is not None or found.undefined, (explainer, name)
    spread = results.score(None, "accuracy_spread").value
    assert spread == data["accuracy"]["spread"] and 0 <= spread <= 1


def test_each_fold_is_compared_with_chance_and_the_spread_with_fold_size(tiny_run) -> None:
    import torch
    from scipy.stats import binomtest

    from auditkit.data import load_dataset
    from auditkit.metrics.binomial import expected_range

    data = json.loads((tiny_run.out / "results.json").read_text())
    labels = load_dataset("digits", None, max_images=data["dataset"]["n_images"], seed=0).labels
    chance = float(torch.bincount(labels).max()) / labels.numel()
    acc = data["accuracy"]
    assert acc["chance"] == chance
    confidence = data["policy"]["resolved"]["metrics"]["bootstrap"]["confidence"]
    for fold in data["folds"]:
        c = fold["chance"]
        ci = binomtest(round(fold["accuracy"] * fold["n_test"]), fold["n_test"]).proportion_ci(
            confidence_level=confidence, method="wilson")
        assert (c["ci_low"], c["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert c["chance"] == chance and c["above_chance"] == (c["ci_low"] > chance)
    assert acc["at_chance"] == [f["index"] for f in data["folds"] if not f["chance"]["above_chance"]]
    n = sum(f["n_test"] for f in data["folds"])
    p = sum(f["accuracy"] * f["n_test"] for f in data["folds"]) / n
    sds = [(p * (1 - p) / f["n_test"]) ** 0.5 for f in data["folds"]]
    assert acc["fold_sd"] == sds and acc["expected_spread"] == expected_range(sds) > 0


def test_every_explainer_has_its_input_correlation(tiny_run) -> None:
    data = json.loads((tiny_run.out / "results.json").read_text())
    for name, e in data["explainers"].items():
        found = e["input_correlation"]
        assert found["images"] == min(256, data["dataset"]["n_images"]), name
        assert 0 <= found["mean_abs_rho"] <= 1, name

"""The results.json the engine writes is what :class:`auditkit.results.Results` reads: every metric of
the catalog is found, for every explainer, where the readers look for it."""

from __future__ import annotations

import json

from auditkit.catalog import METRICS
from auditkit.results import SCHEMA_VERSION, Estimate, Results


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

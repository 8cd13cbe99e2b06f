"""The report's figures: fold accuracies, the distance histograms and the example maps, as PNG data URIs,
drawn from the document and the distance records under ``work/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.report import plots
from auditkit.report.inputs import ExampleInputs, ExplainerEvidence
from auditkit.report.sanity import reco_chance_text
from auditkit.report.words import explainer_label
from auditkit.results import AuditDocument


def _examples(evidence: Mapping[str, ExplainerEvidence], inputs: ExampleInputs, model: str,
              count: int) -> str:
    """The maps of the first ``count`` example images by every method, beside the images."""
    first = next(iter(evidence.values()))
    labels = [f"image {int(first.example_index[i])}"
              + (f", class {inputs.classes[i]}" if inputs.images is not None else "")
              + (", S≠" if first.example_neq[i] else "") for i in range(count)]
    maps = {explainer_label(n): e.examples[:count, 0] for n, e in evidence.items()}
    images = None if inputs.images is None else inputs.images[:count]
    return plots.data_uri(plots.example_maps(
        images, maps, labels, f"Explanations given by the fold-0 model ({model})"))


def figures(doc: AuditDocument, evidence: Mapping[str, ExplainerEvidence], inputs: ExampleInputs,
            model: str) -> dict[str, Any]:
    """Every figure of the report but the sanity checks' and the history's.

    Args:
        evidence: each explainer's distance record; inputs: the example images, read again.
        model: the architecture as named in the examples' title.
    """
    confidence = doc.policy.resolved["metrics"]["bootstrap"]["confidence"]
    notes = {explainer_label(n): reco_chance_text(doc.explainers[n].reco_chance,
                                                  doc.explainers[n].scores["reco"].value)
             for n in evidence}
    out: dict[str, Any] = {
        "folds": plots.data_uri(plots.fold_accuracies([f.accuracy for f in doc.folds],
                                                      [f.n_test for f in doc.folds],
                                                      doc.accuracy.max_spread, confidence)),
        "histograms": plots.data_uri(plots.distance_histograms(
            {explainer_label(n): (e.s_eq, e.s_neq) for n, e in evidence.items()}, notes=notes)),
        "examples": None,
        "example_count": "0",
    }
    count = min((e.examples.shape[0] for e in evidence.values()), default=0)
    if count:
        out["examples"] = _examples(evidence, inputs, model, count)
        out["example_count"] = str(count)
    return out


__all__ = ["figures"]

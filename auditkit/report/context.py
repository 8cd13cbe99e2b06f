"""The template context: one plain dict in which every number is formatted and every verdict decided.

:func:`build_context` assembles it from one module per section of the report (:mod:`.verdict`,
:mod:`.requirements`, :mod:`.thresholds`, :mod:`.scores`, :mod:`.facts`, :mod:`.limits`,
:mod:`.figures`, :mod:`.sanity`, :mod:`.properties`, :mod:`.deployed`, :mod:`.since`,
:mod:`.agreement`, :mod:`.plan`, :mod:`.convergence`), each reading the
typed document (:class:`auditkit.results.AuditDocument`). The templates only place these strings and
flags; they never compute. The context holds aggregated scores, counts, digests and a few figures (PNG
data URIs) - never per-image values, predictions, logits or weights (``tests/report/test_privacy.py``
walks it to check).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditkit.report import facts
from auditkit.report.agreement import agreement_section, disagreement_lines
from auditkit.report.convergence import convergence_section
from auditkit.report.deployed import deployed_section
from auditkit.report.errors import ReportError
from auditkit.report.figures import figures
from auditkit.report.inputs import ExampleInputs, load_evidence, load_example_inputs
from auditkit.report.limits import limits
from auditkit.report.plan import plan_section
from auditkit.report.properties import properties_section
from auditkit.report.requirements import articles, requirements
from auditkit.report.sanity import (
    admissible_sentence,
    chance_notice,
    inadmissible,
    inadmissible_notice,
    not_evidenced,
    sanity_sections,
)
from auditkit.report.scores import EXPLAINER_METRICS, explainer_rows, input_yardstick, is_control, yardstick
from auditkit.report.signature import signature_facts
from auditkit.report.since import since_section
from auditkit.report.thresholds import threshold_rows
from auditkit.report.verdict import chance_warning, comparability, fold_rows, verdict
from auditkit.report.words import METRIC_LABELS, explainer_label, format_score
from auditkit.report.yardstick import CONTROL, smooth_yardstick
from auditkit.results import AuditDocument
from auditkit.signing.keys import Signer


def build_context(doc: AuditDocument, out_dir: Path, history: Mapping[str, Any] | None = None,
                  signer: Signer | None = None) -> dict[str, Any]:
    """The template context of audit ``doc``, whose work files (``work/explainer_*.pt``) are in ``out_dir``.

    ``history``: the earlier audits of the policy (:func:`auditkit.history.report_data`), shown in
    "Since the last audit"; None leaves the section out. ``signer``: the key material that will sign
    the PDF, named on page one; None says the report is unsigned.

    Raises:
        ReportError: the document lists no explainer, or a distance record is missing, unreadable or stale.
    """
    out_dir = Path(out_dir)
    boot = doc.policy.resolved["metrics"]["bootstrap"]
    confidence = f"{boot['confidence']:.0%}"
    evidence = {name: load_evidence(out_dir, name, e) for name, e in doc.explainers.items()}
    if not evidence:
        raise ReportError(f"{out_dir / 'results.json'} lists no explainer", path=out_dir / "results.json")
    count = min(e.examples.shape[0] for e in evidence.values())
    inputs = (load_example_inputs(doc, next(iter(evidence.values())).example_index[:count]) if count
              else ExampleInputs(None, (), ""))
    model = facts.model_facts(doc)
    sanity = doc.sanity_checks
    return {
        "title": f"Explanation-quality audit: {doc.policy.name}", "policy_name": doc.policy.name,
        "description": doc.policy.resolved.get("description") or "",
        "created": facts.created(doc.created), "created_iso": doc.created,
        "auditkit_version": doc.auditkit_version, "verdict": verdict(doc), "model": model,
        "system": facts.system_facts(doc.system), "training": facts.training_text(doc.training),
        "explainer_names": ", ".join(explainer_label(n) for n in doc.explainers),
        "confidence": confidence, "resamples": f"{boot['resamples']:,}",
        "comparability": comparability(doc), "chance_warning": chance_warning(doc),
        "requirements": requirements(doc, confidence), "articles": articles(doc, confidence),
        "thresholds": threshold_rows(doc, confidence), "explainers": explainer_rows(doc),
        "score_columns": [METRIC_LABELS[m] for m in EXPLAINER_METRICS],
        "properties": properties_section(doc, explainer_label, confidence),
        "accuracy": format_score(doc.accuracy, confidence), "folds": fold_rows(doc),
        "figures": figures(doc, evidence, inputs, model["family"]), "inputs_problem": inputs.problem,
        "limits": limits(doc), "policy": facts.policy_block(doc.policy),
        "dataset_fingerprint": doc.dataset.fingerprint_sha256,
        "seeds": facts.named_values(doc.seeds), "environment": facts.named_values(doc.environment),
        "run_time": facts.duration(doc.run_seconds), "reused": facts.reused_text(doc.reused_from_earlier_run),
        "sanity_checks": sanity_sections(sanity, explainer_label, confidence, doc.dataset.n_images),
        "since_last": since_section(history, explainer_label, confidence, doc.thresholds),
        "inadmissible": inadmissible_notice(inadmissible(sanity), explainer_label, not_evidenced(sanity)),
        "admissible": admissible_sentence(sanity, explainer_label),
        "chance_notice": chance_notice(doc.explainers, explainer_label,
                                       [n for n in doc.explainers if is_control(n)]),
        "yardstick": yardstick(doc.explainers), "input_yardstick": input_yardstick(doc.explainers),
        "smooth_yardstick": smooth_yardstick(doc.explainers),
        "has_control": CONTROL in doc.explainers, "target": facts.target_text(doc),
        "signature": signature_facts(signer), "deployed": facts.deployed_digest(doc.deployed),
        "deployed_section": deployed_section(doc, explainer_label),
        "agreement": agreement_section(doc, explainer_label),
        "disagreements": disagreement_lines(doc, explainer_label, confidence),
        "plan": plan_section(doc),
        "convergence": convergence_section(doc, explainer_label),
    }


__all__ = ["build_context"]

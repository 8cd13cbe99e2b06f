"""The facts of an audit in the report: what system, model, data and policy were audited, and how the
audit ran (seeds, environment, run time, reused work)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditkit._format import duration
from auditkit.policy import policy_sha256
from auditkit.report.words import and_list
from auditkit.results import AuditDocument, Deployed, PolicyRecord, Reused, System, Training

REUSED_WORDS = {"folds": ("fold model", "fold models"),
                "explainers": ("explanation pass", "explanation passes"),
                "sanity": ("sanity-check pass", "sanity-check passes")}
"""How the reproducibility block counts each kind of work reused from an earlier run."""


def created(iso: str) -> str:
    """
    >>> created("2026-01-02T03:04:05+00:00")
    '2 January 2026, 03:04 UTC'
    """
    moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def model_facts(doc: AuditDocument) -> dict[str, str]:
    """The audited architecture (named for what it is, a built-in family's too) and its data."""
    model, dataset = doc.policy.resolved["model"], doc.dataset
    return {
        "family": doc.model.description or model["family"],
        "options": ", ".join(f"{k} = {v}" for k, v in model.items() if k != "family" and v not in (None, {})),
        "dataset": dataset.kind,
        "source": dataset.source,
        "n_images": f"{dataset.n_images:,}",
        "n_classes": f"{len(dataset.classes):,}",
        "image_shape": " × ".join(str(s) for s in dataset.image_shape),
        "k": str(len(doc.folds)),
    }


def system_facts(system: System) -> list[tuple[str, str]]:
    """The policy's ``system`` section as page one's rows: the system (name, version, owner,
    contact) on one row and its intended purpose on another; absent fields are omitted.

    >>> system_facts(System("Triage", "2.1", "ACME", None, None))
    [('System', 'Triage, version 2.1; owner ACME')]
    >>> system_facts(System(None, None, "ACME", "Sorting scans", None))
    [('System', 'owner ACME'), ('Intended purpose', 'Sorting scans')]
    """
    name = ", version ".join(str(v) for v in (system.name, system.version) if v)
    if system.version and not system.name:
        name = f"version {system.version}"
    parts = [name] if name else []
    parts += [f"{k} {v}" for k, v in (("owner", system.owner), ("contact", system.contact)) if v]
    rows = [("System", "; ".join(parts))] if parts else []
    if system.intended_purpose:
        rows.append(("Intended purpose", str(system.intended_purpose)))
    return rows


def training_text(training: Training) -> str:
    """How the k models were trained, in words.

    >>> training_text(Training("function", {"qualified_name": "ops.fit", "source_sha256": "ab" * 32}, 0))
    "the operator's function ops.fit (source SHA-256 abababababababab…)"
    """
    if training.kind == "function":
        fn = training.function or {}
        digest = fn.get("source_sha256") or ""
        return (f"the operator's function {fn.get('qualified_name', '?')}"
                + (f" (source SHA-256 {digest[:16]}…)" if digest else ""))
    return "auditkit's training loop, with the policy's training settings"


def target_text(doc: AuditDocument) -> str:
    """What class the maps explain, in words (``metrics.target``)."""
    if doc.policy.resolved["metrics"]["target"] == "prediction":
        return ("Each retrained model explains the class it predicts (eq. 2 of the paper), so the two "
                "maps of an S≠ pair explain two different decisions; μF, robustness, invariance and "
                "completeness use that class too.")
    return ("Each retrained model explains the true label (as the authors’ library does), so both maps "
            "of every pair explain the same class, even where one model predicts another; μF, "
            "robustness, invariance and completeness use the true label too.")


def deployed_digest(deployed: Deployed | None) -> str:
    """The deployed checkpoint's SHA-256 as the document records it ("" without a deployed model)."""
    if deployed is None or not deployed.sha256:
        return ""
    name = Path(deployed.checkpoint).name
    return f"{name}, SHA-256 {deployed.sha256}" if name else f"SHA-256 {deployed.sha256}"


def policy_block(policy: PolicyRecord) -> dict[str, Any]:
    """The policy's text when its file is unchanged, else the resolved policy kept in results.json."""
    path = Path(policy.path)
    facts = {"path": policy.path, "sha256": policy.sha256}
    resolved = json.dumps(policy.resolved, indent=2, ensure_ascii=False)
    if not path.is_file():
        return {**facts, "state": f"The policy file {path} no longer exists; below is the resolved "
                "policy recorded in results.json.", "unchanged": False, "text": resolved}
    if policy_sha256(path) != policy.sha256:
        return {**facts, "state": f"The policy file {path} has changed since the audit (its SHA-256 "
                "differs); below is the resolved policy recorded in results.json.",
                "unchanged": False, "text": resolved}
    return {**facts, "state": f"The policy file {path} is unchanged since the audit (SHA-256 verified).",
            "unchanged": True, "text": path.read_text(encoding="utf-8")}


def named_values(record: Any) -> list[tuple[str, str]]:
    """A dataclass's fields (or a mapping's items) as ``(name in words, value)`` rows."""
    items = record.items() if isinstance(record, dict) else (
        (f.name, getattr(record, f.name)) for f in fields(record))
    return [(k.replace("_", " "), str(v)) for k, v in items]


def reused_text(reused: Reused) -> str:
    """What an earlier run in the same folder provided, counted ("" when nothing was).

    >>> reused_text(Reused((0, 1), ("saliency",), ()))
    '2 fold models and 1 explanation pass were reused from an earlier run in the same folder'
    >>> reused_text(Reused((3,), (), ()))
    '1 fold model was reused from an earlier run in the same folder'
    """
    counts = {f.name: len(getattr(reused, f.name)) for f in fields(reused) if getattr(reused, f.name)}
    if not counts:
        return ""
    parts = [f"{n} {REUSED_WORDS.get(kind, (kind, kind))[n != 1]}" for kind, n in counts.items()]
    verb = "was" if list(counts.values()) == [1] else "were"
    return f"{and_list(parts)} {verb} reused from an earlier run in the same folder"


__all__ = ["created", "deployed_digest", "duration", "model_facts", "named_values", "policy_block",
           "reused_text", "system_facts", "target_text", "training_text"]

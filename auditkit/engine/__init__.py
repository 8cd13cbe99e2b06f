"""The audit engine: cross-training, explanation passes, scores and verdicts."""

from auditkit.engine.audit import AuditOptions, AuditResult, resolve_device, run_audit

__all__ = ["AuditOptions", "AuditResult", "resolve_device", "run_audit"]

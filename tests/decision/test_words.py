"""The sheet's first line in words (:func:`auditkit.decision.words.headline`)."""

from __future__ import annotations

from types import SimpleNamespace

from auditkit.decision.words import headline


def _sheet(*failed: str) -> SimpleNamespace:
    return SimpleNamespace(audit=SimpleNamespace(audit_id=4, policy="p"), audit_failed=failed)


def test_a_failed_audit_names_its_requirements_by_id_and_keeps_other_reasons_whole() -> None:
    sheet = _sheet("requirement R2 (Explanations generalise (MeGe)) is not met: T3[saliency] not met",
                   "requirement R5 (Documented) is not met: T3[saliency], T7[rise] not met",
                   "requirement R7 (Invariant) is not met: T7[rise] not met",
                   "the accuracies of the fold models differ by more than the policy allows")
    assert headline(sheet) == (
        "The audit of this system FAILED (audit #4 of policy 'p'): requirements R2, R5 and R7 are not "
        "met; the accuracies of the fold models differ by more than the policy allows (its report says "
        "which checks). The explanations below are given anyway; the audit did not establish that they "
        "can be relied on.")


def test_one_requirement_and_a_passed_audit() -> None:
    one = headline(_sheet("requirement R1 (Accurate) is not met: T1 not met"))
    assert one.startswith("The audit of this system FAILED (audit #4 of policy 'p'): requirement R1 is "
                          "not met (its report")
    assert headline(_sheet()) == "The audit of this system passed (audit #4 of policy 'p')."

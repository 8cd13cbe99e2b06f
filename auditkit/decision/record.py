"""sheet.json as one typed document: what ``auditkit explain`` computed for one decision.

:class:`Sheet` and the frozen dataclasses under it are the whole of sheet.json; torch-free, so the
verifier and the history read it without loading torch. :meth:`Sheet.to_json` gives the bytes that
are signed and :meth:`Sheet.from_json` reads them back, its exact inverse (``from_json(b).to_json() ==
b``), with the conventions of results.json (:mod:`auditkit.results`: a field's key is its name,
``omit_none`` leaves an absent optional part out, ``null_empty`` writes an empty reason as ``null``).

Nothing of other people's data is here: no other image, no logit beyond the decision's top classes;
the audited images enter only as the audit's quantiles (:class:`~auditkit.results.DecisionReference`),
read into one :class:`Standing` per figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditkit.results import Estimate, ResultsError, System, _from_plain, _to_plain

SHEET_KIND = "auditkit-decision-sheet"
"""sheet.json's ``kind``."""
SHEET_VERSION = 1
"""sheet.json's ``sheet_version``."""

_OMIT = {"omit_none": True}
_NULL = {"null_empty": True}


@dataclass(frozen=True)
class AuditReference:
    """The signed audit a sheet was made under (verified before the sheet was made).

    Attributes:
        audit_id: its number in the history (results.json ``history.audit_id``; ``None``: none).
        history_id: the history database it was recorded in (``None``: not named).
        results_sha256, report_sha256: the SHA-256 of its results.json and report.pdf.
        policy: the audited policy's name; verdict: ``pass`` or ``fail``.
    """

    audit_id: int | None
    history_id: str | None
    results_sha256: str
    report_sha256: str
    policy: str
    verdict: str


@dataclass(frozen=True)
class ClassScore:
    """One class of the decision: its name, index and softmax probability under the deployed model."""

    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Decision:
    """What the deployed model decided for the image.

    Attributes:
        top: the classes of highest probability, the decided one first (at most
            :data:`auditkit.decision.figures.TOP_CLASSES`).
        margin: its probability minus the runner-up's, in [0, 1] (1 with a single class).
    """

    top: tuple[ClassScore, ...]
    margin: float

    @property
    def predicted(self) -> ClassScore:
        """The decided class."""
        return self.top[0]


@dataclass(frozen=True)
class Standing:
    """One figure of this image against the audited images' distribution of it.

    ``share_below`` is read off the audit's quantiles ``q_0 <= ... <= q_Q`` (:data:`auditkit.results.
    QUANTILES` + 1 of them) by mid-rank, ``(#{q_i < v} + #{q_i <= v}) / (2 (Q + 1))``: 0 below every
    audited image, 1 above every one, ties counted half (resolution 1 / (Q + 1)).

    Attributes:
        value: this image's figure (``None``: undefined, ``reading`` says why not).
        share_below: the share of audited images with a lower figure (``None``: no reference).
        reading: a code, :data:`auditkit.decision.figures.READINGS`.
    """

    value: float | None
    share_below: float | None
    reading: str


@dataclass(frozen=True)
class FoldDecisions:
    """2a: what the k fold models (the audit's retrainings) decide for the image.

    Attributes:
        unavailable: why the fold models could not be asked (``""``: they were).
        predictions: each fold model's class, in fold order.
        agreeing: how many decide as the deployed model.
        agreement: the share ``agreeing / k`` against the audited images' (held-out model's class).
    """

    unavailable: str = field(default="", metadata=_NULL)
    predictions: tuple[str, ...] = ()
    agreeing: int = 0
    agreement: Standing | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class MethodSheet:
    """One certified method's explanation of the decision.

    Attributes:
        name: registry name; label: the printed name.
        scores: the audit's certified scores of the method (``mege``, ``reco``, ``mu_fidelity``).
        checks: the ids of the thresholds whose checks it met (``T1``).
        consistency: 2b, the mean distance (the audit's MeGe distance) between the maps of this
            decision by the pairs of fold models that make it, against the audited images'
            (``None``: no fold model, or the audit kept no reference).
        pairs: the pairs of fold models behind ``consistency``.
        completeness_gap: 2d, ``|sum(map) - (f_c(x) - f_c(x0))| / |f_c(x) - f_c(x0)|`` of this
            map (``None``: the method claims no completeness, or ``f_c(x) = f_c(x0)``).
        audited_completeness: the audit's completeness error of the method (``None``: not measured).
    """

    name: str
    label: str
    scores: Mapping[str, Estimate]
    checks: tuple[str, ...]
    consistency: Standing | None = field(default=None, metadata=_OMIT)
    pairs: int = 0
    completeness_gap: float | None = field(default=None, metadata=_OMIT)
    audited_completeness: Estimate | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class MethodPair:
    """2c: how far two certified methods agree on this image (:mod:`auditkit.metrics.agreement`):
    ``rank`` = |Spearman rho| of the two maps, ``top_k`` = the share of their k most important pixels
    in common."""

    first: str
    second: str
    rank: float
    top_k: float


@dataclass(frozen=True)
class Sheet:
    """The whole of sheet.json (the keys of the on-disk contract first).

    Attributes:
        kind, sheet_version: :data:`SHEET_KIND`, :data:`SHEET_VERSION`.
        decision_id: the decision's id (the sheet's folder name); created: ISO time of the sheet.
        audit: the audit it was made under; checkpoint_sha256: the deployed model's digest;
            image_sha256: the digest of the image file's bytes.
        system: the audited system (``contact``, ``contest`` for the person affected).
        audit_failed: why the audit failed, one reason each (empty when it passed).
        decision: the deployed model's decision; methods: the certified methods, by certified
            score; folds: 2a; pairs: 2c (with k, the pixels compared by ``top_k``);
            confidence: 2e, the decision's probability against the audited images'.
    """

    kind: str
    sheet_version: int
    decision_id: str
    created: str
    audit: AuditReference
    checkpoint_sha256: str
    image_sha256: str
    system: System
    audit_failed: tuple[str, ...]
    decision: Decision
    methods: tuple[MethodSheet, ...]
    folds: FoldDecisions
    pairs: tuple[MethodPair, ...]
    top_k: int
    confidence: Standing

    def to_plain(self) -> dict[str, Any]:
        """The sheet as JSON-ready plain data."""
        return _to_plain(self)

    def to_json(self) -> bytes:
        """The bytes of sheet.json (two-space indent, UTF-8, a final newline; NaN refused)."""
        return (json.dumps(self.to_plain(), indent=2, allow_nan=False) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Sheet:
        """The inverse of :meth:`to_json`.

        Raises:
            ResultsError: not JSON, not a sheet of this version, a missing or unexpected key.
        """
        try:
            plain = json.loads(data)
        except ValueError as exc:
            raise ResultsError(f"sheet.json is not JSON: {exc}") from exc
        if not isinstance(plain, dict) or plain.get("kind") != SHEET_KIND:
            raise ResultsError(f"sheet.json: not a decision sheet (kind must be {SHEET_KIND!r})")
        if plain.get("sheet_version") != SHEET_VERSION:
            raise ResultsError(f"sheet.json: sheet_version {plain.get('sheet_version')!r} is not one "
                               f"this auditkit reads ({SHEET_VERSION})")
        sheet: Sheet = _from_plain(cls, plain, "sheet.json")
        return sheet


__all__ = ["SHEET_KIND", "SHEET_VERSION", "AuditReference", "ClassScore", "Decision", "FoldDecisions",
           "MethodPair", "MethodSheet", "Sheet", "Standing"]

"""The audited system, loaded once for every decision it explains: the audit verified, the deployed
checkpoint checked against it, its model, the k fold models and the certified methods.

:func:`load_system` refuses (:class:`~auditkit.errors.DecisionError`, one line) a folder without a
signed audit, a dossier that does not verify (as ``auditkit verify --trust`` would: every signature,
and the history beside it when there is one), an audit without a deployed checkpoint, a checkpoint
whose SHA-256 is not the audited one, a fold checkpoint whose digest is not the one results.json
signs, and a method asked by name that the audit did not certify. Fold checkpoints that were not kept
are no error: the sheet says that part is unavailable.

Certified methods (:func:`certified_methods`): the audit's methods that are not controls, that some
threshold check names, and whose every check is met (admissible, thresholds met), ordered by their
certified MeGe (the audit's point estimate, highest first; ties and undefined ones in the policy's
order): MeGe is the score every audit measures for every method, the generalisation of its
explanations across the retrainings the sheet also asks about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from auditkit.errors import DecisionError
from auditkit.explainers import EXPLAINERS
from auditkit.results import AuditDocument, CheckStatus

RESULTS, REPORT = "results.json", "report.pdf"
ORDER_METRIC = "mege"
"""The certified score that orders the methods of a sheet (module docstring)."""
NO_DEPLOYED = ("audit #{id} names no deployed checkpoint, so there is no audited model whose "
               "decisions could be explained: add `deployed: checkpoint: FILE` (the state dict of the "
               "model that makes the decisions) to the policy and run the audit again")


@dataclass(frozen=True)
class AuditedSystem:
    """What every decision of one audit is explained with (loaded by :func:`load_system`).

    Attributes:
        document: results.json; results_sha256, report_sha256: the digests of it and report.pdf.
        policy: the audited policy, rebuilt from results.json's resolved copy.
        model: the deployed model (eval mode, on ``device``); checkpoint_sha256: its digest.
        folds: the k fold models in fold order (empty when unavailable, ``folds_unavailable`` says why).
        methods: the certified methods asked for, in the order of their certified score.
        background: each method's baseline images (only for those that draw them, e.g. Expected
            Gradients): the audited images, when the policy's dataset can still be read.
    """

    document: AuditDocument
    results_sha256: str
    report_sha256: str
    policy: Any
    model: nn.Module
    checkpoint_sha256: str
    folds: tuple[nn.Module, ...]
    folds_unavailable: str
    methods: tuple[str, ...]
    background: dict[str, torch.Tensor]
    device: torch.device

    def explainers(self, name: str) -> tuple[Any, list[Any]]:
        """Fresh explainers of method ``name`` for the deployed model and each fold model, seeded as
        the audit seeds them (``seed * 1000 + fold``; the deployed model as fold 0), so a sheet's
        draws depend on its image alone, not on the decisions explained before it."""
        from auditkit.explainers import make_explainer

        spec = next(s for s in self.policy.explainers if s.name == name)
        seed = self.policy.cross_validation.seed

        def make(model: nn.Module, fold: int) -> Any:
            return make_explainer(name, model, layer=getattr(model, "target_layer", None),
                                  batch_size=self.policy.metrics.explain_batch_size,
                                  generator_seed=seed * 1000 + fold,
                                  background=self.background.get(name), **dict(spec.settings))

        return make(self.model, 0), [make(m, i) for i, m in enumerate(self.folds)]


def certified_methods(doc: AuditDocument) -> list[str]:
    """The methods the audit certified, by certified score (module docstring).

    >>> from auditkit.results import _example
    >>> certified_methods(_example())  # no threshold names saliency: nothing certified it
    []
    """
    checks: dict[str, list[bool]] = {}
    for check in doc.thresholds:
        if check.explainer in doc.explainers:
            checks.setdefault(check.explainer, []).append(check.status is CheckStatus.MET)
    names = [n for n in doc.explainers if checks.get(n) and all(checks[n])
             and not (n in EXPLAINERS and EXPLAINERS[n].control)]

    def score(name: str) -> float:
        value = doc.explainers[name].scores.get(ORDER_METRIC)
        return float("-inf") if value is None or value.value is None else value.value

    return sorted(names, key=score, reverse=True)  # sorted is stable: ties keep the policy's order


def _asked(doc: AuditDocument, methods: Sequence[str] | None) -> tuple[str, ...]:
    certified = certified_methods(doc)
    if not methods:
        return tuple(certified)
    for name in methods:
        if name not in certified:
            listed = ", ".join(certified) or "none"
            why = "is not a method of this audit" if name not in doc.explainers else (
                "was not certified by this audit (a threshold not met, inadmissible, a control, or "
                "no threshold)")
            raise DecisionError(f"--method {name!r} {why}; certified: {listed}")
    return tuple(n for n in certified if n in methods)


def history_database(folder: Path) -> Path | None:
    """The history database of the audit in ``folder`` (the top of an out folder, or a kept dossier
    ``<out>/audits/<id>/``): ``history.sqlite`` beside it or at the out folder's top; ``None``."""
    from auditkit.history import DB_FILE_NAME
    from auditkit.history.verify import AUDITS

    db = folder / DB_FILE_NAME
    if folder.parent.name == AUDITS and not db.exists():
        db = folder.parent.parent / DB_FILE_NAME
    return db if db.is_file() else None


def _history_problems(folder: Path, trust: Sequence[Any]) -> list[str]:
    """What the history beside the dossier says against it (``auditkit verify``'s check); none
    without a database."""
    from auditkit.history import HistoryStore
    from auditkit.history.verify import check_dossier

    db = history_database(folder)
    if db is None:
        return []
    with HistoryStore.open(db, create=False) as store:
        return [str(p) for p in check_dossier(store, folder, trust=trust)]


def verify_audit(folder: Path, trust: Sequence[Any]) -> bytes:
    """The bytes of the verified results.json of the audit in ``folder``.

    Raises:
        DecisionError: no signed audit there, or it does not verify (the first reason named).
    """
    from auditkit.signing.verify import Status, verify_report

    if not (folder / RESULTS).is_file():
        raise DecisionError(f"{folder} holds no audit (no {RESULTS}): give the out folder of `auditkit "
                            "run` or a kept dossier audits/<id>-<digest>/")
    report = verify_report(folder, trust=trust)
    if all(f.status is Status.MISSING for f in report.files):
        raise DecisionError(f"{folder} holds no signed audit: a decision sheet is made only under an "
                            "audit signed with `auditkit run --sign-key`")
    if not report.bottom_line:
        bad = next(f for f in report.files if not f.ok)
        raise DecisionError(f"the audit in {folder} does not verify ({report.summary_line()}): "
                            f"{bad.path.name}: {bad.reason}")
    problems = _history_problems(folder, trust)
    if problems:
        raise DecisionError(f"the audit in {folder} does not verify against its history: {problems[0]}")
    return (folder / RESULTS).read_bytes()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _deployed(doc: AuditDocument, policy: Any, checkpoint: Path | None) -> tuple[nn.Module, str]:
    """The deployed model loaded from ``checkpoint`` (default: the audited path), once its digest is
    the audited one."""
    from auditkit.engine.crosstrain import build_audited_model
    from auditkit.models.operator import load_deployed

    if doc.deployed is None:
        raise DecisionError(NO_DEPLOYED.format(id=doc.history.audit_id if doc.history else "?"))
    path = Path(checkpoint if checkpoint is not None else doc.deployed.checkpoint)
    if not path.is_file():
        raise DecisionError(f"the deployed checkpoint {path} is not found: give the audited file "
                            f"(SHA-256 {doc.deployed.sha256}) with --checkpoint")
    digest = _digest(path)
    if digest != doc.deployed.sha256:
        raise DecisionError(f"the checkpoint {path} is not the audited one: its SHA-256 is {digest}, the "
                            f"audit's {doc.deployed.sha256}")
    c, h, w = doc.dataset.image_shape
    model = build_audited_model(policy, in_channels=c, num_classes=len(doc.dataset.classes),
                                image_size=(h, w))
    load_deployed(path, model)
    return model.eval(), digest


def _kept_folder(folder: Path, doc: AuditDocument, results: bytes) -> Path:
    """The kept dossier folder of the audit in ``folder`` (itself, or ``<out>/audits/<id>-<hex>/``)."""
    from auditkit.history.archive import audit_folder
    from auditkit.history.verify import AUDITS

    if folder.parent.name == AUDITS or doc.history is None:
        return folder
    return audit_folder(folder, doc.history.audit_id, results)


def _folds(doc: AuditDocument, policy: Any, kept: Path) -> tuple[tuple[nn.Module, ...], str]:
    """The k fold models kept with the dossier, or why they are unavailable.

    Raises:
        DecisionError: a kept fold file whose digest is not the one results.json signs.
    """
    from auditkit.engine.crosstrain import build_audited_model
    from auditkit.models.checkpoint import load_checkpoint

    ref = doc.decisions
    if ref is None or not ref.fold_checkpoints:
        return (), "the audit kept no fold models for decisions (audited before auditkit kept them)"
    paths = [kept / f.file for f in ref.fold_checkpoints]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        return (), f"the audit's fold models are not in {kept} ({missing[0].name} is missing)"
    c, h, w = doc.dataset.image_shape
    models = []
    for fold, path in zip(ref.fold_checkpoints, paths, strict=True):
        digest = _digest(path)
        if digest != fold.sha256:
            raise DecisionError(f"the fold checkpoint {path} is not the audited one: its SHA-256 is "
                                f"{digest}, the audit's {fold.sha256}")
        model = build_audited_model(policy, in_channels=c, num_classes=len(doc.dataset.classes),
                                    image_size=(h, w))
        load_checkpoint(path, model)
        models.append(model.eval())
    return tuple(models), ""


def _background(policy: Any, methods: Iterable[str]) -> dict[str, torch.Tensor]:
    """The baseline images of the methods that draw them (``background_size``), from the audited
    images, as the deployed model's are drawn by the audit."""
    sizes = {n: EXPLAINERS[n].background_size for n in methods if EXPLAINERS[n].background_size}
    if not sizes:
        return {}
    from auditkit.data import load_dataset
    from auditkit.engine.explain import TrainingImages
    from auditkit.engine.preflight import declared_resize

    d = policy.dataset
    dataset = load_dataset(d.kind, d.path, split=d.split, max_images=d.max_images,
                           seed=policy.cross_validation.seed, resize=declared_resize(policy))
    seed = policy.cross_validation.seed * 1000
    return {n: TrainingImages(dataset, None).of(0, size, seed) for n, size in sizes.items()}


def load_system(folder: str | Path, *, trust: Sequence[Any] = (), checkpoint: str | Path | None = None,
                methods: Sequence[str] | None = None, device: str = "cpu") -> AuditedSystem:
    """Verify the audit in ``folder`` and load what its decisions are explained with.

    Args:
        folder: the out folder of a signed ``auditkit run``, or a kept dossier ``audits/<id>-<hex>/``.
        trust: CA certificates the dossier's signatures must chain to (``--trust``).
        checkpoint: the deployed checkpoint, when not at the path the audit recorded.
        methods: the certified methods to explain with (default: every certified one).

    Raises:
        DecisionError: see the module docstring.
    """
    from auditkit.policy import policy_from_dict

    folder = Path(folder)
    results = verify_audit(folder, trust)
    doc = AuditDocument.from_json(results)
    resolved = {k: v for k, v in doc.policy.resolved.items() if k not in ("deployed", "signing")}
    policy = policy_from_dict(resolved)  # the checkpoint is checked here, by its digest
    asked = _asked(doc, methods)
    model, digest = _deployed(doc, policy, None if checkpoint is None else Path(checkpoint))
    folds, unavailable = _folds(doc, policy, _kept_folder(folder, doc, results))
    where = torch.device(device)
    report = folder / REPORT
    return AuditedSystem(doc, hashlib.sha256(results).hexdigest(), _digest(report), policy,
                         model.to(where), digest, tuple(m.to(where) for m in folds), unavailable,
                         asked, _background(policy, asked), where)


__all__ = ["ORDER_METRIC", "AuditedSystem", "certified_methods", "load_system", "verify_audit"]

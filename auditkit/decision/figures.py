"""The figures of one decision: what the deployed model decided and how its certified methods explain
it, and what only the audit's k retrainings can add for this one image (issue items 2a-2e).

For image x, deployed model f and its decided class c = argmax f(x):

- the decision: softmax probabilities p, the :data:`TOP_CLASSES` largest, margin p_c - p_(2);
- each certified method's map phi(x) of f for class c, with the audit's certified scores;
- 2a: the fold models' classes c_i = argmax f_i(x), and A = {i : c_i = c}, the share |A| / k;
- 2b: per method, the mean over the pairs {i, j} of A of d(phi_i(x), phi_j(x)), each fold model's
  map of class c, with the audit's MeGe distance d (``1 - |rho|``, or its square root under
  ``metrics.distance: sqrt_spearman``; :func:`~auditkit.metrics.pairwise_spearman_distance`);
  undefined with fewer than two models in A;
- 2c: per pair of certified methods, rank and top-k agreement of their maps of f (channels summed,
  :func:`~auditkit.metrics.agreement.pairwise_agreement`, k = ``metrics.agreement.top_k`` of the
  pixels);
- 2d: for a method that claims completeness, ``|sum phi - (f_c(x) - f_c(x0))| / |f_c(x) - f_c(x0)|``
  at its own baseline x0 (:func:`~auditkit.metrics.completeness_error`, as the audit measures it);
- 2e: p_c and |A| / k against the audited images' distributions (:class:`Standing`).

Each image is explained alone, by fresh explainers seeded as the audit seeds them, so a sheet does
not depend on the other decisions of a batch. The maps are returned beside the record, for the
overlays; they are not written to sheet.json.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from auditkit.decision.record import (
    SHEET_KIND,
    SHEET_VERSION,
    AuditReference,
    ClassScore,
    Decision,
    FoldDecisions,
    MethodPair,
    MethodSheet,
    Sheet,
    Standing,
)
from auditkit.decision.system import AuditedSystem
from auditkit.explainers import EXPLAINERS
from auditkit.metrics import completeness_error, pairwise_spearman_distance
from auditkit.metrics.agreement import pairwise_agreement, top_k_count
from auditkit.results import AuditDocument

TOP_CLASSES = 3
"""The classes of highest probability a sheet names (no other logit leaves the model)."""
SCORES = ("mege", "reco", "mu_fidelity")
"""The certified scores a sheet prints for each method."""
TAIL = 0.1
"""A figure is ``low`` below this share of the audited images and ``high`` above 1 - TAIL."""
READINGS = ("below_range", "low", "typical", "high", "above_range", "unavailable")
"""The codes of :attr:`Standing.reading`: below (above) every audited image, in the lower (upper)
:data:`TAIL`, between, or no value or no reference."""


def standing(value: float | None, quantiles: Sequence[float] | None) -> Standing:
    """``value`` against the audited images' ``quantiles`` (:class:`Standing`).

    >>> q = [i / 100 for i in range(101)]
    >>> standing(0.5, q), standing(0.95, q).reading, standing(-1.0, q).reading
    (Standing(value=0.5, share_below=0.5, reading='typical'), 'high', 'below_range')
    >>> standing(0.5, None).reading, standing(None, q).reading
    ('unavailable', 'unavailable')
    """
    if value is None or not quantiles:
        return Standing(value, None, "unavailable")
    q = np.asarray(quantiles, dtype=np.float64)
    below, at_most = int((q < value).sum()), int((q <= value).sum())
    share = (below + at_most) / (2 * q.size)
    if at_most == 0 or below == q.size:
        reading = "below_range" if at_most == 0 else "above_range"
    else:
        reading = "low" if share < TAIL else "high" if share > 1 - TAIL else "typical"
    return Standing(value, share, reading)


def _decision(probs: torch.Tensor, classes: Sequence[str]) -> Decision:
    """The top classes of ``probs`` ``[C]`` and the margin of the first over the second."""
    values, index = probs.double().topk(min(TOP_CLASSES, probs.numel()))
    top = tuple(ClassScore(classes[int(i)], int(i), float(v)) for v, i in zip(values, index, strict=True))
    margin = float(values[0] - values[1]) if values.numel() > 1 else 1.0
    return Decision(top, margin)


def _mean_pair_distance(maps: torch.Tensor, sqrt: bool) -> tuple[float | None, int]:
    """The mean distance between the maps ``[a, ...]`` of every pair, and the number of pairs."""
    a = maps.shape[0]
    if a < 2:
        return None, 0
    dist = pairwise_spearman_distance(maps[None].double())[0]
    if sqrt:
        dist = dist.sqrt()
    upper = torch.triu_indices(a, a, offset=1)
    return float(dist[upper[0], upper[1]].mean()), upper.shape[1]


def _pairs(names: Sequence[str], maps: Sequence[torch.Tensor],
           fraction: float) -> tuple[list[MethodPair], int]:
    """Rank and top-k agreement of every pair of methods' maps ``[C, H, W]`` (channels summed)."""
    summed = torch.stack([m.sum(dim=0) for m in maps])[None].double()  # [1, m, H, W]
    k = top_k_count(fraction, summed[0, 0].numel())
    if len(names) < 2:
        return [], k
    rank, top = pairwise_agreement(summed, k)
    return [MethodPair(names[i], names[j], float(rank[0, i, j]), float(top[0, i, j]))
            for i in range(len(names)) for j in range(i + 1, len(names))], k


def failures(doc: AuditDocument) -> tuple[str, ...]:
    """Why the audit failed, one reason each: every requirement not met, the fold models'
    comparability; empty when it passed."""
    if doc.passed:
        return ()
    found = [f"requirement {r.id} ({r.title}) is not met: " + (", ".join(r.failed_checks) or "its evidence")
             + " not met" for r in doc.requirements if not r.met]
    if not doc.accuracy.comparable:
        found.append("the accuracies of the fold models differ by more than the policy allows")
    return tuple(found) or ("the audit's verdict is FAIL (see its report)",)


def _reference(system: AuditedSystem) -> AuditReference:
    doc = system.document
    link = doc.history
    return AuditReference(None if link is None else link.audit_id, None if link is None else link.history_id,
                          system.results_sha256, system.report_sha256, doc.policy.name, doc.verdict)


def _method(system: AuditedSystem, name: str, consistency: Standing | None, pairs: int,
            gap: float | None) -> MethodSheet:
    doc = system.document
    scores = {m: s for m in SCORES if (s := doc.score(name, m)) is not None}
    checks = tuple(c.threshold for c in doc.thresholds if c.explainer == name)
    claims = EXPLAINERS[name].completeness_baseline is not None
    audited = doc.score(name, "completeness_error") if claims else None
    return MethodSheet(name, EXPLAINERS[name].label, scores, checks, consistency, pairs, gap, audited)


def _explain(system: AuditedSystem, name: str, x: torch.Tensor, c: torch.Tensor,
             agreeing: torch.Tensor) -> tuple[torch.Tensor, tuple[float | None, int], float | None]:
    """One method: the deployed model's map ``[C, H, W]``, the fold models' mean pair distance and
    pairs, and the completeness gap (``None`` without a claim)."""
    own, per_fold = system.explainers(name)
    phi = own.explain(x, c)
    gap = None
    if type(own).completeness_baseline is not None:
        value = float(completeness_error(system.model, x, phi, c, baseline=own.reference(x))[0])
        gap = None if np.isnan(value) else value
    distance: tuple[float | None, int] = (None, 0)
    if per_fold:
        fold_maps = torch.cat([e.explain(x, c) for i, e in enumerate(per_fold) if agreeing[i]]) \
            if bool(agreeing.any()) else x.new_zeros((0, *phi.shape[1:]))
        distance = _mean_pair_distance(fold_maps, system.policy.metrics.distance == "sqrt_spearman")
    return phi[0], distance, gap


def decide(system: AuditedSystem, image: torch.Tensor, *, decision_id: str, image_sha256: str,
           created: str) -> tuple[Sheet, dict[str, np.ndarray]]:
    """The sheet of one decision and each method's map of it (name -> ``[C, H, W]``).

    Args:
        image: ``[C, H, W]`` float32 in [0, 1], of the audited kind (:func:`~auditkit.decision.
            inputs.read_image`).
        created: the sheet's ISO time.
    """
    doc, ref = system.document, system.document.decisions
    x = image[None].to(system.device)
    with torch.no_grad():
        probs = torch.softmax(system.model(x).double(), dim=1)[0].cpu()
        fold_classes = [int(m(x).argmax(dim=1)) for m in system.folds]
    decision = _decision(probs, doc.dataset.classes)
    c = torch.tensor([decision.predicted.index], device=system.device)
    agreeing = torch.tensor([k == decision.predicted.index for k in fold_classes], dtype=torch.bool)
    methods, maps = [], {}
    for name in system.methods:
        phi, (distance, pairs), gap = _explain(system, name, x, c, agreeing)
        maps[name] = phi.cpu().numpy()
        reference = None if ref is None else ref.consistency.get(name)
        consistency = standing(distance, reference) if system.folds else None
        methods.append(_method(system, name, consistency, pairs, gap))
    pairs, k = _pairs(list(system.methods), [torch.from_numpy(maps[n]) for n in system.methods],
                      system.policy.metrics.agreement.top_k) if maps else ([], 0)
    folds = FoldDecisions(system.folds_unavailable) if not system.folds else FoldDecisions(
        "", tuple(doc.dataset.classes[k] for k in fold_classes), int(agreeing.sum()),
        standing(float(agreeing.double().mean()), None if ref is None else ref.fold_agreement))
    confidence = standing(decision.predicted.probability, None if ref is None else ref.confidence)
    sheet = Sheet(SHEET_KIND, SHEET_VERSION, decision_id, created, _reference(system),
                  system.checkpoint_sha256, image_sha256, doc.system, failures(doc), decision,
                  tuple(methods), folds, tuple(pairs), k, confidence)
    return sheet, maps


__all__ = ["READINGS", "SCORES", "TAIL", "TOP_CLASSES", "decide", "failures", "standing"]

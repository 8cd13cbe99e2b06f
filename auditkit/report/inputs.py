"""What the report reads from an audit's out folder: results.json, the distance records, a few inputs.

Everything here checks what it reads and raises :class:`ReportError` naming the file and the fix; stale
evidence is refused rather than shown (a work file that disagrees with results.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from auditkit.data import Resize, load_dataset
from auditkit.errors import AuditError
from auditkit.report.errors import ReportError
from auditkit.results import S_EQ, S_NEQ, AuditDocument, ExplainerEntry, ResultsError

_RECORD_KEYS = ("distances", "category", "degenerate", "examples")


@dataclass(frozen=True)
class ExplainerEvidence:
    """What the report shows of one explainer's distance record.

    Attributes:
        s_eq: distances of the S= pairs, 1-D float array.
        s_neq: distances of the S≠ pairs, 1-D float array.
        examples: ``[E, k, H, W]`` maps of E example images (channels summed).
        example_index: ``[E]`` which audited images they are; example_neq: ``[E]`` bool, the image
            has an S≠ pair.
    """

    s_eq: np.ndarray
    s_neq: np.ndarray
    examples: np.ndarray
    example_index: np.ndarray
    example_neq: np.ndarray


@dataclass(frozen=True)
class ExampleInputs:
    """The first audited images, read again for the example grid, or why they could not be.

    Attributes:
        images: ``[E, C, H, W]`` float in [0, 1], or None.
        classes: the class name of each image (empty when ``images`` is None).
        problem: why the images are not shown, or "".
    """

    images: np.ndarray | None
    classes: tuple[str, ...]
    problem: str


def load_document(out_dir: Path) -> AuditDocument:
    """``<out_dir>/results.json`` as the typed document (an older schema upgraded on reading)."""
    path = out_dir / "results.json"
    if not path.is_file():
        raise ReportError(
            f"{path} does not exist: render the report from the out folder of a finished audit "
            "(run `auditkit run POLICY --out FOLDER` first)", path=path)
    try:
        return AuditDocument.from_json(path.read_bytes())
    except (OSError, ResultsError) as exc:
        raise ReportError(f"{path} cannot be read: {exc}", path=path) from exc


def load_evidence(out_dir: Path, name: str, entry: ExplainerEntry) -> ExplainerEvidence:
    """The distance record of explainer ``name``, checked against its S= and S≠ sizes in results.json."""
    path = out_dir / "work" / f"explainer_{name}.pt"
    if not path.is_file():
        raise ReportError(f"{path} does not exist: the report needs the distance record of explainer "
                          f"{name!r}; rerun the audit into {out_dir}", path=path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        record = state["record"]
        tensors = {key: record[key] for key in _RECORD_KEYS}
        index = record["example_index"]
    except Exception as exc:  # any unreadable or foreign file: one message
        raise ReportError(f"{path} is not a readable distance record ({type(exc).__name__}: {exc}); "
                          f"rerun the audit into {out_dir}", path=path) from exc
    distances, category = tensors["distances"], tensors["category"]
    found = (int((category == S_EQ).sum()), int((category == S_NEQ).sum()))
    expected = (entry.n_s_eq, entry.n_s_neq)
    if found != expected:
        raise ReportError(
            f"{path} does not match results.json (|S=|, |S≠| = {found} in the record, {expected} in "
            f"results.json): the files come from different runs; rerun the audit into {out_dir}",
            path=path)
    return ExplainerEvidence(
        s_eq=distances[category == S_EQ].double().numpy(),
        s_neq=distances[category == S_NEQ].double().numpy(),
        examples=tensors["examples"].double().numpy(),
        example_index=index.numpy(),
        example_neq=(category[index] == S_NEQ).any(dim=1).numpy(),
    )


def load_example_inputs(doc: AuditDocument, index: np.ndarray) -> ExampleInputs:
    """The audited images ``index``, read again as the audit read them (same subsample seed).

    The images are used only when the data set still has the fingerprint recorded in results.json.
    """
    resolved = doc.policy.resolved
    d, p = resolved["dataset"], resolved.get("preprocessing") or {}
    resize = Resize(size=None if p.get("resize") is None else tuple(p["resize"]),
                    crop=None if p.get("center_crop") is None else tuple(p["center_crop"]),
                    interpolation=p.get("interpolation", "bilinear"), channels=p.get("channels", "auto"))
    try:
        dataset = load_dataset(d["kind"], d["path"], split=d["split"], max_images=d["max_images"],
                               seed=resolved["cross_validation"]["seed"], resize=resize)
    except (AuditError, OSError) as exc:
        return ExampleInputs(None, (), f"the audited images could not be read again ({exc})")
    if dataset.fingerprint != doc.dataset.fingerprint_sha256:
        return ExampleInputs(None, (), "the data set no longer has the fingerprint recorded by the audit")
    part = torch.as_tensor(index, dtype=torch.long)
    classes = tuple(dataset.classes[int(label)] for label in dataset.labels[part])
    return ExampleInputs(dataset.x(part).double().numpy(), classes, "")

"""The work folder ``<out>/work/``: finished work, verified before it is used again.

Three kinds of work file, each a ``torch.save`` dict written atomically (:mod:`auditkit._atomic`)
with a ``digest`` of its other entries (:mod:`auditkit._digest`):

- ``fold_<i>.pt``, ``<sanity tag>_<i>.pt``: a fold model f_i (:mod:`auditkit.models.checkpoint`);
- ``explainer_[<tag>_]<name>.pt``: the distance record and muF values of one explanation pass, and
  for the clean audit the explainer's robustness, invariance and completeness values.

Before a work file is reused it must be a regular file (not a link, folder, FIFO or device), load
with ``torch.load(weights_only=True)``, match its digest and its work key, and hold plausible values
for this run: shapes against the data set and folds, distances in [0, 1], muF in [-1, 1], sensitivity
and completeness error >= 0, the sampled images the ones this run samples, the pair categories the
ones this run's models give, and a checkpoint's stored held-out accuracy equal to the one its
weights give on its held-out fold V_i (recomputed: one forward pass over |V_i| images; exact, so a
checkpoint is also redone when this device predicts one image of V_i differently). Anything else is
redone, with one warning on the ``auditkit.engine.workfiles`` logger naming the file and why; a
file made under another key (changed settings or versions) is redone with an info line only.

The digest catches damage and edits made without it; it is no signature, so an edit that recomputes
it and keeps the values plausible (say, halved distances) goes unnoticed. A signed report vouches for
the numbers a run reported, not for the work files of a later one; ``fresh`` redoes everything.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from auditkit._atomic import torch_save
from auditkit._digest import digest_ok, with_digest
from auditkit.engine.distances import RECORD_FIELDS, DistanceRecord
from auditkit.engine.faithfulness import sample_images
from auditkit.engine.properties import PropertyValues
from auditkit.errors import AuditError
from auditkit.models import accuracy
from auditkit.models.checkpoint import state_mismatch
from auditkit.results import S_NEQ

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.policy import PropertiesSpec

logger = logging.getLogger(__name__)

WORK_DIR = "work"
MOVED_ASIDE = ".not-a-work-file"
"""Suffix of a folder found where a work file belongs, moved aside so the redone work can be written."""


class WorkDirError(AuditError, NotADirectoryError):
    """``<out>`` or ``<out>/work`` exists and is not a folder (or cannot be created)."""


class _Rejected(Exception):
    """A work file that must be redone; the message says why."""


def prepare_workdir(out_dir: Path, *, fresh: bool = False) -> Path:
    """``<out_dir>/work``, created if needed, without the temporary files of a killed run.

    With ``fresh``, everything in it is removed first, so the audit redoes all its work.

    Raises:
        WorkDirError: ``out_dir`` or its ``work`` is a file (or a broken link), or cannot be created.
    """
    work = Path(out_dir) / WORK_DIR
    for folder in (Path(out_dir), work):
        if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
            raise WorkDirError(f"{folder} is not a folder: auditkit keeps its output (and its work files "
                               "in <out>/work) there; move it away or choose another --out")
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkDirError(f"cannot create the work folder {work}: {exc.strerror or exc}") from None
    for entry in list(work.iterdir()):
        if fresh or (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    if fresh:
        logger.info("fresh run: the work folder %s was emptied; all work is redone", work)
    return work


def save_work(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with its digest to ``path`` atomically (any old digest is replaced)."""
    torch_save(with_digest(payload), path)


def read_work(path: Path, key: str | None) -> dict[str, Any] | None:
    """The dict a work file holds when it is a regular file that loads, matches its digest and, unless
    ``key`` is None, was made under ``key`` (at ``key``, or ``meta.key`` for a checkpoint); else None
    (logged unless the file is missing). A folder in its place is moved aside."""
    try:
        return _read(path, key)
    except _Rejected as exc:
        _reject(path, str(exc))
        return None


def load_fold_checkpoint(path: Path, key: str, model: nn.Module, *, fold: int, held_out: torch.Tensor,
                         dataset: ImageDataset, device: torch.device) -> dict[str, Any] | None:
    """Load fold ``fold``'s checkpoint into ``model`` and return its ``meta``, or None to retrain.

    Beyond :func:`fold_checkpoint_finished`, the stored accuracy must be the number of images of
    ``held_out`` (V_i, true labels) the loaded weights classify right, over |V_i|.
    """
    try:
        payload = _fold_payload(path, key, model, fold, int(held_out.numel()))
        if payload is None:
            return None
        model.load_state_dict(payload["state_dict"], strict=True)
        meta = payload["meta"]
        n = int(held_out.numel())
        measured = accuracy(model, dataset.images[held_out], dataset.labels[held_out], device=device)
        if round(measured * n) != round(float(meta["accuracy"]) * n):
            raise _Rejected(f"stores held-out accuracy {float(meta['accuracy']):.4f} but its weights give "
                            f"{measured:.4f} on fold {fold}")
        return meta
    except _Rejected as exc:
        _reject(path, str(exc))
        return None


def fold_checkpoint_finished(path: Path, key: str, model: nn.Module, *, fold: int, n_test: int) -> bool:
    """Whether ``path`` holds fold ``fold``'s checkpoint under ``key``, shaped like ``model``, with
    plausible metadata (fold, |V_i| = ``n_test``, accuracy in [0, 1]); the weights are not loaded."""
    try:
        return _fold_payload(path, key, model, fold, n_test) is not None
    except _Rejected as exc:
        _reject(path, str(exc))
        return False


def load_explanation(path: Path, key: str, categories: torch.Tensor, image_size: tuple[int, int],
                     mu_samples: int) -> tuple[DistanceRecord, torch.Tensor] | None:
    """The distance record and muF values of an explanation pass, or None to redo it.

    Args:
        categories: ``[N, k - 1]`` this run's pair categories; the record's must be equal.
        image_size: ``(H, W)`` of the examples' maps ``[E, k, H, W]`` (E <= N) and of the sampled
            images' own maps ``[M, H, W]``.
        mu_samples: ``metrics.mu_fidelity.samples``; muF holds ``min(mu_samples, N)`` values.
    """
    try:
        state = _read(path, key)
        if state is None:
            return None
        record, mu = _entry(state, "record", dict), _entry(state, "mu", torch.Tensor)
        n, pairs = categories.shape
        fields = {name: _entry(record, name, torch.Tensor, "record")
                  for name in RECORD_FIELDS}
        _tensor(fields["distances"], "distances", torch.float32, (n, pairs), low=0.0, high=1.0, nan=False)
        _tensor(fields["category"], "category", torch.uint8, (n, pairs), low=0, high=S_NEQ, nan=False)
        if not torch.equal(fields["category"], categories.to(torch.uint8)):
            raise _Rejected("its pair categories are not the ones this run's fold models give")
        _tensor(fields["degenerate"], "degenerate", torch.bool, (n, pairs))
        examples = fields["examples"]
        if examples.dim() != 4 or tuple(examples.shape[1:]) != (pairs + 1, *image_size) \
                or examples.shape[0] > n:
            raise _Rejected(f"examples has shape {tuple(examples.shape)}, expected [E <= {n}, {pairs + 1}, "
                            f"{image_size[0]}, {image_size[1]}]")
        _tensor(examples, "examples", torch.float32, tuple(examples.shape), nan=False)
        _tensor(fields["example_index"], "example_index", torch.int64, (examples.shape[0],), low=0,
                high=n - 1, nan=False)
        rho = fields["input_rho"]
        _tensor(rho, "input_rho", torch.float32, (min(rho.shape[0], n), pairs + 1), low=0.0, high=1.0)
        _tensor(fields["coverage_rho"], "coverage_rho", torch.float32, tuple(rho.shape), low=0.0, high=1.0)
        _tensor(fields["own_maps"], "own_maps", torch.float32, (rho.shape[0], *image_size), nan=False)
        _tensor(mu, "mu", torch.float64, (min(mu_samples, n),), low=-1.0, high=1.0)
        return DistanceRecord.from_state(fields), mu
    except _Rejected as exc:
        _reject(path, str(exc))
        return None


def explanation_finished(path: Path, key: str) -> bool:
    """Whether ``path`` is a readable explanation pass under ``key`` (its values are checked on load)."""
    return read_work(path, key) is not None


def load_properties(path: Path, key: str, n: int, spec: PropertiesSpec,
                    seed: int) -> tuple[dict[str, Any] | None, PropertyValues | None]:
    """The explainer's work file (None when unusable) and its property values under ``key`` (None: redo).

    The samples must be this run's (:func:`~auditkit.engine.faithfulness.sample_images` of ``n``
    images with ``seed``; completeness's may be empty), sensitivity and completeness error >= 0, the
    robustness and invariance distances in [0, 1] (NaN allowed: undefined or left out).
    """
    state = read_work(path, None)
    saved = None if state is None else state.get("properties")
    if not isinstance(saved, dict) or saved.get("key") != key:
        return state, None
    try:
        values = _entry(saved, "values", dict, "properties")
        t = {name: _entry(values, name, torch.Tensor, "properties")
             for name in PropertyValues.__dataclass_fields__}
        r, inv, comp = spec.robustness, spec.invariance, spec.completeness
        empty = torch.empty(0, dtype=torch.long)

        def sample(name: str, enabled: bool, samples: int, may_be_empty: bool = False) -> int:
            expected = sample_images(n, samples, seed) if enabled else empty
            got = t[name]
            if not (torch.equal(got, expected) or (may_be_empty and got.numel() == 0 and got.dim() == 1)):
                raise _Rejected(f"properties {name} is not the image sample this run draws")
            return int(got.numel())

        s_r = sample("robust_sample", r.enabled, r.samples)
        s_i = sample("invariance_sample", inv.enabled, inv.samples)
        s_c = sample("completeness_sample", comp.enabled, comp.samples, may_be_empty=True)
        n_t = len(inv.transformations) if inv.enabled else 0
        _tensor(t["sensitivity"], "sensitivity", torch.float64, (s_r,), low=0.0)
        _tensor(t["robust_distance"], "robust_distance", torch.float64, (s_r,), low=0.0, high=1.0)
        _tensor(t["invariance"], "invariance", torch.float64, (n_t, s_i), low=0.0, high=1.0)
        _tensor(t["completeness"], "completeness", torch.float64, (s_c,), low=0.0)
        return state, PropertyValues.from_state(t)
    except _Rejected as exc:
        _reject(path, str(exc))
        return state, None


def _read(path: Path, key: str | None) -> dict[str, Any] | None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Rejected(f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        aside = _aside(path)
        os.replace(path, aside)
        raise _Rejected(f"is a folder, not a work file (moved aside to {aside.name})")
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise _Rejected(f"is {kind}, not a work file auditkit wrote")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/zip/pickle raise many types on a damaged file
        first = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise _Rejected(f"is unreadable ({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict):
        raise _Rejected(f"holds a {type(state).__name__}, not a dict")
    if not digest_ok(state):
        raise _Rejected("its content does not match its digest (damaged or edited)")
    if key is not None:
        holder = _entry(state, "meta", dict) if "state_dict" in state else state
        found = holder.get("key")
        if not isinstance(found, str):
            raise _Rejected("holds no work key")
        if found != key:
            logger.info("work file %s was made for other settings or versions; redone", path)
            return None
    return state


def _fold_payload(path: Path, key: str, model: nn.Module, fold: int, n_test: int) -> dict[str, Any] | None:
    payload = _read(path, key)
    if payload is None:
        return None
    state, meta = _entry(payload, "state_dict", dict), _entry(payload, "meta", dict)
    mismatch = state_mismatch(state, model)
    if mismatch:
        raise _Rejected(f"was saved from another architecture ({mismatch})")
    acc = meta.get("accuracy")
    if meta.get("fold") != fold or meta.get("n_test") != n_test:
        raise _Rejected(f"is for fold {meta.get('fold')!r} of {meta.get('n_test')!r} held-out images, "
                        f"expected fold {fold} of {n_test}")
    if isinstance(acc, bool) or not isinstance(acc, int | float) or not 0.0 <= acc <= 1.0:
        raise _Rejected(f"stores accuracy {acc!r}, not a number in [0, 1]")
    return payload


def _entry(state: dict[str, Any], name: str, kind: type, where: str = "") -> Any:
    value = state.get(name)
    if not isinstance(value, kind):
        label = f"{where}.{name}" if where else name
        got = "nothing" if value is None else f"a {type(value).__name__}"
        raise _Rejected(f"{label} holds {got}, expected a {kind.__name__}")
    return value


def _tensor(t: torch.Tensor, name: str, dtype: torch.dtype, shape: tuple[int, ...], *,
            low: float | None = None, high: float | None = None, nan: bool = True) -> None:
    """Reject unless ``t`` is ``dtype`` of ``shape`` with finite values (NaN where ``nan``) in [low, high]."""
    if t.dtype != dtype or tuple(t.shape) != shape:
        raise _Rejected(f"{name} is {t.dtype} {list(t.shape)}, expected {dtype} {list(shape)}")
    if t.numel() == 0 or dtype == torch.bool:
        return
    values = t.double()
    defined = values[~values.isnan()] if nan else values
    if (not nan and bool(values.isnan().any())) or bool(defined.isinf().any()):
        raise _Rejected(f"{name} holds {'NaN or ' if not nan else ''}infinite values")
    if defined.numel() == 0:
        return
    lo, hi = float(defined.min()), float(defined.max())
    if (low is not None and lo < low) or (high is not None and hi > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise _Rejected(f"{name} holds values in [{_num(lo)}, {_num(hi)}], outside {bounds}")


def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _aside(path: Path) -> Path:
    aside, n = path.with_name(path.name + MOVED_ASIDE), 1
    while aside.exists() or aside.is_symlink():
        n += 1
        aside = path.with_name(f"{path.name}{MOVED_ASIDE}.{n}")
    return aside


def _reject(path: Path, reason: str) -> None:
    logger.warning("work file %s %s; redone", path, reason)


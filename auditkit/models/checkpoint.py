"""Model checkpoints: weights plus JSON-like metadata, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from auditkit._atomic import torch_save
from auditkit._digest import DIGEST, digest_ok, with_digest
from auditkit.models.errors import CheckpointError, ModelError


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any], *,
                    replace: bool = True) -> None:
    """Save ``{"state_dict": model.state_dict(), "meta": meta, "digest": ...}`` to ``path`` atomically.

    ``digest`` is the SHA-256 of the other two (:func:`auditkit._digest.content_digest`), checked by
    :func:`load_checkpoint`.

    The file is written to a temporary file in the same folder, flushed, then renamed over ``path``
    (:mod:`auditkit._atomic`), so ``path`` always holds either its previous content or the complete new
    checkpoint, and a failed write leaves no temporary file. Tensors are saved where they are; they load
    to CPU (:func:`load_checkpoint`). ``replace=False`` leaves an existing ``path`` as it is and raises
    :class:`FileExistsError`.

    Args:
        path: target file; its folder is created if needed.
        model: the model whose ``state_dict()`` is saved.
        meta: JSON-like: str keys; str, int, float, bool, None, list and dict values (so that
            ``torch.load(weights_only=True)`` can read it back).

    Raises:
        ModelError: ``meta`` is not JSON-like (names the first offending entry).
    """
    if not isinstance(meta, dict):
        raise ModelError(f"meta must be a dict, got {type(meta).__name__}", parameter="meta")
    _check_meta(meta, "meta")
    torch_save(with_digest({"state_dict": model.state_dict(), "meta": meta}), path, replace=replace)


def load_checkpoint(path: str | Path, model: nn.Module) -> dict[str, Any]:
    """Load the weights saved by :func:`save_checkpoint` into ``model``; return the saved ``meta``.

    Loading uses ``torch.load(weights_only=True, map_location="cpu")`` (no arbitrary code runs) and
    ``load_state_dict(strict=True)``. Parameter names and shapes are compared before loading, so a
    checkpoint of another architecture leaves ``model`` untouched.

    Raises:
        CheckpointError: ``path`` is missing (``reason="missing"``), not a readable torch file
            (``"corrupt"``), lacks ``state_dict``/``meta`` (``"malformed"``), or does not fit
            ``model`` (``"mismatch"``), or its digest does not match its content (``"corrupt"``; a
            checkpoint without a digest is accepted). The message names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist (or is not a file)", path=path, reason="missing"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/zip/pickle raise many types on a damaged file
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a torch file ({type(exc).__name__}: {exc}); "
            "delete it and train again",
            path=path,
            reason="corrupt",
        ) from exc
    well_formed = isinstance(payload, dict) and all(
        isinstance(payload.get(key), dict) for key in ("state_dict", "meta")
    )
    if not well_formed:
        raise CheckpointError(
            f"checkpoint {path} is not an auditkit checkpoint: expected a dict with 'state_dict' and "
            f"'meta' dicts, got {type(payload).__name__}",
            path=path,
            reason="malformed",
        )
    if DIGEST in payload and not digest_ok(payload):
        raise CheckpointError(
            f"checkpoint {path}: its content does not match its digest (damaged or edited); delete it "
            "and train again",
            path=path,
            reason="corrupt",
        )
    _check_fits(path, payload["state_dict"], model)
    model.load_state_dict(payload["state_dict"], strict=True)
    return payload["meta"]


def _check_fits(path: Path, state: dict[str, Any], model: nn.Module) -> None:
    """Raise ``CheckpointError("mismatch")`` unless ``state`` has exactly the model's names and shapes."""
    details = state_mismatch(state, model)
    if not details:
        return
    raise CheckpointError(
        f"checkpoint {path} was saved from another architecture ({details}); build the model with the "
        "same family, sizes and base_filters",
        path=path,
        reason="mismatch",
    )


def state_mismatch(state: dict[str, Any], model: nn.Module) -> str:
    """How ``state`` differs from ``model.state_dict()`` in names and shapes, in words; ``""`` if it fits.

    >>> state_mismatch({"weight": torch.zeros(2, 3)}, nn.Linear(3, 2, bias=False))
    ''
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in state.items()}
    if expected == got:
        return ""
    missing = sorted(expected.keys() - got.keys())
    unexpected = sorted(got.keys() - expected.keys())
    reshaped = sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])
    shown = {k: f"{k} {got[k]} for {expected[k]}" for k in reshaped}
    return "; ".join(
        f"{label}: {', '.join(shown.get(k, k) for k in keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("other shape", reshaped))
        if keys
    )


def _check_meta(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelError(f"{where} keys must be str, got {key!r}", parameter="meta")
            _check_meta(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_meta(item, f"{where}[{i}]")
    elif value is not None and not isinstance(value, str | int | float):
        raise ModelError(
            f"{where} must be JSON-like (str, int, float, bool, None, list, dict), "
            f"got {type(value).__name__}",
            parameter="meta",
        )

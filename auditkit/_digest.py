"""The SHA-256 of a work file's content (tensors, dicts, lists, strings and numbers), stored beside it.

A work file holds ``{..., "digest": content_digest(everything else)}``. The digest detects damage and
edits made without recomputing it; it is not a signature (whoever can write the file can recompute
it), so the engine also checks each work file's values for plausibility before using them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

DIGEST = "digest"
"""The entry of a work file that holds :func:`content_digest` of its other entries."""


def content_digest(obj: Any) -> str:
    """SHA-256 over a canonical encoding of ``obj``: dicts by sorted key, tensors by dtype, shape and bytes.

    >>> content_digest({"b": 1, "a": torch.zeros(2)}) == content_digest({"a": torch.zeros(2), "b": 1})
    True
    >>> content_digest({"a": torch.zeros(2)}) == content_digest({"a": torch.zeros(2, dtype=torch.float64)})
    False
    """
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def with_digest(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (without any old digest) plus ``"digest"``: :func:`content_digest` of the rest."""
    body = {k: v for k, v in payload.items() if k != DIGEST}
    return {**body, DIGEST: content_digest(body)}


def digest_ok(payload: dict[str, Any]) -> bool:
    """Whether ``payload`` carries a digest and it matches its other entries."""
    body = {k: v for k, v in payload.items() if k != DIGEST}
    return isinstance(payload.get(DIGEST), str) and payload[DIGEST] == content_digest(body)


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}:".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, list | tuple):
        h.update(f"L{len(obj)}:".encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        h.update(f"S{len(data)}:".encode() + data)
    elif obj is None or isinstance(obj, bool | int | float):
        h.update(f"J{json.dumps(obj)};".encode())
    else:
        raise TypeError(f"content_digest: cannot encode a {type(obj).__name__}")

"""Digests that identify finished work, so that a resumed audit reuses it only when nothing changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

WORK_FORMAT = 3
"""Version of the work files' content; bump it when what a work file holds or means changes
(2: explanations of ``metrics.target``, keys that carry the producing versions; 3: every work file
carries the digest of its content, :mod:`auditkit.engine.workfiles`)."""


def producers() -> dict[str, Any]:
    """What produced a piece of work: the work format and the auditkit, torch and captum versions.

    Part of every work key (:func:`work_key`), so that after an upgrade the work is redone rather
    than reused under numbers that results.json would attribute to the new versions.
    """
    import captum

    from auditkit import _version

    return {"work_format": WORK_FORMAT, "auditkit": _version.__version__, "torch": torch.__version__,
            "captum": captum.__version__}


def work_key(obj: Any) -> str:
    """The key of a work file: :func:`digest` of ``obj`` together with :func:`producers`."""
    return digest({"work": obj, "produced_by": producers()})


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no whitespace).

    >>> digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


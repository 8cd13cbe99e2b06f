"""Digests that identify finished work, so that a resumed audit reuses it only when nothing changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no whitespace).

    >>> digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_work(path: Path) -> dict[str, Any] | None:
    """The dict a work file holds, or None when it is missing, unreadable or not a dict: such a file
    is unfinished work, redone (and rewritten atomically) by the caller."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable: not finished work
        return None
    return state if isinstance(state, dict) else None

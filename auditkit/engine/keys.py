"""Digests that identify finished work, so that a resumed audit reuses it only when nothing changed.

A work key digests what its work depends on: the inputs it is computed from (dataset fingerprint,
checkpoint digests) and the policy's settings, taken as whole sections by :func:`keyed_settings`:
every field of a section but those the section declares key-neutral next to the field
(``key_neutral`` in :mod:`auditkit.policy.schema`). A field added to a section is thus in every key
that reads the section until someone declares it neutral; a resumed run then recomputes rather than
reusing work made under another setting.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch

WORK_FORMAT = 5
"""Version of the work files' content; bump it when what a work file holds or means changes
(2: explanations of ``metrics.target``, keys that carry the producing versions; 3: every work file
carries the digest of its content, :mod:`auditkit.engine.workfiles`; 4: keys take whole policy
sections, :func:`keyed_settings`; 5: an explanation pass keeps its sampled images' maps by their own
fold models, ``own_maps``, for the agreement between methods)."""


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



def keyed_settings(section: Any, without: Collection[str] = ()) -> dict[str, Any]:
    """The settings of the policy section ``section`` (a frozen dataclass) that enter a work key.

    Every field but those ``section`` declares key-neutral (its class's ``key_neutral``) and those
    in ``without``, as JSON-ready data (tuples as lists, paths as strings); a sub-section, or a tuple
    of them, is taken the same way.

    Args:
        without: fields of ``section`` itself that this key leaves out, because its work does not
            read them or because the key carries what is derived from them (a level's share and draw
            seed). Name them here, never list the fields kept: a new field is then in the key.

    >>> from auditkit.policy import CrossValidationSpec
    >>> keyed_settings(CrossValidationSpec(k=3, max_accuracy_spread=0.5))
    {'k': 3, 'seed': 0}
    """
    names = {f.name for f in dataclasses.fields(section)}
    unknown = set(without) - names
    if unknown:
        raise ValueError(f"without names {sorted(unknown)}, which are not fields of "
                         f"{type(section).__name__} ({', '.join(sorted(names))})")
    neutral = getattr(type(section), "key_neutral", {})
    return {f.name: _keyed(getattr(section, f.name)) for f in dataclasses.fields(section)
            if f.name not in neutral and f.name not in without}


def _keyed(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return keyed_settings(value)
    if isinstance(value, (tuple, list)):
        return [_keyed(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _keyed(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value

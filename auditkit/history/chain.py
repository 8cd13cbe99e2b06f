"""The hash chain of the ``audits`` table.

``row_hash`` of a row is the SHA-256 (hex) of the canonical JSON of every other column of the row,
``prev_hash`` and ``id`` included: an object with the column names as keys, sorted, no whitespace,
non-ASCII characters kept as UTF-8, numbers and NULL as JSON numbers and ``null``. ``prev_hash`` is
the ``row_hash`` of the row before it (ordered by ``id``), :data:`GENESIS` for the first row.

Changing any column of a recorded row changes its hash; removing or inserting a row breaks the link
of the row after it. Removing the newest rows leaves a shorter valid chain, so the head
(``id``, ``row_hash``) that ``auditkit history --check`` prints is what to keep elsewhere (a
ticket, a signed report) to detect truncation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

GENESIS = "0" * 64
"""``prev_hash`` of the first audit."""


def canonical_json(values: Mapping[str, object]) -> bytes:
    """The canonical UTF-8 JSON of a row's columns.

    >>> canonical_json({"b": None, "a": 1, "é": "x"})
    b'{"a":1,"b":null,"\\xc3\\xa9":"x"}'
    """
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def row_hash(columns: Mapping[str, object]) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``columns``: every column but ``row_hash``."""
    return hashlib.sha256(canonical_json(columns)).hexdigest()

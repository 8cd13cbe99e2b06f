"""The hash chain of the ``audits`` table.

``row_hash`` of a row is the SHA-256 (hex) of the canonical JSON of every other column of the row,
``prev_hash`` and ``id`` included: an object with the column names as keys, sorted, no whitespace,
non-ASCII characters kept as UTF-8, numbers and NULL as JSON numbers and ``null``. ``prev_hash`` is
the ``row_hash`` of the row before it (ordered by ``id``), :data:`GENESIS` for the first row.

Changing any column of a recorded row changes its hash; removing or inserting a row breaks the link
of the row after it. Anyone who can write the file can recompute every hash, though, so a signed run
also signs its row: ``chain_signature`` is a detached CMS signature (the report's key, see
:mod:`auditkit.signing.cms`) over :func:`signed_message` of the row's id and ``row_hash``. Since
``row_hash`` covers ``prev_hash``, one signature vouches for its row and every row before it.
Removing the newest rows leaves a shorter valid chain; the head the audit was appended to
(:class:`ChainHead`) is written into its results.json, which the report's signatures cover, so the
signed dossier names the place its row must have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

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


SIGNED_PREFIX = b"auditkit history chain v1\n"
"""What a chain signature signs before the row's id and hash (so it signs nothing but a history row)."""


def signed_message(audit_id: int, hash_hex: str) -> bytes:
    """The bytes a row's chain signature covers: :data:`SIGNED_PREFIX`, then ``"<id> <row_hash>\\n"``.

    >>> signed_message(3, "ab")
    b'auditkit history chain v1\\n3 ab\\n'
    """
    return SIGNED_PREFIX + f"{audit_id} {hash_hex}\n".encode("ascii")


@dataclass(frozen=True)
class ChainHead:
    """The newest row of the chain when an audit starts: what its results.json records as ``history``.

    Attributes:
        audits: the newest row's id, 0 when empty (ids run 1, 2, ...: the number of audits).
        row_hash: the newest row's ``row_hash``; :data:`GENESIS` when the chain is empty.
        history_id: the database's id (:mod:`auditkit.history.schema`, version 3).
    """

    audits: int
    row_hash: str
    history_id: str | None = None

    def stamp(self) -> dict[str, object]:
        """results.json's ``history``: the id the next audit gets, the head it is appended to and the
        history's id (when it has one).

        >>> ChainHead(2, "ab").stamp()
        {'audit_id': 3, 'previous_audits': 2, 'previous_row_hash': 'ab'}
        >>> ChainHead(0, "00", "c3").stamp()["history_id"]
        'c3'
        """
        stamp: dict[str, object] = {"audit_id": self.audits + 1, "previous_audits": self.audits,
                                    "previous_row_hash": self.row_hash}
        if self.history_id is not None:
            stamp["history_id"] = self.history_id
        return stamp

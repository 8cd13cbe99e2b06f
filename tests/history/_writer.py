"""Append audits to a history database: ``python _writer.py DB [COUNT]``, forever without COUNT.

Run as a subprocess by the crash and concurrency tests; each audit is a start_run and a finish_run
transaction, as ``auditkit run`` does, with a summary padded to ~64 KiB so a write takes a while.
"""

from __future__ import annotations

import json
import sys
from itertools import count
from pathlib import Path

from auditkit.history import HistoryStore

SUMMARY = json.dumps({
    "verdict": "pass",
    "dataset": {"fingerprint_sha256": "d" * 64},
    "folds": [{"checkpoint_sha256": "c" * 64}],
    "accuracy": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
    "padding": "x" * 65536,
})


def write(db: Path, limit: int | None) -> None:
    with HistoryStore.open(db) as store:
        for _ in range(limit) if limit is not None else count():
            run = store.start_run("writer", "e" * 64, db.parent)
            store.finish_run(run, SUMMARY, {})


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)

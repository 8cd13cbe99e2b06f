"""Append audits to a history database: ``python _writer.py DB RESULTS_JSON [COUNT]``, forever without
COUNT.

Run as a subprocess by the crash and concurrency tests; each audit is a start_run and a finish_run
transaction, as ``auditkit run`` does, storing the file RESULTS_JSON (padded by the test, so a write
takes a while).
"""

from __future__ import annotations

import sys
from itertools import count
from pathlib import Path

from auditkit.history import HistoryStore


def write(db: Path, summary: str, limit: int | None) -> None:
    with HistoryStore.open(db) as store:
        for _ in range(limit) if limit is not None else count():
            run = store.start_run("writer", "e" * 64, db.parent)
            store.finish_run(run, summary, {})


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[2]).read_text(encoding="utf-8"),
          int(sys.argv[3]) if len(sys.argv) > 3 else None)

"""Hold the run lock of a history database until stdin closes: ``python _hold_lock.py DB``; with
``OUT`` after it, the lock of that out folder instead.

Run as a subprocess by the concurrency test, standing for an ``auditkit run`` in progress; prints
``locked`` once it holds the lock.
"""

from __future__ import annotations

import sys
from pathlib import Path

from auditkit.history import hold_lock

if __name__ == "__main__":
    with hold_lock(Path(sys.argv[1]), out_dir=Path(sys.argv[2]) if len(sys.argv) > 2 else None):
        print("locked", flush=True)
        sys.stdin.read()

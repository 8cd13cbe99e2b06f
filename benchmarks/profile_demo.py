"""Where the demo's wall time goes: ``make demo``'s work, timed phase by phase from its own log.

Not a test (pytest collects only ``test_*.py``). It does what ``make demo`` does, from an empty out
folder: a demo signer (``auditkit keygen``), ``auditkit run policies/digits.yaml`` with that key
(:func:`auditkit.api.certify`, so the audit, report, signature and history record) and
``auditkit verify``, and stamps every log line with the seconds since the start. A phase is the time
from the previous log line to the line that ends it, so the table adds up to the wall time:

    nice -n 5 .venv/bin/python -u benchmarks/profile_demo.py [POLICY] [OUT]

(default ``policies/digits.yaml`` and a fresh temporary folder). It prints the stamped log and a
markdown table of the phases summed by kind: the clean trainings, each explainer's pass at the clean
level (explanations, distances, muF, its bootstrap and ReCo's permutation null: the log line comes
after the scores), the properties, the passes of each sanity level, the label-shuffled retrainings,
the trend tests, the report, the signature and the verification.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PHASES: tuple[tuple[str, str], ...] = (
    (r"^keygen done", "demo signer (auditkit keygen)"),
    (r"^fold accuracies", "clean trainings (k folds, with loading the data)"),
    (r"^label shuffling [\d.]+: retrained", "label-shuffled retrainings"),
    (r"^label_shuffling_[\d.]+ (\w+): MeGe", "label-shuffling levels, pass + scores: {0}"),
    (r"^weight_randomisation_[\d.]+ (\w+): MeGe", "weight-randomisation levels, pass + scores: {0}"),
    (r"^sanity_images (\w+): MeGe", "sanity subsample, clean models' pass + scores: {0}"),
    (r"^(\w+): MeGe", "clean level, explanation pass + scores: {0}"),
    (r"^(\w+): SENS_max", "properties (robustness, invariance, completeness): {0}"),
    (r"^sanity check ", "trend tests and verdicts"),
    (r"^report written", "report (HTML and PDF)"),
    (r"^report signed", "signature (PAdES, CMS)"),
)
"""(regex on a log line, the phase that line ends); the first match wins, other lines go to "other"."""


def phase_of(line: str) -> str:
    for pattern, name in PHASES:
        found = re.match(pattern, line)
        if found:
            return name.format(*found.groups())
    return "other (logging, level set-up, accuracy of degraded models, history)"


def main(argv: list[str]) -> None:
    from auditkit.api import certify
    from auditkit.signing.options import SigningOptions

    policy = Path(argv[0]) if argv else ROOT / "policies" / "digits.yaml"
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="auditkit-profile-"))
    start = time.perf_counter()
    last = start
    spent: dict[str, float] = defaultdict(float)

    def stamped(line: str) -> None:
        nonlocal last
        now = time.perf_counter()
        spent[phase_of(line)] += now - last
        last = now
        print(f"{now - start:8.1f} s  {line}", flush=True)

    keys = out / "keys"
    subprocess.run([sys.executable, "-m", "auditkit", "keygen", str(keys), "--name", "profile signer"],
                   check=True, capture_output=True)
    stamped("keygen done")
    certify(policy, out=out, signing=SigningOptions(key=keys / "signer.p12"), log=stamped)
    subprocess.run([sys.executable, "-m", "auditkit", "verify", str(out), "--trust", str(keys / "ca.pem")],
                   check=True, capture_output=True)
    now = time.perf_counter()
    spent["verification (auditkit verify)"] += now - last
    total = now - start
    print("\n| phase | seconds | share |\n| --- | --- | --- |")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"| {name} | {seconds:.1f} | {seconds / total:.1%} |")
    print(f"| **total wall time** | **{total:.1f}** | |")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmark: the demo policy serially and on a local Ray instance of 2 CPUs, number for number.

``policies/digits.yaml`` as shipped (1,797 images, k = 5, 50 epochs, eight explainers, both sanity
checks at three levels, the properties: 20 trainings, 56 explanation passes) plus a ``ray`` section
(``num_cpus: 2``, ``cpus_per_task: 1``), audited twice through the engine (no report): serially with
one torch thread, then on a local Ray instance the run starts and shuts down. It checks what
``tests/engine/test_ray.py`` checks on a small policy (every number of results.json but the time
stamps, the same work files, byte for byte) and prints the wall time of each run and the speed-up.
This comparison was a test until it took 22 of the suite's 27 minutes; its figures are in
``benchmarks/RESULTS.md``.

Run: ``.venv/bin/python benchmarks/bench_ray_demo.py [--out DIR] [--policy PATH]`` (about 22 minutes
on 2 CPU cores; exit status 1 when a number or a work file differs). ``--policy`` compares another
policy of the same shape (eight explainers, both sanity checks, the properties) instead of the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from demo_checkpoint import ensure_demo_checkpoint  # this folder is on sys.path: a script

ROOT = Path(__file__).resolve().parent.parent
DEMO_POLICY = ROOT / "policies" / "digits.yaml"
RAY_SECTION = "ray:\n  num_cpus: 2\n  cpus_per_task: 1\n"
VOLATILE = ("created", "run_seconds", "reused_from_earlier_run")


def numbers(results: Path) -> dict:
    """Everything in results.json but the time stamps."""
    data = json.loads(results.read_text())
    for key in VOLATILE:
        data.pop(key)
    return data


def timed_audit(policy: Path, out: Path, ray: bool) -> tuple[float, float]:
    """Wall time of one audit from scratch and its ``run_seconds``."""
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import load_policy

    start = time.perf_counter()
    run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False, ray=ray))
    wall = time.perf_counter() - start
    return wall, json.loads((out / "results.json").read_text())["run_seconds"]


def compare(serial: Path, on_ray: Path) -> list[str]:
    """What differs between the two runs (empty when they agree number for number)."""
    problems = []
    expected, got = numbers(serial / "results.json"), numbers(on_ray / "results.json")
    if got != expected:
        problems.append("results.json: the numbers differ: "
                        + ", ".join(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k)))
    if len(got["explainers"]) != 8 or not got["property_checks"]:
        problems.append("results.json: not the eight explainers with the properties")
    if set(got["sanity_checks"]) != {"weight_randomisation", "label_shuffling"}:
        problems.append("results.json: not both sanity checks")
    work = sorted(path.name for path in (serial / "work").iterdir())
    if sorted(path.name for path in (on_ray / "work").iterdir()) != work:
        problems.append("work/: not the same files")
    problems += [f"work/{name}: the bytes differ" for name in work
                 if (on_ray / "work" / name).exists()
                 and (serial / "work" / name).read_bytes() != (on_ray / "work" / name).read_bytes()]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep both out folders here, an empty or new folder "
                        "(default: a temporary folder)")
    parser.add_argument("--policy", type=Path, default=DEMO_POLICY, help="default: policies/digits.yaml")
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        print("needs ray: pip install 'auditkit[ray]'", file=sys.stderr)
        return 2
    ensure_demo_checkpoint(args.policy)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.pop("RAY_ADDRESS", None)
    torch.set_num_threads(1)  # the tasks run one thread each (cpus_per_task: 1): same float sums
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"ray {ray.__version__}, 1 torch thread per process")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            print(f"{folder} is not empty: the runs would reuse its work", file=sys.stderr)
            return 2
        policy = folder / args.policy.name
        policy.write_text(args.policy.read_text() + RAY_SECTION)
        serial, on_ray = folder / "serial", folder / "ray"
        wall_s, run_s = timed_audit(policy, serial, ray=False)
        print(f"serial: {wall_s:.0f} s wall (run_seconds {run_s:.0f})", flush=True)
        wall_r, run_r = timed_audit(policy, on_ray, ray=True)
        print(f"ray:    {wall_r:.0f} s wall (run_seconds {run_r:.0f}), including the start of the local "
              f"instance; {wall_s / wall_r:.2f}x", flush=True)
        print(f"both:   {wall_s + wall_r:.0f} s")
        problems = compare(serial, on_ray)
    for line in problems:
        print(line)
    print("identical: every number of results.json and every work file byte for byte" if not problems
          else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

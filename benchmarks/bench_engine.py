"""Benchmark of the audit engine (issue: the audit engine).

1. Wall time and peak memory (max RSS) of the demo audit, ``policies/digits.yaml``, from scratch.
2. Each explainer's images/s against the model's raw forward+backward images/s at the same batch
   size, on the demo's small CNN and digits images. Methods that evaluate the model m times per
   image (Integrated Gradients, SmoothGrad, RISE) are also given as model evaluations/s.
3. Peak memory of the streaming explanation pass (k = 5 models, Saliency) at 1x and 10x the data.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--skip-demo]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from demo_checkpoint import ensure_demo_checkpoint  # this folder is on sys.path: a script

ROOT = Path(__file__).resolve().parent.parent


def demo_audit() -> None:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "auditkit", "run", str(ROOT / "policies" / "digits.yaml"),
               "--out", out, "--quiet"]
        start = time.perf_counter()
        code = subprocess.call(cmd)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"demo audit: exit {code}, wall {wall:.1f} s, peak RSS {peak:.0f} MiB (goal < 180 s)")


def _model_and_data(n: int):
    from auditkit.data import load_dataset
    from auditkit.engine.crosstrain import fresh_model
    from auditkit.policy import load_policy

    policy = load_policy(ROOT / "policies" / "digits.yaml")
    data = load_dataset("digits")
    model = fresh_model(policy, data).eval()
    index = torch.arange(n) % len(data)
    return policy, model, data.x(index), data.labels[index]


def explainer_rates(batch: int = 256, n: int = 1024) -> None:
    from auditkit.explainers import make_explainer

    policy, model, x, y = _model_and_data(n)

    def raw() -> None:
        for s in range(0, n, batch):
            xb = x[s : s + batch].clone().requires_grad_(True)
            out = model(xb).gather(1, y[s : s + batch, None]).sum()
            torch.autograd.grad(out, xb)

    raw()
    start = time.perf_counter()
    raw()
    raw_rate = n / (time.perf_counter() - start)
    print(f"raw forward+backward: {raw_rate:,.0f} images/s (batch {batch})")
    evals = {"integrated_gradients": "steps", "smoothgrad": "samples", "rise": "masks"}
    for spec in policy.explainers:
        settings = dict(spec.settings)
        explainer = make_explainer(spec.name, model, layer=model.target_layer, batch_size=batch,
                                   **settings)
        count = n if spec.name not in evals else max(batch, n // 8)
        explainer.explain(x[:8], y[:8])
        start = time.perf_counter()
        explainer.explain(x[:count], y[:count])
        rate = count / (time.perf_counter() - start)
        line = f"  {spec.name:22s} {rate:10,.1f} images/s = {100 * rate / raw_rate:5.1f}% of raw"
        if spec.name in evals:
            m = settings.get(evals[spec.name], {"steps": 60, "samples": 60, "masks": 1000}[evals[spec.name]])
            line += f"; {rate * m:,.0f} model evaluations/s = {100 * rate * m / raw_rate:.0f}% of raw"
        print(line)


MEMORY_CHILD = r"""
import resource, sys, torch
sys.path.insert(0, sys.argv[2])
from bench_engine import _model_and_data
from auditkit.engine.distances import collect_distances, pair_categories
from auditkit.explainers import make_explainer

class Tiled:
    def __init__(self, x, y): self.images, self.labels = x, y
    def __len__(self): return self.images.shape[0]
    image_size = (8, 8)
    def x(self, index): return self.images[index]

n = int(sys.argv[1])
_, model, x, y = _model_and_data(n)
data = Tiled(x, y)
k = 5
fold_of = torch.arange(n) % k
preds = y[:, None].expand(n, k)
explainers = [make_explainer("saliency", model, batch_size=256) for _ in range(k)]
collect_distances(explainers, data, fold_of, pair_categories(preds, y, fold_of), preds, batch_size=256,
                  device=torch.device("cpu"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def streaming_memory(n: int = 1797) -> None:
    peaks = []
    for size in (n, 10 * n):
        out = subprocess.check_output(
            [sys.executable, "-c", MEMORY_CHILD, str(size), str(ROOT / "benchmarks")], text=True)
        peaks.append(float(out.strip().splitlines()[-1]))
    growth = 100 * (peaks[1] - peaks[0]) / peaks[0]
    print(f"streaming pass peak RSS: {peaks[0]:.0f} MiB at {n} images, {peaks[1]:.0f} MiB at "
          f"{10 * n} images: +{growth:.1f}% (goal < 20%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    print(json.dumps({"machine": platform.machine(), "processor": platform.processor(),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))
    if not args.skip_demo:
        ensure_demo_checkpoint()
        demo_audit()
    explainer_rates()
    streaming_memory()


if __name__ == "__main__":
    main()

"""Benchmark of Occlusion, KernelSHAP, LIME and Expected Gradients (issue 28, item 2).

Each method's model evaluations per second against the model's raw rate at the same batch size, on
the demo's small CNN (``policies/digits.yaml``) and digits images: the forward rate (autograd off)
for the three perturbation methods, the forward+backward rate for Expected Gradients. The target is
>= 85 % of the raw rate, measured next to each method over as many evaluations as it makes
(:func:`raw_passes`, :func:`paired_seconds`). Evaluations per image: Occlusion ``1 + n_h n_w``
windows, KernelSHAP and LIME ``samples``, Expected Gradients ``samples`` (forward and backward).

Run: ``nice .venv/bin/python benchmarks/bench_captum_methods.py [--images N] [--methods NAME ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from auditkit.data import load_dataset
from auditkit.engine.crosstrain import fresh_model
from auditkit.explainers import make_explainer
from auditkit.explainers.occlusion import window_count
from auditkit.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
BATCH = 256
METHODS: dict[str, dict[str, object]] = {
    "occlusion": {"window": 2, "stride": 1},
    "kernel_shap": {"samples": 256, "groups": "slic", "segments": 16},
    "lime": {"samples": 256, "groups": "slic", "segments": 16},
    "expected_gradients": {"samples": 64},
}
"""Settings measured: a sample count of one full evaluation batch each."""


ROUNDS = 5
"""Timed rounds per method, after one warm-up round."""


def paired_seconds(work: Callable[[], object], raw: Callable[[], object]) -> tuple[float, float]:
    """Median seconds of ``raw()`` and of ``work()`` over :data:`ROUNDS` rounds, each timing the two back
    to back after one warm-up round: the machine is shared, so the raw rate is measured next to each
    method, and the median keeps a round slowed by another job from setting the ratio."""
    raw(), work()
    pairs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        raw()
        middle = time.perf_counter()
        work()
        pairs.append((middle - start, time.perf_counter() - middle))
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def raw_passes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
               rows: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """The forward pass (autograd off) and forward+backward over ``rows`` images (``x`` repeated), in
    batches of :data:`BATCH`: as many evaluations as the method makes, so the two timings last about
    as long and meet the same share of the shared machine."""
    index = torch.arange(rows) % x.shape[0]
    xr, yr = x[index], y[index]

    def forward() -> None:
        with torch.no_grad():
            for s in range(0, rows, BATCH):
                model(xr[s : s + BATCH])

    def backward() -> None:
        for s in range(0, rows, BATCH):
            xb = xr[s : s + BATCH].clone().requires_grad_(True)
            torch.autograd.grad(model(xb).gather(1, yr[s : s + BATCH, None]).sum(), xb)

    return forward, backward


def evaluations(name: str, settings: dict[str, object], image_size: tuple[int, int]) -> int:
    """Model evaluations per image of ``name`` with ``settings``."""
    if name == "occlusion":
        window, stride = int(settings["window"]), int(settings["stride"])  # type: ignore[call-overload]
        return 1 + window_count(image_size[0], window, stride) * window_count(image_size[1], window, stride)
    return int(settings["samples"])  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="images explained per method")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="methods measured (default: all)")
    parser.add_argument("--base-filters", type=int, default=None,
                        help="small_cnn's width (default: the demo policy's); the wider, the more the model "
                             "weighs against the method's own work")
    args = parser.parse_args()
    print(json.dumps({"machine": platform.machine(), "processor": platform.processor(),
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "load_average": os.getloadavg(), "base_filters": args.base_filters}))
    policy = load_policy(ROOT / "policies" / "digits.yaml")
    if args.base_filters is not None:
        width = dataclasses.replace(policy.model, base_filters=args.base_filters)
        policy = dataclasses.replace(policy, model=width)
    data = load_dataset("digits")
    model = fresh_model(policy, data).eval()
    x, y = data.x(slice(None)), data.labels
    background = data.x(torch.arange(200, 1200))
    xs, ys = x[: args.images], y[: args.images]
    for name in args.methods:
        settings = METHODS[name]
        explainer = make_explainer(name, model, batch_size=BATCH, background=background, **settings)
        gradient = name == "expected_gradients"
        m = evaluations(name, settings, data.image_size)
        forward, backward = raw_passes(model, x, y, args.images * m)
        raw = backward if gradient else forward
        raw_s, work_s = paired_seconds(lambda e=explainer: e.explain(xs, ys), raw)
        rate, raw_rate = args.images / work_s, args.images * m / raw_s
        kind = "forward+backward" if gradient else "forward"
        print(f"  {name:19s} {settings}: {rate:8,.1f} images/s x {m} = {rate * m:10,.0f} evaluations/s "
              f"= {100 * rate * m / raw_rate:5.1f}% of the raw {kind} rate ({raw_rate:,.0f} images/s, "
              f"batch {BATCH})")


if __name__ == "__main__":
    main()

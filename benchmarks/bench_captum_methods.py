"""Benchmark of Occlusion, KernelSHAP, LIME and Expected Gradients (issue 28, item 2).

Each method's model evaluations per second against the model's raw rate at the same batch size, on
the demo's small CNN (``policies/digits.yaml``) and digits images: the forward rate (autograd off)
for the three perturbation methods, the forward+backward rate for Expected Gradients. The target is
>= 85 % of the raw rate. Evaluations per image: Occlusion ``1 + n_h n_w`` windows, KernelSHAP and
LIME ``samples``, Expected Gradients ``samples`` (forward and backward).

Run: ``nice .venv/bin/python benchmarks/bench_captum_methods.py [--images N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
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


def timed(work: Callable[[], object]) -> float:
    """Seconds of ``work()``, after one warm-up call."""
    work()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def raw_rates(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Images/s of the forward pass (autograd off) and of forward+backward, batches of :data:`BATCH`."""
    n = x.shape[0]

    def forward() -> None:
        with torch.no_grad():
            for s in range(0, n, BATCH):
                model(x[s : s + BATCH])

    def backward() -> None:
        for s in range(0, n, BATCH):
            xb = x[s : s + BATCH].clone().requires_grad_(True)
            torch.autograd.grad(model(xb).gather(1, y[s : s + BATCH, None]).sum(), xb)

    return n / timed(forward), n / timed(backward)


def evaluations(name: str, settings: dict[str, object], image_size: tuple[int, int]) -> int:
    """Model evaluations per image of ``name`` with ``settings``."""
    if name == "occlusion":
        window, stride = int(settings["window"]), int(settings["stride"])  # type: ignore[call-overload]
        return 1 + window_count(image_size[0], window, stride) * window_count(image_size[1], window, stride)
    return int(settings["samples"])  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="images explained per method")
    args = parser.parse_args()
    print(json.dumps({"machine": platform.machine(), "processor": platform.processor(),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))
    policy = load_policy(ROOT / "policies" / "digits.yaml")
    data = load_dataset("digits")
    model = fresh_model(policy, data).eval()
    x, y = data.x(slice(None)), data.labels
    forward, backward = raw_rates(model, x, y)
    print(f"raw rates, batch {BATCH}: forward {forward:,.0f} images/s, "
          f"forward+backward {backward:,.0f} images/s")
    background = data.x(torch.arange(200, 1200))
    xs, ys = x[: args.images], y[: args.images]
    for name, settings in METHODS.items():
        explainer = make_explainer(name, model, batch_size=BATCH, background=background, **settings)
        rate = args.images / timed(lambda e=explainer: e.explain(xs, ys))
        m = evaluations(name, settings, data.image_size)
        gradient = name == "expected_gradients"
        share = 100 * rate * m / (backward if gradient else forward)
        print(f"  {name:19s} {settings}: {rate:8,.1f} images/s x {m} = {rate * m:10,.0f} evaluations/s "
              f"= {share:5.1f}% of the raw {'forward+backward' if gradient else 'forward'} rate")

if __name__ == "__main__":
    main()

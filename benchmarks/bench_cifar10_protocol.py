"""Benchmark of the paper's CIFAR-10 protocol on a GPU (issue: scale with GPU and Ray).

The protocol of Fel et al. for CIFAR-10: k = 5 ResNet-18 (``policies/cifar10.yaml``: b = 32,
dropout 0.25, Adam), all eight explainers, both sanity checks (weight randomisation, label
shuffling with retraining). Measured in one run, on one device:

1. raw forward+backward images/s of one ResNet-18 at the explanation batch size: the ceiling of a
   gradient method;
2. each explainer's images/s on the same model and batch, and its share of the raw rate (Integrated
   Gradients, SmoothGrad and RISE evaluate the model m times per image: also given as model
   evaluations/s);
3. the wall time of the whole audit (``run_audit``), serial or on Ray (``--ray``), in a fresh out
   folder; and the fold accuracies (mixed precision must keep them within the policy's spread).

Data: the real CIFAR-10 python batches when ``--data`` names them; otherwise a generated stand-in
of CIFAR-10's size and format (60,000 uint8 images 3x32x32, 10 classes, written as python batches
under the out folder): class-dependent colour blobs plus noise, so the models learn something and
the accuracies are not at chance. Its scores mean nothing; its timings are CIFAR-10's. Scale it down
with ``--max-images`` and ``--epochs`` for a quicker run.

Run (on a machine with a GPU; figures go to ``benchmarks/RESULTS.md``)::

    .venv/bin/python benchmarks/bench_cifar10_protocol.py --out /tmp/bench_cifar10 \\
        [--data DIR/cifar-10-batches-py] [--max-images 10000] [--epochs 60] [--device cuda] \\
        [--mixed-precision bf16] [--no-deterministic] [--ray] [--skip-audit]
"""

from __future__ import annotations

import argparse
import pickle
import platform
import re
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def standin_cifar10(folder: Path, seed: int = 0) -> Path:
    """Write a CIFAR-10-shaped stand-in as python batches (5 x 10,000 train + 10,000 test) once."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "test_batch").exists():
        return folder
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, size=(10, 3))  # a colour and a blob position per class
    places = rng.integers(6, 26, size=(10, 2))
    yy, xx = np.mgrid[0:32, 0:32]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = rng.integers(0, 10, size=10_000)
        images = rng.normal(0.5, 0.18, size=(10_000, 3, 32, 32))
        for c in range(10):
            mine = labels == c
            dy, dx = places[c]
            blob = np.exp(-((yy - dy) ** 2 + (xx - dx) ** 2) / 40.0)
            images[mine] += (centres[c][:, None, None] - 0.5) * blob * 1.5
        data = (np.clip(images, 0, 1) * 255).astype(np.uint8).reshape(10_000, 3072)
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": data, "labels": labels.tolist()}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"class_{c}" for c in range(10)]}, handle)
    return folder


def write_policy(out: Path, data: Path, args: argparse.Namespace) -> Path:
    """``policies/cifar10.yaml`` (both sanity checks on) with this run's data, size, epochs, options.

    Edited as text: a YAML round trip would turn the thresholds' ``on:`` keys into ``true``.
    """
    text = (ROOT / "policies" / "cifar10.yaml").read_text()
    amp = args.mixed_precision or "false"
    subs = {
        r"(?m)^  path: .*$": f"  path: {data}",
        r"(?m)^  max_images: .*$": f"  max_images: {args.max_images or 'null'}",
        r"(?m)^  epochs: .*$": f"  epochs: {args.epochs}\n  mixed_precision: {amp}",
        r"(?m)^  device: .*$": f"  device: {args.device}\n"
                               f"  deterministic: {str(not args.no_deterministic).lower()}",
        r"(?m)^  out: .*$": f"  out: {out / 'audit'}",
    }
    for pattern, line in subs.items():
        text, count = re.subn(pattern, line, text, count=1)
        assert count == 1, f"policies/cifar10.yaml has no line matching {pattern}"
    path = out / "cifar10_bench.yaml"
    path.write_text(text)
    return path


def timed(fn, device: torch.device, repeat: int = 3) -> float:
    """Best wall time of ``fn()`` over ``repeat`` runs (after one warm-up), synchronised."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def explainer_rates(policy_path: Path, device: torch.device, n: int) -> None:
    from auditkit.data import load_dataset
    from auditkit.engine.crosstrain import fresh_model
    from auditkit.explainers import make_explainer
    from auditkit.policy import load_policy

    policy = load_policy(policy_path)
    d = policy.dataset
    data = load_dataset(d.kind, d.path, split=d.split, max_images=max(n, 20), seed=0)
    model = fresh_model(policy, data).to(device).eval()
    batch = policy.metrics.explain_batch_size
    x, y = data.x(slice(0, n)).to(device), data.labels[:n].to(device)

    def raw() -> None:
        for s in range(0, n, batch):
            xb = x[s : s + batch].clone().requires_grad_(True)
            out = model(xb).gather(1, y[s : s + batch, None]).sum()
            torch.autograd.grad(out, xb)

    raw_rate = n / timed(raw, device)
    print(f"raw forward+backward: {raw_rate:,.0f} images/s (batch {batch}, {n} images)")
    print(f"{'explainer':22s} {'images/s':>10s} {'share of raw':>13s} {'model evals/s':>14s}")
    for spec in policy.explainers:
        explainer = make_explainer(spec.name, model, layer=getattr(model, "target_layer", None),
                                   batch_size=batch, generator_seed=0, **dict(spec.settings))

        def run(explainer=explainer) -> None:
            for s in range(0, n, batch):
                explainer.explain(x[s : s + batch], y[s : s + batch])

        rate = n / timed(run, device, repeat=1)
        m = {"integrated_gradients": "steps", "smoothgrad": "samples", "rise": "masks"}.get(spec.name)
        evals = f"{rate * spec.settings[m]:,.0f}" if m else ""
        print(f"{spec.name:22s} {rate:>10,.0f} {rate / raw_rate:>12.1%} {evals:>14s}")


def whole_audit(policy_path: Path, ray: bool) -> None:
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import load_policy

    policy = load_policy(policy_path)
    start = time.perf_counter()
    result = run_audit(AuditOptions(policy, policy.run.out, device=policy.run.device, progress=True,
                                    ray=ray), log=print)
    wall = time.perf_counter() - start
    accs = ", ".join(f"{f.accuracy:.4f}" for f in result.folds)
    print(f"whole audit ({'Ray' if ray else 'serial'}): {wall:,.0f} s; fold accuracies {accs} "
          f"(spread {result.accuracy_spread:.4f}, allowed {policy.cross_validation.max_accuracy_spread})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="work folder (stand-in data, audit)")
    parser.add_argument("--data", type=Path, help="the real cifar-10-batches-py folder")
    parser.add_argument("--max-images", type=int, help="stratified subsample (default: all 60,000)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--mixed-precision", choices=["bf16", "fp16"])
    parser.add_argument("--no-deterministic", action="store_true", help="cudnn.benchmark = True")
    parser.add_argument("--ray", action="store_true", help="run the audit's tasks on a local Ray")
    parser.add_argument("--rate-images", type=int, default=1024, help="images for the rates")
    parser.add_argument("--skip-audit", action="store_true", help="only the images/s figures")
    args = parser.parse_args()

    from auditkit.engine import resolve_device

    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or standin_cifar10(args.out / "standin-cifar-10-batches-py")
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or platform.machine())
    print(f"device {device} ({name}), torch {torch.__version__}, data "
          f"{'real CIFAR-10' if args.data else 'generated stand-in of CIFAR-10 size'}")
    policy_path = write_policy(args.out, data, args)
    explainer_rates(policy_path, device, args.rate_images)
    if not args.skip_audit:
        whole_audit(policy_path, args.ray)


if __name__ == "__main__":
    main()

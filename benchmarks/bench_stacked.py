"""Does evaluating the k fold models together pay on this machine? One by one against stacked.

Not a test. The audit evaluates k models of one architecture on the same images (every fold model
explains every image). This times, on the demo's model (``small_cnn`` b = 16 on 1x8x8, k = 5) or
the one named, the two kinds of evaluation the explainers make:

* ``forward``: logits of a batch (RISE, muF, predictions), autograd off;
* ``grad``: the gradient of each image's logit with respect to the image (saliency, Integrated
  Gradients, SmoothGrad, Grad-CAM's backward part),

for the k models one after the other, and for the k models stacked with
:func:`torch.func.stack_module_state` and evaluated by one :func:`torch.func.vmap` of
:func:`torch.func.functional_call` (and, for ``grad``, of :func:`torch.func.grad`): one batched
call instead of k. The stacked maps are checked against the one-by-one maps before any timing.
Both use ``nn.MaxPool2d``: vmap cannot take small_cnn's channels-last pool
(:class:`~auditkit.models.small_cnn.MaxPool2x2`), so the comparison is of the same arithmetic.

    .venv/bin/python benchmarks/bench_stacked.py [--family small_cnn] [--size 8] [--k 5]

It prints model evaluations per second (images x models) for both, at batch sizes from 64 to
4,096, median of 7 after a warm-up.
Stacking pays when one call is overhead-bound (per-call Python and dispatch cost larger than the
arithmetic); when the throughput of one model no longer grows with the batch, the arithmetic
dominates, and one vmapped call of k models does the same arithmetic.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, stack_module_state, vmap

from auditkit.models import build_model


def plain_pools(model: nn.Module) -> nn.Module:
    """``model`` with every max pool a plain ``nn.MaxPool2d`` (what vmap can batch)."""
    for name, child in model.named_children():
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.MaxPool2d(child.kernel_size, child.stride))
        else:
            plain_pools(child)
    return model


def median_seconds(work: Callable[[], object], repeats: int = 7) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_by_one(models: list[nn.Module], kind: str, x: Tensor) -> list[Tensor]:
    out = []
    for model in models:
        if kind == "forward":
            with torch.no_grad():
                out.append(model(x))
        else:
            leaf = x.detach().requires_grad_(True)
            out.append(torch.autograd.grad(model(leaf)[:, 0].sum(), leaf)[0])
    return out


def stacked(models: list[nn.Module]) -> Callable[[str, Tensor], Tensor]:
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def logits(p: dict, b: dict, x: Tensor) -> Tensor:
        return functional_call(base, (p, b), (x,))

    def score(p: dict, b: dict, x: Tensor) -> Tensor:
        return logits(p, b, x)[:, 0].sum()

    forward = vmap(logits, in_dims=(0, 0, None))
    gradient = vmap(grad(score, argnums=2), in_dims=(0, 0, None))

    def run(kind: str, x: Tensor) -> Tensor:
        if kind == "forward":
            with torch.no_grad():
                return forward(params, buffers, x)
        return gradient(params, buffers, x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="small_cnn")
    parser.add_argument("--size", type=int, default=8, help="image side (pixels)")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    size = (args.size, args.size)
    models = [plain_pools(build_model(args.family, in_channels=args.channels, num_classes=10,
                                      image_size=size)).eval() for _ in range(args.k)]
    together = stacked(models)
    probe = torch.rand(32, args.channels, *size)
    for kind in ("forward", "grad"):
        reference = torch.stack(one_by_one(models, kind, probe))
        torch.testing.assert_close(together(kind, probe), reference, rtol=1e-4, atol=1e-5)
    print(f"{args.family}, k = {args.k}, {args.channels}x{args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads; model evaluations/s (images x models, median of 7)\n")
    print("| kind | batch | one by one | stacked (vmap) | stacked / one by one |")
    print("| --- | --- | --- | --- | --- |")
    for kind in ("forward", "grad"):
        for batch in (64, 256, 1024, 4096):
            x = torch.rand(batch, args.channels, *size)
            alone = median_seconds(lambda kind=kind, x=x: one_by_one(models, kind, x))
            joint = median_seconds(lambda kind=kind, x=x: together(kind, x))
            rate_alone, rate_joint = batch * args.k / alone, batch * args.k / joint
            print(f"| {kind} | {batch} | {rate_alone:,.0f} | {rate_joint:,.0f} | "
                  f"{rate_joint / rate_alone:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

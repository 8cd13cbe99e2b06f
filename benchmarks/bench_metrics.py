"""Benchmark of the metrics on the engine's workload (issue: foundation).

Measured in one run, so ratios compare like with like on the same machine:

1. ``pairwise_spearman_distance`` on 10,000 images x k = 5 maps of 1x32x32 (a third of each map
   exact zeros), vs a ``scipy.stats.spearmanr`` loop over the k - 1 pairs of each image with its
   own fold's map (the pairs Algorithm 1 needs), and vs the floor: one ``torch.argsort`` of every map.
2. ``reco`` on 10^6 distances.
3. ``mu_fidelity`` images/s vs the model's raw forward images/s on the same number of perturbed
   inputs.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--images 10000]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from scipy.stats import spearmanr
from torch import nn

from auditkit.metrics import mu_fidelity, pairwise_spearman_distance, reco


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def engine_maps(n: int, k: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    maps = torch.rand(n, k, 1, 32, 32, generator=gen)
    zero = torch.rand(n, k, 1, 32, 32, generator=gen) < 1 / 3
    maps[zero] = 0.0
    own_fold = torch.randint(0, k, (n,), generator=gen)
    return maps, own_fold


def bench_spearman(n: int, k: int) -> None:
    gen = torch.Generator().manual_seed(0)
    maps, own = engine_maps(n, k, gen)
    t_pairwise = best_of(lambda: pairwise_spearman_distance(maps))
    t_floor = best_of(lambda: torch.argsort(maps.reshape(n * k, -1), dim=1))
    flat = maps.reshape(n, k, -1).numpy()
    n_scipy = min(n, 2000)  # the loop is extrapolated linearly from 2,000 images

    def scipy_loop() -> None:
        for i in range(n_scipy):
            for j in range(k):
                if j != own[i]:
                    spearmanr(flat[i, own[i]], flat[i, j])

    t_scipy = best_of(scipy_loop, repeat=1) * n / n_scipy
    pairs = n * (k - 1)
    print(f"spearman: {n} images x k={k} maps 1x32x32, {pairs} pairs")
    print(f"  pairwise_spearman_distance  {t_pairwise:8.3f} s  ({pairs / t_pairwise:,.0f} pairs/s)")
    print(f"  scipy.spearmanr loop        {t_scipy:8.3f} s  (extrapolated from {n_scipy} images)")
    print(f"  floor: argsort of every map {t_floor:8.3f} s")
    print(f"  speed-up vs scipy: {t_scipy / t_pairwise:.1f}x (goal >= 4x); "
          f"vs floor: {t_pairwise / t_floor:.2f}x the argsort time (goal <= 2x)")


def bench_reco() -> None:
    gen = torch.Generator().manual_seed(1)
    s_eq = torch.rand(500_000, generator=gen) * 0.8
    s_neq = torch.rand(500_000, generator=gen) * 0.8 + 0.2
    t = best_of(lambda: reco(s_eq, s_neq))
    print(f"reco on 10^6 distances: {t:.3f} s (goal < 1 s)")


def bench_mu_fidelity(n: int, n_subsets: int, batch_size: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(32, 10),
    ).eval()
    x = torch.rand(n, 1, 32, 32)
    attributions = torch.rand(n, 1, 32, 32)
    targets = torch.randint(0, 10, (n,))
    subset = int(0.15 * 32 * 32)

    def run() -> None:
        mu_fidelity(model, x, attributions, targets, subset, n_subsets=n_subsets,
                    generator=torch.Generator().manual_seed(0), batch_size=batch_size)

    total = n * (n_subsets + 1)
    batch = torch.rand(batch_size, 1, 32, 32)

    def raw() -> None:
        with torch.no_grad():
            for _ in range(total // batch_size):
                model(batch)

    # Interleaved, best of 3 each, so both see the same machine state.
    t_mu, t_raw = float("inf"), float("inf")
    for _ in range(3):
        t_mu = min(t_mu, best_of(run, repeat=1))
        t_raw = min(t_raw, best_of(raw, repeat=1) * total / (total // batch_size * batch_size))
    print(f"mu_fidelity: {n} images x {n_subsets} subsets of 1x32x32, batch {batch_size}")
    print(f"  mu_fidelity {total / t_mu:,.0f} perturbed images/s; raw forward {total / t_raw:,.0f} "
          f"images/s: {100 * t_raw / t_mu:.0f}% of raw (goal >= 80%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--mu-images", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    bench_spearman(args.images, args.k)
    bench_reco()
    bench_mu_fidelity(args.mu_images, 128, 1024)


if __name__ == "__main__":
    main()

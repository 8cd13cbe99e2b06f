"""Held-out accuracy and wall time of a policy's k fold models, trained by auditkit's cross-training.

Not a test (pytest collects only ``test_*.py``): one run trains k models. It does what an audit's
first step does (:func:`auditkit.engine.crosstrain.cross_train` on the policy's dataset, folds and
training settings, inline, into a fresh temporary work folder) and nothing else:

    nice -n 10 .venv/bin/python -u benchmarks/bench_crosstrain.py POLICY.yaml [THREADS]

It prints one line per fold (held-out accuracy, |V_i|, seconds) and the total. ``THREADS`` sets
``torch.set_num_threads`` (default: torch's choice).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

from auditkit.data import load_dataset, make_folds
from auditkit.engine.crosstrain import cross_train
from auditkit.engine.preflight import declared_resize
from auditkit.policy import load_policy


def main(argv: list[str]) -> None:
    policy = load_policy(argv[0])
    if len(argv) > 1:
        torch.set_num_threads(int(argv[1]))
    d, cv, t = policy.dataset, policy.cross_validation, policy.training
    dataset = load_dataset(d.kind, d.path, split=d.split, max_images=d.max_images, seed=cv.seed,
                           resize=declared_resize(policy))
    folds = make_folds(dataset.labels, cv.k, cv.seed)
    print(f"{d.kind}: {len(dataset)} images {tuple(dataset.images.shape[1:])}, k = {cv.k}, "
          f"{policy.model.family} b={policy.model.base_filters}, {t.optimizer} lr {t.learning_rate}, "
          f"{t.epochs} epochs, batch {t.batch_size}, {torch.get_num_threads()} threads", flush=True)
    started: list[float] = []

    def on_fold(i: int, n_train: int) -> None:
        now = time.perf_counter()
        if started:
            print(f"  fold {i - 1} trained in {now - started[-1]:.0f} s", flush=True)
        started.append(now)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        models = cross_train(policy, dataset, folds, Path(work), torch.device("cpu"), on_fold=on_fold)
    total = time.perf_counter() - t0
    print(f"  fold {len(folds) - 1} trained in {time.perf_counter() - started[-1]:.0f} s")
    for m in models:
        print(f"fold {m.index}: held-out accuracy {m.accuracy:.4f} (n = {m.n_test})")
    accs = [m.accuracy for m in models]
    print(f"min {min(accs):.4f} mean {sum(accs) / len(accs):.4f} max {max(accs):.4f}; total {total:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Measure a family's held-out accuracy and training time on sklearn digits, 5-fold cross-training.

Not a test (pytest collects only ``test_*.py``): it takes ~30 s. Run it as

    .venv/bin/python benchmarks/bench_digits_training.py \
        [family] [epochs] [batch_size] [lr] [optimizer] [seed]

Without arguments it measures ``small_cnn`` with :data:`SMALL_CNN_DIGITS_TRAINING`. Digits are
1x8x8 images scaled to [0, 1] by /16; folds come from a stratified 5-fold split (shuffled, seed 0);
fold i trains with seed ``config.seed + i``, as the audit engine does.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold

from auditkit.models import SMALL_CNN_DIGITS_TRAINING, accuracy, build_model, train_model


def main(argv: list[str]) -> None:
    family = argv[0] if argv else "small_cnn"
    config = SMALL_CNN_DIGITS_TRAINING
    if len(argv) > 1:
        config = dataclasses.replace(
            config,
            epochs=int(argv[1]),
            batch_size=int(argv[2]),
            learning_rate=float(argv[3]),
            optimizer=argv[4] if len(argv) > 4 else config.optimizer,
            seed=int(argv[5]) if len(argv) > 5 else config.seed,
        )
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    split = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    print(f"{family} {config} threads={torch.get_num_threads()}")
    for fold, (train, test) in enumerate(split.split(digits.images, digits.target)):
        model = build_model(family, in_channels=1, num_classes=10, image_size=(8, 8))
        start = time.perf_counter()
        fold_config = dataclasses.replace(config, seed=config.seed + fold)
        train_model(model, images[train], labels[train], fold_config)
        seconds = time.perf_counter() - start
        acc = accuracy(model, images[test], labels[test])
        print(f"fold {fold}: n_train={len(train)} n_test={len(test)} accuracy={acc:.4f} time={seconds:.2f}s")


if __name__ == "__main__":
    main(sys.argv[1:])

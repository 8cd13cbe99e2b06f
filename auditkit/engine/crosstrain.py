"""Step 1 of Algorithm 1 (Fel et al., appendix A): train f_i on D \\ V_i for every fold i.

Each fold's model is checkpointed with its held-out accuracy under a key that digests everything
the training depends on; a later run with the same key loads it instead of training again, which is
how an interrupted audit resumes without redoing finished folds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from auditkit.data import ImageDataset
from auditkit.engine.keys import digest
from auditkit.models import (
    TrainingConfig,
    accuracy,
    build_model,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_model,
)
from auditkit.policy import Policy


@dataclass(frozen=True)
class FoldModel:
    """A trained fold predictor f_i.

    Attributes:
        index: fold i (0-based).
        model: f_i, in eval mode on the audit's device.
        accuracy: accuracy of f_i on its held-out fold V_i, in [0, 1].
        n_test: |V_i|.
        checkpoint_sha256: SHA-256 of the checkpoint file.
        reused: True when loaded from an earlier run's checkpoint.
    """

    index: int
    model: nn.Module
    accuracy: float
    n_test: int
    checkpoint_sha256: str
    reused: bool


def fresh_model(policy: Policy, dataset: ImageDataset) -> nn.Module:
    """An untrained model of the policy's family for this dataset's shape."""
    return build_model(
        policy.model.family,
        in_channels=dataset.in_channels,
        num_classes=dataset.num_classes,
        image_size=dataset.image_size,
        base_filters=policy.model.base_filters,
        dropout=policy.model.dropout,
    )


def training_config(policy: Policy, fold: int, seed_offset: int = 0) -> TrainingConfig:
    """The policy's training settings; fold i trains with seed ``training.seed + i``."""
    t = policy.training
    return TrainingConfig(
        epochs=t.epochs,
        batch_size=t.batch_size,
        optimizer=t.optimizer,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        seed=t.seed + fold + seed_offset,
    )


def fold_key(policy: Policy, dataset: ImageDataset, fold: int, labels_digest: str) -> str:
    """Digest of everything f_i depends on: data, folds, labels, model and training settings."""
    cv = policy.cross_validation
    return digest(
        {
            "dataset": dataset.fingerprint,
            "labels": labels_digest,
            "folds": {"k": cv.k, "seed": cv.seed},
            "fold": fold,
            "model": policy.to_dict()["model"],
            "training": policy.to_dict()["training"],
        }
    )


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cross_train(
    policy: Policy,
    dataset: ImageDataset,
    folds: list[torch.Tensor],
    workdir: Path,
    device: torch.device,
    *,
    labels: torch.Tensor | None = None,
    tag: str = "fold",
    on_fold: Callable[[int, int], Callable[[int], None] | None] | None = None,
) -> list[FoldModel]:
    """Train (or reload) the k fold models.

    Args:
        labels: training labels ``[N]``; default the dataset's (label shuffling passes others).
        tag: checkpoint name prefix (``fold``, or a sanity check's).
        on_fold: called with ``(fold, n_train)`` before training a fold; may return a per-batch
            progress callback.
    """
    labels = dataset.labels if labels is None else labels
    labels_digest = hashlib.sha256(labels.numpy().tobytes()).hexdigest()
    out: list[FoldModel] = []
    for i, held_out in enumerate(folds):
        model = fresh_model(policy, dataset)
        key = fold_key(policy, dataset, i, labels_digest)
        path = workdir / f"{tag}_{i}.pt"
        meta = _try_load(path, model, key)
        reused = meta is not None
        if meta is None:
            train_idx = _complement(held_out, len(dataset))
            progress = on_fold(i, int(train_idx.numel())) if on_fold else None
            train_model(
                model,
                dataset.images[train_idx],
                labels[train_idx],
                training_config(policy, i),
                device=device,
                progress=progress,
            )
            acc = accuracy(model, dataset.images[held_out], dataset.labels[held_out], device=device)
            meta = {"key": key, "fold": i, "accuracy": acc, "n_test": int(held_out.numel())}
            save_checkpoint(path, model.cpu(), meta)
        model.to(device).eval()
        out.append(
            FoldModel(i, model, float(meta["accuracy"]), int(meta["n_test"]), _sha256_file(path), reused)
        )
    return out


def _try_load(path: Path, model: nn.Module, key: str) -> dict | None:
    """Load a finished fold's checkpoint if it exists and was made under the same key."""
    if not path.exists():
        return None
    try:
        probe = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # an unreadable checkpoint is not finished work: train again
        return None
    if not isinstance(probe, dict) or probe.get("meta", {}).get("key") != key:
        return None
    return load_checkpoint(path, model)


def _complement(index: torch.Tensor, n: int) -> torch.Tensor:
    keep = torch.ones(n, dtype=torch.bool)
    keep[index] = False
    return keep.nonzero().squeeze(1)


def predictions(models: list[FoldModel], dataset: ImageDataset, device: torch.device) -> torch.Tensor:
    """Predicted labels of every fold model on every image: ``Tensor[N, k]`` (int64, CPU)."""
    return torch.stack([predict(m.model, dataset.images, device=device).cpu() for m in models], dim=1)

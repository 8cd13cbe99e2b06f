"""CIFAR-10, python version: the pickled batches of the ``cifar-10-batches-py`` folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from auditkit.data._safe_pickle import load_numpy_pickle
from auditkit.data.dataset import ImageDataset
from auditkit.errors import DataError

CIFAR10_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META_FILE = "batches.meta"
_EXPECTED = (
    "the python batches data_batch_1..5, test_batch and batches.meta "
    f"(the '{CIFAR10_FOLDER}' folder of the CIFAR-10 python version)"
)
_PIXELS = 3 * 32 * 32
_BATCH_IMAGES = 10_000
"""Images in each CIFAR-10 python batch; no array of a batch may hold more than ``_BATCH_IMAGES`` images."""


def cifar10_folder(path: Path) -> Path:
    """``path`` itself, or ``path / "cifar-10-batches-py"`` when that folder exists (path is its parent)."""
    inner = path / CIFAR10_FOLDER
    folder = inner if inner.is_dir() else path
    if not folder.is_dir():
        raise DataError(
            f"CIFAR-10 folder {folder} not found: expected {_EXPECTED}", path=folder, expected=_EXPECTED
        )
    return folder


def load_cifar10(path: str | Path, split: str) -> ImageDataset:
    """CIFAR-10 as uint8 ``[N, 3, 32, 32]`` with the class names of ``batches.meta``.

    Args:
        path: the ``cifar-10-batches-py`` folder or its parent.
        split: ``"train"`` (data_batch_1..5, 50,000 images), ``"test"`` (test_batch, 10,000) or ``"all"``
            (train then test).

    The batches are read with a pickle reader that only rebuilds numpy arrays
    (:mod:`auditkit.data._safe_pickle`), so a crafted batch raises :class:`DataError` instead of running code,
    and every array is checked against at most 10,000 images of 3x32x32 before numpy allocates it.
    Python 2 (the official files) and Python 3 pickles are accepted, with bytes or str keys.
    """
    folder = cifar10_folder(Path(path))
    names = {"train": TRAIN_BATCHES, "test": TEST_BATCHES, "all": TRAIN_BATCHES + TEST_BATCHES}[split]
    classes = _read_meta(_require(folder / META_FILE))
    parts = [_read_batch(_require(folder / name), len(classes)) for name in names]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts])).view(-1, 3, 32, 32)
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return ImageDataset.from_tensors("cifar10", images, labels, classes, str(folder))


def _require(file: Path) -> Path:
    if not file.is_file():
        raise DataError(
            f"CIFAR-10 file {file} not found: expected {_EXPECTED}", path=file, expected=_EXPECTED
        )
    return file


def _field(obj: Any, key: str, file: Path) -> Any:
    """``obj[key]`` for a dict keyed by bytes (Python 2 pickles) or str (Python 3 pickles)."""
    if isinstance(obj, dict):
        for k in (key.encode("ascii"), key):
            if k in obj:
                return obj[k]
    raise DataError(
        f"{file}: no '{key}' entry; not a CIFAR-10 python batch",
        path=file,
        expected=f"a dict with a '{key}' entry",
    )


def _read_meta(file: Path) -> tuple[str, ...]:
    names = _field(load_numpy_pickle(file, _BATCH_IMAGES * _PIXELS), "label_names", file)
    if not isinstance(names, list) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(
            f"{file}: 'label_names' must be a non-empty list of strings",
            path=file,
            expected="label_names: list of class names",
        )
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else n for n in names)


def _read_batch(file: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(data uint8 [n, 3072], labels int64 [n])`` of one batch, checked."""
    batch = load_numpy_pickle(file, _BATCH_IMAGES * _PIXELS)
    data = _field(batch, "data", file)
    is_array = isinstance(data, np.ndarray)
    if not is_array or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS \
            or data.shape[0] > _BATCH_IMAGES:
        got = f"shape {data.shape} dtype {data.dtype}" if is_array else type(data).__name__
        raise DataError(
            f"{file}: 'data' must be a uint8 array [n <= {_BATCH_IMAGES}, {_PIXELS}], got {got}",
            path=file,
            expected=f"data: uint8 [n, {_PIXELS}] (3 channel planes of 32x32)",
        )
    try:
        labels = np.asarray(_field(batch, "labels", file), dtype=np.int64)
    except (TypeError, ValueError):
        labels = np.empty((0, 0), dtype=np.int64)
    out_of_range = labels.size and (labels.min() < 0 or labels.max() >= num_classes)
    if labels.shape != (data.shape[0],) or out_of_range:
        raise DataError(
            f"{file}: 'labels' must be {data.shape[0]} integers in [0, {num_classes}), got shape "
            f"{labels.shape}" + (f" range [{labels.min()}, {labels.max()}]" if labels.size else ""),
            path=file,
            expected=f"labels: {data.shape[0]} class indices",
        )
    return np.ascontiguousarray(data), labels

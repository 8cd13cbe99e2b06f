"""Fashion-MNIST from its idx files (gzipped as distributed, or un-gzipped)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from auditkit.data.dataset import ImageDataset
from auditkit.errors import DataError

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""The standard label names, index = label (zalandoresearch/fashion-mnist README)."""

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""(images, labels) file stems per split; each is looked up as ``stem.gz`` then ``stem``."""

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_EXPECTED = (
    "the idx files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte, each gzipped (.gz) or not"
)


def fashion_mnist_folder(path: Path) -> Path:
    """``path``, or torchvision's download layout ``path / "FashionMNIST" / "raw"`` when that exists."""
    torchvision_layout = path / "FashionMNIST" / "raw"
    folder = torchvision_layout if torchvision_layout.is_dir() else path
    if not folder.is_dir():
        raise DataError(
            f"Fashion-MNIST folder {folder} not found: expected {_EXPECTED}", path=folder, expected=_EXPECTED
        )
    return folder


def load_fashion_mnist(path: str | Path, split: str) -> ImageDataset:
    """Fashion-MNIST as uint8 ``[N, 1, H, W]`` (28x28 for the real files) with the 10 standard names.

    Args:
        path: the folder holding the idx files (or the root of torchvision's ``FashionMNIST/raw``).
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (train then test).

    The image size is taken from the idx header rather than assumed; image and label counts must agree.
    """
    folder = fashion_mnist_folder(Path(path))
    splits = ("train", "test") if split == "all" else (split,)
    images, labels = [], []
    for s in splits:
        image_file, label_file = (_find(folder, stem) for stem in SPLIT_FILES[s])
        x = read_idx(image_file, IMAGES_MAGIC)
        y = read_idx(label_file, LABELS_MAGIC)
        if x.shape[0] != y.shape[0]:
            raise DataError(
                f"{image_file} holds {x.shape[0]} images but {label_file} holds {y.shape[0]} labels",
                path=label_file,
                expected=f"{x.shape[0]} labels",
            )
        if y.size and y.max() >= len(FASHION_MNIST_CLASSES):
            raise DataError(
                f"{label_file}: label {y.max()} is not a Fashion-MNIST class (0..9)",
                path=label_file,
                expected="labels 0..9",
            )
        images.append(x)
        labels.append(y)
    if len({x.shape[1:] for x in images}) > 1:
        raise DataError(
            f"{folder}: train and test images differ in size ({images[0].shape[1:]} vs "
            f"{images[1].shape[1:]})",
            path=folder,
            expected="one image size",
        )
    x_all = torch.from_numpy(np.concatenate(images)).unsqueeze(1)
    y_all = torch.from_numpy(np.concatenate(labels).astype(np.int64))
    return ImageDataset.from_tensors("fashion_mnist", x_all, y_all, FASHION_MNIST_CLASSES, str(folder))


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"Fashion-MNIST file {folder / stem}[.gz] not found: expected {_EXPECTED}",
        path=folder / f"{stem}.gz",
        expected=_EXPECTED,
    )


def read_idx(file: Path, magic: int) -> np.ndarray:
    """Read an idx file of unsigned bytes: ``uint8`` array of the shape its header gives.

    Layout (big-endian): a uint32 magic whose low byte is the number of dimensions and whose third byte is
    0x08 (unsigned byte data), one uint32 per dimension, then exactly prod(dims) bytes. Gzip is detected by
    its magic bytes, not by the file name.

    Raises:
        DataError: wrong magic, truncated or over-long payload, or a corrupt gzip stream; names ``file``.
    """
    raw = file.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{file}: corrupt or truncated gzip stream: {exc}", path=file, expected="a gzipped idx file"
            ) from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{file}: truncated idx header ({len(raw)} bytes, expected {header})",
            path=file,
            expected=f"an idx file with magic {magic}",
        )
    found = int(np.frombuffer(raw, dtype=">u4", count=1)[0])
    if found != magic:
        raise DataError(
            f"{file}: bad idx magic number {found}, expected {magic}",
            path=file,
            expected=f"an idx file with magic {magic}",
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        raise DataError(
            f"{file}: the header promises {size} data bytes for shape {dims}, the file holds "
            f"{len(raw) - header} (truncated or corrupt)",
            path=file,
            expected=f"{size} data bytes after the header",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()

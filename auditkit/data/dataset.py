"""The in-memory image dataset every loader returns, with a content fingerprint for the report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from auditkit._tensors import as_float_images
from auditkit.data.errors import DatasetArgumentError


def fingerprint(images: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...]) -> str:
    """Hex SHA-256 over exactly: the images' bytes (contiguous, native order, which is little-endian on
    every platform torch ships for), the labels as int64 little-endian, then ``"\\n".join(classes)`` in UTF-8.

    Args:
        images: ``Tensor[N, C, H, W]`` uint8 or float32.
        labels: ``Tensor[N]`` integer.
        classes: class names, index = label.
    """
    h = hashlib.sha256()
    h.update(images.detach().cpu().contiguous().numpy().data)
    h.update(labels.detach().cpu().numpy().astype("<i8").data)
    h.update("\n".join(classes).encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled image set held in memory.

    Build one with :meth:`from_tensors`, which checks the tensors and computes the fingerprint; the plain
    constructor trusts its arguments. Equality is identity (``eq=False``): comparing tensors field by field
    has no single truth value, compare ``fingerprint`` instead.

    >>> ds = ImageDataset.from_tensors("toy", torch.zeros(4, 1, 2, 2, dtype=torch.uint8),
    ...                                torch.tensor([0, 1, 0, 1]), ("a", "b"), "doctest")
    >>> len(ds), ds.num_classes, ds.in_channels, ds.image_size
    (4, 2, 1, (2, 2))
    >>> ds.x(slice(0, 2)).dtype
    torch.float32
    """

    name: str
    """Short name of the dataset, e.g. ``"digits"``, ``"cifar10"``."""
    images: torch.Tensor
    """``Tensor[N, C, H, W]``: uint8 (0..255) for on-disk formats, float32 in [0, 1] for digits."""
    labels: torch.Tensor
    """``Tensor[N]`` int64 in ``[0, num_classes)``."""
    classes: tuple[str, ...]
    """Class names; ``classes[label]`` names a label."""
    fingerprint: str
    """Hex SHA-256 of the content, see :func:`fingerprint`."""
    source: str
    """Where the data came from, for the report: a path or ``"sklearn bundled digits"``."""

    @classmethod
    def from_tensors(
        cls, name: str, images: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...], source: str
    ) -> ImageDataset:
        """Check shapes, dtypes and label range, then build the dataset with its fingerprint."""
        if images.dim() != 4 or images.dtype not in (torch.uint8, torch.float32):
            raise DatasetArgumentError(
                f"images must be a uint8 or float32 tensor [N, C, H, W], got shape {tuple(images.shape)} "
                f"dtype {images.dtype}"
            )
        if labels.shape != images.shape[:1] or labels.dtype != torch.int64:
            raise DatasetArgumentError(
                f"labels must be an int64 tensor [{images.shape[0]}] (one per image), got shape "
                f"{tuple(labels.shape)} dtype {labels.dtype}"
            )
        classes = tuple(classes)
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
            raise DatasetArgumentError(
                f"labels must lie in [0, {len(classes)}) for {len(classes)} classes, got range "
                f"[{int(labels.min())}, {int(labels.max())}]"
            )
        images, labels = images.contiguous(), labels.contiguous()
        return cls(name, images, labels, classes, fingerprint(images, labels, classes), source)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """Number of class names (a class may have no image after subsetting)."""
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        """C of ``[N, C, H, W]``."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def x(self, index: torch.Tensor | slice) -> torch.Tensor:
        """Images ``index`` as float32 ``Tensor[n, C, H, W]`` in [0, 1]: a new tensor, never a view of
        :attr:`images`, so callers may modify it in place."""
        part = self.images[index]
        if part.dtype == torch.uint8:
            return as_float_images(part)
        return part.clone()

    def subset(self, index: torch.Tensor) -> ImageDataset:
        """The images ``index`` (1-D int indices or a bool mask ``[N]``), same name, classes and source,
        with its own fingerprint. Order follows ``index``."""
        index = _check_index(index, len(self))
        return ImageDataset.from_tensors(
            self.name, self.images[index], self.labels[index], self.classes, self.source
        )


def _check_index(index: object, n: int) -> torch.Tensor:
    """``index`` as a CPU tensor if it is a bool mask ``[n]`` or 1-D integer indices in ``[0, n)``."""
    if not isinstance(index, torch.Tensor):
        raise DatasetArgumentError(f"index must be a 1-D integer or bool tensor, got {type(index).__name__}")
    if index.dim() != 1 or index.dtype.is_floating_point or index.dtype.is_complex:
        raise DatasetArgumentError(
            f"index must be a 1-D integer or bool tensor, got shape {tuple(index.shape)} dtype {index.dtype}"
        )
    if index.dtype == torch.bool:
        if index.numel() != n:
            raise DatasetArgumentError(f"a bool index must have length {n}, got {index.numel()}")
    elif index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
        raise DatasetArgumentError(
            f"index values must lie in [0, {n}), got range [{int(index.min())}, {int(index.max())}]"
        )
    return index.cpu()

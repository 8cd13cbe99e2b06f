"""One entry point that loads any supported dataset kind, optionally subsampled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditkit._validation import check_int
from auditkit.data.cifar10 import load_cifar10
from auditkit.data.dataset import ImageDataset
from auditkit.data.digits import load_digits
from auditkit.data.errors import DatasetArgumentError, DatasetKindError, data_error
from auditkit.data.fashion_mnist import load_fashion_mnist
from auditkit.data.folder import load_eurosat, load_image_folder
from auditkit.data.preprocess import Resize, convert_channels, resize_crop
from auditkit.data.sampling import stratified_subsample
from auditkit.errors import DataError

IN_MEMORY = "python"
"""The ``kind`` of images handed over in Python (``auditkit.audit(data=...)``), read from no file."""

DATASET_KINDS: tuple[str, ...] = ("digits", "cifar10", "fashion_mnist", "eurosat", "imagefolder", IN_MEMORY)
"""Accepted values of ``kind``."""

SPLITS: dict[str, tuple[str, ...]] = {
    "digits": ("all",),
    "cifar10": ("train", "test", "all"),
    "fashion_mnist": ("train", "test", "all"),
    "eurosat": ("all",),
    "imagefolder": ("train", "test", "all"),
    IN_MEMORY: ("all",),
}
"""Accepted ``split`` values per kind; ``"all"`` is train followed by test where a dataset has both."""

_ON_DISK: dict[str, Callable[[Path, str], ImageDataset]] = {
    "cifar10": load_cifar10,
    "fashion_mnist": load_fashion_mnist,
}
_FOLDERS: dict[str, Callable[..., ImageDataset]] = {
    "eurosat": load_eurosat,
    "imagefolder": load_image_folder,
}


def load_dataset(
    kind: str,
    path: str | Path | None = None,
    *,
    split: str = "all",
    max_images: int | None = None,
    seed: int = 0,
    resize: Resize | None = None,
    given: ImageDataset | None = None,
) -> ImageDataset:
    """Load a dataset of ``kind`` (one of :data:`DATASET_KINDS`) into memory.

    Args:
        kind: ``"digits"`` (bundled with scikit-learn, float32 [N, 1, 8, 8]), ``"cifar10"`` (python
            batches), ``"fashion_mnist"`` (idx files), ``"eurosat"`` (RGB class folders) or
            ``"imagefolder"`` (any class folders); on-disk kinds give uint8 ``[N, C, H, W]``;
            ``"python"``: the images ``given``.
        path: where the files are; must be ``None`` for digits, required otherwise.
        split: see :data:`SPLITS`.
        max_images: keep a stratified, seeded subsample of at most this many images, in their original
            order (:func:`auditkit.data.sampling.stratified_subsample`); must be >= the number of classes.
        seed: seeds the subsample; int >= 0.
        resize: declared resize, centre crop and channels (:class:`~auditkit.data.preprocess.Resize`),
            applied to every image before subsampling; folder kinds resize each image as it is read,
            so their images may have any sizes. ``None``: images as stored.
        given: the images of kind ``"python"`` (required for it, refused for the others), already
            resized (:func:`~auditkit.data.memory.from_python` applies ``resize``).

    Raises:
        DatasetKindError: unknown ``kind``.
        DatasetArgumentError: bad ``split``, ``max_images`` or ``seed``.
        DataError: missing or malformed files, a path given for digits or missing for the others.

    >>> ds = load_dataset("digits", max_images=100, seed=1)
    >>> len(ds), ds.num_classes, tuple(ds.images.shape[1:])
    (100, 10, (1, 8, 8))
    """
    max_images, seed = _check_arguments(kind, split, max_images, seed, given)
    dataset = given if given is not None else _read(kind, path, split, resize)
    if kind not in _FOLDERS:
        dataset = _preprocess(dataset, resize, resized=given is not None)
    if max_images is None:
        return dataset
    if max_images < dataset.num_classes:
        raise DatasetArgumentError(
            f"max_images must be >= the number of classes ({dataset.num_classes}) so that every class keeps "
            f"an image, got {max_images}"
        )
    return dataset.subset(stratified_subsample(dataset.labels, max_images, seed))


def _check_arguments(
    kind: str, split: str, max_images: int | None, seed: int, given: ImageDataset | None
) -> tuple[int | None, int]:
    """Check the arguments of :func:`load_dataset` that need no file; return ``max_images`` and ``seed``."""
    if not isinstance(kind, str) or kind not in DATASET_KINDS:
        raise DatasetKindError(f"kind must be one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if split not in SPLITS[kind]:
        raise DatasetArgumentError(
            f"split for {kind} must be one of {', '.join(SPLITS[kind])}, got {split!r}"
        )
    if max_images is not None:
        max_images = check_int(max_images, "max_images", minimum=1, error=data_error)
    seed = check_int(seed, "seed", minimum=0, error=data_error)
    if (kind == IN_MEMORY) != (given is not None):
        raise DataError("images are given in Python for kind 'python' (auditkit.audit(data=...)) and "
                        f"for no other kind, got kind {kind!r} with{'' if given is not None else 'out'} "
                        "images", expected="kind 'python' with data, or another kind without")
    return max_images, seed


def _read(kind: str, path: str | Path | None, split: str, resize: Resize | None) -> ImageDataset:
    """Read the images of an on-disk ``kind`` (or digits) from ``path``; folder kinds resize as they read."""
    if kind == "digits":
        if path is not None:
            raise DataError(
                f"digits is bundled with scikit-learn and takes no path, got path {path}",
                path=path,
                expected="no path (path=None) for digits",
            )
        return load_digits()
    if path is None:
        raise DataError(f"{kind} needs a path to its files, got none", expected=f"the {kind} folder")
    if kind in _FOLDERS:
        return (load_image_folder(Path(path), resize or Resize(), split=split)
                if kind == "imagefolder" else _FOLDERS[kind](Path(path), resize or Resize()))
    return _ON_DISK[kind](Path(path), split)


def _preprocess(dataset: ImageDataset, resize: Resize | None, *, resized: bool) -> ImageDataset:
    """Apply ``resize`` (unless the images are already ``resized``) and its channel conversion to a
    dataset read whole, not per image as the folder kinds are."""
    if not resized and resize is not None and resize.active:
        dataset = ImageDataset.from_tensors(dataset.name, resize_crop(dataset.images, resize),
                                            dataset.labels, dataset.classes, dataset.source)
    if resize is not None and resize.channels != "auto":
        converted = convert_channels(dataset.images, resize.channels)
        if converted is not dataset.images:
            dataset = ImageDataset.from_tensors(dataset.name, converted, dataset.labels, dataset.classes,
                                                dataset.source)
    return dataset

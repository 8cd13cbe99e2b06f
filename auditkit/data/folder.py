"""Folders of class sub-folders of image files: EuroSAT (RGB) and any torchvision-style ImageFolder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from auditkit.data.dataset import ImageDataset
from auditkit.errors import DataError

EUROSAT_CLASSES = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
"""The 10 EuroSAT class folders, sorted as torchvision's ``find_classes`` sorts them."""

EUROSAT_SUBFOLDERS = ("2750", "EuroSAT_RGB")
"""Folders the EuroSAT RGB archives unpack to; ``path`` may point at their parent."""


def load_eurosat(path: str | Path) -> ImageDataset:
    """EuroSAT RGB as uint8 ``[N, 3, H, W]`` (64x64 for the real files).

    ``path`` is the folder holding the 10 class folders, or its parent holding ``2750`` or ``EuroSAT_RGB``.
    The class folders must be exactly :data:`EUROSAT_CLASSES`, which catches a wrong folder early.
    """
    folder = Path(path)
    for sub in EUROSAT_SUBFOLDERS:
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    _require_folder(folder, "EuroSAT")
    classes, _ = _classes(folder)
    if tuple(classes) != EUROSAT_CLASSES:
        missing = sorted(set(EUROSAT_CLASSES) - set(classes))
        extra = sorted(set(classes) - set(EUROSAT_CLASSES))
        raise DataError(
            f"EuroSAT folder {folder}: class folders differ from EuroSAT's (missing: {missing or 'none'}, "
            f"unexpected: {extra or 'none'}); use kind 'imagefolder' for other class sets",
            path=folder,
            expected=f"exactly the class folders {', '.join(EUROSAT_CLASSES)}",
        )
    return _load_folder("eurosat", folder)


def load_image_folder(path: str | Path) -> ImageDataset:
    """Any folder of class sub-folders, with torchvision ``ImageFolder`` conventions, as uint8
    ``[N, 3, H, W]``.

    Class names are the sorted sub-folder names (label = position); files are taken recursively, sorted,
    when their extension is one of torchvision's ``IMG_EXTENSIONS``. Every image is converted to RGB. All
    images must share one size: a file of another size raises :class:`DataError` naming it, since resizing
    silently would change what is audited.
    """
    folder = Path(path)
    _require_folder(folder, "image")
    return _load_folder("imagefolder", folder)


def _require_folder(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise DataError(
            f"{what} folder {folder} not found: expected one sub-folder per class holding image files",
            path=folder,
            expected="a folder of class sub-folders of images",
        )


def _classes(folder: Path) -> tuple[list[str], dict[str, int]]:
    try:
        return find_classes(folder)
    except FileNotFoundError:
        raise DataError(
            f"{folder} has no class sub-folders: expected one sub-folder per class",
            path=folder,
            expected="one sub-folder per class",
        ) from None


def _load_folder(name: str, folder: Path) -> ImageDataset:
    classes, class_to_idx = _classes(folder)
    try:
        samples = make_dataset(folder, class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as exc:
        raise DataError(
            f"{folder}: {exc}",
            path=folder,
            expected=f"image files ({', '.join(IMG_EXTENSIONS)}) in every class folder",
        ) from None
    first = _read_rgb(Path(samples[0][0]))
    images = np.empty((len(samples), 3, *first.shape[:2]), dtype=np.uint8)
    for i, (file, _) in enumerate(samples):
        pixels = first if i == 0 else _read_rgb(Path(file))
        if pixels.shape != first.shape:
            raise DataError(
                f"{file} is {pixels.shape[1]}x{pixels.shape[0]} pixels but {samples[0][0]} is "
                f"{first.shape[1]}x{first.shape[0]}: all images of a dataset must share one size",
                path=file,
                expected=f"a {first.shape[1]}x{first.shape[0]} image",
            )
        images[i] = pixels.transpose(2, 0, 1)
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return ImageDataset.from_tensors(name, torch.from_numpy(images), labels, tuple(classes), str(folder))


def _read_rgb(file: Path) -> np.ndarray:
    """Pixels of ``file`` as uint8 ``[H, W, 3]``."""
    try:
        with Image.open(file) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(
            f"{file}: not a readable image: {exc}", path=file, expected="an image file PIL can open"
        ) from None

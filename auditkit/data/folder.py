"""Folders of class sub-folders of image files: EuroSAT (RGB) and any torchvision-style ImageFolder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from auditkit.data._scan import image_files, open_image
from auditkit.data.dataset import ImageDataset
from auditkit.data.preprocess import MixedSizesError, Resize, folder_channels, folder_sizes, resize_crop
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
"""The 10 EuroSAT class folders, sorted (as :func:`~auditkit.data._scan.image_files` lists them)."""

EUROSAT_SUBFOLDERS = ("2750", "EuroSAT_RGB")
"""Folders the EuroSAT RGB archives unpack to; ``path`` may point at their parent."""


def load_eurosat(path: str | Path, resize: Resize | None = None) -> ImageDataset:
    """EuroSAT RGB as uint8 ``[N, 3, H, W]`` (64x64 for the real files; ``[N, 1, H, W]`` with
    ``resize.channels`` ``grey``).

    ``path`` is the folder holding the 10 class folders, or its parent holding ``2750`` or ``EuroSAT_RGB``.
    The class folders must be exactly :data:`EUROSAT_CLASSES`, which catches a wrong folder early.
    """
    folder = Path(path)
    for sub in EUROSAT_SUBFOLDERS:
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    _require_folder(folder, "EuroSAT")
    classes, samples = image_files(folder)
    if tuple(classes) != EUROSAT_CLASSES:
        missing = sorted(set(EUROSAT_CLASSES) - set(classes))
        extra = sorted(set(classes) - set(EUROSAT_CLASSES))
        raise DataError(
            f"EuroSAT folder {folder}: class folders differ from EuroSAT's (missing: {missing or 'none'}, "
            f"unexpected: {extra or 'none'}); use kind 'imagefolder' for other class sets",
            path=folder,
            expected=f"exactly the class folders {', '.join(EUROSAT_CLASSES)}",
        )
    return _load_folder("eurosat", folder, classes, samples, resize or Resize())


SPLIT_FOLDERS = ("train", "test")
"""Sub-folders an ImageFolder may be split into, each holding the same class folders."""


def load_image_folder(path: str | Path, resize: Resize | None = None, split: str = "all") -> ImageDataset:
    """Any folder of class sub-folders, with torchvision ``ImageFolder`` conventions, as uint8
    ``[N, C, H, W]``: C = 1 when every image is grey, else 3 (``resize.channels`` may say which).

    When ``path`` holds both ``train/`` and ``test/`` (:data:`SPLIT_FOLDERS`), each a folder of the
    same class folders, ``split`` picks one, and ``all`` is train followed by test; a folder without
    them is read whole and only ``split: all`` is accepted.

    Class names are the sorted sub-folder names (label = position); files are taken recursively, sorted,
    when their extension is one of torchvision's ``IMG_EXTENSIONS``; hidden entries, special files and
    linked folders already read are skipped, with a warning (:func:`~auditkit.data._scan.image_files`
    says which symbolic links are followed). Every image is converted to grey or RGB
    (:func:`~auditkit.data.preprocess.folder_channels`), refused above
    :data:`~auditkit.data._scan.MAX_PIXELS`.
    With ``resize`` (declared in the policy's ``preprocessing``), each image is resized and cropped as it
    is read, so images of any sizes load. Without it all images must share one size: a folder of
    several sizes raises :class:`~auditkit.data.preprocess.MixedSizesError` listing them, after reading
    only the headers, since resizing silently would change what is audited.
    """
    folder = Path(path)
    _require_folder(folder, "image")
    if not all((folder / sub).is_dir() for sub in SPLIT_FOLDERS):
        if split != "all":
            raise DataError(f"image folder {folder} has no train/ and test/ sub-folders, so no "
                            f"{split!r} split; use split 'all' or add them", path=folder,
                            expected="train/ and test/ sub-folders of class folders")
        return _load_folder("imagefolder", folder, *image_files(folder), resize or Resize())
    parts = [image_files(folder / sub) for sub in SPLIT_FOLDERS if split in (sub, "all")]
    classes = parts[0][0]
    for sub, (found, _) in zip(SPLIT_FOLDERS, parts, strict=False):
        if found != classes:
            raise DataError(f"image folder {folder / sub}: class folders {found} differ from "
                            f"{folder / SPLIT_FOLDERS[0]}'s {classes}", path=folder / sub,
                            expected="the same class folders in train/ and test/")
    return _load_folder("imagefolder", folder, classes, [s for _, files in parts for s in files],
                        resize or Resize())


def _require_folder(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise DataError(
            f"{what} folder {folder} not found: expected one sub-folder per class holding image files",
            path=folder,
            expected="a folder of class sub-folders of images",
        )


def _load_folder(name: str, folder: Path, classes: list[str], samples: list[tuple[Path, int]],
                 resize: Resize) -> ImageDataset:
    if resize.size is None:
        files = [file for file, _ in samples]
        sizes = folder_sizes(folder, files)
        if len(sizes) > 1:
            raise MixedSizesError(folder, files, sizes)
    mode = "L" if folder_channels([file for file, _ in samples], resize.channels) == 1 else "RGB"
    first = _read(samples[0][0], resize, mode)
    images = torch.empty((len(samples), *first.shape), dtype=torch.uint8)
    for i, (file, _) in enumerate(samples):
        pixels = first if i == 0 else _read(file, resize, mode)
        if pixels.shape != first.shape:  # a file changed since its header was read
            raise DataError(
                f"{file} is {pixels.shape[2]}x{pixels.shape[1]} pixels but {samples[0][0]} is "
                f"{first.shape[2]}x{first.shape[1]}: all images of a dataset must share one size",
                path=file,
                expected=f"a {first.shape[2]}x{first.shape[1]} image",
            )
        images[i] = pixels
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return ImageDataset.from_tensors(name, images, labels, tuple(classes), str(folder))


def _read(file: Path, resize: Resize, mode: str) -> torch.Tensor:
    """Pixels of ``file`` as uint8 ``[C, H, W]`` in PIL ``mode`` (``L``: C = 1, ``RGB``: 3), resized and
    cropped as declared."""
    pixels = _read_pixels(file, mode)
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return resize_crop(torch.from_numpy(chw.copy()), resize)


def _read_pixels(file: Path, mode: str) -> np.ndarray:
    """Pixels of ``file`` as uint8 ``[H, W]`` (``L``) or ``[H, W, 3]`` (``RGB``), within
    :func:`~auditkit.data._scan.open_image`'s pixel limit."""
    with open_image(file) as im:
        try:
            return np.asarray(im.convert(mode))
        except Exception as exc:  # PIL raises OSError, ValueError, ... on a damaged file
            raise DataError(
                f"{file}: not a readable image: {exc}", path=file, expected="an image file PIL can open"
            ) from None

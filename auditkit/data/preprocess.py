"""Declared preprocessing at load: resize and centre crop, and what a folder holds before loading it.

:func:`resize_crop` is the one place images change size (torchvision's ``resize``, antialiased, then
``center_crop``), applied to each image of an ImageFolder as it is read, or to a loaded tensor in
chunks. :func:`folder_sizes` reads only the image headers of the files
:func:`~auditkit.data._scan.image_files` lists (PIL opens files lazily), so ``validate``
can say which sizes a folder holds without decoding it; :func:`dataset_shape` gives the channels,
classes and size the model will see, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from auditkit.data._scan import image_files, open_image
from auditkit.errors import DataError

_CHUNK = 1024
"""Images resized per call on a loaded tensor (bounds the float copy torchvision makes)."""

_KNOWN_SHAPES: dict[str, tuple[int, int, tuple[int, int]]] = {
    "digits": (1, 10, (8, 8)),
    "cifar10": (3, 10, (32, 32)),
    "fashion_mnist": (1, 10, (28, 28)),
}
"""(channels, classes, (H, W)) of the fixed-format datasets, as their loaders return them."""

CHANNELS = ("auto", "grey", "rgb")
"""What ``preprocessing.channels`` may say: see :attr:`Resize.channels`."""

GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
"""PIL image modes without colour: a folder of only these reads as one channel under ``auto``."""


@dataclass(frozen=True)
class Resize:
    """What is done to every image at load: :func:`resize_crop` (``size`` and ``crop`` are ``(H, W)``
    or ``None``) and the colour channels it is read with (``channels``)."""

    size: tuple[int, int] | None = None
    """Resize every image to ``(H, W)``."""
    crop: tuple[int, int] | None = None
    """Then cut ``(H, W)`` from the centre."""
    interpolation: str = "bilinear"
    """A torchvision ``InterpolationMode`` value: ``nearest``, ``bilinear`` or ``bicubic``."""
    channels: str = "auto"
    """``grey``: one channel (colour converted with PIL's ITU-R 601-2 luma, L = 0.299 R + 0.587 G +
    0.114 B, or torchvision's ``rgb_to_grayscale``, the same weights); ``rgb``: three (a grey image
    repeated); ``auto``: a folder whose images are all grey (:data:`GREY_MODES`) reads as one channel
    and any other folder as three, and a fixed-format or in-memory dataset keeps its own."""

    @property
    def active(self) -> bool:
        return self.size is not None or self.crop is not None

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """``(H, W)`` of an image of ``size`` after this."""
        out = self.size if self.size is not None else size
        return self.crop if self.crop is not None else out


def resize_crop(images: torch.Tensor, spec: Resize) -> torch.Tensor:
    """``images`` ``[C, H, W]`` or ``[N, C, H, W]`` (uint8, or float in [0, 1]) resized and
    centre-cropped, same dtype (floats clamped to [0, 1]); unchanged when ``spec`` does nothing.

    >>> resize_crop(torch.zeros(3, 5, 7, dtype=torch.uint8), Resize((4, 4), (2, 3))).shape
    torch.Size([3, 2, 3])
    """
    if not spec.active:
        return images
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    if images.dim() == 4 and images.shape[0] > _CHUNK:
        return torch.cat([resize_crop(images[i:i + _CHUNK], spec) for i in range(0, len(images), _CHUNK)])
    out = images
    if spec.size is not None:
        out = F.resize(out, list(spec.size), interpolation=InterpolationMode(spec.interpolation),
                       antialias=True)
    if spec.crop is not None:
        out = F.center_crop(out, list(spec.crop))
    if out.is_floating_point():  # bicubic overshoots; pixels stay in [0, 1]
        out = out.clamp(0.0, 1.0)
    return out.contiguous()


def folder_channels(files: Sequence[Path], channels: str) -> int:
    """The channels a folder of ``files`` is read with under ``channels`` (:attr:`Resize.channels`),
    from the image headers only (PIL's mode)."""
    if channels != "auto":
        return 1 if channels == "grey" else 3
    for file in files:
        with open_image(file) as im:
            if im.mode not in GREY_MODES:
                return 3
    return 1


def convert_channels(images: torch.Tensor, channels: str) -> torch.Tensor:
    """``images`` ``[N, C, H, W]`` with the channels ``channels`` asks for (:attr:`Resize.channels`);
    unchanged under ``auto`` or when they already have them.

    >>> convert_channels(torch.ones(2, 1, 3, 3), "rgb").shape
    torch.Size([2, 3, 3, 3])
    >>> convert_channels(torch.ones(2, 3, 3, 3), "grey").shape
    torch.Size([2, 1, 3, 3])
    """
    wanted = {"grey": 1, "rgb": 3}.get(channels)
    if wanted is None or images.shape[1] == wanted:
        return images
    if images.shape[1] not in (1, 3):
        raise DataError(f"preprocessing.channels {channels!r} converts 1 or 3 channels, the images have "
                        f"{images.shape[1]}", expected="1- or 3-channel images, or channels: auto")
    if wanted == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    from torchvision.transforms.functional import rgb_to_grayscale

    return rgb_to_grayscale(images).contiguous()


class MixedSizesError(DataError):
    """A folder holds images of more than one size and no resize was declared.

    Attributes:
        sizes: ``(width, height) -> files`` of that size, most frequent first.
        path: the first file (in load order) whose size differs from the first file's.
    """

    def __init__(self, folder: Path, files: Sequence[Path], sizes: dict[tuple[int, int], list[Path]]) -> None:
        self.sizes = sizes
        size_of = {file: size for size, group in sizes.items() for file in group}
        first = files[0]
        odd = next(f for f in files if size_of[f] != size_of[first])
        parts = []
        for (w, h), group in sizes.items():
            names = ", ".join(_relative(f, folder) for f in group[:3])
            parts.append(f"{w}x{h} ({len(group)} image{'s' if len(group) != 1 else ''}, e.g. {names})")
        (w0, h0), (w1, h1) = size_of[first], size_of[odd]
        super().__init__(
            f"{odd} is {w1}x{h1} pixels but {first} is {w0}x{h0}: all images of a dataset must share "
            f"one size; {folder} holds {len(sizes)} sizes (width x height): {'; '.join(parts)}; "
            "declare preprocessing.resize: [H, W] to resize every image at load",
            path=odd, expected=f"a {w0}x{h0} image, or preprocessing.resize",
        )


def _relative(file: Path, folder: Path) -> str:
    try:
        return str(file.relative_to(folder))
    except ValueError:
        return str(file)


def folder_sizes(folder: Path, files: Sequence[Path]) -> dict[tuple[int, int], list[Path]]:
    """``(width, height) -> files`` of ``files``, most frequent size first, from the headers only.

    Raises:
        DataError: a file PIL cannot open, or one above :data:`~auditkit.data._scan.MAX_PIXELS`.
    """
    sizes: dict[tuple[int, int], list[Path]] = {}
    for file in files:
        with open_image(file) as im:
            sizes.setdefault(im.size, []).append(file)
    return dict(sorted(sizes.items(), key=lambda item: -len(item[1])))


def dataset_shape(kind: str, path: Path | None, spec: Resize) -> tuple[int, int, tuple[int, int]]:
    """(channels, classes, (H, W)) the model will see for a dataset, without loading its pixels.

    Fixed formats (digits, CIFAR-10, Fashion-MNIST) from their known shapes; folders (eurosat,
    imagefolder) from their class folders and image headers.

    Raises:
        MixedSizesError: a folder of several image sizes without ``spec.size``.
        DataError: a folder that cannot be read.
    """
    if kind in _KNOWN_SHAPES:
        channels, classes, size = _KNOWN_SHAPES[kind]
        return {"grey": 1, "rgb": 3}.get(spec.channels, channels), classes, spec.output_size(size)
    folder = Path(path) if path is not None else Path()
    if kind == "eurosat":
        from auditkit.data.folder import EUROSAT_SUBFOLDERS

        for sub in EUROSAT_SUBFOLDERS:
            if (folder / sub).is_dir():
                folder = folder / sub
                break
    classes, samples = image_files(folder)
    files = [f for f, _ in samples]
    sizes = folder_sizes(folder, files)
    if len(sizes) > 1 and spec.size is None:
        raise MixedSizesError(folder, files, sizes)
    w, h = next(iter(sizes))
    return folder_channels(files, spec.channels), len(classes), spec.output_size((h, w))

"""Images handed over in Python (``auditkit.audit(data=...)``) as an :class:`ImageDataset` of kind
``python``: a pair of tensors, or a torch ``Dataset`` of ``(image, label)`` items.

The declared resize and crop (:class:`~auditkit.data.preprocess.Resize`) are applied here, image by
image, so a ``Dataset`` of mixed sizes works with ``preprocessing.resize`` as an image folder does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from auditkit.data.dataset import ImageDataset
from auditkit.data.errors import DatasetArgumentError
from auditkit.data.preprocess import Resize, resize_crop

SOURCE_TENSORS = "tensors passed to auditkit.audit(data=...)"
"""The ``source`` of a dataset given as a pair of tensors."""


def _image(item: Any, index: int) -> torch.Tensor:
    """One image as a ``[C, H, W]`` tensor (a PIL image is converted to uint8)."""
    if isinstance(item, torch.Tensor):
        return item
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(item, Image.Image):
        from torchvision.transforms.v2.functional import pil_to_tensor

        return pil_to_tensor(item)
    raise DatasetArgumentError(f"data: item {index} holds a {type(item).__name__}, not an image tensor "
                               "[C, H, W] or a PIL image")


def _check_float(images: torch.Tensor) -> torch.Tensor:
    """Float images as float32, refused outside [0, 1] (normalisation belongs in the policy)."""
    if not images.is_floating_point():
        return images
    images = images.to(torch.float32)
    if images.numel() and (float(images.min()) < 0 or float(images.max()) > 1):
        raise DatasetArgumentError(
            f"data: float images must lie in [0, 1], got range [{float(images.min()):.3g}, "
            f"{float(images.max()):.3g}]; pass [0, 1] pixels and declare preprocessing.normalize")
    return images


def _stack(images: Sequence[torch.Tensor], resize: Resize) -> torch.Tensor:
    resized = [resize_crop(_check_float(x), resize) for x in images]
    sizes = sorted({tuple(x.shape) for x in resized})
    if len(sizes) > 1:
        raise DatasetArgumentError(f"data: images of {len(sizes)} shapes ({', '.join(map(str, sizes[:3]))}"
                                   f"{', ...' if len(sizes) > 3 else ''}); declare preprocessing.resize")
    return torch.stack(resized)


def from_python(data: Any, resize: Resize | None = None) -> ImageDataset:
    """``data`` as an :class:`ImageDataset` of kind ``python``, resized as ``resize`` says.

    Args:
        data: ``(images, labels)``: ``Tensor[N, C, H, W]`` uint8 or float in [0, 1] and integer
            ``Tensor[N]`` (class names ``"0"``, ``"1"``, ...); or a ``torch.utils.data.Dataset`` whose
            items are ``(image, label)``, the image a ``[C, H, W]`` tensor or a PIL image (class names
            from its ``classes`` attribute where it has one, as torchvision's ``ImageFolder``).

    Raises:
        DatasetArgumentError: anything else, naming ``data``.

    >>> ds = from_python((torch.zeros(4, 1, 6, 6), torch.tensor([0, 1, 0, 1])), Resize((3, 3)))
    >>> ds.name, ds.classes, ds.image_size
    ('python', ('0', '1'), (3, 3))
    """
    resize = resize or Resize()
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        images, labels = data
        if images.dim() != 4:
            raise DatasetArgumentError(f"data: images must be a tensor [N, C, H, W], got shape "
                                       f"{tuple(images.shape)}")
        images = resize_crop(_check_float(images.detach().cpu()), resize)
        source, classes = SOURCE_TENSORS, None
    elif isinstance(data, torch.utils.data.Dataset):
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        images = _stack([_image(item[0], i) for i, item in enumerate(items)], resize)
        labels = torch.tensor([int(item[1]) for item in items])
        source = f"a {type(data).__name__} passed to auditkit.audit(data=...)"
        classes = getattr(data, "classes", None)
    else:
        raise DatasetArgumentError(f"data must be an (images, labels) pair of tensors or a torch Dataset, "
                                   f"got {type(data).__name__}")
    labels = labels.detach().cpu()
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise DatasetArgumentError(f"data: labels must be integers, got dtype {labels.dtype}")
    labels = labels.to(torch.int64)
    if classes is None:
        classes = [str(c) for c in range(int(labels.max()) + 1 if labels.numel() else 0)]
    return ImageDataset.from_tensors("python", images, labels, tuple(str(c) for c in classes), source)


__all__ = ["SOURCE_TENSORS", "from_python"]

"""Model families by name: :data:`MODEL_FAMILIES` and :func:`build_model`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from auditkit._validation import check_choice, check_int, check_real
from auditkit.models.errors import ModelError, model_error
from auditkit.models.lipschitz import LipschitzCNN
from auditkit.models.small_cnn import SmallCNN

MODEL_FAMILIES: tuple[str, ...] = ("small_cnn", "resnet18", "lipschitz_cnn")
"""Names accepted by :func:`build_model`."""


@dataclass(frozen=True)
class _Family:
    """Defaults and limits of one family."""

    base_filters: int
    """Default width of the first convolution."""
    dropout: float
    """Default drop probability."""
    min_size: int
    """Smallest accepted image height/width."""


_FAMILIES: dict[str, _Family] = {
    # 2: one 2x2 max pool (a second one from 16 pixels).
    "small_cnn": _Family(base_filters=16, dropout=0.25, min_size=2),
    # Paper's CIFAR-10 setting (appendix E); any size works (strided 3x3 convs with padding 1).
    "resnet18": _Family(base_filters=32, dropout=0.25, min_size=1),
    # Table 4: widths 48/96/96, Dropout(0.2); three 2x2 pools need 8 pixels.
    "lipschitz_cnn": _Family(base_filters=48, dropout=0.2, min_size=8),
}


def build_model(
    family: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int],
    base_filters: int | None = None,
    dropout: float | None = None,
) -> nn.Module:
    """Build an untrained classifier of ``family`` for images ``[N, in_channels, H, W]``.

    Args:
        family: one of :data:`MODEL_FAMILIES`.
        in_channels: C >= 1.
        num_classes: >= 2, the number of logits.
        image_size: (H, W), each at least 2 (``small_cnn``), 1 (``resnet18``) or 8 (``lipschitz_cnn``).
        base_filters: width b of the first convolution, >= 1; ``None`` gives the family default
            (``small_cnn`` 16, ``resnet18`` 32, ``lipschitz_cnn`` 48 as in Table 4).
        dropout: drop probability in [0, 1); ``None`` gives the family default. ``small_cnn`` (0.25)
            and ``resnet18`` (0.25) drop before the last linear layer, ``lipschitz_cnn`` (0.2) after
            its first two pools, as in Table 4.

    Returns:
        A module in training mode mapping float images in [0, 1] ``[N, C, H, W]`` to logits
        ``[N, num_classes]``, with a ``target_layer`` attribute (the module whose output
        ``[N, ch, h, w]`` Grad-CAM uses) and a ``reset_parameters()`` method that re-draws all
        weights from the global RNG.

    Raises:
        ModelError: unknown family or an argument out of range; the message names the parameter.

    >>> build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8)).target_layer
    ReLU()
    """
    spec = _FAMILIES[check_choice(family, "family", MODEL_FAMILIES, error=model_error)]
    in_channels = check_int(in_channels, "in_channels", minimum=1, error=model_error)
    num_classes = check_int(num_classes, "num_classes", minimum=2, error=model_error)
    size = _image_size(image_size, spec.min_size, family)
    p = spec.dropout if dropout is None else check_real(dropout, "dropout", "in [0, 1)", _is_probability,
                                                        error=model_error)
    b = spec.base_filters if base_filters is None else check_int(base_filters, "base_filters", minimum=1,
                                                                 error=model_error)
    if family == "small_cnn":
        return SmallCNN(in_channels, num_classes, base_filters=b, dropout=p, image_size=size)
    if family == "resnet18":
        from auditkit.models.resnet import ResNet18  # imports torchvision's: seconds, so when asked

        return ResNet18(in_channels, num_classes, base_filters=b, dropout=p)
    return LipschitzCNN(in_channels, num_classes, base_filters=b, image_size=size, dropout=p)


def _is_probability(value: float) -> bool:
    return 0.0 <= value < 1.0


def _image_size(value: Any, minimum: int, family: str) -> tuple[int, int]:
    if isinstance(value, Sequence) and len(value) == 2:
        try:
            return (
                check_int(value[0], "image_size", minimum=minimum, error=model_error),
                check_int(value[1], "image_size", minimum=minimum, error=model_error),
            )
        except ModelError:
            pass
    raise ModelError(
        f"image_size must be (height, width), both ints >= {minimum} for {family}, got {value!r}",
        parameter="image_size",
    )

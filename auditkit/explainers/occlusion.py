"""Occlusion (Zeiler and Fergus 2014), through captum: :class:`Occlusion`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from captum.attr import Occlusion as _CaptumOcclusion
from torch import Tensor, nn

from auditkit.constraints import Constraint, Interval
from auditkit.explainers.base import Explainer


def window_count(size: int, window: int, stride: int) -> int:
    """Window positions along one side of ``size`` pixels: ``ceil((size - window) / stride) + 1``
    (captum's count; the last window may hang over the edge and is cut there).

    >>> window_count(8, 2, 2), window_count(8, 3, 2), window_count(8, 8, 1)
    (4, 4, 1)
    """
    return -(-(size - window) // stride) + 1


class Occlusion(Explainer):
    """Score drop when a square window is replaced by a constant, ``[N, 1, H, W]``.

    For each window position ``W_j`` (side ``window`` pixels, all channels, moved by ``stride`` pixels
    down and across), ``d_j = f_c(x) - f_c(x with W_j set to baseline)``; a pixel's value is the mean of
    ``d_j`` over the windows that cover it (captum's ``Occlusion``, which also cuts the last window of a
    row at the image's edge). With ``stride = window`` the windows tile the image and each pixel
    carries its own window's drop: for ``f = W x``, ``sum_{i in W_j} W_{c,i} (x_i - baseline)``
    (tested).

    Cost: ``1 + n_h n_w`` model evaluations per image, ``n = ceil((side - window) / stride) + 1``
    (:func:`window_count`); an evaluation batch holds ``batch_size`` occluded copies. No random draw.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on occluded copies per forward pass.
        window: side of the square window in pixels, in [1, 4096]; at most the image's sides.
        stride: step between window positions in pixels, in [1, window].
        baseline: the value written into the window (input units).
    """

    name: ClassVar[str] = "occlusion"
    label: ClassVar[str] = "Occlusion"
    settings: ClassVar[Mapping[str, Constraint]] = {
        "window": Interval(int, 1, 4096),
        "stride": Interval(int, 1, 4096),
        "baseline": Interval(float),
    }
    pixel_wise: ClassVar[bool] = False

    def __init__(self, model: nn.Module, *, batch_size: int = 256, window: int = 4, stride: int = 2,
                 baseline: float = 0.0) -> None:
        super().__init__(model, batch_size=batch_size)
        self.window = self._setting("window", window)
        self.stride = self._setting("stride", stride)
        self.baseline = self._setting("baseline", baseline)
        self._captum = _CaptumOcclusion(model)

    @classmethod
    def size_problems(cls, settings: Mapping[str, Any],
                      image_size: tuple[int, int]) -> Iterator[tuple[str, str]]:
        h, w = image_size
        if settings["window"] > min(h, w):
            yield "window", (f"must be at most the image's shorter side ({h} x {w} pixels), "
                             f"got {settings['window']}")
        if settings["stride"] > settings["window"]:
            yield "stride", (f"must be at most window ({settings['window']}) so that every pixel is "
                             f"occluded, got {settings['stride']}")

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b, c = x.shape[:2]
        self._check_size((x.shape[2], x.shape[3]))
        maps = self._captum.attribute(
            x,
            sliding_window_shapes=(c, self.window, self.window),
            strides=(c, self.stride, self.stride),
            baselines=self.baseline,
            target=targets,
            perturbations_per_eval=max(1, self.batch_size // b),
        )
        return maps[:, :1].float()  # the windows span every channel: the channels are equal

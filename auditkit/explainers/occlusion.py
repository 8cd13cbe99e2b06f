"""Occlusion (Zeiler and Fergus 2014), captum's ``Occlusion`` batched: :class:`Occlusion`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Interval
from auditkit.explainers.base import Evaluations, Explainer


def window_count(size: int, window: int, stride: int) -> int:
    """Window positions along one side of ``size`` pixels: ``ceil((size - window) / stride) + 1``
    (captum's count; the last window may hang over the edge and is cut there).

    >>> window_count(8, 2, 2), window_count(8, 3, 2), window_count(8, 8, 1)
    (4, 4, 1)
    """
    return -(-(size - window) // stride) + 1


def window_cover(size: int, window: int, stride: int, device: torch.device | None = None) -> Tensor:
    """Which pixels of one side each window position covers, ``Tensor[n, size]`` bool,
    ``n =`` :func:`window_count`: position ``a`` covers ``[a stride, a stride + window)``, cut at ``size``.

    >>> window_cover(5, 2, 2).int().tolist()
    [[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]]
    """
    start = torch.arange(window_count(size, window, stride), device=device)[:, None] * stride
    pixel = torch.arange(size, device=device)[None, :]
    return (pixel >= start) & (pixel < start + window)


class Occlusion(Explainer):
    """Score drop when a square window is replaced by a constant, ``[N, 1, H, W]``.

    For each window position ``(a, b)`` (side ``window`` pixels, all channels, top-left corner at
    ``(a stride, b stride)``), ``d_ab = f_c(x) - f_c(x with the window set to baseline)``; a pixel's value
    is the mean of ``d_ab`` over the windows that cover it. With ``R`` ``[n_h, H]`` and ``C`` ``[n_w, W]``
    the 0/1 cover of each position along each side (:func:`window_cover`), the map is
    ``(R^T d C) / (R^T 1 1^T C)``: the drops summed into the covered pixels by two matrix products,
    divided by each pixel's window count. The positions are captum's (``Occlusion`` with window
    ``(C, w, w)`` and strides ``(C, s, s)``: the last window of a row or column is cut at the image's
    edge), and the map is captum's to float rounding (tested on a nonlinear CNN, several windows,
    strides and image sizes, strides that do not divide the image included). With ``stride = window``
    the windows tile the image and each pixel carries its own window's drop: for ``f = W x``,
    ``sum_{i in W_ab} W_{c,i} (x_i - baseline)`` (tested).

    This batched form replaces captum's per-window loop: captum builds each window's mask in Python and
    evaluates ``batch_size // B`` windows of the chunk's B images per pass (one window when
    ``B = batch_size``), here the occluded copies of all images of a chunk are built and evaluated
    ``batch_size`` at a time, across images, with no Python loop over windows or images. What is not
    the model costs about 0.6-0.9 us per evaluation instead of 0.8-1.6 us (8 x 8 digits, window 2,
    stride 1; ``benchmarks/RESULTS.md``): little beside the demo CNN's forward pass, more beside a
    smaller model's.

    Cost: ``1 + n_h n_w`` model evaluations per image, ``n = ceil((side - window) / stride) + 1``
    (:func:`window_count`); an evaluation batch holds ``batch_size`` occluded copies. Memory:
    ``batch_size`` copies at a time and the drops ``[B, n_h, n_w]``. No random draw.

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

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """``1 + n_h n_w`` forward passes (:func:`window_count` of each side)."""
        h, w = image_size
        window, stride = settings["window"], settings["stride"]
        return Evaluations(forward=1 + window_count(h, window, stride) * window_count(w, window, stride),
                           driver="window, stride")

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b, _, h, w = x.shape
        self._check_size((h, w))
        rows = window_cover(h, self.window, self.stride, x.device)  # R [n_h, H]
        cols = window_cover(w, self.window, self.stride, x.device)  # C [n_w, W]
        drops = self._drops(x, targets, rows, cols)  # [B, n_h, n_w]
        r, c = rows.double(), cols.double()
        total = torch.einsum("ai,nab,bj->nij", r, drops, c)  # [B, H, W]
        count = r.sum(dim=0)[:, None] * c.sum(dim=0)[None, :]  # windows covering each pixel, >= 1
        return (total / count).view(b, 1, h, w).float()

    def _drops(self, x: Tensor, targets: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """``d_ab = f_c(x) - f_c(x occluded at (a, b))`` of each image, ``Tensor[B, n_h, n_w]`` float64
        (the difference taken in the model's float32, as captum does); ``batch_size`` copies per forward
        pass, across images, position ``p = a n_w + b`` of image ``n`` the ``(n P + p)``-th copy."""
        n_h, n_w = len(rows), len(cols)
        per_image = n_h * n_w
        full = self._scores(x, targets)  # [B]
        drops = torch.empty(len(x) * per_image, dtype=torch.float64, device=x.device)
        for part in batch_slices(len(drops), self.batch_size):
            index = torch.arange(part.start, part.stop, device=x.device)
            image, position = index // per_image, index % per_image
            window = rows[position // n_w, :, None] & cols[position % n_w, None, :]  # [k, H, W]
            copies = x[image].masked_fill(window[:, None], self.baseline)
            drops[part] = (full[image] - self._scores(copies, targets[image])).double()
        return drops.view(len(x), n_h, n_w)

    def _scores(self, x: Tensor, targets: Tensor) -> Tensor:
        """``f_c(x)`` of each image, ``Tensor[k]`` float32, ``batch_size`` images per forward pass."""
        scores = torch.empty(len(x), dtype=torch.float32, device=x.device)
        with torch.no_grad():
            for part in batch_slices(len(x), self.batch_size):
                scores[part] = self.model(x[part]).float().gather(1, targets[part, None]).squeeze(1)
        return scores

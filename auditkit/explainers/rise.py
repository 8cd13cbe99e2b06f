"""RISE (Petsiuk et al. 2018; Fel et al. 2022, appendix B): :func:`rise_masks` and :class:`Rise`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Interval, Options, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Evaluations, Explainer

SCORES: tuple[str, ...] = ("logit", "probability")
"""Accepted values of ``score``."""

MASK_BLOCK = 100
"""Masks drawn per :func:`rise_masks` call; fixed, so the draws never depend on ``batch_size``."""


def rise_masks(
    n: int,
    grid_size: int,
    keep_probability: float,
    image_size: tuple[int, int],
    generator: torch.Generator,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` RISE masks ``Tensor[n, 1, H, W]`` with values in [0, 1].

    Each mask: a binary ``s x s`` grid (each cell 1 with probability ``p``), upsampled bilinearly
    (``align_corners=False``) to ``((s + 1) ch, (s + 1) cw)`` with cell size ``ch = ceil(H / s)``,
    ``cw = ceil(W / s)``, then cropped to ``H x W`` at its own shift ``(dy, dx)`` uniform in
    ``[0, ch) x [0, cw)``. Random draws (grids, then ``dy``, then ``dx``) come from ``generator`` on
    its device; the upsampling and crop run on ``device`` (default: the generator's).

    >>> m = rise_masks(3, 2, 0.5, (5, 4), torch.Generator().manual_seed(0))
    >>> tuple(m.shape), bool(((m >= 0) & (m <= 1)).all())
    ((3, 1, 5, 4), True)
    """
    h, w = image_size
    ch, cw = math.ceil(h / grid_size), math.ceil(w / grid_size)
    device = generator.device if device is None else torch.device(device)
    draw = generator.device
    grid = torch.rand((n, 1, grid_size, grid_size), generator=generator, device=draw) < keep_probability
    dy = torch.randint(0, ch, (n,), generator=generator, device=draw).to(device)
    dx = torch.randint(0, cw, (n,), generator=generator, device=draw).to(device)
    size = ((grid_size + 1) * ch, (grid_size + 1) * cw)
    up = F.interpolate(grid.to(device, torch.float32), size=size, mode="bilinear", align_corners=False)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, :, None]  # [n, H, 1]
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, :]  # [n, 1, W]
    return up[:, 0][torch.arange(n, device=device)[:, None, None], rows, cols].unsqueeze(1)


class Rise(Explainer):
    r"""RISE as the centred conditional mean of the score given that a pixel is kept, ``Tensor[N, 1, H, W]``.

    .. math::

        \Phi_{RI}(x)_\lambda = \frac{\sum_{i=1}^{M} (f_c(x \odot m_i) - \bar f)\, m_i(\lambda)}
                                     {\sum_{i=1}^{M} m_i(\lambda)}, \qquad
        \bar f = \frac{1}{M} \sum_{i=1}^{M} f_c(x \odot m_i),

    and 0 at a pixel no mask covers (:math:`\sum_i m_i(\lambda) = 0`). ``m_i`` from
    :func:`rise_masks` (soft values in [0, 1] after the bilinear upsampling, used as weights); masked
    pixels are set to 0. It estimates :math:`E[f_c(x \odot M) \mid M(\lambda) = 1] - E[f_c(x \odot M)]`.

    Departure from the papers. Petsiuk et al. (2018, section 3) define the saliency as
    :math:`E[f \mid M(\lambda) = 1]` and estimate it by :math:`\frac{1}{M p} \sum_i f_i m_i(\lambda)`
    (Fel et al. 2022, appendix B, write the same with :math:`p = E[M]`), dividing by the *expected*
    coverage ``p`` at every pixel. That estimate equals
    :math:`\frac{c(\lambda)}{p} \hat E[f \mid \lambda \text{ kept}]` with the *drawn* coverage
    :math:`c(\lambda) = \frac{1}{M}\sum_i m_i(\lambda)`, which varies from pixel to pixel around ``p``
    (by about :math:`\sqrt{p(1-p)/M}` for binary masks); wherever the score barely depends on the pixel,
    that factor is all that ranks the pixels, so the maps of a chance-level model ranked like the
    coverage (|Spearman| 1.000 with ``score="probability"``, 0.73 with logits; issue 20). Dividing by
    the drawn coverage instead (the ratio, or self-normalised, estimator of the same conditional mean)
    removes the factor; subtracting :math:`\bar f`, the same constant at every pixel of an image, changes
    no ranking and makes "no evidence" exactly 0: a model whose output does not depend on the input gives
    a map of zeros (``f_i = \bar f`` exactly: the mean is taken in float64), as does
    ``keep_probability=1`` (every mask 1). Both, and a one-region model whose map is not correlated
    with the coverage while the paper's estimate is, are tested. Scores: the logit ``f_c`` (the
    paper's, default ``score="logit"``) or the softmax probability (original RISE,
    ``score="probability"``).

    The same masks serve every image of a call (as in RISE). They are drawn on the CPU in blocks of
    :data:`MASK_BLOCK` from a generator reset to ``generator_seed`` (drawn once to score, and again to
    weight the centred scores), so at most ``MASK_BLOCK`` masks are held at once, and the maps do not
    depend on ``batch_size``, on the call or on the device (up to float rounding).

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on (image, mask) evaluations per forward pass.
        generator_seed: seed of the mask generator.
        masks: number M of masks, in [1, 10^6] (paper: 1000; 4000 for ImageNet).
        grid_size: grid side s in [2, 64] (RISE: 7).
        keep_probability: p in (0, 1] (RISE: 0.5).
        score: ``"logit"`` or ``"probability"``.
    """

    name: ClassVar[str] = "rise"
    label: ClassVar[str] = "RISE"
    settings: ClassVar[Mapping[str, Constraint]] = {
        "masks": Interval(int, 1, 10**6),
        "grid_size": Interval(int, 2, 64),
        "keep_probability": Interval(float, 0, 1, closed="right"),
        "score": Options(SCORES),
    }
    pixel_wise: ClassVar[bool] = False
    seeded: ClassVar[bool] = True
    budget: ClassVar[str | None] = "masks"

    def __init__(
        self,
        model: nn.Module,
        *,
        batch_size: int = 256,
        generator_seed: int = 0,
        masks: int = 1000,
        grid_size: int = 7,
        keep_probability: float = 0.5,
        score: str = "logit",
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self.masks = self._setting("masks", masks)
        self.grid_size = self._setting("grid_size", grid_size)
        self.keep_probability = self._setting("keep_probability", keep_probability)
        self.score = self._setting("score", score)

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One forward pass per mask: ``masks``."""
        return Evaluations(forward=settings["masks"], driver="masks")

    def mask_blocks(self, image_size: tuple[int, int], device: torch.device) -> Iterator[Tensor]:
        """The masks of every call, in blocks ``Tensor[<= MASK_BLOCK, 1, H, W]`` on ``device``."""
        generator = torch.Generator().manual_seed(self.generator_seed)
        for block in batch_slices(self.masks, MASK_BLOCK):
            yield rise_masks(
                block.stop - block.start,
                self.grid_size,
                self.keep_probability,
                image_size,
                generator,
                device=device,
            )

    def coverage(self, image_size: tuple[int, int], device: torch.device) -> Tensor:
        """The drawn coverage ``c(lambda) = sum_i m_i(lambda)``, ``Tensor[H, W]`` float64: what the
        paper's estimator's maps follow where the score barely depends on a pixel (the artefact
        control of issue 20 compares every map with it)."""
        coverage = torch.zeros(image_size, dtype=torch.float64, device=device)
        for masks in self.mask_blocks(image_size, device):
            coverage += masks[:, 0].double().sum(dim=0)
        return coverage

    def _scores(self, x: Tensor, targets: Tensor) -> Tensor:
        """``f_c`` (logit or probability) of each image, ``Tensor[B]`` float32."""
        out = self.model(x).float()
        if self.score == "probability":
            out = out.softmax(dim=1)
        return out.gather(1, targets[:, None]).squeeze(1)

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b, _, h, w = x.shape
        scores = torch.cat([self._masked_scores(x, targets, masks)
                            for masks in self.mask_blocks((h, w), x.device)], dim=1)  # [b, M]
        centred = scores.double() - scores.double().mean(dim=1, keepdim=True)
        weighted = torch.zeros((b, h, w), dtype=torch.float64, device=x.device)
        coverage = torch.zeros((h, w), dtype=torch.float64, device=x.device)
        start = 0
        for masks in self.mask_blocks((h, w), x.device):
            k, m = masks.shape[0], masks[:, 0].double()
            weighted += torch.einsum("bk,khw->bhw", centred[:, start : start + k], m)
            coverage += m.sum(dim=0)
            start += k
        covered = coverage > 0
        maps = torch.where(covered, weighted / torch.where(covered, coverage, 1.0), 0.0)
        return maps.float().unsqueeze(1)

    def _masked_scores(self, x: Tensor, targets: Tensor, masks: Tensor) -> Tensor:
        """``f_c(x_b * m_k)`` for every image and mask of a block, ``Tensor[B, K]`` float32."""
        b, k = x.shape[0], masks.shape[0]
        scores = torch.empty(b * k, dtype=torch.float32, device=x.device)
        with torch.no_grad():
            for pairs in batch_slices(b * k, self.batch_size):
                index = torch.arange(pairs.start, pairs.stop, device=x.device)
                image, mask = index // k, index % k
                scores[pairs] = self._scores(x[image] * masks[mask].to(x.dtype), targets[image])
        return scores.view(b, k)

"""SmoothGrad (Smilkov et al. 2017; Fel et al. 2022, appendix B): :class:`SmoothGrad`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Flag, Interval, Options, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Evaluations, Explainer
from auditkit.explainers.saliency import Saliency

SIGMA_CONVENTIONS: tuple[str, ...] = ("range", "absolute")
"""Accepted values of ``sigma_convention``."""

NOISE_BLOCK = 32
"""Noise samples drawn per ``torch.randn`` call; fixed, so the draws never depend on ``batch_size``."""


class SmoothGrad(Explainer):
    """Mean gradient map over noisy copies: ``(1/m) sum_j G(x + eps_j)``, ``Tensor[N, C, H, W]``.

    ``G`` is a wrapped :class:`~auditkit.explainers.saliency.Saliency` explainer. The paper writes
    ``E_eps[d f_c(x + eps) / dx]`` (signed); its authors' practice, and the default here
    (``absolute=True``), averages ``|d f_c / dx|``, which keeps the map's sign-free convention of
    Saliency. ``absolute=False`` averages the signed gradient as the formula reads.

    Noise ``eps_j ~ N(0, std^2 I)``, ``j = 1..m``. ``sigma_convention="range"`` (default, Smilkov et al.'s
    advice) sets ``std = sigma * (max(x_i) - min(x_i))`` per image ``i`` (over its C, H, W; a constant
    image gets no noise); ``"absolute"`` sets ``std = sigma``.

    Reproducibility: the ``m`` standard-normal draws are shared by every image of a call (as RISE
    shares its masks) and drawn on the CPU, in blocks of :data:`NOISE_BLOCK`, from a generator reset to
    ``generator_seed`` for each chunk of images. Each image's map is therefore a deterministic function
    of (image, seed), identical across calls, ``batch_size`` and devices (up to float rounding);
    for each image the ``eps_j`` are still i.i.d. Gaussian. For ``f = W x`` the map is ``|W_c|``
    exactly (tested), and for ``f = sum x^2 / 2`` it is the folded-normal mean ``E|x + eps|``.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on (image, noise) evaluations per forward pass.
        generator_seed: seed of the noise generator.
        samples: number m of noisy copies, in [1, 10000] (paper: 60).
        sigma: noise level in (0, 100] (paper: 0.2).
        sigma_convention: ``"range"`` or ``"absolute"``, see above.
        absolute: average ``|grad|`` (default) or the signed gradient.
    """

    name: ClassVar[str] = "smoothgrad"
    label: ClassVar[str] = "SmoothGrad"
    settings: ClassVar[Mapping[str, Constraint]] = {
        "samples": Interval(int, 1, 10000),
        "sigma": Interval(float, 0, 100, closed="right"),
        "sigma_convention": Options(SIGMA_CONVENTIONS),
    }
    seeded: ClassVar[bool] = True
    budget: ClassVar[str | None] = "samples"

    def __init__(
        self,
        model: nn.Module,
        *,
        batch_size: int = 256,
        generator_seed: int = 0,
        samples: int = 60,
        sigma: float = 0.2,
        sigma_convention: str = "range",
        absolute: bool = True,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self.samples = self._setting("samples", samples)
        self.sigma = self._setting("sigma", sigma)
        self.sigma_convention = self._setting("sigma_convention", sigma_convention)
        self.inner = Saliency(model, batch_size=batch_size,
                              absolute=must(absolute, "absolute", Flag(), ExplainerError))

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One gradient per noisy copy: ``samples``."""
        return Evaluations(grad=settings["samples"], driver="samples")

    def _std(self, x: Tensor) -> Tensor:
        """Noise standard deviation of each image, ``Tensor[B]``."""
        if self.sigma_convention == "absolute":
            return torch.full((x.shape[0],), self.sigma, dtype=x.dtype, device=x.device)
        flat = x.flatten(1)
        return self.sigma * (flat.amax(dim=1) - flat.amin(dim=1))

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b = x.shape[0]
        std = self._std(x)[:, None, None, None]
        generator = torch.Generator().manual_seed(self.generator_seed)
        total = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
        for block in batch_slices(self.samples, NOISE_BLOCK):
            shape = (block.stop - block.start, *x.shape[1:])
            eps = torch.randn(shape, generator=generator).to(device=x.device, dtype=x.dtype)
            k = eps.shape[0]
            for pairs in batch_slices(b * k, self.batch_size):
                index = torch.arange(pairs.start, pairs.stop, device=x.device)
                image, noise = index // k, index % k
                grads = self.inner._attribute(x[image] + std[image] * eps[noise], targets[image])
                total.index_add_(0, image, grads)
        return total / self.samples

"""KernelSHAP (Lundberg and Lee 2017), through captum: :class:`KernelShap`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from captum.attr import KernelShap as _CaptumKernelShap
from torch import Tensor, nn

from auditkit.explainers.groups import DRAW_BLOCK, SurrogateExplainer


def shapley_coalitions(original_inp: Tensor, *, generator: torch.Generator, num_interp_features: int,
                       **_: Any) -> Iterator[Tensor]:
    """KernelSHAP's coalitions of G = ``num_interp_features`` groups, ``Tensor[1, G]`` int64 on
    ``original_inp``'s device: all ones, all zeros, then coalitions of size k drawn with
    ``p(k) ∝ (G - 1) / (k (G - k))``, ``k = 1 .. G-1``, each of the ``C(G, k)`` subsets equally likely,
    which with unit weights is the Shapley kernel (captum's sampler, drawn from ``generator`` in
    blocks of :data:`~auditkit.explainers.groups.DRAW_BLOCK`). For G = 1 the two first are all there is:
    fair coin flips follow."""
    g, device = num_interp_features, original_inp.device
    yield torch.ones((1, g), dtype=torch.long, device=device)
    yield torch.zeros((1, g), dtype=torch.long, device=device)
    sizes = torch.arange(1, g, dtype=torch.float64)
    weights = (g - 1) / (sizes * (g - sizes))
    while True:
        if g == 1:
            block = (torch.rand((DRAW_BLOCK, 1), generator=generator) < 0.5).long()
        else:
            k = 1 + torch.multinomial(weights, DRAW_BLOCK, replacement=True, generator=generator)
            rank = torch.rand((DRAW_BLOCK, g), generator=generator).argsort(dim=1).argsort(dim=1)
            block = (rank < k[:, None]).long()
        yield from block.to(device).split(1)


class KernelShap(SurrogateExplainer):
    """Shapley values of the feature groups, estimated by KernelSHAP, ``[N, 1, H, W]``.

    ``phi_g`` is the weighted least-squares fit of ``f_c(z) = phi_0 + sum_g z_g phi_g`` over the sampled
    coalitions (:func:`shapley_coalitions`; the empty and full coalitions get captum's weight 10^6, the
    others 1, which with the size distribution is the Shapley kernel); with enough samples it is the
    exact Shapley value of each group of the game ``v(S) = f_c(x_S, baseline elsewhere)``, and
    ``sum_g phi_g = f_c(x) - f_c(baseline)``. For ``f = W x`` it is ``sum_{i in g} W_{c,i} (x_i - baseline)``
    (tested, also against a brute-force Shapley value over all 2^G coalitions). Groups, seeding and
    cost: :class:`~auditkit.explainers.groups.SurrogateExplainer`.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on copies of one image per forward pass.
        generator_seed: seed of the coalition generator.
        samples: coalitions scored per image, in [1, 10^6] (the two first are the full and empty ones).
        groups: ``slic`` (superpixels) or ``grid``.
        segments: number of groups asked for, in [1, H W]; SLIC may return fewer.
        compactness: SLIC's colour/space trade-off in (0, 10^4] (images rescaled to [0, 1]).
        baseline: the value written into removed groups (input units).
    """

    name: ClassVar[str] = "kernel_shap"
    label: ClassVar[str] = "KernelSHAP"
    coalitions = shapley_coalitions

    def __init__(self, model: nn.Module, *, batch_size: int = 256, generator_seed: int = 0,
                 samples: int = 200, groups: str = "slic", segments: int = 16, compactness: float = 0.1,
                 baseline: float = 0.0) -> None:
        super().__init__(model, batch_size=batch_size, generator_seed=generator_seed, samples=samples,
                         groups=groups, segments=segments, compactness=compactness, baseline=baseline)
        self._captum = _CaptumKernelShap(model)

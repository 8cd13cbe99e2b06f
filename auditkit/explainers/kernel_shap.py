"""KernelSHAP (Lundberg and Lee 2017), captum's estimator batched: :class:`KernelShap`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor

from auditkit.explainers.groups import DRAW_BLOCK, SurrogateExplainer

ENDPOINT_WEIGHT = 1e6
"""Regression weight of the full and empty coalitions (captum's ``KernelShap.inf_weight``): large, so
the fit nearly satisfies ``phi_0 = f_c(baseline)`` and ``phi_0 + sum_g phi_g = f_c(x)``."""


def shapley_blocks(num_groups: int, generator: torch.Generator) -> Iterator[Tensor]:
    """KernelSHAP's coalitions of G = ``num_groups`` groups in blocks ``Tensor[k, G]`` int64 (CPU): all
    ones, all zeros, then blocks of :data:`~auditkit.explainers.groups.DRAW_BLOCK` coalitions of size
    k drawn with ``p(k) ∝ (G - 1) / (k (G - k))``, ``k = 1 .. G-1``, each of the ``C(G, k)`` subsets
    equally likely, which with unit weights is the Shapley kernel (captum's sampler, drawn from
    ``generator``). For G = 1 the two first are all there is: fair coin flips follow."""
    g = num_groups
    yield torch.stack([torch.ones(g, dtype=torch.long), torch.zeros(g, dtype=torch.long)])
    sizes = torch.arange(1, g, dtype=torch.float64)
    weights = (g - 1) / (sizes * (g - sizes))
    while True:
        if g == 1:
            yield (torch.rand((DRAW_BLOCK, 1), generator=generator) < 0.5).long()
        else:
            k = 1 + torch.multinomial(weights, DRAW_BLOCK, replacement=True, generator=generator)
            rank = torch.rand((DRAW_BLOCK, g), generator=generator).argsort(dim=1).argsort(dim=1)
            yield (rank < k[:, None]).long()


def shapley_coalitions(original_inp: Tensor, *, generator: torch.Generator, num_interp_features: int,
                       **_: Any) -> Iterator[Tensor]:
    """The coalitions of :func:`shapley_blocks` one at a time, ``Tensor[1, G]`` int64 on
    ``original_inp``'s device: captum's ``perturb_func`` contract, to feed captum's ``KernelShap``
    the same draws (how the batched fit is tested to be captum's)."""
    for block in shapley_blocks(num_interp_features, generator):
        yield from block.to(original_inp.device).split(1)


class KernelShap(SurrogateExplainer):
    """Shapley values of the feature groups, estimated by KernelSHAP, ``[N, 1, H, W]``.

    ``phi_g`` is the weighted least-squares fit of ``f_c(z) = phi_0 + sum_g z_g phi_g`` over the sampled
    coalitions (:func:`shapley_blocks`; the empty and full coalitions get captum's weight
    :data:`ENDPOINT_WEIGHT`, the others 1, which with the size distribution is the Shapley kernel);
    with enough samples it is the exact Shapley value of each group of the game
    ``v(S) = f_c(x_S, baseline elsewhere)``, and ``sum_g phi_g = f_c(x) - f_c(baseline)``. For ``f = W x``
    it is ``sum_{i in g} W_{c,i} (x_i - baseline)`` (tested, also against a brute-force Shapley value
    over all 2^G coalitions). The same estimator as captum's ``KernelShap`` given the same coalitions,
    all images' fits solved at once instead of captum's per-coalition loop (tested against captum):
    :class:`~auditkit.explainers.groups.SurrogateExplainer` (groups, seeding, cost, rank deficiency,
    the settings and their defaults).
    """

    name: ClassVar[str] = "kernel_shap"
    label: ClassVar[str] = "KernelSHAP"
    coalition_blocks = shapley_blocks

    def _weights(self, z: Tensor, counts: Tensor, x: Tensor, groups: Tensor) -> Tensor:
        """:data:`ENDPOINT_WEIGHT` for the empty and full coalitions, 1 otherwise (captum's
        ``kernel_shap_similarity_kernel``): a function of ``z`` alone."""
        size = z.sum(dim=2)
        endpoint = (size == 0) | (size == counts[:, None])
        return torch.where(endpoint, ENDPOINT_WEIGHT, 1.0).double()

"""LIME (Ribeiro et al. 2016), captum's estimator batched: :class:`Lime`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor

from auditkit.explainers.groups import DRAW_BLOCK, SurrogateExplainer


def bernoulli_blocks(num_groups: int, generator: torch.Generator) -> Iterator[Tensor]:
    """LIME's coalitions of G = ``num_groups`` groups in blocks ``Tensor[DRAW_BLOCK, G]`` int64 (CPU):
    each group kept with probability 1/2, independently (captum's default sampler, drawn from
    ``generator`` in blocks of :data:`~auditkit.explainers.groups.DRAW_BLOCK`)."""
    while True:
        yield (torch.rand((DRAW_BLOCK, num_groups), generator=generator) < 0.5).long()


def bernoulli_coalitions(original_inp: Tensor, *, generator: torch.Generator, num_interp_features: int,
                         **_: Any) -> Iterator[Tensor]:
    """The coalitions of :func:`bernoulli_blocks` one at a time, ``Tensor[1, G]`` int64 on
    ``original_inp``'s device: captum's ``perturb_func`` contract, to feed captum's ``Lime`` the same
    draws (how the batched fit is tested to be captum's)."""
    for block in bernoulli_blocks(num_interp_features, generator):
        yield from block.to(original_inp.device).split(1)


class Lime(SurrogateExplainer):
    """Coefficients of LIME's local linear surrogate over the feature groups, ``[N, 1, H, W]``.

    ``phi_g`` minimises ``sum_s pi(x, x_s) (f_c(x_s) - phi_0 - sum_g z_{s,g} phi_g)^2`` over coalitions
    ``z_s`` (:func:`bernoulli_blocks`; ``x_s`` keeps the groups of ``z_s`` and writes ``baseline``
    into the others), with captum's default proximity ``pi = exp(-d^2 / 2)``, ``d`` the cosine
    distance between ``x`` and ``x_s``. The surrogate is an unpenalised linear regression (captum's
    ``Lime`` with ``SkLearnLinearRegression``; captum's default Lasso, alpha 0.01, would shrink every
    effect), so for ``f = W x`` it recovers each group's effect ``sum_{i in g} W_{c,i} (x_i - baseline)``
    exactly, whatever the weights (tested). All images' fits are solved at once instead of captum's
    per-coalition loop, the same estimator given the same coalitions (tested against captum):
    :class:`~auditkit.explainers.groups.SurrogateExplainer` (groups, seeding, cost, rank deficiency,
    the settings and their defaults).
    """

    name: ClassVar[str] = "lime"
    label: ClassVar[str] = "LIME"
    coalition_blocks = bernoulli_blocks

    def _weights(self, z: Tensor, counts: Tensor, x: Tensor, groups: Tensor) -> Tensor:
        """``exp(-d^2 / 2)`` with ``d = 1 - cos(x, x_s)``, ``cos = <x, x_s> / (max(|x|, e) max(|x_s|, e))``,
        ``e = 10^-8`` (captum's ``get_exp_kernel_similarity_function("cosine", 1.0)``, torch's
        ``cosine_similarity``), in float64 from the image's group sums rather than from each copy: with
        ``q_g = sum_{i in g} x_i^2``, ``l_g = sum_{i in g} x_i`` and ``n_g`` the values in group g (all
        channels) and b the baseline, ``<x, x_s> = sum_g z_g q_g + b sum_g (1 - z_g) l_g`` and
        ``|x_s|^2 = sum_g z_g q_g + b^2 sum_g (1 - z_g) n_g`` (tested against torch on each copy)."""
        pixels = x.double().flatten(2)  # [M, C, H W]
        per_pixel = torch.stack([pixels.square().sum(dim=1), pixels.sum(dim=1),
                                 torch.full_like(pixels[:, 0], pixels.shape[1])], dim=2)  # [M, H W, 3]
        sums = torch.zeros((len(x), z.shape[2], 3), dtype=torch.float64, device=x.device)
        sums.scatter_add_(1, groups[:, :, None].expand(-1, -1, 3), per_pixel)  # q, l, n per group
        total = sums.sum(dim=1, keepdim=True)  # [M, 1, 3]
        kept = z.double() @ sums  # [M, S, 3]
        removed = total - kept
        dot = kept[..., 0] + self.baseline * removed[..., 1]
        norms = (kept[..., 0] + self.baseline**2 * removed[..., 2]).sqrt(), total[..., 0].sqrt()
        distance = 1 - dot / (norms[0].clamp_min(1e-8) * norms[1].clamp_min(1e-8))
        return torch.exp(-(distance**2) / 2)

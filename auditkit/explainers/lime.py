"""LIME (Ribeiro et al. 2016), captum's estimator batched: :class:`Lime`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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
    :class:`~auditkit.explainers.groups.SurrogateExplainer` (groups, seeding, cost, rank deficiency).

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on masked copies per forward pass.
        generator_seed: seed of the coalition generator.
        samples: coalitions scored per image, in [1, 10^6].
        groups: ``slic`` (superpixels) or ``grid``.
        segments: number of groups asked for, in [1, H W]; SLIC may return fewer.
        compactness: SLIC's colour/space trade-off in (0, 10^4] (images rescaled to [0, 1]).
        baseline: the value written into removed groups (input units).
    """

    name: ClassVar[str] = "lime"
    label: ClassVar[str] = "LIME"
    coalition_blocks = bernoulli_blocks

    def __init__(self, model: nn.Module, *, batch_size: int = 256, generator_seed: int = 0,
                 samples: int = 200, groups: str = "slic", segments: int = 16, compactness: float = 0.1,
                 baseline: float = 0.0) -> None:
        super().__init__(model, batch_size=batch_size, generator_seed=generator_seed, samples=samples,
                         groups=groups, segments=segments, compactness=compactness, baseline=baseline)

    def _weights(self, z: Tensor, counts: Tensor, copies: Tensor, originals: Tensor) -> Tensor:
        """``exp(-d^2 / 2)``, ``d = 1 - cos(x, x_s)`` on the flattened float32 images (captum's
        ``get_exp_kernel_similarity_function("cosine", 1.0)``; a zero copy has cosine 0)."""
        distance = 1 - F.cosine_similarity(originals.flatten(1).float(), copies.flatten(1).float(), dim=1)
        return torch.exp(-(distance.double() ** 2) / 2)

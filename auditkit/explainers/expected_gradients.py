"""Expected Gradients (Erion et al. 2021), captum's GradientShap estimator: :class:`ExpectedGradients`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Interval, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Evaluations, Explainer, target_gradients


def path_draws(samples: int, background: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``samples`` baseline indices in ``[0, background)`` and points ``alpha ~ U[0, 1)`` on the path,
    ``(Tensor[samples] int64, Tensor[samples] float32)``, drawn from ``generator`` in that order."""
    index = torch.randint(0, background, (samples,), generator=generator)
    return index, torch.rand(samples, generator=generator)


class ExpectedGradients(Explainer):
    """``Phi(x) = E_{x' ~ D, a ~ U(0,1)} [(x - x') * d f_c(x' + a (x - x')) / d x]``, ``[N, C, H, W]``,
    with ``D`` the explained model's own training images.

    The Monte Carlo estimator of captum's ``GradientShap`` (``stdevs=0``): the mean over ``samples``
    draws ``(x'_j, a_j)`` (:func:`path_draws`) of ``(x - x'_j)`` times the gradient at
    ``x'_j + a_j (x - x'_j)``. captum draws its baselines and ``a`` from NumPy's global generator, one
    stream for the whole batch (so an image's draws would depend on its place in the batch); here
    they come from a ``torch.Generator`` reset to ``generator_seed`` for each image (every image of
    a call shares them, as SmoothGrad shares its noise), and the gradients are
    :func:`~auditkit.explainers.base.target_gradients` on batches of ``batch_size`` (image, draw)
    pairs. For ``f = W x`` every draw gives ``W_c (x - x'_j)``, so the map is
    ``W_c (x - mean_j x'_j)`` exactly, and ``W_c (x - mean D)`` in expectation (tested, and
    equal to captum's ``GradientShap`` given the same draws).

    ``D``: at most :attr:`background_size` images of the fold model's training folds, which the
    engine hands over as ``background`` (:func:`~auditkit.explainers.registry.make_explainer`).
    Cost: ``samples`` forward and backward passes per image.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        background: ``Tensor[M, C, H, W]`` (M >= 1) the baseline images, in the model's input units.
        batch_size: images per chunk, and the cap on (image, draw) pairs per forward pass.
        generator_seed: seed of the draws.
        samples: draws per image, in [1, 10000].
    """

    name: ClassVar[str] = "expected_gradients"
    label: ClassVar[str] = "Expected Gradients"
    settings: ClassVar[Mapping[str, Constraint]] = {"samples": Interval(int, 1, 10000)}
    seeded: ClassVar[bool] = True
    budget: ClassVar[str | None] = "samples"
    background_size: ClassVar[int] = 1000

    def __init__(self, model: nn.Module, *, background: Tensor, batch_size: int = 256,
                 generator_seed: int = 0, samples: int = 60) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self.samples = self._setting("samples", samples)
        if not isinstance(background, Tensor) or background.dim() != 4 \
                or not background.is_floating_point() or background.shape[0] == 0:
            got = (f"{background.dtype} tensor of shape {tuple(background.shape)}"
                   if isinstance(background, Tensor) else type(background).__name__)
            raise ExplainerError("background must be a floating-point Tensor[M, C, H, W] with M >= 1, "
                                 f"got {got}")
        self.background = background.detach()

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One gradient per draw: ``samples``."""
        return Evaluations(grad=settings["samples"], driver="samples")

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        if self.background.shape[1:] != x.shape[1:]:
            raise ExplainerError(f"background images are {tuple(self.background.shape[1:])}, "
                                 f"the explained ones {tuple(x.shape[1:])}: they must match")
        draws = path_draws(self.samples, self.background.shape[0],
                           torch.Generator().manual_seed(self.generator_seed))
        return self._path_gradients(x, targets, *draws)

    def _path_gradients(self, x: Tensor, targets: Tensor, index: Tensor, alpha: Tensor) -> Tensor:
        """``(1/S) sum_j (x - x'_j) * grad f_c(x'_j + a_j (x - x'_j))`` of every image, ``[B, C, H, W]``,
        for the draws ``index`` ``[S]`` (into :attr:`background`) and ``alpha`` ``[S]``."""
        b, s = x.shape[0], index.numel()
        baselines = self.background[index.cpu()].to(device=x.device, dtype=x.dtype)
        alpha = alpha.to(device=x.device, dtype=x.dtype)[:, None, None, None]
        total = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
        for pairs in batch_slices(b * s, self.batch_size):
            pair = torch.arange(pairs.start, pairs.stop, device=x.device)
            image, draw = pair // s, pair % s
            delta = x[image] - baselines[draw]
            point = (baselines[draw] + alpha[draw] * delta).requires_grad_(True)
            (grads,) = target_gradients(self.model, (point,), targets[image])
            total.index_add_(0, image, (grads * delta).float())
        return total / s

"""The random control of the paper's tables: :class:`RandomBaseline`."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from auditkit.constraints import must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Explainer


class RandomBaseline(Explainer):
    """Uniform ``U[0, 1)`` maps ``Tensor[N, C, H, W]``, independent of the model and the image.

    One CPU ``torch.Generator`` per instance, seeded with ``generator_seed`` at construction: successive
    calls give different maps, and a run (same seed, same sequence of calls) is reproducible on any
    device. Chunks draw consecutively from that generator, so for a fresh instance the maps do not
    depend on ``batch_size`` (CPU ``uniform_`` fills element by element; tested). The model is still
    checked (eval mode, device, target range) so that misuse fails the same way for every method.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk.
        generator_seed: seed of the instance's generator.
    """

    name: ClassVar[str] = "random"
    label: ClassVar[str] = "Random baseline"
    control: ClassVar[bool] = True
    seeded: ClassVar[bool] = True

    def __init__(self, model: nn.Module, *, batch_size: int = 256, generator_seed: int = 0) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self._generator = torch.Generator().manual_seed(self.generator_seed)

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        return torch.rand(x.shape, generator=self._generator).to(x.device)

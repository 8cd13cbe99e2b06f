"""Gradient x Input (Shrikumar et al. 2016; Fel et al. 2022, appendix B): :class:`GradientInput`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from captum.attr import InputXGradient
from torch import Tensor, nn

from auditkit.constraints import Constraint, Options
from auditkit.explainers.base import Evaluations, Explainer
from auditkit.explainers.saliency import Saliency

CONVENTIONS: tuple[str, ...] = ("abs", "signed")
"""Accepted values of ``convention``."""


class GradientInput(Explainer):
    """Gradient x Input, ``Tensor[N, C, H, W]``.

    ``convention="abs"`` (default) is the paper's ``Phi_GI(x) = x * |d f_c / d x|`` (x times
    :class:`~auditkit.explainers.saliency.Saliency`); ``"signed"`` is ``x * d f_c / d x`` as in the
    original method and captum's ``InputXGradient``. For a linear model ``f = W x`` these are
    ``x * |W_c|`` and ``x * W_c`` (tested).

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per forward/backward pass.
        convention: ``"abs"`` or ``"signed"``.
    """

    name: ClassVar[str] = "gradient_input"
    label: ClassVar[str] = "Gradient × Input"
    settings: ClassVar[Mapping[str, Constraint]] = {"convention": Options(CONVENTIONS)}

    def __init__(self, model: nn.Module, *, batch_size: int = 256, convention: str = "abs") -> None:
        super().__init__(model, batch_size=batch_size)
        self.convention = self._setting("convention", convention)
        self._saliency = Saliency(model, batch_size=batch_size)
        self._signed = InputXGradient(model)

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One gradient: ``Evaluations(grad=1)``."""
        return Evaluations(grad=1)

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        if self.convention == "abs":
            return (x * self._saliency._attribute(x, targets)).float()
        return self._signed.attribute(x.requires_grad_(), target=targets).float()

"""Integrated Gradients (Sundararajan et al. 2017; Fel et al. 2022, appendix B)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from captum.attr import IntegratedGradients as _CaptumIG
from torch import Tensor, nn

from auditkit.constraints import Constraint, Interval
from auditkit.explainers.base import Explainer


class IntegratedGradients(Explainer):
    """``Phi_IG(x) = (x - x0) * int_0^1 d f_c(x0 + a (x - x0)) / d x da`` with ``x0 = 0``, ``[N, C, H, W]``.

    The integral uses the trapezoidal rule on ``steps`` equally spaced points ``a = 0, 1/(steps-1),
    ..., 1`` (captum ``method="riemann_trapezoid"``), as the paper does (not left Riemann). captum 0.9
    weights these points ``(1/m) [1/2, 1, ..., 1, 1/2]``, which sum to ``(m-1)/m`` (spacing taken as ``1/m``
    instead of ``1/(m-1)``); the result is rescaled by ``m/(m-1)`` so that the rule is the trapezoidal
    rule and completeness ``sum Phi = f_c(x) - f_c(0)`` holds for linear models. It is exact
    for gradients linear in ``a``: ``f = W x`` gives ``x * W_c``, ``f = sum x^2`` gives ``x^2``; for
    ``f = sum x^3`` it gives ``x^3 (1 + 1 / (2 (steps-1)^2))`` (all tested).

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on (image, step) evaluations per forward pass
            (captum's ``internal_batch_size``).
        steps: number of points m in [2, 10000] (paper: 60).
    """

    name: ClassVar[str] = "integrated_gradients"
    label: ClassVar[str] = "Integrated Gradients"
    settings: ClassVar[Mapping[str, Constraint]] = {"steps": Interval(int, 2, 10000)}
    completeness_baseline: ClassVar[float | None] = 0.0

    def __init__(self, model: nn.Module, *, batch_size: int = 256, steps: int = 60) -> None:
        super().__init__(model, batch_size=batch_size)
        self.steps = self._setting("steps", steps)
        self._captum = _CaptumIG(model, multiply_by_inputs=True)

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        captum_trapezoid = self._captum.attribute(
            x,
            baselines=0.0,
            target=targets,
            n_steps=self.steps,
            method="riemann_trapezoid",
            internal_batch_size=self.batch_size,
        )
        return (captum_trapezoid * (self.steps / (self.steps - 1))).float()

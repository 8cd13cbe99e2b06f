"""Explainers by name: :data:`EXPLAINERS` and :func:`make_explainer`."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from torch import Tensor, nn

from auditkit.constraints import Setting
from auditkit.errors import ExplainerError
from auditkit.explainers.base import Explainer
from auditkit.explainers.expected_gradients import ExpectedGradients
from auditkit.explainers.gradcam import GradCam, GradCamPlusPlus
from auditkit.explainers.gradient_input import GradientInput
from auditkit.explainers.input_control import InputControl
from auditkit.explainers.integrated_gradients import IntegratedGradients
from auditkit.explainers.kernel_shap import KernelShap
from auditkit.explainers.lime import Lime
from auditkit.explainers.occlusion import Occlusion
from auditkit.explainers.random_baseline import RandomBaseline
from auditkit.explainers.random_smooth import RandomSmooth
from auditkit.explainers.rise import Rise
from auditkit.explainers.saliency import Saliency
from auditkit.explainers.smoothgrad import SmoothGrad

EXPLAINERS: dict[str, type[Explainer]] = {
    cls.name: cls
    for cls in (
        Saliency,
        GradientInput,
        IntegratedGradients,
        SmoothGrad,
        GradCam,
        GradCamPlusPlus,
        Rise,
        RandomBaseline,
        InputControl,
        RandomSmooth,
        Occlusion,
        KernelShap,
        Lime,
        ExpectedGradients,
    )
}
"""Registry name -> explainer class, in the paper's order (SA, GI, IG, SG, GC, G+, RI, random), then
the input control and the smooth random control, then methods beyond the paper."""

_COMMON = ("batch_size", "layer", "generator_seed", "background")


def explainer_settings(cls: type[Explainer]) -> dict[str, Any]:
    """Method-specific settings of ``cls`` and their defaults (its keyword-only ``__init__`` arguments
    other than ``batch_size``, ``layer``, ``generator_seed`` and ``background``).

    >>> explainer_settings(EXPLAINERS["integrated_gradients"])
    {'steps': 60, 'baseline': 'zero', 'method': 'riemann_trapezoid'}
    """
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in _COMMON}


def declared_settings(cls: type[Explainer]) -> dict[str, Setting]:
    """The settings a policy may give ``cls``: its declared constraints (``cls.settings``) with the
    defaults of its ``__init__``. The policy schema reads them here, so the two cannot disagree.

    >>> declared_settings(EXPLAINERS["integrated_gradients"])["steps"].default
    60
    """
    defaults = explainer_settings(cls)
    return {name: Setting(constraint, defaults[name]) for name, constraint in cls.settings.items()}


def make_explainer(
    name: str,
    model: nn.Module,
    *,
    layer: nn.Module | None = None,
    batch_size: int = 256,
    generator_seed: int = 0,
    background: Tensor | None = None,
    **settings: Any,
) -> Explainer:
    """Build the explainer registered as ``name`` for ``model``.

    ``layer`` is required by the methods with ``needs_layer`` (Grad-CAM, Grad-CAM++) and ignored by the
    others, so one call site can pass ``model.target_layer`` to every method; ``generator_seed`` is
    likewise used only by ``seeded`` methods (SmoothGrad, RISE, random), and ``background`` (images
    ``[M, C, H, W]`` of the model's own training set, at most the class's ``background_size``) only
    by the methods that draw baselines from it (Expected Gradients), which require it. ``settings``
    are the method's own (see :func:`explainer_settings`); an unknown key is an error, never ignored.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    >>> e = make_explainer("integrated_gradients", model, steps=8, batch_size=16)
    >>> tuple(e.explain(torch.rand(2, 1, 2, 2), torch.tensor([0, 2])).shape)
    (2, 1, 2, 2)
    """
    cls = EXPLAINERS.get(name) if isinstance(name, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(name), list(EXPLAINERS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ExplainerError(f"unknown explainer {name!r}; known: {', '.join(EXPLAINERS)}{hint}")
    accepted = explainer_settings(cls)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        known = ", ".join(accepted) or "none"
        raise ExplainerError(f"{name}: unknown setting {', '.join(map(repr, unknown))}; accepted: {known}")
    kwargs: dict[str, Any] = {"batch_size": batch_size, **settings}
    if cls.needs_layer:
        if layer is None:
            raise ExplainerError(
                f"{name} needs a convolutional layer (e.g. layer=model.target_layer), got None"
            )
        kwargs["layer"] = layer
    if cls.seeded:
        kwargs["generator_seed"] = generator_seed
    if cls.background_size:
        if background is None:
            raise ExplainerError(f"{name} draws baselines from the model's training images: pass "
                                 f"background=Tensor[M, C, H, W] (M <= {cls.background_size})")
        kwargs["background"] = background
    return cls(model, **kwargs)

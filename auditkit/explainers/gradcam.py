"""Grad-CAM and Grad-CAM++ (Fel et al. 2022, appendix B): :class:`GradCam`, :class:`GradCamPlusPlus`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auditkit.errors import ExplainerError
from auditkit.explainers.base import Evaluations, Explainer
from auditkit.explainers.tokens import feature_map, token_layout


class _LayerCam(Explainer):
    """Shared parent: a class-activation map on ``layer``'s output, upsampled to the input size.

    ``layer`` must be a submodule of ``model`` whose output is a feature map ``Tensor[N, K, h, w]``,
    or a transformer's token sequence ``[N, tokens, K]`` or channels-last map ``[N, h, w, K]`` that
    :func:`~auditkit.explainers.tokens.token_layout` lays out (:attr:`layout`): the activation ``A``
    and its gradient are read as ``[N, K, h, w]`` on the patch grid, prefix tokens dropped. Upsampling
    is bilinear with ``align_corners=False`` (pixel centres; the paper says bilinear; captum's
    ``LayerAttribution.interpolate`` defaults to nearest and cannot set ``align_corners``, so
    ``F.interpolate`` is called directly). Bilinear interpolation of a non-negative map stays
    non-negative. Output ``Tensor[N, 1, H, W]``.

    The forward hook stores the layer output and hands the rest of the network a clone, so an in-place
    op after the layer (``ReLU(inplace=True)``) does not alter the stored ``A``.
    """

    needs_layer: ClassVar[bool] = True
    pixel_wise: ClassVar[bool] = False

    def __init__(self, model: nn.Module, *, layer: nn.Module, batch_size: int = 256) -> None:
        super().__init__(model, batch_size=batch_size)
        if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
            raise ExplainerError(
                f"{self.name}: layer must be a submodule of the model (e.g. model.target_layer), "
                f"got {type(layer).__name__}"
            )
        self.layer = layer
        self.layout = token_layout(model, layer)

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One forward pass and a backward to the layer, counted as a full gradient (an upper bound)."""
        return Evaluations(grad=1)

    def _activations_and_gradients(self, x: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """``A`` and ``d f_c / d A`` as feature maps ``[B, K, h, w]`` (one batched backward), detached."""
        stored: list[Any] = []

        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            stored.append(output)
            return output.clone() if isinstance(output, Tensor) else output

        handle = self.layer.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                logits = self.model(x.requires_grad_())
                if not stored:
                    raise ExplainerError(f"{self.name}: layer never ran in the model's forward pass")
                a = feature_map(stored[-1], self.layout, f"{self.name}: the layer")
                score = logits.gather(1, targets[:, None]).sum()
                (g,) = torch.autograd.grad(score, stored[-1])
        finally:
            handle.remove()
        return a.detach(), feature_map(g, self.layout, f"{self.name}: the layer")

    @staticmethod
    def _upsample(cam: Tensor, x: Tensor) -> Tensor:
        """Bilinear upsampling of ``cam`` ``[B, 1, h, w]`` to ``x``'s ``(H, W)``, float32."""
        return F.interpolate(cam.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)


class GradCam(_LayerCam):
    """``Phi_GC = relu(sum_k a_k A^k)`` with ``a_k = (1/Z) sum_ij d f_c / d A^k_ij``, ``[N, 1, H, W]``.

    ``A`` and its gradient come from one batched backward pass (the parent), then upsampled bilinearly.
    On a feature map this is captum's ``LayerGradCam`` with ``relu_attributions=True`` (the paper's
    ``max(0, .)``; captum's default omits it), which tests check; captum cannot read a token layout.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        layer: convolutional submodule (the paper: last convolution), output ``[N, K, h, w]``, or a
            transformer block's layer whose tokens have a known grid (see the parent).
        batch_size: images per forward/backward pass.
    """

    name: ClassVar[str] = "gradcam"
    label: ClassVar[str] = "Grad-CAM"

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        a, g = self._activations_and_gradients(x, targets)
        weights = g.mean(dim=(2, 3), keepdim=True)
        return self._upsample(F.relu((weights * a).sum(dim=1, keepdim=True)), x)


class GradCamPlusPlus(_LayerCam):
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19), ``[N, 1, H, W]``.

    With ``A`` the layer output ``[N, K, h, w]`` and ``g = d f_c / d A`` (the parent), eq. 19 for the
    exponential score ``Y = exp(f_c)``::

        alpha^k_ij = g_ij^2 / (2 g_ij^2 + (sum_ab A^k_ab) g_ij^3)     (0 where the denominator is 0)
        w_k        = sum_ij alpha^k_ij relu(g^k_ij)
        map        = relu(sum_k w_k A^k), upsampled bilinearly.

    The ``exp(f_c)`` factors cancel in ``alpha``; in ``w_k`` (``dY/dA = exp(f_c) g``) they leave a
    positive per-image constant, dropped: it scales a map and changes no rank. Libraries disagree on the
    denominator (some drop the ``sum A`` term's cube or use ``g^2`` there); this follows eq. 19
    literally, and sets ``alpha = 0`` at 0/0 (where ``g = 0``, whose ``relu(g)`` is 0 anyway).

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        layer: convolutional submodule (the paper: last convolution), output ``[N, K, h, w]``, or a
            transformer block's layer whose tokens have a known grid (see the parent).
        batch_size: images per forward/backward pass.
    """

    name: ClassVar[str] = "gradcam_pp"
    label: ClassVar[str] = "Grad-CAM++"

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        a, g = self._activations_and_gradients(x, targets)
        g2 = g * g
        denominator = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g
        nonzero = denominator != 0
        alpha = torch.where(nonzero, g2 / torch.where(nonzero, denominator, 1), 0)
        weights = (alpha * F.relu(g)).sum(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * a).sum(dim=1, keepdim=True))
        return self._upsample(cam, x)

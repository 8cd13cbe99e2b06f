"""A layer's output read as a feature map ``[N, C, h, w]``, for Grad-CAM and Grad-CAM++.

Three layouts are read:

- a convolutional map ``[N, C, h, w]``, as it is;
- a vision transformer's token sequence ``[N, p + h*w, C]``: the ``p`` prefix tokens (class,
  register, distillation) are dropped and the patch tokens, in row-major order (torchvision's
  ``VisionTransformer._process_input`` flattens ``[N, C, h, w]`` by ``flatten(2)``), are laid on the
  ``h x w`` patch grid;
- Swin's channels-last map ``[N, h, w, C]``, permuted.

:func:`token_layout` finds the layout of a layer, the first that applies, outermost module first
among those that contain the layer:

1. declared: a module with a ``token_grid`` attribute ``(h, w)`` (not ``None``); its
   ``prefix_tokens`` attribute (default 0) counts the tokens before the grid. The audited model
   carries the policy's ``model.token_grid`` and ``model.prefix_tokens`` this way;
2. torchvision's ``VisionTransformer``: one class token, grid ``image_size // patch_size`` square;
3. torchvision's ``SwinTransformer``: the layers of ``features`` (except its convolution) and
   ``norm`` are channels-last.

Otherwise none: the layer's output must be a feature map ``[N, C, h, w]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from auditkit._imports import loaded_class
from auditkit.errors import ExplainerError

__all__ = ["TokenLayout", "feature_map", "token_layout"]


@dataclass(frozen=True)
class TokenLayout:
    """How a layer's output lies: a token sequence on a ``grid`` after ``prefix`` tokens, or a
    channels-last map (``grid`` ``None``); ``source`` says who declared it (for messages)."""

    grid: tuple[int, int] | None
    prefix: int
    source: str

    def describe(self) -> str:
        """``"1 prefix token + a 4 x 4 grid (VisionTransformer)"``, ``"channels last (SwinTransformer)"``."""
        if self.grid is None:
            return f"channels last ({self.source})"
        s = "" if self.prefix == 1 else "s"
        return f"{self.prefix} prefix token{s} + a {self.grid[0]} x {self.grid[1]} grid ({self.source})"


def _contains(module: nn.Module, layer: nn.Module) -> bool:
    return any(m is layer for m in module.modules())


def _declared(module: nn.Module) -> TokenLayout:
    """The layout ``module`` declares by its ``token_grid`` and ``prefix_tokens`` attributes."""
    grid, prefix = module.token_grid, getattr(module, "prefix_tokens", None)
    prefix = 0 if prefix is None else prefix
    pair = tuple(grid) if isinstance(grid, tuple | list) else ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ExplainerError(f"{type(module).__name__}.token_grid must be two positive integers (h, w), "
                             f"got {grid!r}")
    if not isinstance(prefix, int) or isinstance(prefix, bool) or prefix < 0:
        raise ExplainerError(f"{type(module).__name__}.prefix_tokens must be an integer >= 0, got {prefix!r}")
    return TokenLayout((pair[0], pair[1]), prefix, f"{type(module).__name__}.token_grid")


def _swin(model: nn.Module, layer: nn.Module) -> TokenLayout | None:
    """Channels last for the layers of ``features`` (but its convolution) and ``norm``."""
    if isinstance(layer, nn.Conv2d) or not (_contains(model.features, layer) or _contains(model.norm, layer)):
        return None
    return TokenLayout(None, 0, "SwinTransformer")


def token_layout(model: nn.Module, layer: nn.Module) -> TokenLayout | None:
    """The layout of ``layer``'s output in ``model`` (see the module docstring); ``None``: a feature map.

    Raises:
        ExplainerError: a declared ``token_grid`` or ``prefix_tokens`` that is not a grid or a count.
    """
    vit = loaded_class("torchvision.models.vision_transformer", "VisionTransformer")
    swin = loaded_class("torchvision.models.swin_transformer", "SwinTransformer")
    for module in model.modules():
        if getattr(module, "token_grid", None) is not None and _contains(module, layer):
            return _declared(module)
        if vit is not None and isinstance(module, vit) and _contains(module, layer):
            side = module.image_size // module.patch_size
            return TokenLayout((side, side), 1, "VisionTransformer")
        if swin is not None and isinstance(module, swin) and _contains(module, layer):
            return _swin(module, layer)
    return None


def feature_map(a: Any, layout: TokenLayout | None, what: str) -> Tensor:
    """``a`` as ``[N, C, h, w]`` under ``layout``: a view of ``a`` (no copy) where it is a tensor.

    ``what`` names the layer in messages (``"gradcam: the layer"``).

    Raises:
        ExplainerError: ``a`` is neither a feature map nor a token sequence, a token sequence
            without a known grid, or one whose length is not ``prefix + h * w``.
    """
    shape = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
    if isinstance(a, Tensor) and a.dim() == 4:
        return a.permute(0, 3, 1, 2) if layout is not None and layout.grid is None else a
    if not isinstance(a, Tensor) or a.dim() != 3:
        raise ExplainerError(f"{what} gives {shape}, neither a feature map [N, C, h, w] nor a token "
                             "sequence [N, tokens, C]: name a convolutional layer or a transformer "
                             "block's norm")
    if layout is None or layout.grid is None:
        raise ExplainerError(f"{what} gives {shape}, a token sequence [N, tokens, C], and no token grid is "
                             "known for it: declare model.token_grid [h, w] (and model.prefix_tokens)")
    (h, w), p = layout.grid, layout.prefix
    if a.shape[1] != p + h * w:
        raise ExplainerError(f"{what} gives {shape}: {a.shape[1]} tokens, but {layout.describe()} makes "
                             f"{p} + {h} x {w} = {p + h * w}")
    return a[:, p:].unflatten(1, (h, w)).permute(0, 3, 1, 2)

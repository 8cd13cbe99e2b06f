"""Grad-CAM's layer in a network, and why: :func:`choose_layer`.

In order: the layer the policy names; the network's own ``target_layer`` attribute (auditkit's
families have one); for a transformer, the last block's first norm (torchvision's ViT
``encoder.layers[-1].ln_1``, Swin the last stage's last block's ``norm1``), whose output is the
block's input on the patch grid, the layer Grad-CAM for transformers is usually taken at, never the
patch embedding; else the last ``nn.Conv2d`` (the paper's choice for a CNN).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from auditkit._imports import loaded_class

__all__ = ["LayerChoice", "choose_layer", "last_conv_name"]

_BLOCK_NORMS: tuple[tuple[str, str, str], ...] = (
    ("torchvision.models.vision_transformer", "EncoderBlock", "ln_1"),
    ("torchvision.models.swin_transformer", "SwinTransformerBlock", "norm1"))
"""Transformer blocks (torchvision's ViT and Swin, v1 and v2: module, class) and the name of their
first norm; looked up where torchvision has imported them (:func:`~auditkit._imports.loaded_class`)."""


@dataclass(frozen=True)
class LayerChoice:
    """Grad-CAM's layer: its dotted ``name`` in the network (``None``: none), ``reason`` in a few words,
    and whether it is the network's ``own`` ``target_layer`` attribute (then read through it)."""

    name: str | None
    reason: str
    own: bool = False


def last_conv_name(model: nn.Module) -> str | None:
    """Dotted name of the last ``nn.Conv2d`` of ``model`` in module order; ``None`` if it has none."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return names[-1] if names else None


def _last_block_norm(net: nn.Module) -> LayerChoice | None:
    kinds = [(kind, norm) for module, cls, norm in _BLOCK_NORMS
             if (kind := loaded_class(module, cls)) is not None]
    blocks = [(name, m, norm) for name, m in net.named_modules()
              for kind, norm in kinds if isinstance(m, kind)]
    if not blocks:
        return None
    name, block, norm = blocks[-1]
    return LayerChoice(f"{name}.{norm}", f"the last {type(block).__name__}'s first norm")


def choose_layer(net: nn.Module, declared: str | None = None, *, token_grid: bool = False) -> LayerChoice:
    """Grad-CAM's layer in ``net`` (see the module docstring).

    Args:
        declared: the policy's ``model.target_layer``.
        token_grid: the policy declares a token grid (``net`` may declare one itself, as its
            ``token_grid`` attribute).

    Returns:
        The choice; its ``name`` is ``None`` where there is none (no convolution, or a token grid
        without a known transformer block, whose last convolution would be the patch embedding),
        and its ``reason`` then says why.
    """
    if declared is not None:
        return LayerChoice(declared, "model.target_layer")
    own = getattr(net, "target_layer", None)
    if isinstance(own, nn.Module):
        name = next((n for n, m in net.named_modules() if m is own), "?")
        return LayerChoice(name, f"{type(net).__name__}'s own target_layer", own=True)
    block = _last_block_norm(net)
    if block is not None:
        return block
    if token_grid or getattr(net, "token_grid", None) is not None:
        return LayerChoice(None, f"{type(net).__name__} has a token grid but no transformer block auditkit "
                           "knows (its last convolution is the patch embedding)")
    conv = last_conv_name(net)
    return LayerChoice(conv, "the last nn.Conv2d" if conv else f"{type(net).__name__} has no nn.Conv2d")

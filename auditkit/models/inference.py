"""Batched inference: :func:`predict` and :func:`accuracy`."""

from __future__ import annotations

import torch
from torch import nn

from auditkit._batching import batch_slices
from auditkit._tensors import as_float_images
from auditkit.models.errors import ModelError


@torch.no_grad()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Predicted labels (argmax of the logits) of ``images``.

    The model is run in eval mode (its previous mode is restored afterwards), batch by batch: each
    batch is moved to ``device`` as stored and converted there with
    :func:`~auditkit._tensors.as_float_images`. Ties in the logits go to the lowest class index.

    Args:
        model: classifier, logits ``[B, K]`` of float images ``[B, C, H, W]`` in [0, 1].
        images: ``Tensor[N, C, H, W]``, ``uint8`` or float; N may be 0.
        batch_size: images per forward pass, >= 1.
        device: where to run; ``None`` keeps the model where its first parameter or buffer is (CPU
            for a model without any). Otherwise the model is moved there (``nn.Module.to``, in place).

    Returns:
        ``Tensor[N]`` int64 on CPU.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ModelError(f"images must be a Tensor[N, C, H, W], got {shape}", parameter="images")
    if device is None:
        device = next(iter([*model.parameters(), *model.buffers()]), torch.empty(0)).device
    model.to(device)
    was_training = model.training
    model.eval()
    try:
        out = [  # kept on the device: one transfer at the end, not a sync per batch
            model(as_float_images(images[s].to(device))).argmax(dim=1)
            for s in batch_slices(images.shape[0], batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out).cpu() if out else torch.empty(0, dtype=torch.int64)


def accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> float:
    """Fraction of ``images`` whose :func:`predict` label equals ``labels``, in [0, 1].

    Args:
        images: ``Tensor[N, C, H, W]``, N >= 1 (accuracy of nothing is undefined).
        labels: ``Tensor[N]`` integer class indices.
        batch_size, device: as in :func:`predict`.
    """
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != len(images):
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ModelError(
            f"labels must be a Tensor[N] with N = {len(images)} images, got {got}", parameter="labels"
        )
    if labels.shape[0] == 0:
        raise ModelError("images is empty: accuracy is undefined on no images", parameter="images")
    predicted = predict(model, images, batch_size=batch_size, device=device)
    return float((predicted == labels.cpu()).double().mean())

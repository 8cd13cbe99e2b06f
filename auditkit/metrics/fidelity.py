"""Fidelity muF (Bhatt et al. 2020), eq. 7 and appendix C of Fel et al. (WACV 2022).

For an image x with target class c, draw ``n_subsets`` random subsets S of ``subset_size`` pixel
positions (all channels of a position together) and compute, per subset,

.. math::

    a_S = \\sum_{i \\in S} \\phi_i, \\qquad
    \\Delta_S = f_c(x) - f_c(x_{[x_i = \\bar{x}_i,\\, i \\in S]})

with f_c the target-class logit and :math:`\\bar{x}` the baseline. muF(x) is Pearson's
correlation between :math:`a_S` and :math:`\\Delta_S` over the subsets.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from auditkit._batching import batch_slices
from auditkit._validation import check_int
from auditkit.errors import MetricInputError

__all__ = ["fidelity_subsets", "mu_fidelity"]


def fidelity_subsets(
    n_images: int,
    n_positions: int,
    subset_size: int,
    n_subsets: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw the subsets muF uses, fresh for every image: ``bool Tensor[n_images, n_subsets, P]``.

    Image i's subsets are the ``subset_size`` smallest keys of
    ``torch.rand(n_subsets, n_positions, generator=generator)``, drawn for images in order, one
    call per image. The draw order is fixed by that rule alone, so the subsets of an image do not
    depend on how the images are batched, and a test can reproduce them.
    """
    gen_device = generator.device if generator is not None else torch.device(device)
    masks = torch.zeros((n_images, n_subsets, n_positions), dtype=torch.bool, device=device)
    for i in range(n_images):
        keys = torch.rand((n_subsets, n_positions), generator=generator, device=gen_device)
        chosen = keys.topk(subset_size, dim=1, largest=False).indices.to(device)
        masks[i].scatter_(1, chosen, True)
    return masks


def _pearson_rows(
    a: torch.Tensor, b: torch.Tensor, tol_a: torch.Tensor, tol_b: torch.Tensor
) -> torch.Tensor:
    """Pearson correlation of each row pair of a, b ``[N, M]``.

    A row whose range is within ``tol`` (the floating-point resolution of the computation that
    produced it) is constant, and its correlation is undefined: NaN.
    """
    undefined = (a.amax(1) - a.amin(1) <= tol_a) | (b.amax(1) - b.amin(1) <= tol_b)
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    corr = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))
    return torch.where(undefined, torch.nan, corr.clamp(-1.0, 1.0))


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise MetricInputError(f"x must be a non-empty tensor [N, C, H, W], got {shape}")


def _check_inputs(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    attributions: torch.Tensor,
    targets: torch.Tensor | int,
    subset_size: int,
    n_subsets: int,
    baseline: float | torch.Tensor,
    n_positions: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if isinstance(model, nn.Module) and model.training:
        raise MetricInputError(
            "model is in training mode (dropout/batch-norm make f random): call model.eval() first"
        )
    n, c, h, w = x.shape
    if not isinstance(attributions, torch.Tensor) or attributions.shape not in (
        x.shape,
        torch.Size((n, 1, h, w)),
    ):
        shape = tuple(attributions.shape) if isinstance(attributions, torch.Tensor) else None
        raise MetricInputError(
            f"attributions must have x's shape {tuple(x.shape)} or {(n, 1, h, w)}, got {shape}"
        )
    if not bool(torch.isfinite(attributions).all()):
        raise MetricInputError("attributions contain NaN or infinite values")
    targets = torch.as_tensor(targets, device=x.device)
    if targets.dim() == 0:
        targets = targets.expand(n)
    if targets.shape != (n,) or targets.is_floating_point():
        raise MetricInputError(f"targets must be an int or an int tensor [N={n}], got {targets}")
    check_int(subset_size, "subset_size", minimum=1, maximum=n_positions - 1)
    check_int(n_subsets, "n_subsets", minimum=2)
    base = torch.as_tensor(baseline, dtype=x.dtype, device=x.device)
    if base.dim() > 3:
        raise MetricInputError(
            f"baseline must be a number or broadcast to one image {(c, h, w)}, got {tuple(base.shape)}"
        )
    try:
        base = base.expand(c, h, w)
    except RuntimeError:
        raise MetricInputError(
            f"baseline of shape {tuple(base.shape)} does not broadcast to one image {(c, h, w)}"
        ) from None
    return attributions.sum(dim=1).flatten(1), targets.long(), base


@torch.no_grad()
def mu_fidelity(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    attributions: torch.Tensor,
    targets: torch.Tensor | int,
    subset_size: int,
    baseline: float | torch.Tensor = 0.0,
    n_subsets: int = 128,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
    cell_size: int = 1,
) -> torch.Tensor:
    """muF per image: Pearson correlation between attribution mass and score drop over subsets.

    Args:
        model: maps ``[B, C, H, W]`` to logits ``[B, classes]``; an ``nn.Module`` must be in eval mode.
        x: images ``[N, C, H, W]``.
        attributions: ``[N, C, H, W]`` or ``[N, 1, H, W]``; channels are summed per position.
        targets: class c per image, ``int`` or ``Tensor[N]``.
        subset_size: |S|, number of positions per subset, ``1 <= |S| <`` the number of positions
            (the paper uses 15% of the positions).
        baseline: value of the removed positions: a number or a tensor broadcastable to
            ``[C, H, W]`` (the paper uses 0).
        n_subsets: number of random subsets per image (>= 2).
        generator: seeds the subsets; see :func:`fidelity_subsets` for the draw order.
        batch_size: number of perturbed images per forward pass; bounds the memory, whatever
            ``n_subsets`` or the image size.
        cell_size: side of the square cell a position stands for: 1 (default) removes single
            pixels; c > 1 removes c x c cells of a ``ceil(H / c) x ceil(W / c)`` grid (cells on
            the lower and right edges are cropped).
    Returns:
        ``Tensor[N]`` (float) on x's device. An image whose score drops are all equal, or whose
        subset sums are all equal (e.g. a constant map), has no correlation: its value is NaN.
        "Equal" means equal within 16 ulps of the magnitudes involved (|f_c(x)| plus the largest
        drop; the map's total absolute mass), so rounding noise is not read as a correlation.
        Aggregates must skip and count these, never read them as 0.
    """
    check_int(batch_size, "batch_size", minimum=1)
    _check_images(x)
    n, _, h, w = x.shape
    check_int(cell_size, "cell_size", minimum=1, maximum=max(h, w))
    grid_h, grid_w = -(-h // cell_size), -(-w // cell_size)
    attr, targets, base = _check_inputs(
        model, x, attributions, targets, subset_size, n_subsets, baseline, grid_h * grid_w
    )
    rows = torch.arange(h, device=x.device) // cell_size
    cols = torch.arange(w, device=x.device) // cell_size
    pixel_cell = (rows[:, None] * grid_w + cols[None, :]).flatten()  # [H * W] cell of each pixel
    images_per_chunk = max(1, batch_size // n_subsets)
    out = torch.empty(n, dtype=torch.float64, device=x.device)
    for chunk in batch_slices(n, images_per_chunk):
        xs, ts = x[chunk], targets[chunk]
        cells = fidelity_subsets(
            xs.shape[0], grid_h * grid_w, subset_size, n_subsets, generator, x.device
        )
        masks = cells[:, :, pixel_cell]  # [b, n_subsets, H * W]
        sums = (masks.to(attr.dtype) * attr[chunk].unsqueeze(1)).sum(dim=2)  # [b, n_subsets]
        clean = model(xs).gather(1, ts[:, None])  # [b, 1]
        flat_masks = masks.view(-1, 1, h, w)
        owner = torch.arange(xs.shape[0], device=x.device).repeat_interleave(n_subsets)
        drops = torch.empty(owner.shape[0], dtype=clean.dtype, device=x.device)
        for part in batch_slices(owner.shape[0], batch_size):
            idx = owner[part]
            m = flat_masks[part]
            perturbed = torch.where(m, base, xs[idx])
            drops[part] = clean[idx, 0] - model(perturbed).gather(1, ts[idx, None])[:, 0]
        drops = drops.view(-1, n_subsets)
        # Rounding resolution: a few ulps of the magnitudes that were summed or subtracted.
        tol_sums = 16 * torch.finfo(attr.dtype).eps * attr[chunk].abs().sum(dim=1)
        scale = clean[:, 0].abs() + drops.abs().amax(dim=1)
        tol_drops = 16 * torch.finfo(drops.dtype).eps * scale
        out[chunk] = _pearson_rows(sums.double(), drops.double(), tol_sums, tol_drops)
    return out.to(x.dtype if x.is_floating_point() else torch.float32)

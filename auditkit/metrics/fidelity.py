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

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from auditkit._batching import batch_slices
from auditkit._validation import check_int
from auditkit.errors import MetricInputError

__all__ = ["ScoreDrops", "fidelity_subsets", "mu_fidelity", "score_drops"]


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


@dataclass(frozen=True)
class ScoreDrops:
    """The model's side of muF for N images, which no map enters: what :func:`score_drops` returns
    and :func:`mu_fidelity` reuses for every explainer of the same model, images and subsets."""

    clean: torch.Tensor
    """``f_c(x)`` of each image, ``Tensor[N]``."""
    drops: torch.Tensor
    """``Delta_S = f_c(x) - f_c(x_[S = baseline])`` of each image and subset, ``Tensor[N, n_subsets]``."""


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
    drops: ScoreDrops | None = None,
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
        drops: the score drops of the same model, images, targets and subsets (:func:`score_drops`
            with the same arguments and a generator in the same state): the model is not evaluated
            again, and the result is the same to the bit. ``None``: computed here.
    Returns:
        ``Tensor[N]`` (float) on x's device. An image whose score drops are all equal, or whose
        subset sums are all equal (e.g. a constant map), has no correlation: its value is NaN.
        "Equal" means equal within 16 ulps of the magnitudes involved (|f_c(x)| plus the largest
        drop; the map's total absolute mass), so rounding noise is not read as a correlation.
        Aggregates must skip and count these, never read them as 0.
    """
    check_int(batch_size, "batch_size", minimum=1)
    _check_images(x)
    _check_drops(drops, x.shape[0], n_subsets)
    out = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    for chunk, masks, ts, attr in _chunks(model, x, attributions, targets, subset_size, baseline,
                                          n_subsets, generator, batch_size, cell_size):
        if drops is None:
            clean, drop = _drops(model, x[chunk], ts, masks, baseline, batch_size)
        else:
            clean, drop = drops.clean[chunk].to(x.device), drops.drops[chunk].to(x.device)
        out[chunk] = _fidelity_rows(masks, attr, clean, drop)
    return out.to(x.dtype if x.is_floating_point() else torch.float32)


def _check_drops(drops: ScoreDrops | None, n: int, n_subsets: int) -> None:
    if drops is not None and (drops.clean.shape != (n,) or drops.drops.shape != (n, n_subsets)):
        raise MetricInputError(f"drops must hold {n} images x {n_subsets} subsets, got clean "
                               f"{tuple(drops.clean.shape)} and drops {tuple(drops.drops.shape)}")


def _fidelity_rows(
    masks: torch.Tensor, attr: torch.Tensor, clean: torch.Tensor, drop: torch.Tensor
) -> torch.Tensor:
    """muF of one chunk, ``Tensor[b]`` float64: Pearson's correlation of the subset sums ``a_S`` of
    the position masses ``attr`` ``[b, P]`` over ``masks`` ``[b, n_subsets, P]`` with the drops
    ``drop`` ``[b, n_subsets]`` (``clean``: ``f_c(x)`` ``[b]``, for the rounding tolerance)."""
    sums = (masks.to(attr.dtype) * attr.unsqueeze(1)).sum(dim=2)  # [b, n_subsets]
    # Rounding resolution: a few ulps of the magnitudes that were summed or subtracted.
    tol_sums = 16 * torch.finfo(attr.dtype).eps * attr.abs().sum(dim=1)
    scale = clean.abs() + drop.abs().amax(dim=1)
    tol_drops = 16 * torch.finfo(drop.dtype).eps * scale
    return _pearson_rows(sums.double(), drop.double(), tol_sums, tol_drops)


@torch.no_grad()
def score_drops(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    targets: torch.Tensor | int,
    subset_size: int,
    baseline: float | torch.Tensor = 0.0,
    n_subsets: int = 128,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
    cell_size: int = 1,
) -> ScoreDrops:
    """The score drops :func:`mu_fidelity` computes with the same arguments, with no map: the
    model's evaluations, done once for every explainer of a model (``mu_fidelity(..., drops=)``).

    The subsets are drawn and the model evaluated in the same order and the same batches as in
    :func:`mu_fidelity`, so the drops are the same to the bit.
    """
    check_int(batch_size, "batch_size", minimum=1)
    _check_images(x)
    parts = [_drops(model, x[chunk], ts, masks, baseline, batch_size)
             for chunk, masks, ts, _ in _chunks(model, x, None, targets, subset_size, baseline,
                                                n_subsets, generator, batch_size, cell_size)]
    return ScoreDrops(torch.cat([c for c, _ in parts]), torch.cat([d for _, d in parts]))


def _chunks(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    attributions: torch.Tensor | None,
    targets: torch.Tensor | int,
    subset_size: int,
    baseline: float | torch.Tensor,
    n_subsets: int,
    generator: torch.Generator | None,
    batch_size: int,
    cell_size: int,
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Check the inputs; yield ``(chunk, masks [b, n_subsets, H * W], targets [b], position masses
    [b, H * W])`` for chunks of ``batch_size // n_subsets`` images (at least 1), drawing each
    chunk's subsets from ``generator`` in image order. Without ``attributions`` the masses are 0."""
    n, _, h, w = x.shape
    check_int(cell_size, "cell_size", minimum=1, maximum=max(h, w))
    grid_h, grid_w = -(-h // cell_size), -(-w // cell_size)
    given = attributions if attributions is not None else torch.zeros((n, 1, h, w), device=x.device)
    attr, targets, _ = _check_inputs(
        model, x, given, targets, subset_size, n_subsets, baseline, grid_h * grid_w
    )
    rows = torch.arange(h, device=x.device) // cell_size
    cols = torch.arange(w, device=x.device) // cell_size
    pixel_cell = (rows[:, None] * grid_w + cols[None, :]).flatten()  # [H * W] cell of each pixel
    for chunk in batch_slices(n, max(1, batch_size // n_subsets)):
        cells = fidelity_subsets(
            chunk.stop - chunk.start, grid_h * grid_w, subset_size, n_subsets, generator, x.device
        )
        yield chunk, cells[:, :, pixel_cell], targets[chunk], attr[chunk]


def _drops(
    model: Callable[[torch.Tensor], torch.Tensor],
    xs: torch.Tensor,
    ts: torch.Tensor,
    masks: torch.Tensor,
    baseline: float | torch.Tensor,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f_c(x)`` ``[b]`` and the drops ``[b, n_subsets]`` of one chunk, ``batch_size`` perturbed
    images per forward pass."""
    b, n_subsets = masks.shape[:2]
    _, c, h, w = xs.shape
    base = torch.as_tensor(baseline, dtype=xs.dtype, device=xs.device).expand(c, h, w)
    clean = model(xs).gather(1, ts[:, None])  # [b, 1]
    flat_masks = masks.view(-1, 1, h, w)
    owner = torch.arange(b, device=xs.device).repeat_interleave(n_subsets)
    drops = torch.empty(owner.shape[0], dtype=clean.dtype, device=xs.device)
    for part in batch_slices(owner.shape[0], batch_size):
        idx = owner[part]
        perturbed = torch.where(flat_masks[part], base, xs[idx])
        drops[part] = clean[idx, 0] - model(perturbed).gather(1, ts[idx, None])[:, 0]
    return clean[:, 0], drops.view(b, n_subsets)

"""Robustness, invariance and completeness of explanations: the properties MeGe, ReCo and muF leave out.

An explanation function here is any ``explain(x, targets) -> maps`` (e.g. ``Explainer.explain``).

Robustness (Yeh et al. 2019), for n perturbations δ_1..δ_n drawn uniformly in the L∞ ball of radius
r around x:

.. math::

    \\mathrm{SENS}_{max}(x) = \\max_t \\frac{\\lVert \\phi(x + \\delta_t) - \\phi(x) \\rVert_2}
                                          {\\lVert \\phi(x) \\rVert_2},
    \\qquad
    \\bar d(x) = \\frac{1}{n} \\sum_t \\left(1 - |\\rho(\\phi(x + \\delta_t), \\phi(x))|\\right)

Both are computed from the same draws. captum's ``sensitivity_max`` computes the first but draws
its own noise, so it cannot give the second on the same perturbations; auditkit computes both in one
batched pass instead (given the same draws through its ``perturb_func``, captum's SENS_max equals
ours: tested). The draws are image-major (perturbation t of image i is ``u[i, t]``), so explaining
the images in chunks with one CPU generator gives the same draws as one call. An explanation with
zero norm has no relative change: its SENS_max is NaN.

Invariance under a transformation T: for a geometric T (flip, translation, rotation) the map should
move with the image, so the distance compares φ(T(x)) with T(φ(x)); for a photometric T
(brightness) it compares φ(T(x)) with φ(x). Only images whose predicted class T leaves unchanged
are compared; the others are reported as NaN and counted by the caller.

Completeness, for a method that claims it (Integrated Gradients):
``|Σ φ - (f_c(x) - f_c(x0))| / |f_c(x) - f_c(x0)|``, NaN where the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from auditkit._validation import check_int
from auditkit.errors import MetricInputError
from auditkit.metrics.spearman import spearman_distance

__all__ = ["completeness_error", "invariance_distance", "sensitivity"]

ExplainFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_images(x: torch.Tensor, targets: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] == 0:
        raise MetricInputError("x must be a non-empty tensor [N, C, H, W]")
    if not isinstance(targets, torch.Tensor) or targets.shape != (x.shape[0],):
        raise MetricInputError(f"targets must be a tensor [N={x.shape[0]}] of class indices")


def sensitivity(
    explain: ExplainFn,
    x: torch.Tensor,
    targets: torch.Tensor,
    radius: float,
    n_perturbations: int = 10,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-sensitivity and mean Spearman distance of ``explain`` under uniform L∞ noise.

    Args:
        explain: ``(x [B, C, H, W], targets [B]) -> maps [B, ...]``.
        x: images ``[N, C, H, W]``; targets: ``[N]``.
        radius: r > 0, the L∞ radius, in the images' units.
        n_perturbations: n >= 1 draws per image.
        generator: seeds the draws: ``u = torch.rand(N, n, C, H, W)`` on the generator's device,
            drawn once per call (perturbation t of image i is ``(2 u[i, t] - 1) r``).
    Returns:
        ``(sens_max [N], mean_distance [N])``; sens_max is NaN where φ(x) is all zeros.
    """
    _check_images(x, targets)
    if not radius > 0:
        raise MetricInputError(f"radius must be > 0, got {radius}")
    check_int(n_perturbations, "n_perturbations", minimum=1)
    gen_device = generator.device if generator is not None else x.device
    n = n_perturbations
    u = torch.rand((x.shape[0], n, *x.shape[1:]), generator=generator, device=gen_device)
    u = u.to(device=x.device, dtype=x.dtype)
    noisy = (x.unsqueeze(1) + (2.0 * u - 1.0) * radius).flatten(0, 1)  # [N * n, C, H, W], image-major
    clean = explain(x, targets)
    perturbed = explain(noisy, targets.repeat_interleave(n)).view(x.shape[0], n, *clean.shape[1:])
    flat_clean = clean.flatten(1).double()
    diff = (perturbed.flatten(2).double() - flat_clean.unsqueeze(1)).norm(dim=2)  # [N, n]
    norm = flat_clean.norm(dim=1)
    sens = torch.where(norm > 0, diff.amax(dim=1) / norm.clamp_min(1e-300), torch.nan)
    dist = spearman_distance(perturbed.flatten(0, 1), clean.repeat_interleave(n, dim=0))
    return sens, dist.view(x.shape[0], n).double().mean(dim=1)


def invariance_distance(
    model: Callable[[torch.Tensor], torch.Tensor],
    explain: ExplainFn,
    x: torch.Tensor,
    targets: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor],
    geometric: bool,
) -> torch.Tensor:
    """Spearman distance between the explanation of T(x) and the expected one, per image.

    Args:
        model: logits of a batch, used to keep only images whose prediction T leaves unchanged.
        explain: ``(x, targets) -> maps`` with maps of x's spatial size (so T can act on them).
        transform: T, acting on a batch ``[N, C, H, W]`` (a torchvision v2 transform or a function).
        geometric: compare φ(T(x)) with T(φ(x)) (True) or with φ(x) (False).
    Returns:
        ``Tensor[N]`` of distances in [0, 1]; NaN for images whose prediction T changes.
    """
    _check_images(x, targets)
    tx = transform(x)
    if tx.shape != x.shape:
        raise MetricInputError(f"transform must keep the image shape {tuple(x.shape)}, got {tuple(tx.shape)}")
    with torch.no_grad():
        kept = model(x).argmax(dim=1) == model(tx).argmax(dim=1)
    out = torch.full((x.shape[0],), torch.nan, dtype=torch.float64, device=x.device)
    if not bool(kept.any()):
        return out
    maps = explain(x[kept], targets[kept])
    expected = transform(maps) if geometric else maps
    out[kept] = spearman_distance(explain(tx[kept], targets[kept]), expected).double()
    return out


@torch.no_grad()
def completeness_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    attributions: torch.Tensor,
    targets: torch.Tensor,
    baseline: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Relative completeness error ``|Σ φ - Δ| / |Δ|`` with ``Δ = f_c(x) - f_c(baseline)``;
    ``baseline`` is a scalar or images of ``x``'s shape.

    Returns ``Tensor[N]`` (float64); NaN where Δ = 0 (nothing to be complete about).
    """
    _check_images(x, targets)
    if attributions.shape[0] != x.shape[0]:
        raise MetricInputError(f"attributions must hold {x.shape[0]} maps, got {attributions.shape[0]}")
    index = targets[:, None]
    x0 = baseline.expand_as(x) if isinstance(baseline, torch.Tensor) else torch.full_like(x, baseline)
    delta = (model(x).gather(1, index) - model(x0).gather(1, index))[:, 0]
    delta = delta.double()
    total = attributions.flatten(1).double().sum(dim=1)
    return torch.where(delta != 0, (total - delta).abs() / delta.abs().clamp_min(1e-300), torch.nan)

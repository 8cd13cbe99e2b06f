"""The two degradations of the sanity checks (Fel et al., section 4.2 and appendix E.2).

- :func:`randomise_weights`: a copy of a trained model with Gaussian noise added to a share of its
  convolution weights (no retraining);
- :func:`noisy_labels`: training labels with a share of them replaced by a wrong class, for
  retraining the fold models.

Each level of a check is an independent draw from the trained model (or the true labels), not a
cumulative one: level p's draw does not contain level p' < p's. Every draw takes its own
``torch.Generator``, seeded by :func:`draw_seed`, so a resumed audit redraws exactly the same noise.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from auditkit.engine.keys import digest
from auditkit.models import ModelError

__all__ = ["conv_weights", "draw_seed", "noisy_labels", "randomise_weights"]

REFRESH_ITERATIONS = 15
"""Training-mode evaluations of a re-parametrised weight after its noise (see :func:`randomise_weights`);
15 is the number of power iterations torch's spectral norm runs when it is created."""


def draw_seed(*parts: int | float | str) -> int:
    """A 63-bit seed derived from ``parts`` (e.g. policy seed, level index, fold) by SHA-256.

    Nearby inputs give unrelated seeds, unlike ``seed + level`` sums that collide across parts.

    >>> draw_seed(0, 1, 2) == draw_seed(0, 1, 2) != draw_seed(0, 2, 1)
    True
    """
    return int(digest(list(parts))[:16], 16) & (2**63 - 1)


def _check_share(share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ModelError(f"share must be a fraction in [0, 1], got {share}", parameter="share")


def conv_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight tensors of every ``nn.Conv2d`` of ``model``, in module order.

    A convolution whose weight is re-parametrised (``torchlip.SpectralConv2d``: spectral norm, then
    Björck orthonormalisation, then a constant factor) contributes its underlying free parameter
    ``parametrizations.weight.original``, the tensor training updates.
    """
    out = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            if parametrize.is_parametrized(module, "weight"):
                out.append(module.parametrizations.weight.original)
            else:
                out.append(module.weight)
    return out


def randomise_weights(
    model: nn.Module, share: float, std: float, generator: torch.Generator,
    scale: str = "absolute",
) -> nn.Module:
    """A deep copy of ``model`` with ``N(0, std²)`` noise added to ``round(share x M)`` conv weights.

    M is the number of entries of all :func:`conv_weights` tensors together; the entries are drawn
    uniformly without replacement over their concatenation (``torch.randperm(M)``, first entries),
    so a large layer receives proportionally more noise. ``std`` is the standard deviation (the
    paper's N(0, 0.5), appendix E.2, read as std 0.5). Biases, linear and normalisation layers are
    left as trained. ``model`` itself is not modified. With ``scale="relative"`` an entry of layer l
    gets ``N(0, (std x s_l)²)`` noise, s_l the standard deviation of layer l's trained weights, so the
    same ``std`` degrades a model whose weights are small as much as one whose weights are large.

    A re-parametrised convolution (torchlip) caches its normalised weight and uses the cache in eval
    mode, so noise on ``original`` alone would change nothing. After the noise, each such layer's
    parametrisation is evaluated :data:`REFRESH_ITERATIONS` times in training mode without gradients:
    the spectral norm's power iteration converges to the noisy weight's top singular vectors and the
    Björck cache is recomputed, so the copy stays 1-Lipschitz and uses its noisy weights.

    Args:
        model: a trained model (any device); the copy is on the same device, in eval mode.
        share: fraction of the conv weight entries perturbed, in [0, 1].
        std: noise standard deviation, > 0 (in weight units, or in units of s_l when relative).
        scale: ``"absolute"`` (the paper) or ``"relative"``.
        generator: CPU generator for both the entries and the noise (indices first, then values).

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    >>> noisy = randomise_weights(net, 0.5, 0.5, torch.Generator().manual_seed(0))
    >>> int((noisy[0].weight != net[0].weight).sum()), bool((noisy[2].weight == net[2].weight).all())
    (9, True)
    """
    _check_share(share)
    if not std > 0:
        raise ModelError(f"std must be > 0 (a standard deviation), got {std}", parameter="std")
    noisy = copy.deepcopy(model).eval()
    weights = conv_weights(noisy)
    if not weights:
        raise ModelError(f"{type(model).__name__} has no nn.Conv2d layer: weight randomisation "
                         "perturbs convolution weights only", parameter="model")
    sizes = [w.numel() for w in weights]
    total = sum(sizes)
    count = round(share * total)
    chosen = torch.randperm(total, generator=generator)[:count]
    noise = torch.randn(count, generator=generator, dtype=torch.float64) * std
    if scale == "relative":
        layer_sd = torch.tensor([float(w.detach().double().std()) if w.numel() > 1 else 0.0
                                 for w in weights], dtype=torch.float64)
        noise = noise * torch.repeat_interleave(layer_sd, torch.tensor(sizes))[chosen]
    elif scale != "absolute":
        raise ModelError(f"scale must be 'absolute' or 'relative', got {scale!r}", parameter="scale")
    delta = torch.zeros(total, dtype=torch.float64)
    delta[chosen] = noise
    with torch.no_grad():
        for w, part in zip(weights, torch.split(delta, sizes), strict=True):
            w.add_(part.view_as(w).to(device=w.device, dtype=w.dtype))
    _refresh_parametrisations(noisy)
    return noisy


def _refresh_parametrisations(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and parametrize.is_parametrized(module, "weight"):
            chain = module.parametrizations.weight
            chain.train()
            with torch.no_grad():
                for _ in range(REFRESH_ITERATIONS):
                    module.weight  # noqa: B018 - evaluating the chain updates its caches
            chain.eval()


def noisy_labels(
    labels: torch.Tensor, share: float, num_classes: int, generator: torch.Generator
) -> torch.Tensor:
    """A copy of ``labels [N]`` where exactly ``round(share x N)`` entries hold a wrong class.

    The images are the first ``round(share x N)`` of ``torch.randperm(N)``; image n's new label is
    ``(y_n + s) mod C`` with s uniform in {1, ..., C - 1}, i.e. uniform over the C - 1 other classes
    and never the true one (a plain permutation of labels would leave some of them right, so the
    share of wrong labels would fall short of ``share``).

    Args:
        labels: ``[N]`` int64 true labels in [0, num_classes).
        share: fraction of wrong labels, in [0, 1].
        num_classes: C >= 2.
        generator: CPU generator (images first, then the offsets).

    >>> y = torch.tensor([0, 1, 2, 0, 1, 2])
    >>> int((noisy_labels(y, 0.5, 3, torch.Generator().manual_seed(0)) != y).sum())
    3
    """
    _check_share(share)
    if num_classes < 2:
        raise ModelError(f"label shuffling needs at least 2 classes, got num_classes={num_classes}",
                         parameter="num_classes")
    n = labels.numel()
    count = round(share * n)
    chosen = torch.randperm(n, generator=generator)[:count]
    offsets = torch.randint(1, num_classes, (count,), generator=generator)
    out = labels.clone()
    out[chosen] = (labels[chosen] + offsets) % num_classes
    return out

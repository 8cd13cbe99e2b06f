"""The degradations of the sanity checks (Fel et al., section 4.2 and appendix E.2).

- :func:`randomise_weights`: a copy of a trained model with Gaussian noise added to a share of its
  weights (the paper's protocol, ``levels_by: noise``; no retraining);
- :class:`WeightNoise` and :func:`find_scale`: a copy whose every selected weight tensor t is moved by
  ``s x z_t``, ``z_t ~ N(0, sd_t²)`` one fixed draw, with the scale s found by bisection so that the
  copy reaches a target held-out accuracy (``levels_by: accuracy``);
- :func:`noisy_labels`: training labels with a share of them replaced by a wrong class, for
  retraining the fold models.

The weights a degradation may select are of the kinds :data:`~auditkit.policy.schema.LAYER_KINDS`
(``layers``; ``all`` is every kind): ``conv`` the weights of ``nn.Conv1d/2d/3d``; ``linear`` of
``nn.Linear`` (but an attention block's output projection); ``attention`` ``nn.MultiheadAttention``'s
``in_proj_weight`` (or its separate ``q/k/v_proj_weight``) and ``out_proj.weight``; ``norm`` the
affine scale (``weight``) of batch, instance, layer and group norms. Biases, class tokens, position
embeddings and batch-norm running statistics are never touched.

Each level of a check is an independent draw from the trained model (or the true labels), not a
cumulative one: level p's draw does not contain level p' < p's. Every draw takes its own
``torch.Generator``, seeded by :func:`draw_seed`, so a resumed audit redraws exactly the same noise.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from auditkit.engine.keys import digest
from auditkit.models import ModelError
from auditkit.policy.schema import LAYER_KINDS

__all__ = ["LAYER_KINDS", "Calibration", "WeightNoise", "conv_weights", "draw_seed", "find_scale",
           "noisy_labels", "randomise_weights", "weight_tensors"]

REFRESH_ITERATIONS = 15
"""Training-mode evaluations of a re-parametrised weight after its noise (see :func:`randomise_weights`);
15 is the number of power iterations torch's spectral norm runs when it is created."""

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORM = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_ATTENTION_WEIGHTS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


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


def _kinds(layers: str | Sequence[str]) -> frozenset[str]:
    kinds = frozenset(LAYER_KINDS if layers == "all" else layers)
    unknown = sorted(kinds - set(LAYER_KINDS))
    if unknown or not kinds:
        raise ModelError(f"layers must be 'all' or a non-empty list of {', '.join(LAYER_KINDS)}, got "
                         f"{layers!r}", parameter="layers")
    return kinds


def _free(module: nn.Module, name: str) -> nn.Parameter:
    """``module``'s parameter ``name``, or the free ``original`` of a re-parametrised one (torchlip)."""
    if parametrize.is_parametrized(module, name):
        return getattr(module.parametrizations, name).original
    return getattr(module, name)


def _module_weights(module: nn.Module, kinds: frozenset[str],
                    projections: set[int]) -> list[tuple[nn.Module, nn.Parameter]]:
    if isinstance(module, nn.MultiheadAttention):
        if "attention" not in kinds:
            return []
        own = [getattr(module, n) for n in _ATTENTION_WEIGHTS if getattr(module, n) is not None]
        return [(module, w) for w in own] + [(module.out_proj, _free(module.out_proj, "weight"))]
    if (isinstance(module, _CONV) and "conv" in kinds) or (
            isinstance(module, nn.Linear) and "linear" in kinds and id(module) not in projections):
        return [(module, _free(module, "weight"))]
    if isinstance(module, _NORM) and "norm" in kinds and getattr(module, "weight", None) is not None:
        return [(module, _free(module, "weight"))]
    return []


def _selected(model: nn.Module, layers: str | Sequence[str]) -> list[tuple[nn.Module, nn.Parameter]]:
    """``(module, tensor)`` of every weight of the kinds ``layers`` names, in module order, once each."""
    kinds = _kinds(layers)
    projections = {id(m.out_proj) for m in model.modules() if isinstance(m, nn.MultiheadAttention)}
    out, seen = [], set()
    for module in model.modules():
        for owner, w in _module_weights(module, kinds, projections):
            if id(w) not in seen:
                seen.add(id(w))
                out.append((owner, w))
    return out


def weight_tensors(model: nn.Module, layers: str | Sequence[str] = "all") -> list[nn.Parameter]:
    """The weight tensors of ``model`` of the kinds ``layers`` names (:data:`LAYER_KINDS`), in module order.

    A weight that is re-parametrised (``torchlip.SpectralConv2d``: spectral norm, then Björck
    orthonormalisation, then a constant factor) contributes its underlying free parameter
    ``parametrizations.weight.original``, the tensor training updates. A tensor shared by two
    modules is listed once.

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2))
    >>> [tuple(w.shape) for w in weight_tensors(net)], len(weight_tensors(net, ["norm"]))
    ([(2, 1, 3, 3), (2,), (2, 2)], 1)
    """
    return [w for _, w in _selected(model, layers)]


def conv_weights(model: nn.Module) -> list[nn.Parameter]:
    """The convolution weight tensors of ``model``: ``weight_tensors(model, ["conv"])``."""
    return weight_tensors(model, ["conv"])


def _no_weights(model: nn.Module, layers: str | Sequence[str]) -> ModelError:
    named = "every kind" if layers == "all" else ", ".join(layers)
    return ModelError(f"{type(model).__name__} has no weight of the layers named ({named}): nothing "
                      f"to randomise; name others in layers ({', '.join(LAYER_KINDS)} or all)",
                      parameter="layers")


def randomise_weights(
    model: nn.Module, share: float, std: float, generator: torch.Generator,
    scale: str = "absolute", layers: str | Sequence[str] = ("conv",),
) -> nn.Module:
    """A deep copy of ``model`` with ``N(0, std²)`` noise added to ``round(share x M)`` weights.

    M is the number of entries of all :func:`weight_tensors` of ``layers`` together (the paper's:
    convolutions only); the entries are drawn uniformly without replacement over their
    concatenation (``torch.randperm(M)``, first entries), so a large layer receives proportionally
    more noise. ``std`` is the standard deviation (the paper's N(0, 0.5), appendix E.2, read as
    std 0.5). Biases and the layers not named are left as trained. ``model`` itself is not
    modified. With ``scale="relative"`` an entry of tensor l gets ``N(0, (std x s_l)²)`` noise, s_l
    the standard deviation of tensor l's trained weights, so the same ``std`` degrades a model whose
    weights are small as much as one whose weights are large.

    A re-parametrised weight (torchlip) caches its normalised value and uses the cache in eval
    mode, so noise on ``original`` alone would change nothing. After the noise, each such layer's
    parametrisation is evaluated :data:`REFRESH_ITERATIONS` times in training mode without gradients:
    the spectral norm's power iteration converges to the noisy weight's top singular vectors and the
    Björck cache is recomputed, so the copy stays 1-Lipschitz and uses its noisy weights.

    Args:
        model: a trained model (any device); the copy is on the same device, in eval mode.
        share: fraction of the selected weight entries perturbed, in [0, 1].
        std: noise standard deviation, > 0 (in weight units, or in units of s_l when relative).
        scale: ``"absolute"`` (the paper) or ``"relative"``.
        generator: CPU generator for both the entries and the noise (indices first, then values).
        layers: the kinds of weights perturbed (:data:`LAYER_KINDS` or ``"all"``).

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    >>> noisy = randomise_weights(net, 0.5, 0.5, torch.Generator().manual_seed(0))
    >>> int((noisy[0].weight != net[0].weight).sum()), bool((noisy[2].weight == net[2].weight).all())
    (9, True)
    """
    _check_share(share)
    if not std > 0:
        raise ModelError(f"std must be > 0 (a standard deviation), got {std}", parameter="std")
    if scale not in ("absolute", "relative"):
        raise ModelError(f"scale must be 'absolute' or 'relative', got {scale!r}", parameter="scale")
    noisy = copy.deepcopy(model).eval()
    selected = _selected(noisy, layers)
    if not selected:
        raise _no_weights(model, layers)
    weights = [w for _, w in selected]
    sizes = [w.numel() for w in weights]
    total = sum(sizes)
    count = round(share * total)
    chosen = torch.randperm(total, generator=generator)[:count]
    noise = torch.randn(count, generator=generator, dtype=torch.float64) * std
    if scale == "relative":
        layer_sd = torch.tensor([_sd(w) for w in weights], dtype=torch.float64)
        noise = noise * torch.repeat_interleave(layer_sd, torch.tensor(sizes))[chosen]
    delta = torch.zeros(total, dtype=torch.float64)
    delta[chosen] = noise
    with torch.no_grad():
        for w, part in zip(weights, torch.split(delta, sizes), strict=True):
            w.add_(part.view_as(w).to(device=w.device, dtype=w.dtype))
    _refresh_parametrisations(owner for owner, _ in selected)
    return noisy


def _sd(w: torch.Tensor) -> float:
    """The standard deviation of a trained tensor's entries (0 for a single entry)."""
    return float(w.detach().double().std()) if w.numel() > 1 else 0.0


def _refresh_parametrisations(modules: Iterable[nn.Module]) -> None:
    """Recompute the cached weight of every re-parametrised module among ``modules``."""
    for module in dict.fromkeys(modules):
        if parametrize.is_parametrized(module, "weight"):
            chain = module.parametrizations.weight
            chain.train()
            with torch.no_grad():
                for _ in range(REFRESH_ITERATIONS):
                    module.weight  # noqa: B018 - evaluating the chain updates its caches
            chain.eval()


class WeightNoise:
    """A working copy of a model whose selected weights move along one fixed, seeded noise direction.

    For every :func:`weight_tensors` tensor t of ``layers`` (trained value w_t, entries' standard
    deviation sd_t) one draw ``z_t ~ N(0, sd_t²)`` per entry is taken from ``generator`` (module
    order, float64 on the CPU); :meth:`at` sets ``w_t = w_t + s x z_t``, always from the trained
    value, so the copy at s is a function of s alone (bit-identical on a repeated call) and the
    noise of every tensor is ``N(0, (s x sd_t)²)``: relative to its own spread, so a scale degrades
    a layer of small weights as much as one of large weights. Batch-norm running statistics and
    biases are left as trained; re-parametrised weights are refreshed as in
    :func:`randomise_weights`.

    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LayerNorm(3))
    >>> noise = WeightNoise(net, "all", torch.Generator().manual_seed(0))
    >>> bool(torch.equal(noise.at(0.0)[1].weight, net[1].weight)), noise.copy_at(2.0) is net
    (True, False)
    """

    def __init__(self, model: nn.Module, layers: str | Sequence[str], generator: torch.Generator) -> None:
        self.model = copy.deepcopy(model).eval()
        selected = _selected(self.model, layers)
        if not selected:
            raise _no_weights(model, layers)
        self._owners = [owner for owner, _ in selected]
        self._weights = [w for _, w in selected]
        self._trained = [w.detach().clone() for w in self._weights]
        self._noise = [(torch.randn(w.numel(), generator=generator, dtype=torch.float64) * _sd(w))
                       .view_as(w) for w in self._weights]

    def at(self, scale: float) -> nn.Module:
        """The working copy with every selected weight at ``trained + scale x z`` (modified in place)."""
        if not (scale >= 0 and math.isfinite(scale)):
            raise ModelError(f"scale must be a finite number >= 0, got {scale}", parameter="scale")
        with torch.no_grad():
            for w, w0, z in zip(self._weights, self._trained, self._noise, strict=True):
                w.copy_(w0 + (scale * z).to(device=w.device, dtype=w.dtype))
        _refresh_parametrisations(self._owners)
        return self.model

    def copy_at(self, scale: float) -> nn.Module:
        """A deep copy of :meth:`at` ``(scale)``, independent of later calls."""
        return copy.deepcopy(self.at(scale))


@dataclass(frozen=True)
class Calibration:
    """What :func:`find_scale` found for one target accuracy.

    Attributes:
        scale: the noise scale s kept (units of each tensor's sd, :class:`WeightNoise`).
        accuracy: the held-out accuracy at ``scale``, in [0, 1].
        target: the accuracy sought, in [0, 1].
        steps: accuracy evaluations made (each a batched pass over the held-out images).
        reached: ``|accuracy - target| <= tolerance``.
    """

    scale: float
    accuracy: float
    target: float
    steps: int
    reached: bool


def find_scale(evaluate: Callable[[float], float], target: float, *, tolerance: float,
               bounds: tuple[float, float], max_steps: int) -> Calibration:
    """The scale s in ``bounds`` at which ``evaluate(s)`` (an accuracy falling with s) is within
    ``tolerance`` of ``target``, by bisection in log s.

    The lower bound is evaluated first, then the upper one; if the target lies outside what they
    reach, that bound is kept, not reached: the lower one when ``evaluate(lo) < target - tolerance``
    (the smallest scale already degrades too much), else the upper one when
    ``evaluate(hi) > target + tolerance`` (the largest does not degrade enough). Otherwise each
    step evaluates ``m = sqrt(lo x hi)`` and keeps the half whose ends straddle the target
    (``evaluate(m) > target``: ``lo = m``, else ``hi = m``), and stops at the first scale within
    tolerance. After ``max_steps`` evaluations without one, the end of the last
    bracket whose accuracy is nearer the target is kept (the smaller scale on a tie), not reached:
    the closest the bisection came to where the accuracy crosses the target. Deterministic: the same
    ``evaluate`` gives the same steps.

    Args:
        evaluate: s -> accuracy in [0, 1], near-monotone decreasing in s.
        target: the accuracy sought. tolerance: accepted |accuracy - target|, >= 0.
        bounds: ``(lo, hi)`` with ``0 < lo < hi`` (finite). max_steps: evaluations allowed, >= 2.

    >>> find_scale(lambda s: 1 / (1 + s), 0.5, tolerance=0.01, bounds=(0.01, 100.0), max_steps=20)
    Calibration(scale=1.0, accuracy=0.5, target=0.5, steps=3, reached=True)
    """
    lo, hi = bounds
    if not 0 < lo < hi < math.inf:
        raise ModelError(f"bounds must be 0 < lo < hi, finite, got {bounds}", parameter="bounds")
    if max_steps < 2:
        raise ModelError(f"max_steps must be >= 2 (both bounds are evaluated), got {max_steps}",
                         parameter="max_steps")
    seen: list[tuple[float, float]] = []

    def done(scale: float, acc: float) -> Calibration | None:
        seen.append((scale, acc))
        return (Calibration(scale, acc, target, len(seen), True)
                if abs(acc - target) <= tolerance else None)

    found = done(lo, evaluate(lo)) or done(hi, evaluate(hi))
    if found:
        return found
    (_, at_lo), (_, at_hi) = seen
    if at_lo < target or at_hi > target:  # out of reach: the bound nearer to it, not reached
        scale, acc = seen[0] if at_lo < target else seen[1]
        return Calibration(scale, acc, target, 2, False)
    low, high = seen  # (scale, accuracy) at the ends of the bracket around the target
    while len(seen) < max_steps:
        mid = math.sqrt(low[0] * high[0])
        acc = evaluate(mid)
        found = done(mid, acc)
        if found:
            return found
        low, high = ((mid, acc), high) if acc > target else (low, (mid, acc))
    scale, acc = min(low, high, key=lambda p: abs(p[1] - target))  # a tie: the smaller scale
    return Calibration(scale, acc, target, len(seen), False)


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

"""Feature groups of an image and the parent of the surrogate methods (LIME, KernelSHAP):
:func:`feature_groups`, :func:`weighted_least_squares` and :class:`SurrogateExplainer`."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Interval, Options, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Evaluations, Explainer

GROUPINGS: tuple[str, ...] = ("slic", "grid")
"""Accepted values of ``groups``."""

DRAW_BLOCK = 256
"""Coalitions drawn per call of a sampler; fixed, so the draws never depend on ``batch_size``."""

RCOND = 1e-6
"""Singular values of the weighted design below ``RCOND`` times the largest count as zero in
:func:`weighted_least_squares`: the ``cond`` of :func:`scipy.linalg.lstsq` in scikit-learn's
``LinearRegression`` (its default ``tol``), which captum's ``SkLearnLinearRegression`` fits."""


def grid_groups(image_size: tuple[int, int], segments: int) -> Tensor:
    """A square grid of ``r x r`` cells, ``r = round(sqrt(segments))`` (at most H rows and W columns):
    pixel ``(i, j)`` is in cell ``(i r // H) r + j r // W``. ``Tensor[H, W]`` int64.

    >>> grid_groups((4, 4), 4).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    """
    h, w = image_size
    side = max(1, round(math.sqrt(segments)))
    rows, cols = min(side, h), min(side, w)
    row = torch.arange(h) * rows // h
    col = torch.arange(w) * cols // w
    return row[:, None] * cols + col[None, :]


def slic_groups(x: Tensor, segments: int, compactness: float) -> Tensor:
    """SLIC superpixels (Achanta et al. 2012; scikit-image ``slic``) of each image of ``x``
    ``[B, C, H, W]``, numbered ``0 .. G-1``, ``Tensor[B, H, W]`` int64 (CPU). Each image is rescaled
    to [0, 1] first (a constant image to 0; all images at once, in float64), its channels used as
    they are (no Lab conversion: inputs may be normalised), so the groups depend on the image alone;
    SLIC may return fewer than ``segments`` groups. One ``slic`` call per image: scikit-image
    segments one image at a time."""
    from skimage.segmentation import slic  # imported when used: validate never loads it

    pixels = x.detach().double().cpu()
    low, high = pixels.amin(dim=(1, 2, 3), keepdim=True), pixels.amax(dim=(1, 2, 3), keepdim=True)
    scaled = torch.where(high > low, (pixels - low) / (high - low), 0.0).permute(0, 2, 3, 1).numpy()
    out = np.empty(scaled.shape[:3], dtype=np.int64)
    for n, image in enumerate(scaled):
        labels = slic(image, n_segments=segments, compactness=compactness, channel_axis=-1,
                      convert2lab=False, start_label=0)
        out[n] = np.unique(labels, return_inverse=True)[1].reshape(labels.shape)
    return torch.from_numpy(out)


def feature_groups(x: Tensor, groups: str, segments: int, compactness: float) -> Tensor:
    """The feature groups of each image of ``x`` ``[B, C, H, W]``, ``Tensor[B, H, W]`` int64 on
    ``x``'s device: :func:`slic_groups` of each image, or the same :func:`grid_groups` for all.
    A group spans every channel of its pixels."""
    b, _, h, w = x.shape
    if groups == "grid":
        return grid_groups((h, w), segments).to(x.device).expand(b, h, w)
    return slic_groups(x, segments, compactness).to(x.device)


def weighted_least_squares(z: Tensor, scores: Tensor, weights: Tensor) -> Tensor:
    r"""The slopes of a weighted linear regression with an intercept, for N problems at once,
    ``Tensor[N, G]`` float64:

    .. math::

        \hat\phi = \arg\min_{\phi_0, \phi} \sum_{s=1}^{S} w_s (y_s - \phi_0 - z_s \cdot \phi)^2
        = (W^{1/2} \tilde Z)^+ \, W^{1/2} \tilde y,

    with ``Z`` and ``y`` centred on their ``w``-weighted means (which removes ``phi_0``) and ``^+`` the
    pseudo-inverse (one SVD per problem, :func:`torch.linalg.pinv`, singular values below
    :data:`RCOND` times the largest set to zero). That is scikit-learn's ``LinearRegression`` with
    ``sample_weight`` (centring, scaling by ``sqrt(w)``, :func:`scipy.linalg.lstsq` at ``cond``
    :data:`RCOND`), the fit captum's ``SkLearnLinearRegression`` makes, in float64 rather than
    captum's float32. Rank deficiency (fewer distinct coalitions than groups, a group never toggled,
    two groups always toggled together) gets the minimum-norm solution, as there: a group that is
    never toggled gets 0, groups always toggled together share their joint effect equally (tested).
    No ridge.

    Args:
        z: coalitions ``Tensor[N, S, G]`` (0/1, any dtype), or ``Tensor[1, S, G]`` shared by all N.
        scores: ``Tensor[N, S]``, the model's score of each coalition.
        weights: ``Tensor[N, S]``, positive, or ``Tensor[1, S]`` shared by all N (with a shared ``z``:
            one design, one pseudo-inverse).

    >>> z = torch.tensor([[[0., 0.], [1., 0.], [0., 1.], [1., 1.]]])
    >>> weighted_least_squares(z, z @ torch.tensor([2., -1.]), torch.ones(1, 4)).round(decimals=6).tolist()
    [[2.0, -1.0]]
    """
    z, scores, weights = z.double(), scores.double(), weights.double()
    total = weights.sum(dim=1, keepdim=True)  # [N or 1, 1]
    z_mean = (weights[:, :, None] * z).sum(dim=1, keepdim=True) / total[:, :, None]  # [N or 1, 1, G]
    score_mean = (weights * scores).sum(dim=1, keepdim=True) / total  # [N, 1]
    root = weights.sqrt()
    design = root[:, :, None] * (z - z_mean)  # [N or 1, S, G]
    target = root * (scores - score_mean)  # [N, S]
    return (torch.linalg.pinv(design, rtol=RCOND) * target[:, None, :]).sum(dim=2)


def first_rows(blocks: Iterator[Tensor], rows: int) -> Tensor:
    """The first ``rows`` rows of the concatenated ``blocks`` ``Tensor[k, G]``, ``Tensor[rows, G]``."""
    taken: list[Tensor] = []
    count = 0
    while count < rows:
        taken.append(next(blocks))
        count += taken[-1].shape[0]
    return torch.cat(taken)[:rows]


class SurrogateExplainer(Explainer):
    """A linear surrogate of ``f_c`` over feature groups, fitted for a chunk of images at once: the parent
    of :class:`~auditkit.explainers.lime.Lime` and :class:`~auditkit.explainers.kernel_shap.KernelShap`,
    and the one home of their settings.

    Each image is cut into G groups (:func:`feature_groups`: from the image alone, so the k fold models
    explaining one image share its groups and their maps are comparable). A coalition ``z`` in {0, 1}^G
    keeps the groups with ``z_g = 1`` and writes ``baseline`` into the others; ``samples`` coalitions
    per image ``Tensor[N, S, G]`` are scored by the model, the masked copies built and evaluated
    ``batch_size`` at a time across the images of a chunk (:meth:`_scores`: a few tensor operations
    per forward pass, nothing per copy), each coalition is weighted from ``z`` and the image's group
    sums, for all images at once (:meth:`_weights`, never from the copies), and one
    :func:`weighted_least_squares` per image, all solved together, gives one coefficient per group,
    written into every pixel of that group. Cost: ``samples`` model evaluations per image, and SLIC
    once per image (``groups: slic``). Memory: ``batch_size`` masked copies at a time, the coalitions,
    scores and weights of the chunk ``[N, S, G]``, ``[N, S]`` and each fit's design ``[n, S, G]`` in
    float64.

    This is captum's ``LimeBase`` estimator (``Lime`` with ``SkLearnLinearRegression``, ``KernelShap``)
    given the same coalitions, to float rounding (tested against captum fed our draws). captum builds,
    weighs and stores each coalition in Python, one at a time, and fits one scikit-learn regression per
    image; on a small model that loop, not the model, set the rate (15-39 % of the forward rate in
    ``benchmarks/bench_captum_methods.py``), so the masking, the weights and the fits are batched here.
    What captum offers that is not kept: arbitrary Python ``perturb_func`` / ``similarity_func``
    callables per coalition (each method fixes its sampler and kernel) and other interpretable models
    (captum's default Lasso is not used: it would shrink every effect).

    Seeding: the coalitions of every image are the first ``samples`` rows of its subclass's
    ``coalition_blocks``, drawn from a ``torch.Generator`` reset to ``generator_seed`` for that image,
    so a map is a function of (image, seed) whatever the batch it is explained in (tested bit for bit);
    images with the same number of groups get the same coalitions (drawn once per call). An image that
    is a single group gets ``f_c(x) - f_c(baseline)`` (:meth:`_single_group`), the exact answer of both
    surrogates, in 2 model evaluations.

    Args:
        model: classifier in eval mode returning logits ``[N, num_classes]``.
        batch_size: images per chunk, and the cap on masked copies per forward pass.
        generator_seed: seed of the coalition generator.
        samples: coalitions scored per image (its model evaluations), in [1, 10^6].
        groups: ``slic`` (superpixels) or ``grid``.
        segments: number of groups asked for, in [1, H W]; SLIC may return fewer.
        compactness: SLIC's colour/space trade-off in (0, 10^4] (images rescaled to [0, 1]).
        baseline: the value written into removed groups (input units).
    """

    settings: ClassVar[Mapping[str, Constraint]] = {
        "samples": Interval(int, 1, 10**6),
        "groups": Options(GROUPINGS),
        "segments": Interval(int, 1, 10**6),
        "compactness": Interval(float, 0, 10**4, closed="right"),
        "baseline": Interval(float),
    }
    pixel_wise: ClassVar[bool] = False
    seeded: ClassVar[bool] = True
    budget: ClassVar[str | None] = "samples"
    coalition_blocks: ClassVar[Callable[[int, torch.Generator], Iterator[Tensor]]]
    """``(G, generator)`` -> the method's coalitions of G groups, in blocks ``Tensor[k, G]`` int64 (CPU)."""

    def __init__(self, model: nn.Module, *, batch_size: int = 256, generator_seed: int = 0,
                 samples: int = 200, groups: str = "slic", segments: int = 16, compactness: float = 0.1,
                 baseline: float = 0.0) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self.samples = self._setting("samples", samples)
        self.groups = self._setting("groups", groups)
        self.segments = self._setting("segments", segments)
        self.compactness = self._setting("compactness", compactness)
        self.baseline = self._setting("baseline", baseline)

    @classmethod
    def size_problems(cls, settings: Mapping[str, Any],
                      image_size: tuple[int, int]) -> Iterator[tuple[str, str]]:
        pixels = image_size[0] * image_size[1]
        if settings["segments"] > pixels:
            yield "segments", (f"must be at most the number of pixels ({image_size[0]} x {image_size[1]} = "
                               f"{pixels}), got {settings['segments']}")

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any], image_size: tuple[int, int]) -> Evaluations:
        """One forward pass per coalition: ``samples`` (the grouping's own CPU time aside)."""
        return Evaluations(forward=settings["samples"], driver="samples")

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b, _, h, w = x.shape
        self._check_size((h, w))
        groups = feature_groups(x, self.groups, self.segments, self.compactness).flatten(1)  # [B, H W]
        counts = groups.amax(dim=1) + 1  # G of each image
        coefs = torch.zeros((b, int(counts.max())), dtype=torch.float64, device=x.device)
        single = (counts == 1).nonzero().squeeze(1)
        coefs[single, 0] = self._single_group(x[single], targets[single])
        many = (counts > 1).nonzero().squeeze(1)
        if len(many):
            coefs[many] = self._fit(x[many], targets[many], groups[many], counts[many])
        return coefs.gather(1, groups).view(b, 1, h, w).float()

    def _fit(self, x: Tensor, targets: Tensor, groups: Tensor, counts: Tensor) -> Tensor:
        """The surrogate's coefficients of images ``x`` ``[M, C, H, W]`` of ``counts`` ``[M]`` >= 2 groups
        ``groups`` ``[M, H W]``, ``Tensor[M, G_max]`` float64 (0 beyond an image's count). Images of G
        groups share their coalitions, and where they also share their weights (KernelSHAP's depend on
        ``z`` alone) their design, whose pseudo-inverse is then computed once."""
        distinct = counts.unique()  # sorted
        table = self._draw(distinct.tolist()).to(x.device)  # [D, S, G_max]
        z = table[torch.searchsorted(distinct, counts)]  # [M, S, G_max]: each image's coalitions
        scores = self._scores(x, targets, groups, z)
        weights = self._weights(z, counts, x, groups)
        coefs = torch.zeros((len(x), z.shape[2]), dtype=torch.float64, device=x.device)
        for d, g in enumerate(distinct.tolist()):  # one batched fit per number of groups
            same = (counts == g).nonzero().squeeze(1)
            w = weights[same]
            shared = w[:1] if torch.equal(w, w[:1].expand_as(w)) else w
            coefs[same, :g] = weighted_least_squares(table[d, None, :, :g], scores[same], shared)
        return coefs

    def _draw(self, counts: list[int]) -> Tensor:
        """The first ``samples`` coalitions of ``counts[d]`` groups for each d, zero-padded to the largest
        count, ``Tensor[D, S, G_max]`` bool (CPU): one draw per number of groups, shared by its images."""
        table = torch.zeros((len(counts), self.samples, max(counts)), dtype=torch.bool)
        for d, g in enumerate(counts):
            blocks = type(self).coalition_blocks(g, torch.Generator().manual_seed(self.generator_seed))
            table[d, :, :g] = first_rows(blocks, self.samples).bool()
        return table

    def _scores(self, x: Tensor, targets: Tensor, groups: Tensor, z: Tensor) -> Tensor:
        """``f_c`` of every masked copy, ``Tensor[M, S]`` float64: image ``x[n]`` ``[C, H, W]`` with
        ``groups[n]`` ``[H W]`` and coalition ``z[n, s]`` ``[G_max]`` (bool); ``batch_size`` copies per
        forward pass, taken in order across the images, each pass built by five tensor operations."""
        m, s = z.shape[:2]
        removed = ~z.flatten(0, 1)  # [M S, G_max]
        image = torch.arange(m, device=x.device).repeat_interleave(s)  # the image of each copy
        target = targets.repeat_interleave(s)[:, None]
        scores = torch.empty(m * s, dtype=torch.float64, device=x.device)
        with torch.no_grad():
            for part in batch_slices(m * s, self.batch_size):
                pixels = removed[part].gather(1, groups.index_select(0, image[part]))  # [k, H W]
                copies = x.index_select(0, image[part]).masked_fill_(pixels.view(-1, 1, *x.shape[2:]),
                                                                     self.baseline)
                scores[part] = self.model(copies).float().gather(1, target[part])[:, 0]
        return scores.view(m, s)

    @abstractmethod
    def _weights(self, z: Tensor, counts: Tensor, x: Tensor, groups: Tensor) -> Tensor:
        """The regression weight of each coalition ``z`` ``[M, S, G_max]`` (bool, zero-padded beyond
        ``counts`` ``[M]`` groups) of image ``x`` ``[M, C, H, W]`` with ``groups`` ``[M, H W]``,
        ``Tensor[M, S]`` float64."""

    def _single_group(self, x: Tensor, targets: Tensor) -> Tensor:
        """``f_c(x) - f_c(baseline)`` of each image ``x`` ``[k, C, H, W]``, ``Tensor[k]`` float64: the exact
        answer of both surrogates for an image that is one group (SLIC on a flat image), where
        KernelSHAP's sampler has no coalition size to draw from; 2 model evaluations per image."""
        both = torch.cat([x, torch.full_like(x, self.baseline)])
        scores = torch.empty(len(both), dtype=torch.float64, device=x.device)
        with torch.no_grad():
            for part in batch_slices(len(both), self.batch_size):
                out = self.model(both[part]).float().gather(1, targets.repeat(2)[part, None])
                scores[part] = out.squeeze(1).double()
        return scores[: len(x)] - scores[len(x) :]

"""Feature groups of an image and the parent of the surrogate methods (LIME, KernelSHAP):
:func:`feature_groups` and :class:`SurrogateExplainer`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from captum.attr import Lime as _CaptumLime
from torch import Tensor, nn

from auditkit.constraints import Constraint, Interval, Options, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Explainer

GROUPINGS: tuple[str, ...] = ("slic", "grid")
"""Accepted values of ``groups``."""

DRAW_BLOCK = 256
"""Coalitions drawn per call of a sampler; fixed, so the draws never depend on ``batch_size``."""


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


def slic_groups(image: Tensor, segments: int, compactness: float) -> Tensor:
    """SLIC superpixels (Achanta et al. 2012; scikit-image ``slic``) of one image ``[C, H, W]``,
    numbered ``0 .. G-1``, ``Tensor[H, W]`` int64. The image is rescaled to [0, 1] first (a constant
    image to 0), its channels used as they are (no Lab conversion: inputs may be normalised), so the
    groups depend on the image alone; SLIC may return fewer than ``segments`` groups."""
    from skimage.segmentation import slic  # imported when used: validate never loads it

    pixels = image.detach().double().cpu()
    low, high = pixels.min(), pixels.max()
    scaled = ((pixels - low) / (high - low) if high > low else torch.zeros_like(pixels)).permute(1, 2, 0)
    labels = slic(scaled.numpy(), n_segments=segments, compactness=compactness, channel_axis=-1,
                  convert2lab=False, start_label=0)
    return torch.from_numpy(np.unique(labels, return_inverse=True)[1].reshape(labels.shape)).long()


def feature_groups(x: Tensor, groups: str, segments: int, compactness: float) -> Tensor:
    """The feature groups of each image of ``x`` ``[B, C, H, W]``, ``Tensor[B, H, W]`` int64 on
    ``x``'s device: :func:`slic_groups` of each image, or the same :func:`grid_groups` for all.
    A group spans every channel of its pixels."""
    b, _, h, w = x.shape
    if groups == "grid":
        return grid_groups((h, w), segments).to(x.device).expand(b, h, w)
    if b == 0:
        return torch.zeros((0, h, w), dtype=torch.long, device=x.device)
    return torch.stack([slic_groups(image, segments, compactness) for image in x]).to(x.device)


class SurrogateExplainer(Explainer):
    """A linear surrogate of ``f_c`` over feature groups, fitted by captum's ``LimeBase``: the parent of
    :class:`~auditkit.explainers.lime.Lime` and :class:`~auditkit.explainers.kernel_shap.KernelShap`.

    Each image is cut into G groups (:func:`feature_groups`: from the image alone, so the k fold models
    explaining one image share its groups and their maps are comparable). A coalition ``z`` in {0, 1}^G
    keeps the groups with ``z_g = 1`` and writes ``baseline`` into the others; ``samples`` coalitions
    are scored by the model (batches of up to ``batch_size`` copies of one image) and a weighted linear
    regression of the scores on ``z`` (captum's ``SkLearnLinearRegression``) gives one coefficient per
    group, written into every pixel of that group. Cost: ``samples`` model evaluations per image.

    Seeding: the coalitions of every image come from a ``torch.Generator`` reset to
    ``generator_seed`` for that image (a subclass's ``coalitions`` sampler replaces captum's, which
    draws from torch's global generator), so a map is a function of (image, seed) whatever the batch
    it is explained in; images with the same number of groups get the same coalitions. An image that
    is a single group gets ``f_c(x) - f_c(baseline)`` (:meth:`_single_group`).
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
    coalitions: ClassVar[Callable[..., Iterator[Tensor]]]
    """``(original_inp, *, generator, num_interp_features, **captum_kwargs)`` -> coalitions
    ``Tensor[1, G]`` int64, captum's ``perturb_func`` contract with our generator."""

    def __init__(self, model: nn.Module, *, batch_size: int, generator_seed: int, samples: int,
                 groups: str, segments: int, compactness: float, baseline: float) -> None:
        super().__init__(model, batch_size=batch_size)
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self.samples = self._setting("samples", samples)
        self.groups = self._setting("groups", groups)
        self.segments = self._setting("segments", segments)
        self.compactness = self._setting("compactness", compactness)
        self.baseline = self._setting("baseline", baseline)
        self._captum: _CaptumLime

    @classmethod
    def size_problems(cls, settings: Mapping[str, Any],
                      image_size: tuple[int, int]) -> Iterator[tuple[str, str]]:
        pixels = image_size[0] * image_size[1]
        if settings["segments"] > pixels:
            yield "segments", (f"must be at most the number of pixels ({image_size[0]} x {image_size[1]} = "
                               f"{pixels}), got {settings['segments']}")

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        b, _, h, w = x.shape
        self._check_size((h, w))
        groups = feature_groups(x, self.groups, self.segments, self.compactness)
        maps = torch.empty((b, 1, h, w), dtype=torch.float32, device=x.device)
        for i in range(b):
            if int(groups[i].max()) == 0:
                maps[i] = self._single_group(x[i : i + 1], targets[i : i + 1])
                continue
            generator = torch.Generator().manual_seed(self.generator_seed)
            self._captum.perturb_func = partial(type(self).coalitions, generator=generator)
            maps[i] = self._captum.attribute(
                x[i : i + 1], baselines=self.baseline, target=targets[i : i + 1],
                feature_mask=groups[i][None, None], n_samples=self.samples,
                perturbations_per_eval=min(self.samples, self.batch_size),
            )[0, :1].float()
        return maps

    def _single_group(self, x: Tensor, target: Tensor) -> Tensor:
        """``f_c(x) - f_c(baseline)`` everywhere, ``[1, H, W]``: the exact answer of both surrogates for
        an image that is one group (SLIC on a flat image), where captum's KernelSHAP sampler has no
        coalition size to draw from; 2 model evaluations."""
        with torch.no_grad():
            scores = self.model(torch.cat([x, torch.full_like(x, self.baseline)])).float()[:, target[0]]
        return (scores[0] - scores[1]).expand(1, *x.shape[2:])

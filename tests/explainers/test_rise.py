"""RISE masks and maps against slow per-mask references; maps that do not follow the masks' coverage."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from auditkit.explainers import Rise, rise_masks
from auditkit.explainers.rise import MASK_BLOCK
from auditkit.metrics import spearman_distance


def reference(scores: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The documented estimator, per pixel: sum_i (f_i - mean f) m_i / sum_i m_i; ``scores [M, N]``."""
    centred = scores.double() - scores.double().mean(dim=0)
    m = masks[:, 0].double()
    return (torch.einsum("mn,mhw->nhw", centred, m) / m.sum(dim=0))[:, None].float()


def test_masks_are_shifted_crops_of_upsampled_grids():
    """Redraw the same numbers in the documented order (grids, dy, dx) and crop by slicing."""
    n, s, p, (h, w) = 12, 3, 0.5, (7, 5)
    got = rise_masks(n, s, p, (h, w), torch.Generator().manual_seed(9))
    gen = torch.Generator().manual_seed(9)
    grids = (torch.rand(n, 1, s, s, generator=gen) < p).float()
    ch, cw = math.ceil(h / s), math.ceil(w / s)
    dy = torch.randint(0, ch, (n,), generator=gen)
    dx = torch.randint(0, cw, (n,), generator=gen)
    assert dy.unique().numel() > 1 and dx.unique().numel() > 1  # one shift per mask, not per batch
    for i in range(n):
        up = F.interpolate(
            grids[i : i + 1], size=((s + 1) * ch, (s + 1) * cw), mode="bilinear", align_corners=False
        )
        torch.testing.assert_close(got[i], up[0, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w])


def test_masks_mean_is_keep_probability():
    masks = rise_masks(4000, 7, 0.3, (8, 8), torch.Generator().manual_seed(0))
    assert masks.shape == (4000, 1, 8, 8)
    assert ((masks >= 0) & (masks <= 1)).all()
    assert abs(float(masks.mean()) - 0.3) < 0.01


def test_rise_matches_per_mask_reference(cnn, images):
    x, y = images
    rise = Rise(cnn, masks=250, grid_size=3, batch_size=7)  # 250 masks: blocks of 100, 100, 50
    got = rise.explain(x, y)
    masks = torch.cat(list(rise.mask_blocks((8, 8), torch.device("cpu"))))
    assert masks.shape == (250, 1, 8, 8) and MASK_BLOCK == 100
    with torch.no_grad():
        scores = torch.stack([cnn(x * m)[torch.arange(len(x)), y] for m in masks])  # [M, N]
    torch.testing.assert_close(got, reference(scores, masks), rtol=1e-4, atol=1e-5)


def test_rise_probability_score_matches_reference(cnn, images):
    x, y = images
    rise = Rise(cnn, masks=120, grid_size=4, keep_probability=0.25, score="probability")
    masks = torch.cat(list(rise.mask_blocks((8, 8), torch.device("cpu"))))
    with torch.no_grad():
        probs = torch.stack([cnn(x * m).softmax(dim=1)[torch.arange(len(x)), y] for m in masks])  # [M, N]
    torch.testing.assert_close(rise.explain(x, y), reference(probs, masks), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("score", ["logit", "probability"])
def test_keep_everything_gives_zero_everywhere(cnn, images, score):
    """Every mask is 1, so every score is f_c(x): nothing is above the mean score."""
    x, y = images
    got = Rise(cnn, masks=30, keep_probability=1.0, score=score).explain(x, y)
    assert got.shape == (7, 1, 8, 8) and (got == 0).all()


class Constant(nn.Module):
    """Logits that do not depend on the input: ``[0.3, -1.2, 2.0]`` for every image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([0.3, -1.2, 2.0]).expand(x.shape[0], 3) + 0 * x.flatten(1)[:, :1]


@pytest.mark.parametrize("score", ["logit", "probability"])
def test_model_that_ignores_the_input_gives_an_empty_map(images, score):
    x, y = images
    got = Rise(Constant().eval(), masks=250, grid_size=3, score=score).explain(x, y)
    assert (got == 0).all()  # exactly: no pixel carries the masks' coverage


class RegionMean(nn.Module):
    """Two logits: the mean of the image over rows 2-6 and columns 9-13 of 16 x 16, and 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        region = x[:, :, 2:7, 9:14].mean(dim=(1, 2, 3))
        return torch.stack([region, torch.zeros_like(region)], dim=1)


@pytest.mark.parametrize("score", ["logit", "probability"])
def test_one_region_model_map_is_the_region_not_the_coverage(score):
    """At least 80 % of the top 25 pixels lie in the 25-pixel region (10 % of the image); away from it
    the map is not correlated with the drawn coverage, while the paper's estimate sum_i f_i m_i / (M p)
    on the same masks is (|rho| 0.63 with logits, above 0.9 with probabilities)."""
    x = 0.5 + 0.5 * torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    y = torch.zeros(4, dtype=torch.int64)
    rise = Rise(RegionMean().eval(), masks=400, grid_size=4, score=score)
    maps = rise.explain(x, y)
    top = maps.flatten(1).topk(25).indices
    rows, cols = top // 16, top % 16
    assert (((rows >= 2) & (rows < 7) & (cols >= 9) & (cols < 14)).float().mean(dim=1) >= 0.8).all()
    masks = torch.cat(list(rise.mask_blocks((16, 16), torch.device("cpu"))))
    assert torch.allclose(rise.coverage((16, 16), torch.device("cpu")), masks[:, 0].double().sum(dim=0))
    coverage = masks.mean(dim=0).expand(4, 1, 16, 16)
    outside = torch.ones(16, 16, dtype=torch.bool)
    outside[0:9, 7:16] = False  # the region and the pixels whose masks' cells overlap it
    rho = 1 - spearman_distance(maps[:, 0, outside], coverage[:, 0, outside])
    assert (rho < 0.15).all(), rho  # measured 0.01-0.03
    with torch.no_grad():
        scores = torch.stack([rise._scores(x * m, y) for m in masks])  # [M, N]
    paper = torch.einsum("mn,mhw->nhw", scores, masks[:, 0]) / (400 * 0.5)
    old_rho = 1 - spearman_distance(paper[:, outside], coverage[:, 0, outside])
    assert (old_rho > 0.5).all(), old_rho  # what the estimator fixed


def test_masks_do_not_depend_on_batch_size_or_image_chunk(cnn, images):
    x, y = images
    one_by_one = torch.cat(
        [Rise(cnn, masks=150, batch_size=1).explain(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]
    )
    torch.testing.assert_close(Rise(cnn, masks=150, batch_size=64).explain(x, y), one_by_one)

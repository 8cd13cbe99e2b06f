"""RISE masks and maps against slow per-mask references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from auditkit.explainers import Rise, rise_masks
from auditkit.explainers.rise import MASK_BLOCK


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
    expected = torch.zeros(len(x), 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        for m in masks:
            score = cnn(x * m)[torch.arange(len(x)), y].double()
            expected += score[:, None, None, None] * m.double()
    torch.testing.assert_close(got, (expected / (250 * 0.5)).float(), rtol=1e-4, atol=1e-5)


def test_rise_probability_score_matches_reference(cnn, images):
    x, y = images
    rise = Rise(cnn, masks=120, grid_size=4, keep_probability=0.25, score="probability")
    masks = torch.cat(list(rise.mask_blocks((8, 8), torch.device("cpu"))))
    with torch.no_grad():
        probs = torch.stack([cnn(x * m).softmax(dim=1)[torch.arange(len(x)), y] for m in masks])  # [M, N]
    expected = torch.einsum("mn,mhw->nhw", probs, masks[:, 0])[:, None] / (120 * 0.25)
    torch.testing.assert_close(rise.explain(x, y), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("score", ["logit", "probability"])
def test_keep_everything_gives_the_score_everywhere(cnn, images, score):
    x, y = images
    got = Rise(cnn, masks=30, keep_probability=1.0, score=score).explain(x, y)
    with torch.no_grad():
        out = cnn(x)
    out = out.softmax(dim=1) if score == "probability" else out
    expected = out[torch.arange(len(x)), y][:, None, None, None].expand(-1, 1, 8, 8)
    torch.testing.assert_close(got, expected)


def test_masks_do_not_depend_on_batch_size_or_image_chunk(cnn, images):
    x, y = images
    one_by_one = torch.cat(
        [Rise(cnn, masks=150, batch_size=1).explain(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]
    )
    torch.testing.assert_close(Rise(cnn, masks=150, batch_size=64).explain(x, y), one_by_one)

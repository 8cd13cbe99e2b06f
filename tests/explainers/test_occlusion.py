"""Occlusion against window sums on a linear model, a brute-force loop over windows and captum's
``Occlusion``; bad sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

from auditkit.cli import main
from auditkit.errors import ExplainerError
from auditkit.explainers import Occlusion
from auditkit.explainers.occlusion import window_count, window_cover
from tests.explainers.conftest import TinyCNN


def test_linear_tiling_windows_carry_their_window_sum():
    """stride = window: each pixel holds sum over its window (all channels) of W_c (x - baseline)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 4, 3)).eval()
    w = model[1].weight.detach().reshape(3, 2, 6, 4)
    x = torch.randn(4, 2, 6, 4, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 2, 1, 2])
    got = Occlusion(model, window=2, stride=2, baseline=0.5).explain(x, y)
    effect = (w[y] * (x - 0.5)).sum(dim=1, keepdim=True)  # [4, 1, 6, 4]
    windows = effect.reshape(4, 1, 3, 2, 2, 2).sum(dim=(3, 5))  # [4, 1, 3, 2]: one sum per 2 x 2 window
    expected = windows.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(got, expected)


def brute_force(model, x, target, window, stride, baseline):
    """Mean drop of f_c over the windows covering each pixel, one window at a time; ``x`` ``[C, H, W]``."""
    _, h, w = x.shape
    total, count = torch.zeros(h, w), torch.zeros(h, w)
    with torch.no_grad():
        full = model(x[None])[0, target]
        for i in range(window_count(h, window, stride)):
            for j in range(window_count(w, window, stride)):
                rows, cols = slice(i * stride, i * stride + window), slice(j * stride, j * stride + window)
                occluded = x.clone()
                occluded[:, rows, cols] = baseline
                total[rows, cols] += full - model(occluded[None])[0, target]
                count[rows, cols] += 1
    return total / count


@pytest.mark.parametrize(("window", "stride"), [(2, 1), (3, 2), (8, 1), (3, 3), (1, 1)])
def test_matches_a_loop_over_windows(cnn, images, window, stride):
    """Overlapping windows, windows cut at the edge (3 by 2 and by 3 on 8 pixels), the whole image,
    single pixels."""
    x, y = images
    got = Occlusion(cnn, window=window, stride=stride, baseline=-0.25, batch_size=5).explain(x, y)
    for n in range(len(x)):
        expected = brute_force(cnn, x[n], y[n], window, stride, -0.25)
        torch.testing.assert_close(got[n, 0], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("window", "stride", "size"), [
    (3, 2, (8, 8)),  # 8 - 3 = 5 not a multiple of 2: the last window of each side is cut
    (2, 2, (7, 10)),  # cut along the rows only
    (3, 2, (7, 10)),  # cut along the columns only
    (5, 3, (16, 12)),  # cut along both
    (7, 4, (7, 10)),  # one window down, two across (the second cut)
    (4, 1, (16, 12)),
    (1, 1, (7, 10)),
])
def test_matches_captums_occlusion(window, stride, size):
    """Three channels (one window spans them all), non-square images, a batch smaller than the copies."""
    torch.manual_seed(0)
    model = TinyCNN(in_channels=3, size=size).eval()
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(5, 3, *size, generator=gen), torch.randint(0, 3, (5,), generator=gen)
    got = Occlusion(model, window=window, stride=stride, baseline=0.3, batch_size=7).explain(x, y)
    expected = CaptumOcclusion(model).attribute(x, sliding_window_shapes=(3, window, window),
                                                strides=(3, stride, stride), baselines=0.3, target=y)
    assert expected.abs().amax() > 0.01  # the maps are not all zero
    torch.testing.assert_close(got, expected[:, :1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(expected[:, 1:], expected[:, :1].expand(-1, 2, -1, -1))  # channels equal


def test_window_cover_is_cut_at_the_edge():
    assert window_cover(7, 3, 2).int().tolist() == [
        [1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1]]
    assert window_cover(6, 3, 2).int().tolist() == [
        [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1]]


def test_map_of_an_image_does_not_depend_on_its_batch(cnn, images):
    x, y = images
    explainer = Occlusion(cnn, window=3, stride=1, batch_size=16)
    together = explainer.explain(x, y)
    for n in range(len(x)):
        torch.testing.assert_close(explainer.explain(x[n : n + 1], y[n : n + 1])[0], together[n])


def test_window_count_is_captums():
    assert [window_count(8, 3, s) for s in (1, 2, 3, 5)] == [6, 4, 3, 2]


def test_window_larger_than_the_image_is_refused(cnn, images):
    x, y = images
    with pytest.raises(ExplainerError, match=r"occlusion: window must be at most the image's shorter side "
                                             r"\(8 x 8 pixels\), got 9"):
        Occlusion(cnn, window=9).explain(x, y)


def test_stride_over_the_window_is_refused(cnn, images):
    x, y = images
    with pytest.raises(ExplainerError, match=r"occlusion: stride must be at most window \(2\) so that every "
                                             r"pixel is occluded, got 3"):
        Occlusion(cnn, window=2, stride=3).explain(x, y)


@pytest.mark.parametrize(("setting", "value"), [("window", 0), ("stride", 0), ("baseline", float("nan"))])
def test_bad_settings(cnn, setting, value):
    with pytest.raises(ExplainerError, match=f"{setting} must be"):
        Occlusion(cnn, **{setting: value})


def test_validate_names_the_window_line(tmp_path: Path, capsys):
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\ndataset:\n  kind: digits\nexplainers:\n  - name: saliency\n"
                    "  - name: occlusion\n    stride: 1\n    window: 9\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"auditkit: error: {path}:9: explainers[1].window: occlusion: window must be at most "
                   "the image's shorter side (8 x 8 pixels), got 9\n")

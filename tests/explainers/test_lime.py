"""LIME against group effects on a linear model and an independent weighted least-squares fit of the
same coalitions; its sampler, per-image seeding, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from auditkit.cli import main
from auditkit.errors import ExplainerError
from auditkit.explainers import Lime
from auditkit.explainers.groups import DRAW_BLOCK, feature_groups, grid_groups
from auditkit.explainers.lime import bernoulli_coalitions


def test_linear_model_recovers_group_effects():
    """f = W x + b is linear in the binary group features z: the surrogate is exact,
    phi_g = sum_{i in g} W_{c,i} (x_i - baseline), whatever LIME's proximity weights."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 5, 4)).eval()
    w = model[1].weight.detach().reshape(4, 3, 6, 5)
    x = torch.randn(3, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([3, 0, 2])
    got = Lime(model, samples=120, groups="grid", segments=9, baseline=-0.2).explain(x, y)
    groups = grid_groups((6, 5), 9)
    for n in range(3):
        effect = (w[y[n]] * (x[n] + 0.2)).sum(dim=0)
        totals = torch.zeros(9).index_add_(0, groups.flatten(), effect.flatten())
        torch.testing.assert_close(got[n, 0], totals[groups], rtol=1e-4, atol=1e-4)


def weighted_least_squares(model, x, target, groups, baseline, samples, seed):
    """The documented fit, by numpy: the same coalitions, proximity exp(-d^2 / 2) with d the cosine
    distance between x and the perturbed copy, an intercept; returned per pixel, ``[H, W]``."""
    g = int(groups.max()) + 1
    draws = bernoulli_coalitions(x, generator=torch.Generator().manual_seed(seed), num_interp_features=g)
    z = torch.cat([next(draws) for _ in range(samples)]).double()  # [S, G]
    keep = z[:, groups].float()[:, None]  # [S, 1, H, W]
    copies = keep * x + (1 - keep) * baseline
    with torch.no_grad():
        scores = model(copies)[:, target].double().numpy()
    cosine = torch.nn.functional.cosine_similarity(copies.flatten(1), x.flatten()[None], dim=1).double()
    weights = np.exp(-((1 - cosine.numpy()) ** 2) / 2)
    design = np.hstack([np.ones((samples, 1)), z.numpy()]) * np.sqrt(weights)[:, None]
    coef = np.linalg.lstsq(design, scores * np.sqrt(weights), rcond=None)[0][1:]
    return torch.from_numpy(coef).float()[groups]


def test_matches_an_independent_weighted_fit_on_superpixels(cnn, images):
    x, y = images
    got = Lime(cnn, samples=80, segments=8, baseline=0.5, generator_seed=11, batch_size=32).explain(x, y)
    groups = feature_groups(x, "slic", 8, 0.1)
    for n in range(len(x)):
        expected = weighted_least_squares(cnn, x[n], y[n], groups[n], 0.5, 80, 11)
        torch.testing.assert_close(got[n, 0], expected, rtol=1e-3, atol=1e-5)


def test_coalitions_keep_each_group_with_probability_half():
    draws = bernoulli_coalitions(torch.zeros(1), generator=torch.Generator().manual_seed(0),
                                 num_interp_features=6)
    z = torch.cat([next(draws) for _ in range(8 * DRAW_BLOCK)]).double()
    assert z.shape == (8 * DRAW_BLOCK, 6) and set(z.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(z.mean(dim=0), torch.full((6,), 0.5, dtype=torch.float64), rtol=0,
                               atol=4 / math.sqrt(z.shape[0]))


def test_map_of_an_image_does_not_depend_on_its_batch(cnn, images):
    x, y = images
    explainer = Lime(cnn, samples=40, segments=8, batch_size=16, generator_seed=4)
    together = explainer.explain(x, y)
    for n in (0, 3, 6):
        assert torch.equal(explainer.explain(x[n : n + 1], y[n : n + 1])[0], together[n])
    assert not torch.equal(Lime(cnn, samples=40, segments=8, generator_seed=5).explain(x, y), together)


def test_more_segments_than_pixels_is_refused(cnn, images):
    x, y = images
    with pytest.raises(ExplainerError, match=r"lime: segments must be at most the number of pixels "
                                             r"\(8 x 8 = 64\), got 100"):
        Lime(cnn, segments=100, groups="grid").explain(x, y)


@pytest.mark.parametrize(("setting", "value"), [("samples", 0), ("segments", -1), ("baseline", "zero")])
def test_bad_settings(cnn, setting, value):
    with pytest.raises(ExplainerError, match=f"{setting} must be"):
        Lime(cnn, **{setting: value})


def test_validate_names_the_segments_line(tmp_path: Path, capsys):
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\ndataset:\n  kind: digits\nexplainers:\n  - name: saliency\n"
                    "  - name: lime\n    groups: grid\n    segments: 81\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (f"auditkit: error: {path}:9: explainers[1].segments: lime: segments "
                                       "must be at most the number of pixels (8 x 8 = 64), got 81\n")

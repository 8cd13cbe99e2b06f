"""LIME against group effects on a linear model, an independent weighted least-squares fit of the
same coalitions and captum's Lime given the same coalitions; the batched fit's rank deficiency, its
sampler, per-image seeding, bad input."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from captum._utils.models.linear_model import SkLearnLinearRegression
from captum.attr import Lime as CaptumLime
from torch import nn

from auditkit.cli import main
from auditkit.errors import ExplainerError
from auditkit.explainers import Lime
from auditkit.explainers.groups import DRAW_BLOCK, feature_groups, grid_groups
from auditkit.explainers.groups import weighted_least_squares as batched_fit
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


@pytest.mark.parametrize("samples", [1, 5, 100])
def test_batched_fit_is_captums_lime_given_the_same_coalitions(cnn, images, samples):
    """captum's own Lime (SkLearnLinearRegression, cosine kernel), one image at a time, fed our
    coalitions through its perturb_func; 1 and 5 coalitions (fewer than the groups) are rank deficient."""
    x, y = images
    got = Lime(cnn, samples=samples, segments=8, baseline=-0.1, generator_seed=3, batch_size=64).explain(x, y)
    groups = feature_groups(x, "slic", 8, 0.1)
    method = CaptumLime(cnn, interpretable_model=SkLearnLinearRegression())
    for n in range(len(x)):
        method.perturb_func = partial(bernoulli_coalitions, generator=torch.Generator().manual_seed(3))
        expected = method.attribute(x[n : n + 1], baselines=-0.1, target=int(y[n]),
                                    feature_mask=groups[n][None, None], n_samples=samples,
                                    perturbations_per_eval=min(samples, 64))[0]
        scale = float(expected.abs().max())
        torch.testing.assert_close(got[n], expected, rtol=0, atol=1e-5 * scale)


def test_fit_of_a_group_never_toggled_or_always_toggled_together():
    """Rank deficiency gets the minimum-norm least-squares solution: scores exactly linear,
    y = 1 + 2 z_0 - 3 z_1 + 4 z_2 + 5 z_3. In problem 0 group 2 is always kept (its centred column is
    0: its effect goes into the intercept, its coefficient is 0) and groups 0 and 3 are always toggled
    together (they share 2 + 5 equally); problem 1, solved in the same call, has full rank."""
    gen = torch.Generator().manual_seed(0)
    first, second = (torch.rand((2, 40), generator=gen) < 0.5).double()
    deficient = torch.stack([first, second, torch.ones(40, dtype=torch.float64), first], dim=1)  # [S, G]
    full = (torch.rand((40, 4), generator=gen) < 0.5).double()
    z = torch.stack([deficient, full])  # [2, S, G]
    scores = 1 + z @ torch.tensor([2.0, -3.0, 4.0, 5.0], dtype=torch.float64)
    weights = torch.rand((2, 40), generator=gen, dtype=torch.float64) + 0.1
    got = batched_fit(z, scores, weights)
    expected = torch.tensor([[3.5, -3.0, 0.0, 3.5], [2.0, -3.0, 4.0, 5.0]], dtype=torch.float64)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("baseline", [0.0, -0.7])
def test_proximity_from_group_sums_is_torchs_cosine_kernel_on_each_copy(baseline):
    """The weights, computed from each image's group sums, against exp(-(1 - cos)^2 / 2) with torch's
    cosine_similarity on every masked copy built explicitly (3 channels; the empty coalition with
    baseline 0 is a zero copy, cosine 0; a zero image has cosine 0 with every copy)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 3, 5, 4, generator=gen)
    x[2] = 0.0
    groups = torch.stack([grid_groups((5, 4), 4), grid_groups((5, 4), 4), grid_groups((5, 4), 6)]).flatten(1)
    z = torch.rand((3, 30, 6), generator=gen) < 0.5
    z[:, 0], z[:, 1] = False, True
    z[:2, :, 4:] = False  # zero padding beyond the 4 groups of images 0 and 1
    got = Lime(nn.Flatten(), baseline=baseline)._weights(z, torch.tensor([4, 4, 6]), x, groups)
    keep = z.gather(2, groups[:, None].expand(-1, 30, -1)).view(3, 30, 1, 5, 4)
    copies = torch.where(keep, x[:, None].double(), baseline)  # [3, 30, 3, 5, 4], the baseline in float64
    cosine = torch.nn.functional.cosine_similarity(x[:, None].double().expand_as(copies).flatten(2),
                                                   copies.flatten(2), dim=2)
    torch.testing.assert_close(got, torch.exp(-((1 - cosine) ** 2) / 2), rtol=1e-12, atol=1e-12)
    assert (float(got[0, 0]) == pytest.approx(math.exp(-0.5))) == (baseline == 0.0)


def test_a_shared_design_is_solved_once_to_the_same_bits():
    """Problems with the same coalitions and weights (KernelSHAP's): ``z`` and ``weights`` given once
    ``[1, ...]`` give the bits of the same fit repeated per problem."""
    gen = torch.Generator().manual_seed(5)
    z = (torch.rand((1, 50, 7), generator=gen) < 0.5).double()
    scores = torch.randn((4, 50), generator=gen, dtype=torch.float64)
    weights = torch.rand((1, 50), generator=gen, dtype=torch.float64) + 0.1
    repeated = batched_fit(z.expand(4, -1, -1), scores, weights.expand(4, -1))
    assert torch.equal(batched_fit(z, scores, weights), repeated)
    assert torch.equal(batched_fit(z, scores, weights.expand(4, -1)), repeated)

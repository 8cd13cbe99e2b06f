"""KernelSHAP against exact Shapley values (closed form on a linear model, brute force over all
2^G coalitions otherwise) and against captum's KernelShap given the same coalitions, its coalition
sampler, feature groups, per-image seeding, rank deficiency, bad input."""

from __future__ import annotations

import itertools
import math
from functools import partial
from pathlib import Path

import pytest
import torch
from captum.attr import KernelShap as CaptumKernelShap
from torch import nn

from auditkit.cli import main
from auditkit.errors import ExplainerError
from auditkit.explainers import KernelShap
from auditkit.explainers.groups import DRAW_BLOCK, feature_groups, grid_groups
from auditkit.explainers.kernel_shap import shapley_coalitions


@pytest.fixture
def linear():
    """``f(x) = W x + b`` on ``[2, 6, 6]`` images, 3 classes; returns (model, W as [3, 2, 6, 6])."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(72, 3)).eval()
    return model, model[1].weight.detach().reshape(3, 2, 6, 6)


def group_values(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Each pixel's group total of ``values`` ``[C, H, W]`` (summed over channels), ``[H, W]``."""
    per_pixel = values.sum(dim=0)
    totals = torch.zeros(int(groups.max()) + 1).index_add_(0, groups.flatten(), per_pixel.flatten())
    return totals[groups]


def brute_force_shapley(model, x, target, groups, baseline):
    """Shapley value of each group of the game v(S) = f_c(x on S, baseline elsewhere), over all 2^G
    coalitions with the weights |S|! (G - |S| - 1)! / G!; returned per pixel, ``[H, W]``."""
    g = int(groups.max()) + 1
    coalitions = torch.tensor(list(itertools.product([0, 1], repeat=g)), dtype=torch.float32)  # [2^G, G]
    keep = coalitions[:, groups]  # [2^G, H, W]
    with torch.no_grad():
        v = model(keep[:, None] * x + (1 - keep[:, None]) * baseline)[:, target].double()
    value = {tuple(c.int().tolist()): float(v[i]) for i, c in enumerate(coalitions)}
    phi = torch.zeros(g, dtype=torch.float64)
    for c, worth in value.items():
        size = sum(c)
        for j in range(g):
            if c[j] == 0:
                weight = math.factorial(size) * math.factorial(g - size - 1) / math.factorial(g)
                with_j = (*c[:j], 1, *c[j + 1 :])
                phi[j] += weight * (value[with_j] - worth)
    return phi.float()[groups]


def test_linear_model_gets_group_sums_of_weight_times_difference(linear):
    (model, w), gen = linear, torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 2, 6, 6, generator=gen), torch.tensor([0, 2, 1])
    got = KernelShap(model, samples=300, groups="grid", segments=9, baseline=0.3).explain(x, y)
    groups = grid_groups((6, 6), 9)
    for n in range(3):
        expected = group_values(w[y[n]] * (x[n] - 0.3), groups)
        torch.testing.assert_close(got[n, 0], expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(brute_force_shapley(model, x[n], y[n], groups, 0.3), expected,
                                   rtol=1e-4, atol=1e-4)


def test_nonlinear_model_converges_to_brute_force_shapley(images):
    """A model with interactions between groups, 4 groups, 4000 coalitions: the sampled kernel
    regression is within sampling error of the exact Shapley values, which add up to
    f_c(x) - f_c(baseline)."""
    torch.manual_seed(2)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 6), nn.Tanh(), nn.Linear(6, 3)).eval()
    x, y = images
    got = KernelShap(mlp, samples=4000, groups="grid", segments=4, generator_seed=3).explain(x[:3], y[:3])
    groups = grid_groups((8, 8), 4)
    for n in range(3):
        exact = brute_force_shapley(mlp, x[n], y[n], groups, 0.0)
        torch.testing.assert_close(got[n, 0], exact, rtol=0, atol=0.03 * float(exact.abs().max()))
        with torch.no_grad():
            drop = mlp(x[n : n + 1])[0, y[n]] - mlp(torch.zeros(1, 1, 8, 8))[0, y[n]]
        corners = got[n, 0, ::4, ::4]  # one pixel of each 4 x 4 group
        torch.testing.assert_close(corners.sum(), drop, rtol=1e-3, atol=1e-4)
        assert not torch.allclose(exact, brute_force_shapley(mlp, x[n], (y[n] + 1) % 3, groups, 0.0))


def test_coalitions_follow_the_shapley_kernel():
    """Full and empty first; then sizes k with p(k) ∝ (G-1) / (k (G-k)), subsets of a size uniform."""
    g, n = 5, 20 * DRAW_BLOCK
    draws = shapley_coalitions(torch.zeros(1), generator=torch.Generator().manual_seed(0),
                               num_interp_features=g)
    assert next(draws).tolist() == [[1] * g] and next(draws).tolist() == [[0] * g]
    z = torch.cat([next(draws) for _ in range(n)])
    sizes = z.sum(dim=1)
    kernel = torch.tensor([(g - 1) / (k * (g - k)) for k in range(1, g)])
    expected = kernel / kernel.sum()
    observed = torch.bincount(sizes, minlength=g + 1)[1:g].double() / n
    torch.testing.assert_close(observed, expected.double(), rtol=0, atol=0.015)
    two = z[sizes == 2]
    per_feature = two.double().mean(dim=0)  # each feature in 2 of 5 positions of a uniform pair
    torch.testing.assert_close(per_feature, torch.full((g,), 0.4, dtype=torch.float64), rtol=0, atol=0.03)


def test_maps_are_constant_on_the_images_own_superpixels(cnn, images):
    """SLIC groups come from the image alone: two different models' maps of one image are constant on
    the same superpixels, whatever the model."""
    x, y = images
    groups = feature_groups(x, "slic", 10, 0.1)
    assert groups.shape == (7, 8, 8) and int(groups.amax(dim=(1, 2)).min()) > 1
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    for model in (cnn, other):
        maps = KernelShap(model, samples=60, segments=10).explain(x, y)[:, 0]
        for n in range(7):
            for g in groups[n].unique():
                inside = maps[n][groups[n] == g]
                assert torch.equal(inside, inside[:1].expand_as(inside))


def test_map_of_an_image_does_not_depend_on_its_batch(cnn, images):
    x, y = images
    explainer = KernelShap(cnn, samples=50, segments=8, batch_size=16, generator_seed=4)
    together = explainer.explain(x, y)
    for n in (0, 3, 6):
        assert torch.equal(explainer.explain(x[n : n + 1], y[n : n + 1])[0], together[n])
    assert not torch.equal(KernelShap(cnn, samples=50, segments=8, generator_seed=5).explain(x, y), together)


@pytest.mark.parametrize("groups", ["grid", "slic"])
def test_an_image_that_is_one_group_gets_the_full_drop(cnn, images, groups):
    x, y = images
    got = KernelShap(cnn, samples=10, groups=groups, segments=1, baseline=0.1).explain(x[:2], y[:2])
    with torch.no_grad():
        drop = cnn(x[:2]).gather(1, y[:2, None]) - cnn(torch.full_like(x[:2], 0.1)).gather(1, y[:2, None])
    torch.testing.assert_close(got, drop[:, :, None, None].expand(2, 1, 8, 8))


def test_more_segments_than_pixels_is_refused(cnn, images):
    x, y = images
    with pytest.raises(ExplainerError, match=r"kernel_shap: segments must be at most the number of pixels "
                                             r"\(8 x 8 = 64\), got 65"):
        KernelShap(cnn, segments=65).explain(x, y)


@pytest.mark.parametrize(("setting", "value"), [("samples", 0), ("samples", -3), ("segments", 0),
                                                 ("groups", "quickshift"), ("compactness", 0.0)])
def test_bad_settings(cnn, setting, value):
    with pytest.raises(ExplainerError, match=f"{setting} must be"):
        KernelShap(cnn, **{setting: value})


@pytest.mark.parametrize(("setting", "line", "message"), [
    ("segments: 65", 7, "explainers[0].segments: kernel_shap: segments must be at most the number of "
                        "pixels (8 x 8 = 64), got 65"),
    ("samples: 0", 7, "explainers[0].samples: expected an integer in [1, 1000000], got 0"),
])
def test_validate_names_the_setting_line(tmp_path: Path, capsys, setting, line, message):
    path = tmp_path / "policy.yaml"
    path.write_text(f"version: 1\nname: t\ndataset:\n  kind: digits\nexplainers:\n  - name: kernel_shap\n"
                    f"    {setting}\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"auditkit: error: {path}:{line}: {message}\n"


def captum_kernel_shap(model, x, y, groups, samples, seed, baseline):
    """captum's own ``KernelShap``, one image at a time, fed our coalitions through its perturb_func."""
    method = CaptumKernelShap(model)
    maps = []
    for n in range(len(x)):
        method.perturb_func = partial(shapley_coalitions, generator=torch.Generator().manual_seed(seed))
        maps.append(method.attribute(x[n : n + 1], baselines=baseline, target=int(y[n]),
                                     feature_mask=groups[n][None, None], n_samples=samples,
                                     perturbations_per_eval=min(samples, 64))[0])
    return torch.stack(maps)


@pytest.mark.parametrize("samples", [2, 6, 150])
def test_batched_fit_is_captums_kernel_shap_given_the_same_coalitions(cnn, images, samples):
    """2 coalitions (full and empty: every group gets the same share of the drop) and 6 (fewer than the
    groups) are rank deficient; captum's float32 fit against our float64 one."""
    x, y = images
    got = KernelShap(cnn, samples=samples, segments=10, baseline=0.2, generator_seed=7, batch_size=64)
    got = got.explain(x, y)
    groups = feature_groups(x, "slic", 10, 0.1)
    expected = captum_kernel_shap(cnn, x, y, groups, samples, 7, 0.2)
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * scale)


def test_full_and_empty_coalitions_alone_share_the_drop_equally(cnn, images):
    """Rank 1 (every column is the same): the minimum-norm fit gives each of the G groups
    (f_c(x) - f_c(baseline)) / G."""
    x, y = images
    got = KernelShap(cnn, samples=2, groups="grid", segments=4).explain(x, y)
    with torch.no_grad():
        drop = cnn(x).gather(1, y[:, None]) - cnn(torch.zeros_like(x)).gather(1, y[:, None])
    torch.testing.assert_close(got, (drop / 4)[:, :, None, None].expand(7, 1, 8, 8), rtol=1e-5, atol=1e-6)

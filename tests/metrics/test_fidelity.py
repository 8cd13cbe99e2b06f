"""mu_fidelity against the exact answer for a linear model and a slow per-subset loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from auditkit.errors import MetricInputError
from auditkit.metrics import ScoreDrops, fidelity_subsets, mu_fidelity, score_drops


def linear_model(c: int = 2, h: int = 5, w: int = 5, classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, classes)).double().eval()
    return model


def small_cnn() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    ).eval()


def test_linear_model_gradient_x_input_is_exactly_one() -> None:
    model = linear_model()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(7, 2, 5, 5, generator=gen, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    weight = model[1].weight.detach().view(3, 2, 5, 5)
    attributions = x * weight[targets]  # Gradient x Input, exact for f = w.x
    scores = mu_fidelity(model, x, attributions, targets, subset_size=4, generator=gen, n_subsets=32)
    torch.testing.assert_close(scores, torch.ones(7, dtype=torch.float64))


def slow_reference(model, x, attributions, targets, subset_size, n_subsets, baseline, seed):
    """One image, one subset at a time, with the documented draw order."""
    gen = torch.Generator().manual_seed(seed)
    n, c, h, w = x.shape
    attr = attributions.sum(dim=1).reshape(n, -1)
    out = []
    for i in range(n):
        keys = torch.rand((n_subsets, h * w), generator=gen)
        sums, drops = [], []
        clean = model(x[i : i + 1])[0, targets[i]].item()
        for s in range(n_subsets):
            chosen = np.argsort(keys[s].numpy(), kind="stable")[:subset_size]
            sums.append(attr[i, chosen].sum().item())
            xp = x[i].clone().reshape(c, -1)
            xp[:, chosen] = baseline
            drops.append(clean - model(xp.reshape(1, c, h, w))[0, targets[i]].item())
        out.append(np.corrcoef(sums, drops)[0, 1])
    return np.array(out)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("channels", [1, 3])
def test_matches_slow_loop(batch_size: int, channels: int) -> None:
    model = small_cnn() if channels == 1 else linear_model(c=3, h=6, w=6).float()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(5, channels, 6, 6, generator=gen)
    attributions = torch.randn(5, 1, 6, 6, generator=gen)
    targets = torch.tensor([0, 1, 2, 1, 0])
    with torch.no_grad():
        expected = slow_reference(model, x, attributions, targets, 5, 16, 0.25, seed=9)
    got = mu_fidelity(
        model, x, attributions, targets, subset_size=5, baseline=0.25, n_subsets=16,
        generator=torch.Generator().manual_seed(9), batch_size=batch_size,
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("cell_size", [1, 2])
def test_shared_drops_give_the_same_values_to_the_bit_without_calling_the_model(batch_size: int,
                                                                                 cell_size: int) -> None:
    model = small_cnn()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(5, 1, 6, 6, generator=gen)
    targets = torch.tensor([0, 1, 2, 1, 0])
    settings = {"subset_size": 3, "baseline": 0.25, "n_subsets": 16, "batch_size": batch_size,
                "cell_size": cell_size}
    drops = score_drops(model, x, targets, **settings, generator=torch.Generator().manual_seed(9))
    assert drops.clean.shape == (5,) and drops.drops.shape == (5, 16)
    torch.testing.assert_close(drops.clean, model(x).detach()[torch.arange(5), targets])

    def no_model(batch: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the model was evaluated although the drops were given")

    for maps in (torch.randn(5, 1, 6, 6, generator=gen), torch.randn(5, 1, 6, 6, generator=gen)):
        alone = mu_fidelity(model, x, maps, targets, **settings, generator=torch.Generator().manual_seed(9))
        shared = mu_fidelity(no_model, x, maps, targets, **settings, drops=drops,
                             generator=torch.Generator().manual_seed(9))
        assert torch.equal(shared, alone)


def test_drops_of_other_images_are_refused() -> None:
    x = torch.rand(5, 1, 6, 6)
    drops = ScoreDrops(torch.zeros(4), torch.zeros(4, 16))
    with pytest.raises(MetricInputError, match="drops must hold 5 images x 16 subsets"):
        mu_fidelity(small_cnn(), x, torch.rand(5, 1, 6, 6), 0, subset_size=3, n_subsets=16, drops=drops)


def test_subsets_are_fresh_per_image_and_sized() -> None:
    masks = fidelity_subsets(3, 50, 7, 20, torch.Generator().manual_seed(0))
    assert masks.shape == (3, 20, 50)
    assert (masks.sum(dim=2) == 7).all()
    assert not torch.equal(masks[0], masks[1])


def test_constant_drops_give_nan_not_zero() -> None:
    blind = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    with torch.no_grad():
        blind[1].weight.zero_()  # output independent of the input: every drop is 0
    x = torch.rand(3, 1, 4, 4)
    scores = mu_fidelity(blind, x, torch.randn(3, 1, 4, 4), 0, subset_size=3, n_subsets=8)
    assert torch.isnan(scores).all()


def test_constant_map_gives_nan() -> None:
    model = small_cnn()
    x = torch.rand(2, 1, 6, 6)
    scores = mu_fidelity(model, x, torch.ones(2, 1, 6, 6), 1, subset_size=4, n_subsets=8)
    assert torch.isnan(scores).all()


def test_per_channel_attributions_are_summed_per_position() -> None:
    model = linear_model(c=2, h=3, w=3).float()
    x = torch.rand(4, 2, 3, 3)
    attributions = torch.randn(4, 2, 3, 3)
    per_channel = mu_fidelity(model, x, attributions, 1, 2, n_subsets=10,
                              generator=torch.Generator().manual_seed(2))
    summed = mu_fidelity(model, x, attributions.sum(1, keepdim=True), 1, 2, n_subsets=10,
                         generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(per_channel, summed)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset_size": 0}, "subset_size must be >= 1"),
        ({"subset_size": 36}, "subset_size must be <= 35"),
        ({"subset_size": 2.5}, "subset_size must be an int"),
        ({"n_subsets": 1}, "n_subsets must be >= 2"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"attributions": torch.zeros(2, 2, 6, 6)}, "attributions must have"),
        ({"attributions": torch.full((2, 1, 6, 6), float("nan"))}, "NaN"),
        ({"targets": torch.tensor([0, 1, 2])}, "targets must be"),
        ({"targets": torch.tensor([0.0, 1.0])}, "targets must be"),
        ({"x": torch.zeros(2, 36)}, "x must be a non-empty tensor"),
        ({"baseline": torch.zeros(2, 6, 6)}, "does not broadcast"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    args = {
        "model": small_cnn(), "x": torch.rand(2, 1, 6, 6), "attributions": torch.rand(2, 1, 6, 6),
        "targets": torch.tensor([0, 1]), "subset_size": 4,
    }
    args.update(kwargs)
    with pytest.raises(MetricInputError, match=match):
        mu_fidelity(**args)


def test_training_mode_model_is_refused() -> None:
    model = small_cnn().train()
    with pytest.raises(MetricInputError, match="training mode"):
        mu_fidelity(model, torch.rand(1, 1, 6, 6), torch.rand(1, 1, 6, 6), 0, 3)


def test_cells_match_pixel_subsets_on_a_pooled_image() -> None:
    """With 2x2 cells, removing a cell of an 8x8 image = removing a pixel of its 4x4 pooled twin,
    for a linear model that only sees 2x2 block sums."""
    torch.manual_seed(0)
    pooled_model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double().eval()
    block_model = nn.Sequential(nn.AvgPool2d(2, divisor_override=1), pooled_model).eval()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    attributions = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    pooled_x = nn.functional.avg_pool2d(x, 2, divisor_override=1)
    pooled_attr = nn.functional.avg_pool2d(attributions, 2, divisor_override=1)
    on_cells = mu_fidelity(block_model, x, attributions, 1, 3, n_subsets=12, cell_size=2,
                           generator=torch.Generator().manual_seed(4))
    on_pixels = mu_fidelity(pooled_model, pooled_x, pooled_attr, 1, 3, n_subsets=12,
                            generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(on_cells, on_pixels)


def test_cell_size_errors() -> None:
    model = small_cnn()
    x = torch.rand(1, 1, 6, 6)
    with pytest.raises(MetricInputError, match="cell_size must be <= 6"):
        mu_fidelity(model, x, x, 0, 2, cell_size=7)
    with pytest.raises(MetricInputError, match="subset_size must be <= 8"):
        mu_fidelity(model, x, x, 0, 9, cell_size=2)  # 3x3 = 9 cells

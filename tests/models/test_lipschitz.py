"""lipschitz_cnn stays 1-Lipschitz through training, checked with independent norm computations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from deel import torchlip

from auditkit.models import TrainingConfig, build_model, train_model

STEPS = TrainingConfig(epochs=2, batch_size=32, optimizer="adam", learning_rate=5e-3, seed=1)


@pytest.fixture(scope="module")
def trained(digits) -> torch.nn.Module:
    """A lipschitz_cnn after 2 epochs (14 Adam steps) on 200 digits, in eval mode."""
    model = build_model("lipschitz_cnn", in_channels=1, num_classes=10, image_size=(8, 8), base_filters=8)
    return train_model(model, digits[0][:200], digits[1][:200], STEPS)


def _conv_operator_norm(conv: torch.nn.Conv2d, size: tuple[int, int]) -> float:
    """Largest singular value of the linear map x -> conv(x) without bias, from its explicit matrix."""
    weight = conv.weight.detach()

    def linear(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x.reshape(1, conv.in_channels, *size), weight, None, padding=conv.padding).flatten()

    n = conv.in_channels * size[0] * size[1]
    matrix = torch.autograd.functional.jacobian(linear, torch.zeros(n, dtype=weight.dtype))
    return float(torch.linalg.matrix_norm(matrix.double(), ord=2))


def test_dense_layer_has_spectral_norm_at_most_one(trained: torch.nn.Module) -> None:
    dense = [m for m in trained.modules() if isinstance(m, torchlip.SpectralLinear)]
    assert len(dense) == 1
    assert float(torch.linalg.matrix_norm(dense[0].weight.detach().double(), ord=2)) <= 1 + 1e-3


def test_conv_layers_are_at_most_one_lipschitz(trained: torch.nn.Module) -> None:
    convs = [m for m in trained.modules() if isinstance(m, torchlip.SpectralConv2d)]
    assert len(convs) == 3
    for conv, size in zip(convs, [(8, 8), (4, 4), (2, 2)], strict=True):
        assert _conv_operator_norm(conv, size) <= 1 + 1e-3


def test_trained_weights_moved_from_initialisation(trained: torch.nn.Module) -> None:
    fresh = build_model("lipschitz_cnn", in_channels=1, num_classes=10, image_size=(8, 8), base_filters=8)
    key = "head.2.parametrizations.weight.original"
    assert not torch.equal(fresh.state_dict()[key], trained.state_dict()[key])


def test_prelu_slopes_are_clipped_and_whole_network_is_one_lipschitz(trained: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    x1 = torch.rand(256, 1, 8, 8, generator=gen)
    x2 = (x1 + 0.1 * torch.randn(256, 1, 8, 8, generator=gen)).clamp(0, 1)
    with torch.no_grad():
        ratio = (trained(x1) - trained(x2)).norm(dim=1) / (x1 - x2).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= 1 + 1e-3
    slopes = [m for m in trained.modules() if isinstance(m, torchlip.LPReLU)]
    assert len(slopes) == 2
    for prelu in slopes:
        with torch.no_grad():
            at_minus_one = prelu(-torch.ones(1, prelu.weight.numel(), 1, 1))
        assert float(at_minus_one.abs().max()) <= 1.0  # |slope| <= 1 on the negative side


def test_eval_forward_changes_no_buffer(trained: torch.nn.Module) -> None:
    """Power-iteration vectors and the cached Björck weight only move in training mode."""
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    first = trained(x)
    assert torch.equal(first, trained(x))
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())

"""The degradations of the sanity checks do exactly what they say, and nothing to the originals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from auditkit.engine.degrade import conv_weights, draw_seed, noisy_labels, randomise_weights
from auditkit.models import ModelError, build_model


def _net(family: str = "small_cnn") -> nn.Module:
    torch.manual_seed(0)
    return build_model(family, in_channels=1, num_classes=10, image_size=(8, 8),
                       base_filters=8, dropout=0.0).eval()


def _flat_conv(model: nn.Module) -> torch.Tensor:
    return torch.cat([w.detach().flatten() for w in conv_weights(model)])


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("share", [0.0, 0.05, 0.1, 0.3, 0.5, 1.0])
def test_exactly_round_share_of_conv_entries_change(share: float) -> None:
    net = _net()
    before = _state(net)
    noisy = randomise_weights(net, share, 0.5, torch.Generator().manual_seed(1))
    total = sum(w.numel() for w in conv_weights(net))
    assert total == 1 * 8 * 9 + 8 * 16 * 9 + 16 * 16 * 9  # the three 3x3 convolutions of small_cnn
    assert int((_flat_conv(noisy) != _flat_conv(net)).sum()) == round(share * total)
    conv_names = {f"{name}.weight" for name, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    assert len(conv_names) == 3
    for name, value in noisy.state_dict().items():
        if name not in conv_names:  # batch norm, the linear layer: untouched
            assert torch.equal(value, before[name]), name
    for name, value in net.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[name]), name
    assert noisy is not net and not noisy.training


def test_relative_noise_is_scaled_by_each_layers_weight_std() -> None:
    net = _net()
    with torch.no_grad():  # layers of very different scales
        for w, scale in zip(conv_weights(net), (1.0, 0.01, 3.0), strict=True):
            w.mul_(scale / w.std())
    noisy = randomise_weights(net, 1.0, 0.5, torch.Generator().manual_seed(4), scale="relative")
    for a, b in zip(conv_weights(noisy), conv_weights(net), strict=True):
        ratio = float((a - b).detach().double().std() / b.detach().double().std())
        assert ratio == pytest.approx(0.5, rel=0.15), ratio  # 72 to 2,304 draws per layer
    # Same draws as absolute noise, only rescaled: the same entries change.
    absolute = randomise_weights(net, 0.3, 0.5, torch.Generator().manual_seed(5))
    relative = randomise_weights(net, 0.3, 0.5, torch.Generator().manual_seed(5), scale="relative")
    assert torch.equal(_flat_conv(absolute) != _flat_conv(net), _flat_conv(relative) != _flat_conv(net))
    with pytest.raises(ModelError, match="scale"):
        randomise_weights(net, 0.3, 0.5, torch.Generator(), scale="percent")


def test_noise_has_the_requested_std_and_is_spread_over_layers() -> None:
    net = _net()
    noisy = randomise_weights(net, 1.0, 0.5, torch.Generator().manual_seed(2))
    delta = _flat_conv(noisy) - _flat_conv(net)
    assert delta.std().item() == pytest.approx(0.5, rel=0.05)  # 3,528 draws: std error ~1.2 %
    assert abs(delta.mean().item()) < 0.05
    part = randomise_weights(net, 0.3, 0.5, torch.Generator().manual_seed(3))
    shares = [float((a != b).double().mean()) for a, b in zip(conv_weights(part), conv_weights(net),
                                                               strict=True)]
    assert all(0.15 < s < 0.45 for s in shares), shares  # uniform over all entries, not one layer


def test_same_seed_same_copy_other_seed_other_copy() -> None:
    net = _net()
    a = randomise_weights(net, 0.1, 0.5, torch.Generator().manual_seed(draw_seed(0, 1, 2)))
    b = randomise_weights(net, 0.1, 0.5, torch.Generator().manual_seed(draw_seed(0, 1, 2)))
    c = randomise_weights(net, 0.1, 0.5, torch.Generator().manual_seed(draw_seed(0, 2, 1)))
    assert torch.equal(_flat_conv(a), _flat_conv(b))
    assert not torch.equal(_flat_conv(a), _flat_conv(c))


def test_randomised_model_predicts_differently() -> None:
    net = _net()
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    noisy = randomise_weights(net, 0.3, 0.5, torch.Generator().manual_seed(5))
    assert not torch.allclose(noisy(x), net(x))


def test_torchlip_convolutions_use_their_noisy_weights() -> None:
    net = _net("lipschitz_cnn")
    before = _state(net)
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    clean_out = net(x)
    noisy = randomise_weights(net, 0.3, 0.5, torch.Generator().manual_seed(7))
    total = sum(w.numel() for w in conv_weights(net))
    assert all(isinstance(w, nn.Parameter) for w in conv_weights(net))
    assert int((_flat_conv(noisy) != _flat_conv(net)).sum()) == round(0.3 * total)
    first = noisy.features[0]
    assert not torch.allclose(first.weight, net.features[0].weight)  # the eval-mode cache was refreshed
    assert not torch.allclose(noisy(x), clean_out)
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(net(x), clean_out)
    for module in noisy.modules():  # still 1-Lipschitz: each conv's reshaped weight has norm <= 1
        if isinstance(module, nn.Conv2d):
            norm = torch.linalg.matrix_norm(module.weight.detach().flatten(1), ord=2)
            assert norm <= 1.0 + 1e-3


@pytest.mark.parametrize("share", [0.0, 0.05, 0.3, 1.0])
def test_exactly_round_share_of_labels_are_wrong(share: float) -> None:
    labels = torch.arange(10).repeat(37)  # N = 370, C = 10
    noisy = noisy_labels(labels, share, 10, torch.Generator().manual_seed(8))
    assert int((noisy != labels).sum()) == round(share * 370)
    assert noisy.dtype == labels.dtype and noisy.min() >= 0 and noisy.max() <= 9
    assert torch.equal(labels, torch.arange(10).repeat(37))  # input untouched


def test_wrong_labels_are_uniform_over_the_other_classes() -> None:
    labels = torch.zeros(9000, dtype=torch.long)
    noisy = noisy_labels(labels, 1.0, 4, torch.Generator().manual_seed(9))
    counts = torch.bincount(noisy, minlength=4)
    assert counts[0] == 0
    assert all(abs(int(c) - 3000) < 200 for c in counts[1:]), counts  # ~4.5 std of a binomial


def test_labels_are_deterministic_per_seed() -> None:
    labels = torch.arange(10).repeat(10)
    a = noisy_labels(labels, 0.3, 10, torch.Generator().manual_seed(draw_seed(0, 0)))
    b = noisy_labels(labels, 0.3, 10, torch.Generator().manual_seed(draw_seed(0, 0)))
    c = noisy_labels(labels, 0.3, 10, torch.Generator().manual_seed(draw_seed(0, 1)))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    ("call", "parameter", "match"),
    [
        (lambda: randomise_weights(_net(), 1.5, 0.5, torch.Generator()), "share",
         r"share must be a fraction in \[0, 1\], got 1.5"),
        (lambda: randomise_weights(_net(), 0.1, 0.0, torch.Generator()), "std",
         r"std must be > 0 \(a standard deviation\), got 0.0"),
        (lambda: randomise_weights(nn.Linear(2, 2), 0.1, 0.5, torch.Generator()), "model",
         r"Linear has no nn.Conv2d layer"),
        (lambda: noisy_labels(torch.zeros(4, dtype=torch.long), -0.1, 3, torch.Generator()), "share",
         r"share must be a fraction in \[0, 1\], got -0.1"),
        (lambda: noisy_labels(torch.zeros(4, dtype=torch.long), 0.1, 1, torch.Generator()),
         "num_classes", r"at least 2 classes, got num_classes=1"),
    ],
)
def test_invalid_arguments_are_named(call, parameter: str, match: str) -> None:
    with pytest.raises(ModelError, match=match) as info:
        call()
    assert info.value.parameter == parameter

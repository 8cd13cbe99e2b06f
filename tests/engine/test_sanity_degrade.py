"""The degradations of the sanity checks do exactly what they say, and nothing to the originals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from auditkit.engine.degrade import (
    WeightNoise,
    conv_weights,
    draw_seed,
    find_scale,
    noisy_labels,
    randomise_weights,
    weight_tensors,
)
from auditkit.models import ModelError, accuracy, build_model


def _net(family: str = "small_cnn") -> nn.Module:
    torch.manual_seed(0)
    return build_model(family, in_channels=1, num_classes=10, image_size=(8, 8),
                       base_filters=8, dropout=0.0).eval()


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()


def _vit(trained: bool = True) -> nn.Module:
    """A small torchvision ViT; ``trained``: every tensor moved off its constant initialisation
    (layer norms' ones, the head's zeros), as training does, so that each has a spread."""
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=28, patch_size=7, num_layers=2, num_heads=2, hidden_dim=32,
                            mlp_dim=64, num_classes=10).eval()
    if trained:
        with torch.no_grad():
            for p in vit.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    return vit


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
        (lambda: randomise_weights(nn.Linear(2, 2), 0.1, 0.5, torch.Generator()), "layers",
         r"Linear has no weight of the layers named \(conv\): nothing to randomise"),
        (lambda: WeightNoise(_mlp(), ["attention", "norm"], torch.Generator()), "layers",
         r"Sequential has no weight of the layers named \(attention, norm\)"),
        (lambda: WeightNoise(_mlp(), ["dense"], torch.Generator()), "layers",
         r"layers must be 'all' or a non-empty list of conv, linear, attention, norm, got \['dense'\]"),
        (lambda: WeightNoise(_mlp(), "all", torch.Generator()).at(-1.0), "scale",
         r"scale must be a finite number >= 0, got -1.0"),
        (lambda: find_scale(lambda s: 1.0, 0.5, tolerance=0.01, bounds=(1.0, 1.0), max_steps=5),
         "bounds", r"bounds must be 0 < lo < hi, finite, got \(1.0, 1.0\)"),
        (lambda: find_scale(lambda s: 1.0, 0.5, tolerance=0.01, bounds=(0.1, 1.0), max_steps=1),
         "max_steps", r"max_steps must be >= 2"),
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


# --- graded randomisation: WeightNoise and find_scale -------------------------------------------


def _changed(before: nn.Module, after: nn.Module) -> set[str]:
    a, b = before.state_dict(), after.state_dict()
    return {name for name in a if not torch.equal(a[name], b[name])}


def _vit_weights(kinds: set[str]) -> set[str]:
    """The ViT's weight entries of each kind, written out by name (not derived from the code)."""
    names = {"conv": {"conv_proj.weight"}, "linear": {"heads.head.weight"}, "attention": set(),
             "norm": {"encoder.ln.weight"}}
    for i in range(2):
        block = f"encoder.layers.encoder_layer_{i}."
        names["norm"] |= {block + "ln_1.weight", block + "ln_2.weight"}
        names["attention"] |= {block + "self_attention.in_proj_weight",
                               block + "self_attention.out_proj.weight"}
        names["linear"] |= {block + "mlp.0.weight", block + "mlp.3.weight"}
    return set().union(*(names[k] for k in kinds))


@pytest.mark.parametrize(("layers", "kinds"), [
    ("all", {"conv", "linear", "attention", "norm"}),
    (["conv"], {"conv"}), (["linear"], {"linear"}), (["attention"], {"attention"}), (["norm"], {"norm"}),
    (["attention", "norm"], {"attention", "norm"}),
])
def test_every_weight_of_a_vision_transformer_of_the_kinds_named_and_nothing_else(layers, kinds) -> None:
    vit = _vit()
    before = _state(vit)
    noisy = WeightNoise(vit, layers, torch.Generator().manual_seed(0)).copy_at(0.5)
    assert _changed(vit, noisy) == _vit_weights(kinds)  # biases, class token, positions: as trained
    assert all(torch.equal(v, before[k]) for k, v in vit.state_dict().items())  # original untouched
    x = torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(noisy(x), vit(x))


def test_a_tensor_without_spread_gets_no_noise() -> None:
    """Noise is relative to each tensor's sd: an untrained ViT's layer norms (all ones) and head
    (all zeros) stay as they are."""
    vit = _vit(trained=False)
    noisy = WeightNoise(vit, "all", torch.Generator().manual_seed(0)).copy_at(0.5)
    assert _changed(vit, noisy) == _vit_weights({"conv", "linear", "attention"}) - {"heads.head.weight"}


def test_an_mlp_is_degraded_in_both_linear_layers() -> None:
    mlp = _mlp()
    noisy = WeightNoise(mlp, "all", torch.Generator().manual_seed(0)).copy_at(1.0)
    assert _changed(mlp, noisy) == {"1.weight", "3.weight"}


def test_a_batch_norm_net_keeps_its_running_statistics() -> None:
    net = _net()  # small_cnn: three conv + batch-norm blocks, then a linear layer
    bn = [n for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)]
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    linears = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    assert len(bn) == len(convs) == 3 and len(linears) == 1
    with torch.no_grad():  # as trained: scales off their initial ones, running statistics moved
        for name in bn:
            module = net.get_submodule(name)
            module.weight.add_(torch.randn_like(module.weight) * 0.1)
            module.running_mean.add_(0.3)
    noisy = WeightNoise(net, "all", torch.Generator().manual_seed(0)).copy_at(0.3)
    assert _changed(net, noisy) == {f"{n}.weight" for n in bn + convs + linears}
    for name in bn:  # running mean, variance and count as trained; affine bias too
        for part in ("running_mean", "running_var", "num_batches_tracked", "bias"):
            key = f"{name}.{part}"
            assert torch.equal(noisy.state_dict()[key], net.state_dict()[key]), key


def test_the_noise_of_each_tensor_is_relative_to_its_own_spread() -> None:
    net = _net()
    with torch.no_grad():  # tensors of very different scales
        for w, scale in zip(weight_tensors(net), (1.0, 0.01, 3.0, 1.0, 1.0, 1.0, 0.2), strict=False):
            w.mul_(scale / w.std())
    noisy = WeightNoise(net, ["conv", "linear"], torch.Generator().manual_seed(4)).copy_at(0.5)
    for a, b in zip(weight_tensors(noisy, ["conv", "linear"]), weight_tensors(net, ["conv", "linear"]),
                    strict=True):
        ratio = float((a - b).detach().double().std() / b.detach().double().std())
        assert ratio == pytest.approx(0.5, rel=0.2), ratio  # 72 to 2,304 draws per tensor


def test_the_copy_at_a_scale_is_a_function_of_the_seed_and_the_scale_alone() -> None:
    vit = _vit()
    a = WeightNoise(vit, "all", torch.Generator().manual_seed(draw_seed(0, 1, 2)))
    b = WeightNoise(vit, "all", torch.Generator().manual_seed(draw_seed(0, 1, 2)))
    first = _state(a.at(0.7))
    a.at(3.0)  # not cumulative: back to 0.7 gives the same weights, bit for bit
    assert all(torch.equal(v, first[k]) for k, v in a.at(0.7).state_dict().items())
    assert all(torch.equal(v, first[k]) for k, v in b.copy_at(0.7).state_dict().items())
    assert all(torch.equal(v, vit.state_dict()[k]) for k, v in a.at(0.0).state_dict().items())
    c = WeightNoise(vit, "all", torch.Generator().manual_seed(draw_seed(0, 2, 1))).at(0.7)
    assert _changed(a.at(0.7), c) == _vit_weights({"conv", "linear", "attention", "norm"})


def test_torchlip_weights_are_degraded_through_their_parametrisation() -> None:
    net = _net("lipschitz_cnn")
    before = _state(net)
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    clean_out = net(x)
    noisy = WeightNoise(net, "all", torch.Generator().manual_seed(7)).copy_at(0.5)
    assert not torch.allclose(noisy(x), clean_out)
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name
    for module in noisy.modules():  # still 1-Lipschitz: each conv's reshaped weight has norm <= 1
        if isinstance(module, nn.Conv2d):
            norm = torch.linalg.matrix_norm(module.weight.detach().flatten(1), ord=2)
            assert norm <= 1.0 + 1e-3


def _teacher_task() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """An MLP and 300 images it labels itself: clean accuracy 1."""
    mlp = _mlp()
    images = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(3)) - 0.5
    with torch.no_grad():
        labels = mlp(images).argmax(1)
    return mlp, images, labels


@pytest.mark.parametrize("target", [0.8, 0.6, 0.4])
def test_the_bisection_finds_what_a_brute_force_scan_finds(target: float) -> None:
    mlp, images, labels = _teacher_task()
    noise = WeightNoise(mlp, "all", torch.Generator().manual_seed(11))

    def evaluate(s: float) -> float:
        return accuracy(noise.at(s), images, labels)

    found = find_scale(evaluate, target, tolerance=0.02, bounds=(0.001, 100.0), max_steps=30)
    assert found.reached and abs(found.accuracy - target) <= 0.02 and found.steps <= 30
    assert found.accuracy == accuracy(noise.copy_at(found.scale), images, labels)  # as recorded
    # Brute force: 400 log-spaced scales. The scale found lies between the last scale still above
    # the tolerance band and the first one below it, where the scan's own crossing is.
    grid = torch.logspace(-3, 2, 400, dtype=torch.float64).tolist()
    scan = [evaluate(s) for s in grid]
    above = max(s for s, a in zip(grid, scan, strict=True) if a > target + 0.02 and s <= found.scale)
    below = min(s for s, a in zip(grid, scan, strict=True) if a < target - 0.02 and s >= found.scale)
    assert above <= found.scale <= below
    assert any(abs(a - target) <= 0.02 for s, a in zip(grid, scan, strict=True) if above <= s <= below)


def test_lower_targets_are_reached_lower() -> None:
    mlp, images, labels = _teacher_task()
    chance = float(torch.bincount(labels).max()) / len(labels)
    found = []
    for f in (0.25, 0.5, 0.75):  # each level's own draw, as the engine seeds them
        noise = WeightNoise(mlp, "all", torch.Generator().manual_seed(draw_seed(0, f)))
        found.append(find_scale(lambda s, n=noise: accuracy(n.at(s), images, labels),
                                1.0 - f * (1.0 - chance), tolerance=0.02, bounds=(0.001, 100.0),
                                max_steps=30))
    assert all(c.reached for c in found)
    assert found[0].accuracy > found[1].accuracy > found[2].accuracy  # by construction
    # Each level has its own draw, so the scales need not increase; on one draw they must.
    noise = WeightNoise(mlp, "all", torch.Generator().manual_seed(5))
    one = [find_scale(lambda s: accuracy(noise.at(s), images, labels), c.target, tolerance=0.02,
                      bounds=(0.001, 100.0), max_steps=30) for c in found]
    assert one[0].scale < one[1].scale < one[2].scale


def test_find_scale_on_a_closed_form() -> None:
    """accuracy(s) = 1 / (1 + s): the target a is reached at s = 1/a - 1."""
    for target in (0.9, 0.5, 0.1):
        found = find_scale(lambda s: 1 / (1 + s), target, tolerance=1e-4, bounds=(1e-3, 1e3),
                           max_steps=60)
        assert found.reached and found.scale == pytest.approx(1 / target - 1, rel=1e-3)


def test_a_target_out_of_reach_is_reported_never_waited_for() -> None:
    calls: list[float] = []

    def flat(s: float) -> float:
        calls.append(s)
        return 0.9

    # The largest scale does not degrade enough: two evaluations, the upper bound kept, not reached.
    found = find_scale(flat, 0.5, tolerance=0.01, bounds=(0.01, 10.0), max_steps=30)
    assert (found.scale, found.accuracy, found.steps, found.reached) == (10.0, 0.9, 2, False)
    assert calls == [0.01, 10.0]
    # The smallest scale already degrades too much: the lower bound kept.
    found = find_scale(lambda s: 0.1, 0.5, tolerance=0.01, bounds=(0.01, 10.0), max_steps=30)
    assert (found.scale, found.steps, found.reached) == (0.01, 2, False)
    # A cliff the target falls into: max_steps evaluations, the nearest kept, not reached.
    found = find_scale(lambda s: 1.0 if s < 1 else 0.0, 0.5, tolerance=0.01, bounds=(0.01, 100.0),
                       max_steps=12)
    assert found.steps == 12 and not found.reached and found.accuracy in (0.0, 1.0)
    assert found.scale == pytest.approx(1.0, rel=0.01)  # the bisection closed in on the cliff

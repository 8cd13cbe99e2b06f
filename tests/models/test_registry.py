"""build_model: every family, every input shape, its Grad-CAM layer, and its argument checks."""

from __future__ import annotations

import pytest
import torch

from auditkit.errors import AuditError
from auditkit.models import MODEL_FAMILIES, LipschitzCNN, ModelError, ResNet18, SmallCNN, build_model

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
SMALL = {"small_cnn": 4, "resnet18": 4, "lipschitz_cnn": 8}  # narrow widths keep the tests fast


def _expected_map(family: str, base: int, h: int, w: int) -> tuple[int, int, int]:
    if family == "small_cnn":  # a second pool from 16 pixels
        pool = 4 if min(h, w) >= 16 else 2
        return (2 * base, h // pool, w // pool)
    if family == "resnet18":
        return (8 * base, -(-h // 8), -(-w // 8))
    return (2 * base, h // 4, w // 4)


@pytest.mark.parametrize("family", MODEL_FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_logits_and_target_layer_shapes(family: str, shape: tuple[int, int, int]) -> None:
    c, h, w = shape
    base = SMALL[family]
    model = build_model(family, in_channels=c, num_classes=7, image_size=(h, w), base_filters=base).eval()
    seen: list[torch.Size] = []
    handle = model.target_layer.register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    logits = model(torch.rand(3, c, h, w))
    handle.remove()
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()
    assert seen == [torch.Size((3, *_expected_map(family, base, h, w)))]


def test_default_widths_and_types() -> None:
    small = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8))
    resnet = build_model("resnet18", in_channels=3, num_classes=10, image_size=(32, 32))
    lip = build_model("lipschitz_cnn", in_channels=3, num_classes=10, image_size=(32, 32))
    assert isinstance(small, SmallCNN) and small.features[0].out_channels == 16
    assert small.head[2].p == 0.25
    assert isinstance(resnet, ResNet18) and resnet.stem[0].out_channels == 32
    assert resnet.layer4[-1].conv2.out_channels == 256 and resnet.head[2].p == 0.25
    assert resnet.stem[0].kernel_size == (3, 3) and resnet.stem[0].stride == (1, 1)
    assert resnet.target_layer is resnet.layer4
    assert isinstance(lip, LipschitzCNN)
    assert [m.out_channels for m in lip.features if isinstance(m, torch.nn.Conv2d)] == [48, 96, 96]
    assert lip.target_layer is lip.features[-1]


def test_target_layer_is_not_a_second_state_dict_entry() -> None:
    for family in MODEL_FAMILIES:
        model = build_model(family, in_channels=1, num_classes=3, image_size=(8, 8), base_filters=4)
        assert not any(k.startswith("target_layer") for k in model.state_dict())


def test_resnet18_has_eight_basic_blocks() -> None:
    model = build_model("resnet18", in_channels=1, num_classes=2, image_size=(8, 8), base_filters=2)
    blocks = [m for m in model.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"family": "vgg"}, r"family must be one of small_cnn, resnet18, lipschitz_cnn, got 'vgg'"),
        ({"family": ["small_cnn"]}, r"family must be one of"),
        ({"base_filters": 0}, r"base_filters must be >= 1, got 0"),
        ({"base_filters": 2.5}, r"base_filters must be an int, got float 2.5"),
        ({"base_filters": True}, r"base_filters must be an int, got bool True"),
        ({"dropout": 1.0}, r"dropout must be a finite number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be a finite number in \[0, 1\), got -0.1"),
        ({"dropout": float("nan")}, r"dropout must be a finite number"),
        ({"in_channels": 0}, r"in_channels must be >= 1, got 0"),
        ({"num_classes": 1}, r"num_classes must be >= 2, got 1"),
        ({"image_size": (8,)}, r"image_size must be \(height, width\), both ints >= 2 for small_cnn"),
        (
            {"family": "lipschitz_cnn", "image_size": (4, 8)},
            r"both ints >= 8 for lipschitz_cnn, got \(4, 8\)",
        ),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    args = {"family": "small_cnn", "in_channels": 1, "num_classes": 10, "image_size": (8, 8), **kwargs}
    family = args.pop("family")
    with pytest.raises(ModelError, match=match) as info:
        build_model(family, **args)
    assert isinstance(info.value, AuditError) and isinstance(info.value, ValueError)
    assert info.value.parameter == (set(kwargs) - {"family"} or {"family"}).pop()


@pytest.mark.parametrize("size", [8, 28])
def test_small_cnn_gives_the_same_logits_and_gradients_to_the_bit_with_autograd_on_or_off(size: int) -> None:
    # Its pool runs channels-last without autograd (a faster kernel); the numbers must not change.
    torch.manual_seed(0)
    model = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(size, size)).eval()
    x = torch.rand(64, 1, size, size)
    with torch.no_grad():
        off = model(x)
    leaf = x.clone().requires_grad_(True)
    on = model(leaf)
    assert torch.equal(off, on.detach())
    # The backward goes through nn.MaxPool2d's own kernel: the gradients of the plain pool.
    plain = torch.nn.Sequential(*[torch.nn.MaxPool2d(2) if isinstance(m, torch.nn.MaxPool2d) else m
                                  for m in model.features])
    reference = model.head(plain(leaf))
    assert torch.equal(torch.autograd.grad(on[:, 3].sum(), leaf)[0],
                       torch.autograd.grad(reference[:, 3].sum(), leaf)[0])

"""Bad input about the operator's own model, found by ``auditkit validate``: each a one-line error
naming the policy file, the line and the key, exit 2, never a traceback.

In each case the expected line is the one marked ``# <-``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from auditkit.cli import main

from .conftest import MINIMAL

HERE = "  # <-"
OPS = "auditkit_test_ops"
"""Module of operator code the tests write next to the policy."""

OPS_SOURCE = '''
import torch
from torch import nn


def tiny(num_classes, in_channels, image_size, width=4):
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


def seven_logits(num_classes, in_channels, image_size):
    return tiny(7, in_channels, image_size)


def not_a_module(num_classes, in_channels, image_size):
    return "a string"


def flat(num_classes, in_channels, image_size):
    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size[0] * image_size[1], num_classes))


def vit(num_classes, in_channels, image_size, patch=2):
    from torchvision.models import VisionTransformer
    net = VisionTransformer(image_size=image_size[0], patch_size=patch, num_layers=2, num_heads=2,
                            hidden_dim=16, mlp_dim=32, num_classes=num_classes)
    net.conv_proj = nn.Conv2d(in_channels, 16, patch, stride=patch)
    return net


class Patches(nn.Module):
    """Tokens [N, 1 + h*w, 8] from 2-pixel patches, then a linear head; the grid is not declared."""
    def __init__(self, num_classes, in_channels, image_size):
        super().__init__()
        self.embed = nn.Conv2d(in_channels, 8, 2, stride=2)
        self.tokens = nn.Identity()
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        return self.head(self.tokens(torch.cat([t.mean(1, keepdim=True), t], dim=1))[:, 0])


def patches(num_classes, in_channels, image_size):
    return Patches(num_classes, in_channels, image_size)


def patches_with_grid(num_classes, in_channels, image_size):
    net = Patches(num_classes, in_channels, image_size)
    net.token_grid, net.prefix_tokens = (image_size[0] // 2, image_size[1] // 2), 1
    return net


def fit(model, images, labels, *, seed, device):
    return model


def fit_without_seed(model, images, labels):
    return model
'''


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Path]:
    """The operator module written into the policy's folder, imported fresh by each test."""
    (tmp_path / f"{OPS}.py").write_text(OPS_SOURCE, encoding="utf-8")
    sys.modules.pop(OPS, None)
    yield tmp_path
    sys.modules.pop(OPS, None)


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def _expect(text: str, key: str, message: str, ops: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = ops / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.endswith(HERE))
    err = _validate(path, capsys)
    prefix = f"auditkit: error: {path}:{line}: {key}: "
    assert err.startswith(prefix), err
    assert message in err[len(prefix):], err


def _model(lines: str) -> str:
    return MINIMAL + "model:\n" + lines


def test_factory_module_that_does_not_import(ops, capsys) -> None:
    _expect(_model("  factory: no_such_module:build" + HERE + "\n"), "model.factory",
            "cannot import 'no_such_module:build': no module named 'no_such_module'", ops, capsys)


def test_factory_function_that_does_not_exist(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:tinny" + HERE + "\n"), "model.factory",
            f"{OPS} has no attribute 'tinny'; did you mean 'tiny'?", ops, capsys)


def test_factory_with_the_wrong_signature(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:tiny" + HERE + "\n  kwargs:\n    depth: 3\n"), "model.factory",
            "cannot be called as factory(num_classes=, in_channels=, image_size=, **kwargs)", ops, capsys)


def test_factory_that_returns_no_module(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:not_a_module" + HERE + "\n"), "model.factory",
            "returned a str, not a torch.nn.Module", ops, capsys)


def test_factory_with_the_wrong_number_of_logits(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:seven_logits" + HERE + "\n"), "model.factory",
            "the model must give logits [N, 10] (one per class of the dataset) for images [2, 1, 8, 8], "
            "got (2, 7)", ops, capsys)


def test_training_function_that_does_not_import(ops, capsys) -> None:
    _expect(MINIMAL + "training:\n  function: nowhere.train:fit" + HERE + "\n", "training.function",
            "cannot import 'nowhere.train:fit': no module named 'nowhere'", ops, capsys)


def test_training_function_with_the_wrong_signature(ops, capsys) -> None:
    _expect(MINIMAL + f"training:\n  function: {OPS}:fit_without_seed" + HERE + "\n", "training.function",
            "which cannot be called as fit(model, images, labels, seed=, device=, **kwargs)", ops, capsys)


def test_target_layer_that_does_not_exist(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:tiny\n  target_layer: '00'" + HERE + "\n"), "model.target_layer",
            "Sequential has no layer '00'; close names: 0", ops, capsys)


def test_target_layer_of_a_torchvision_model_suggests_close_names(ops, capsys) -> None:
    _expect(_model("  torchvision: resnet18\n  target_layer: layer4.1.conv3" + HERE + "\n"),
            "model.target_layer", "ResNet has no layer 'layer4.1.conv3'; close names: layer4.1.conv2, "
            "layer4.1.conv1, layer4.0.conv2", ops, capsys)


def test_target_layer_that_is_not_convolutional(ops, capsys) -> None:
    _expect(_model(f"  factory: {OPS}:tiny\n  target_layer: '4'" + HERE + "\n"), "model.target_layer",
            "Grad-CAM's layer '4' gives (2, 10), neither a feature map [N, C, h, w] nor a token "
            "sequence [N, tokens, C]", ops, capsys)


def test_model_without_convolution_for_gradcam(ops, capsys) -> None:
    text = _model(f"  factory: {OPS}:flat" + HERE + "\n") + "explainers_extra"
    text = text.replace("  - name: saliency\n", "  - name: saliency\n  - name: gradcam\n").replace(
        "explainers_extra", "")
    _expect(text, "model.factory", "Grad-CAM needs a layer and Sequential has no nn.Conv2d: name one with "
            "model.target_layer",
            ops, capsys)


GRADCAM = "explainers:\n  - name: gradcam\n"


def _transformer(lines: str) -> str:
    return _model(lines).replace("explainers:\n  - name: saliency\n", "") + GRADCAM


def test_token_grid_that_does_not_match_the_tokens(ops, capsys) -> None:
    _expect(_transformer(f"  factory: {OPS}:vit\n  token_grid: [5, 5]" + HERE + "\n  prefix_tokens: 1\n"),
            "model.token_grid", "Grad-CAM's layer 'encoder.layers.encoder_layer_1.ln_1' gives (2, 17, 16): "
            "17 tokens, but 1 prefix token + a 5 x 5 grid (AuditedModel.token_grid) makes 1 + 5 x 5 = 26",
            ops, capsys)


def test_token_grid_that_forgets_the_class_token(ops, capsys) -> None:
    _expect(_transformer(f"  factory: {OPS}:patches\n  target_layer: tokens\n  token_grid: [4, 4]" + HERE
                         + "\n"), "model.token_grid", "17 tokens, but 0 prefix tokens + a 4 x 4 grid", ops,
            capsys)


def test_token_layer_without_a_grid(ops, capsys) -> None:
    _expect(_transformer(f"  factory: {OPS}:patches\n  target_layer: tokens" + HERE + "\n"),
            "model.target_layer", "Grad-CAM's layer 'tokens' gives (2, 17, 8), a token sequence [N, tokens, "
            "C], and no token grid is known for it: declare model.token_grid [h, w] (and "
            "model.prefix_tokens)",
            ops, capsys)


def test_transformer_layer_that_is_neither_map_nor_tokens(ops, capsys) -> None:
    layer = "encoder.layers.encoder_layer_1.self_attention"
    _expect(_transformer(f"  factory: {OPS}:vit\n  target_layer: {layer}" + HERE + "\n"),
            "model.target_layer", f"Grad-CAM's layer '{layer}' gives tuple, neither a feature map", ops,
            capsys)


def test_declared_grid_without_a_layer_is_not_the_patch_embedding(ops, capsys) -> None:
    _expect(_transformer(f"  factory: {OPS}:patches_with_grid" + HERE + "\n"), "model.factory",
            "Grad-CAM needs a layer and Patches has a token grid but no transformer block auditkit knows "
            "(its last convolution is the patch embedding): name one with model.target_layer", ops, capsys)
    path = ops / "policy.yaml"
    path.write_text(_transformer(f"  factory: {OPS}:patches_with_grid\n  target_layer: tokens\n"), "utf-8")
    assert main(["validate", str(path)]) == 0
    assert "Grad-CAM layer: tokens (model.target_layer), a 8 x 4 x 4 map; tokens: 1 prefix token + a 4 x 4 " \
        "grid (Patches.token_grid)" in capsys.readouterr().out


@pytest.mark.parametrize(("lines", "key", "message"), [
    ("  prefix_tokens: 1" + HERE, "model.prefix_tokens", "prefix_tokens counts the tokens before "
     "model.token_grid: declare the grid too"),
    ("  token_grid: [4, 4, 4]" + HERE, "model.token_grid", "expected [h, w], got 3 numbers"),
    ("  token_grid: [4, 0]" + HERE, "model.token_grid[1]", "expected an integer in [1, 4096], got 0"),
])
def test_token_keys_out_of_their_range(ops, capsys, lines, key, message) -> None:
    _expect(_transformer(f"  factory: {OPS}:vit\n" + lines + "\n"), key, message, ops, capsys)


@pytest.mark.parametrize(("factory", "line"), [
    ("vit", "Grad-CAM layer: encoder.layers.encoder_layer_1.ln_1 (the last EncoderBlock's first norm), a "
     "16 x 4 x 4 map; tokens: 1 prefix token + a 4 x 4 grid (VisionTransformer)"),
    ("tiny", "Grad-CAM layer: 0 (the last nn.Conv2d), a 4 x 8 x 8 map"),
])
def test_validate_names_the_layer_and_why(ops, capsys, factory, line) -> None:
    path = ops / "policy.yaml"
    path.write_text(_transformer(f"  factory: {OPS}:{factory}\n"), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == line
    assert main(["validate", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["grad_cam_layer"]["name"] == line.split()[2]


def test_unknown_torchvision_name(ops, capsys) -> None:
    _expect(_model("  torchvision: resnet19" + HERE + "\n"), "model.torchvision",
            "'resnet19' is not a torchvision classification model; did you mean", ops, capsys)


def test_init_weights_that_do_not_fit(ops, capsys) -> None:
    torch.save({"0.weight": torch.zeros(4, 3, 3, 3)}, ops / "w.pt")
    _expect(_model(f"  factory: {OPS}:tiny\n  init_weights: w.pt" + HERE + "\n"), "model.init_weights",
            "do not fit the Sequential built for this dataset (missing: 0.bias, 4.bias, 4.weight; "
            "other shape: 0.weight (4, 3, 3, 3) for (4, 1, 3, 3))", ops, capsys)


def test_init_weights_that_are_not_a_state_dict(ops, capsys) -> None:
    (ops / "w.pt").write_bytes(b"not torch")
    _expect(_model(f"  factory: {OPS}:tiny\n  init_weights: w.pt" + HERE + "\n"), "model.init_weights",
            "is not a readable state dict (weights_only=True)", ops, capsys)


def test_normalize_with_the_wrong_number_of_channels(ops, capsys) -> None:
    text = MINIMAL + ("preprocessing:\n  normalize:\n    mean: [0.5, 0.5, 0.5]" + HERE
                      + "\n    std: [0.2, 0.2, 0.2]\n")
    _expect(text, "preprocessing.normalize.mean", "3 means for 1-channel images (digits)", ops, capsys)


def test_mixed_sizes_without_resize(ops, capsys) -> None:
    for label, sizes in (("a", [(6, 5), (6, 5), (9, 4)]), ("b", [(6, 5), (7, 7)])):
        (ops / "data" / label).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(ops / "data" / label / f"{i}.png")
    text = MINIMAL.replace("kind: digits", "kind: imagefolder\n  path: data" + HERE)
    _expect(text, "dataset.path", "holds 3 sizes (width x height): 6x5 (3 images, e.g. a/0.png, a/1.png, "
            "b/0.png); 9x4 (1 image, e.g. a/2.png); 7x7 (1 image, e.g. b/1.png); declare "
            "preprocessing.resize", ops, capsys)
    path = ops / "policy.yaml"
    path.write_text(text.replace(HERE, "") + "preprocessing:\n  resize: [8, 8]\n", encoding="utf-8")
    assert main(["validate", "--quiet", str(path)]) == 0

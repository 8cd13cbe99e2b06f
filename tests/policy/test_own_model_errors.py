"""Bad input about the operator's own model, found by ``auditkit validate``: each a one-line error
naming the policy file, the line and the key, exit 2, never a traceback.

In each case the expected line is the one marked ``# <-``.
"""

from __future__ import annotations

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

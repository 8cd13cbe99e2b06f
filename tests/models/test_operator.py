"""The operator's own model: torchvision builds, dotted-path imports with source digests, Grad-CAM's
layer by path, initial weights and the normalising wrapper."""

from __future__ import annotations

import copy
import hashlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from auditkit.explainers import make_explainer
from auditkit.models import (
    AuditedModel,
    ModelError,
    build_torchvision,
    import_callable,
    last_conv_name,
    load_init_weights,
    resolve_layer,
    source_record,
    train_model,
)
from auditkit.models.training import TrainingConfig


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


def test_torchvision_model_is_built_without_weights_with_the_head_and_channels() -> None:
    model = build_torchvision("resnet18", num_classes=5, in_channels=1)
    assert model.conv1.in_channels == 1 and model.fc.out_features == 5
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 5)
    small = build_torchvision("mobilenet_v3_small", num_classes=3, in_channels=3, kwargs={"dropout": 0.1})
    assert small.classifier[-1].out_features == 3 and small.classifier[2].p == 0.1
    assert last_conv_name(model) == "layer4.1.conv2"


def test_unknown_torchvision_name_suggests() -> None:
    with pytest.raises(ModelError, match=r"'mobilenet_v3_smal' is not a torchvision classification model; "
                       r"did you mean 'mobilenet_v3_small'"):
        build_torchvision("mobilenet_v3_smal", num_classes=3, in_channels=3)


def test_layer_path_resolves_or_suggests() -> None:
    model = build_torchvision("resnet18", num_classes=2, in_channels=3)
    assert resolve_layer(model, "layer4.1.conv2") is model.layer4[1].conv2
    with pytest.raises(ModelError, match=r"no layer 'layer4.2.conv2'; close names: layer4.1.conv2") as info:
        resolve_layer(model, "layer4.2.conv2")
    assert info.value.parameter == "target_layer"


def test_wrapper_normalises_inside_and_gradcam_finds_the_layer_through_it() -> None:
    torch.manual_seed(0)
    net = build_torchvision("resnet18", num_classes=2, in_channels=3)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    model = AuditedModel(net, layer="layer4.1.conv2", mean=mean, std=std).eval()
    x = torch.rand(3, 3, 32, 32)
    expected = net((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])
    torch.testing.assert_close(model(x), expected)
    assert model.target_layer is net.layer4[1].conv2
    keys = set(model.state_dict())
    assert {"mean", "std"} <= keys and not any(k.startswith("target") for k in keys)
    maps = make_explainer("gradcam", model, layer=model.target_layer).explain(x, torch.tensor([0, 1, 0]))
    assert maps.shape == (3, 1, 32, 32)
    # Saliency is of the [0, 1] pixels: d/dx net((x - m) / s) = grad / s.
    x.requires_grad_(True)
    model(x)[:, 0].sum().backward()
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    x2 = ((x.detach() - m) / s).requires_grad_()
    net(x2)[:, 0].sum().backward()
    torch.testing.assert_close(x.grad, x2.grad / torch.tensor(std)[:, None, None])


def test_reset_parameters_rebuilds_from_the_seed_with_the_architecture_init() -> None:
    def build() -> nn.Module:
        return build_torchvision("resnet18", num_classes=2, in_channels=3)

    model = AuditedModel(build(), build=build, layer="layer4")
    torch.manual_seed(4)
    model.reset_parameters()
    first = copy.deepcopy(model.state_dict())
    torch.manual_seed(4)
    expected = build().state_dict()
    torch.manual_seed(5)
    model.reset_parameters()
    assert not torch.equal(model.state_dict()["net.conv1.weight"], first["net.conv1.weight"])
    torch.testing.assert_close(first["net.fc.weight"], expected["fc.weight"])


def test_auditkit_loop_trains_the_wrapped_model_deterministically() -> None:
    x, y = torch.rand(12, 3, 8, 8), torch.tensor([0, 1] * 6)
    config = TrainingConfig(epochs=1, batch_size=4, optimizer="adam", learning_rate=1e-2, seed=1)
    states = []
    for _ in range(2):
        model = AuditedModel(_tiny(), build=_tiny, layer="0", mean=[0.5] * 3, std=[0.5] * 3)
        states.append(train_model(model, x, y, config).state_dict())
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key])


def test_init_weights_load_into_the_network_and_mismatch_is_named(tmp_path: Path) -> None:
    source = _tiny()
    torch.save(source.state_dict(), tmp_path / "w.pt")
    target = _tiny()
    load_init_weights(tmp_path / "w.pt", target)
    torch.testing.assert_close(target[0].weight, source[0].weight)
    torch.save({"state_dict": source.state_dict()}, tmp_path / "wrapped.pt")
    load_init_weights(tmp_path / "wrapped.pt", _tiny())
    wide = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 2))
    with pytest.raises(ModelError,
                       match=r"do not fit the Sequential .*other shape: 0\.bias \(4,\) for \(8,\)"):
        load_init_weights(tmp_path / "w.pt", wide)
    with pytest.raises(ModelError, match="does not exist"):
        load_init_weights(tmp_path / "gone.pt", _tiny())


def test_import_callable_from_a_folder_and_its_source_digest(tmp_path: Path) -> None:
    source = "def build(num_classes, in_channels, image_size):\n    return None\n"
    (tmp_path / "auditkit_test_factory.py").write_text(source, encoding="utf-8")
    sys.modules.pop("auditkit_test_factory", None)
    try:
        fn = import_callable("auditkit_test_factory:build", search=tmp_path, parameter="factory")
        record = source_record(fn, "auditkit_test_factory:build")
    finally:
        sys.modules.pop("auditkit_test_factory", None)
    assert str(tmp_path) not in sys.path
    assert record == {"path": "auditkit_test_factory:build", "qualified_name": "auditkit_test_factory.build",
                      "source_file": str(tmp_path / "auditkit_test_factory.py"),
                      "source_sha256": hashlib.sha256(source.encode()).hexdigest()}
    with pytest.raises(ModelError,
                       match=r"cannot import 'auditkit_nowhere:f': no module named 'auditkit_nowhere'"):
        import_callable("auditkit_nowhere:f", search=tmp_path, parameter="factory")
    with pytest.raises(ModelError, match=r"is not callable \(it is a int\)"):
        import_callable("sys:maxsize", parameter="factory")

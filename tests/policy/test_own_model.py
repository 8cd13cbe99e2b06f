"""The policy keys of the operator's own model: model.torchvision/factory/kwargs/init_weights/
target_layer, training.function/kwargs, preprocessing and system."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from auditkit.errors import PolicyError
from auditkit.policy import load_policy
from auditkit.policy.schema import ModelSpec, TrainingSpec

from .conftest import MINIMAL

FULL = MINIMAL + """\
system:
  name: Shape sorter
  version: "2.1"
  owner: Example operator
  intended_purpose: Sort pictures
  contact: audit@example.org
preprocessing:
  resize: [64, 48]
  interpolation: bicubic
  center_crop: [60, 40]
  normalize:
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
model:
  torchvision: resnet18
  kwargs:
    zero_init_residual: true
  init_weights: weights/init.pt
  target_layer: layer4.1.conv2
training:
  function: my_recipe.train:fit
  seed: 3
  kwargs:
    epochs: 2
    schedule: [1, 2]
"""


def test_every_new_key_is_read(write, tmp_path: Path) -> None:
    policy = load_policy(write(FULL))
    m, t, p = policy.model, policy.training, policy.preprocessing
    assert (m.family, m.torchvision, m.source) == (None, "resnet18", "torchvision")
    assert dict(m.kwargs) == {"zero_init_residual": True}
    assert m.init_weights == tmp_path / "weights" / "init.pt"
    assert m.target_layer == "layer4.1.conv2"
    assert (t.function, t.seed) == ("my_recipe.train:fit", 3)
    assert dict(t.kwargs) == {"epochs": 2, "schedule": [1, 2]}
    assert (p.resize, p.interpolation, p.center_crop) == ((64, 48), "bicubic", (60, 40))
    assert p.normalize.std == (0.229, 0.224, 0.225)
    assert policy.system.version == "2.1" and policy.system.intended_purpose == "Sort pictures"
    assert policy.lines["model.kwargs.zero_init_residual"] == 23
    hash(policy)


def test_round_trip_through_to_dict(write) -> None:
    policy = load_policy(write(FULL))
    data = policy.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = load_policy(write(yaml.safe_dump(data, sort_keys=False), name="again.yaml"))
    assert again.to_dict() == data
    assert dataclasses.replace(again, source=policy.source, sha256=policy.sha256) == policy


def test_defaults_keep_the_built_in_family() -> None:
    assert ModelSpec().family == "small_cnn" and ModelSpec().source == "family"
    assert ModelSpec(factory="m:f").family is None
    assert TrainingSpec().function is None and dict(TrainingSpec().kwargs) == {}


ERRORS = [
    pytest.param("model:\n  family: resnet18\n  torchvision: resnet50  # <-\n", "model.torchvision",
                 "the model is built by one of family, torchvision or factory; this policy names family and "
                 "torchvision: keep one", id="two-builders"),
    pytest.param("model:\n  torchvision: resnet50\n  base_filters: 8  # <-\n", "model.base_filters",
                 "base_filters sizes auditkit's own families", id="family-option-for-torchvision"),
    pytest.param("model:\n  kwargs:  # <-\n    width: 3\n", "model.kwargs",
                 "kwargs are passed to torchvision or factory", id="kwargs-without-builder"),
    pytest.param("model:\n  torchvision: resnet50\n  kwargs:\n    weights: DEFAULT  # <-\n",
                 "model.kwargs.weights", "nothing is downloaded", id="weights-kwarg"),
    pytest.param("model:\n  factory: mymodels.build  # <-\n", "model.factory",
                 "expected 'package.module:function'", id="factory-without-colon"),
    pytest.param("model:\n  target_layer: layer4/1  # <-\n", "model.target_layer",
                 "expected a dotted module path", id="layer-path"),
    pytest.param("model:\n  factory: m:f\n  kwargs:\n    2x: 1  # <-\n", "model.kwargs.2x",
                 "'2x' is not a Python argument name", id="kwargs-name"),
    pytest.param("training:\n  function: recipe:fit\n  epochs: 3  # <-\n", "training.epochs",
                 "epochs sets auditkit's training loop, which does not run when 'function' trains the model",
                 id="loop-field-with-function"),
    pytest.param("training:\n  kwargs:  # <-\n    epochs: 3\n", "training.kwargs",
                 "kwargs are passed to training.function", id="training-kwargs-without-function"),
    pytest.param("preprocessing:\n  resize: [32, 32, 3]  # <-\n", "preprocessing.resize",
                 "expected [height, width], got 3 numbers", id="resize-three-numbers"),
    pytest.param("preprocessing:\n  resize: [32, 32]\n  center_crop: [40, 30]  # <-\n",
                 "preprocessing.center_crop", "a 40x30 crop does not fit in the 32x32 resize",
                 id="crop-too-big"),
    pytest.param("preprocessing:\n  interpolation: lanczos  # <-\n", "preprocessing.interpolation",
                 "expected one of 'nearest', 'bilinear', 'bicubic'", id="interpolation"),
    pytest.param("preprocessing:\n  channels: colour  # <-\n", "preprocessing.channels",
                 "expected one of 'auto', 'grey', 'rgb'", id="channels"),
    pytest.param("preprocessing:\n  normalize:\n    mean: [0.5, 0.5]\n    std: [0.2]  # <-\n",
                 "preprocessing.normalize.std", "1 std values for 2 means", id="normalize-lengths"),
    pytest.param("preprocessing:\n  normalize:  # <-\n    mean: [0.5]\n", "preprocessing.normalize.std",
                 "normalize needs both mean and std", id="normalize-without-std"),
    pytest.param("preprocessing:\n  normalize:\n    mean: [0.5]\n    std: [0]  # <-\n",
                 "preprocessing.normalize.std[0]", "expected a number in [1e-06, 1000], got 0",
                 id="zero-std"),
    pytest.param("system:\n  owner: ''  # <-\n", "system.owner", "expected a non-empty string or null",
                 id="blank-owner"),
    pytest.param("system:\n  versoin: '1'  # <-\n", "system.versoin", "did you mean 'version'?",
                 id="system-typo"),
]


@pytest.mark.parametrize(("tail", "key", "message"), ERRORS)
def test_errors_name_file_line_and_key(write, tail: str, key: str, message: str) -> None:
    text = MINIMAL + tail
    path = write(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.endswith("# <-"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert message in info.value.detail
    assert (info.value.file, info.value.key) == (path, key)
    assert info.value.line == line

"""The contract of ``training.function``: what the operator's learning algorithm receives and must
return, and that work keys follow its source."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from auditkit.data import load_dataset
from auditkit.engine.crosstrain import fold_key, fresh_model, train_fold
from auditkit.models import AuditedModel, ModelError, load_checkpoint
from auditkit.policy import load_policy

MODULE = "auditkit_test_recipe"
SOURCE = '''
import torch
from torch import nn

CALLS = []


def build(num_classes, in_channels, image_size):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, num_classes))


def fit(model, images, labels, *, seed, device, steps=2):
    CALLS.append({"model": model, "images": images, "labels": labels, "seed": seed, "device": device,
                  "rng": torch.rand(1).item()})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(images.to(device)), labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def fit_returns_none(model, images, labels, *, seed, device, steps=2):
    return None


def fit_returns_inner(model, images, labels, *, seed, device, steps=2):
    return model.net
'''

POLICY = f"""\
version: 1
name: t
dataset:
  kind: digits
  max_images: 60
preprocessing:
  normalize: {{mean: [0.3], std: [0.4]}}
model:
  factory: {MODULE}:build
training:
  function: {MODULE}:FIT
  seed: 10
  kwargs: {{steps: 3}}
explainers:
  - name: saliency
"""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / f"{MODULE}.py").write_text(SOURCE, encoding="utf-8")
    sys.modules.pop(MODULE, None)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def _setup(folder: Path, fit: str = "fit"):
    path = folder / "policy.yaml"
    path.write_text(POLICY.replace("FIT", fit), encoding="utf-8")
    policy = load_policy(path)
    dataset = load_dataset("digits", max_images=60, seed=0)
    return policy, dataset, torch.arange(20)


def test_the_function_gets_the_fresh_model_the_fold_data_and_its_seed(folder: Path) -> None:
    policy, dataset, held_out = _setup(folder)
    meta = train_fold(policy, dataset, dataset.labels, held_out, 2, "key", folder / "f.pt",
                      device=torch.device("cpu"))
    calls = sys.modules[MODULE].CALLS
    assert len(calls) == 1
    call = calls[0]
    assert isinstance(call["model"], AuditedModel) and call["model"].mean is not None
    assert call["seed"] == 12 and call["device"] == torch.device("cpu")
    assert call["images"].dtype == torch.float32 and call["images"].shape == (40, 1, 8, 8)
    torch.testing.assert_close(call["images"], dataset.x(torch.arange(20, 60)))
    assert torch.equal(call["labels"], dataset.labels[20:])
    torch.manual_seed(12)
    assert call["rng"] != torch.rand(1).item()  # the model was built from the seed first
    model = fresh_model(policy, dataset)
    assert load_checkpoint(folder / "f.pt", model)["fold"] == 2 and 0 <= meta["accuracy"] <= 1
    # Same seed, same everything: the function is called again and gives the same weights.
    train_fold(policy, dataset, dataset.labels, held_out, 2, "key", folder / "g.pt",
               device=torch.device("cpu"))
    again = fresh_model(policy, dataset)
    load_checkpoint(folder / "g.pt", again)
    torch.testing.assert_close(model.state_dict(), again.state_dict())


@pytest.mark.parametrize(("fit", "message"), [
    ("fit_returns_none", "returned a NoneType, not the trained model"),
    ("fit_returns_inner", "returned a model that is not the one it was given"),
])
def test_a_function_that_returns_something_else(folder: Path, fit: str, message: str) -> None:
    policy, dataset, held_out = _setup(folder, fit)
    with pytest.raises(ModelError, match=message) as info:
        train_fold(policy, dataset, dataset.labels, held_out, 0, "key", folder / "f.pt",
                   device=torch.device("cpu"))
    assert info.value.parameter == "function"


def test_fold_keys_follow_the_source_of_the_function_and_factory(folder: Path) -> None:
    policy, dataset, _ = _setup(folder)
    before = fold_key(policy, dataset, 0, "labels")
    assert fold_key(policy, dataset, 0, "labels") == before
    (folder / f"{MODULE}.py").write_text(SOURCE + "\n# changed\n", encoding="utf-8")
    assert fold_key(policy, dataset, 0, "labels") != before


def test_fold_keys_of_built_in_families_read_no_operator_code(tmp_path: Path) -> None:
    """A built-in family's fold key is the work key of the policy sections alone: no ``code`` part
    (the work key also names the producing versions)."""
    from auditkit.engine.keys import keyed_settings, work_key

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nname: t\ndataset:\n  kind: digits\nmodel:\n  family: resnet18\n"
                    "  base_filters: 8\nexplainers:\n  - name: saliency\n", encoding="utf-8")
    policy = load_policy(path)
    dataset = load_dataset("digits", max_images=40, seed=0)
    sections = ("cross_validation", "model", "training", "preprocessing", "run")
    expected = work_key({"dataset": dataset.fingerprint, "labels": "L", "fold": 1,
                         **{name: keyed_settings(getattr(policy, name)) for name in sections}})
    assert fold_key(policy, dataset, 1, "L") == expected

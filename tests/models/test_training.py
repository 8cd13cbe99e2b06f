"""train_model: determinism, RNG hygiene, progress, input checks, and a quick accuracy check."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from auditkit.models import (
    MODEL_FAMILIES,
    SMALL_CNN_DIGITS_TRAINING,
    ModelError,
    TrainingConfig,
    accuracy,
    build_model,
    train_model,
)
from auditkit.models.training import random_shift

QUICK = TrainingConfig(epochs=2, batch_size=16, optimizer="adam", learning_rate=1e-2, seed=3)


def _model(family: str) -> torch.nn.Module:
    base = {"small_cnn": 4, "resnet18": 2, "lipschitz_cnn": 4}[family]
    return build_model(family, in_channels=1, num_classes=10, image_size=(8, 8), base_filters=base)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_same_seed_same_weights_other_seed_other_weights(family: str, digits) -> None:
    images, labels = digits[0][:49], digits[1][:49]
    runs = []
    for seed in (3, 3, 4):
        # Different global RNG states before building: train_model must not depend on them.
        torch.manual_seed(100 + len(runs))
        model = train_model(_model(family), images, labels, dataclasses.replace(QUICK, seed=seed))
        runs.append(model.state_dict())
    assert _same(runs[0], runs[1])
    assert not _same(runs[0], runs[2])


def test_sgd_and_label_smoothing_are_deterministic_too(digits) -> None:
    config = dataclasses.replace(QUICK, optimizer="sgd", weight_decay=1e-4, label_smoothing=0.1)
    a = train_model(_model("small_cnn"), digits[0][:40], digits[1][:40], config).state_dict()
    b = train_model(_model("small_cnn"), digits[0][:40], digits[1][:40], config).state_dict()
    assert _same(a, b)


def test_global_rng_state_is_restored(digits) -> None:
    model = _model("small_cnn")  # building draws from the global RNG; training must not
    torch.manual_seed(123)
    before = torch.get_rng_state()
    expected = torch.rand(5)
    torch.set_rng_state(before)
    train_model(model, digits[0][:32], digits[1][:32], QUICK)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(torch.rand(5), expected)


def test_uint8_images_train_like_their_float_version(digits) -> None:
    raw = (digits[0][:40] * 16).to(torch.uint8) * 15  # 0..240, exact in uint8
    as_float = raw.to(torch.float32) / 255.0
    a = train_model(_model("small_cnn"), raw, digits[1][:40], QUICK).state_dict()
    b = train_model(_model("small_cnn"), as_float, digits[1][:40], QUICK).state_dict()
    assert _same(a, b)


def test_progress_counts_every_image_of_every_epoch_and_returns_eval_mode(digits) -> None:
    done: list[int] = []
    config = dataclasses.replace(QUICK, batch_size=8, epochs=3)
    model = train_model(_model("resnet18"), digits[0][:33], digits[1][:33], config, progress=done.append)
    # 33 = 4 * 8 + 1: the single leftover image joins the last batch (BatchNorm on 1x1 maps).
    assert done == [8, 8, 8, 9] * 3
    assert not model.training


def test_quick_digits_training_is_well_above_chance(digits) -> None:
    images, labels = digits
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=gen)[:600]
    folds = [order[:300], order[300:]]
    config = SMALL_CNN_DIGITS_TRAINING
    accs = []
    for i, held_out in enumerate(folds):
        train = folds[1 - i]
        model = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8))
        train_model(model, images[train], labels[train], dataclasses.replace(config, seed=i))
        accs.append(accuracy(model, images[held_out], labels[held_out]))
    assert min(accs) > 0.8, accs  # chance is 0.1


def test_diverging_training_is_reported(digits) -> None:
    config = TrainingConfig(epochs=1, batch_size=16, optimizer="sgd", learning_rate=1e12)
    nn = torch.nn  # three layers without batch norm (which would absorb the blow-up)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                        nn.Linear(32, 10))
    with pytest.raises(ModelError, match=r"training diverged: .* lower learning_rate") as info:
        train_model(mlp, digits[0][:64], digits[1][:64], config)
    assert info.value.parameter == "learning_rate"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, r"epochs must be >= 1, got 0"),
        ("batch_size", 2.0, r"batch_size must be an int, got float 2.0"),
        ("optimizer", "rmsprop", r"optimizer must be one of adam, sgd, got 'rmsprop'"),
        ("learning_rate", 0.0, r"learning_rate must be a finite number > 0, got 0.0"),
        ("weight_decay", -1e-4, r"weight_decay must be a finite number >= 0, got -0.0001"),
        ("seed", -1, r"seed must be >= 0, got -1"),
        ("label_smoothing", 1.0, r"label_smoothing must be a finite number in \[0, 1\), got 1.0"),
        ("schedule", "step", r"schedule must be one of cosine, onecycle, constant, got 'step'"),
    ],
)
def test_invalid_config(field: str, value: object, match: str) -> None:
    with pytest.raises(ModelError, match=match) as info:
        dataclasses.replace(QUICK, **{field: value})
    assert info.value.parameter == field


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (torch.rand(4, 8, 8), torch.zeros(4, dtype=torch.int64), r"images must be a non-empty Tensor"),
        (torch.rand(0, 1, 8, 8), torch.zeros(0, dtype=torch.int64), r"images must be a non-empty Tensor"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.int32), torch.zeros(4, dtype=torch.int64), r"uint8 or float"),
        (torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.int32), r"labels must be an int64 Tensor"),
        (torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.int64), r"4 images, 3 labels"),
        (torch.rand(4, 1, 8, 8), torch.tensor([0, 1, -1, 2]), r"labels must be >= 0, got -1"),
        (torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 10, 2]), r"labels must be < the number of logits"),
    ],
)
def test_invalid_data(images: torch.Tensor, labels: torch.Tensor, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        train_model(_model("small_cnn"), images, labels, QUICK)


def test_mixed_precision_is_ignored_off_cuda(digits) -> None:
    """On CPU ``mixed_precision`` changes nothing: float32 training, bit for bit."""
    images, labels = digits[0][:40], digits[1][:40]
    plain = train_model(_model("small_cnn"), images, labels, QUICK).state_dict()
    for amp in ("bf16", "fp16"):
        mixed = train_model(_model("small_cnn"), images, labels,
                            dataclasses.replace(QUICK, mixed_precision=amp)).state_dict()
        assert _same(plain, mixed)
    with pytest.raises(ModelError, match="mixed_precision must be None, 'bf16' or 'fp16', got 'fp32'"):
        dataclasses.replace(QUICK, mixed_precision="fp32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cuda_keeps_float32_weights_and_accuracy(amp: str, digits) -> None:
    images, labels = digits
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=gen)[:600]
    train, held_out = order[:300], order[300:]
    accs = {}
    for mode in (None, amp):
        model = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8))
        config = dataclasses.replace(SMALL_CNN_DIGITS_TRAINING, mixed_precision=mode)
        train_model(model, images[train], labels[train], config, device="cuda")
        assert all(p.dtype == torch.float32 and p.device.type == "cuda" for p in model.parameters())
        accs[mode] = accuracy(model, images[held_out], labels[held_out])
    assert abs(accs[amp] - accs[None]) <= 0.03, accs  # the default max_accuracy_spread


def test_random_shift_moves_each_image_by_its_own_whole_pixel_offset() -> None:
    x = torch.arange(2 * 25, dtype=torch.float32).view(2, 1, 5, 5) + 1
    gen = torch.Generator().manual_seed(5)
    got = random_shift(x, 2, gen)
    replay = torch.Generator().manual_seed(5)
    dy, dx = torch.randint(-2, 3, (2,), generator=replay), torch.randint(-2, 3, (2,), generator=replay)
    for i in range(2):
        expected = torch.zeros(5, 5)
        for r in range(5):
            for c in range(5):
                if 0 <= r - dy[i] < 5 and 0 <= c - dx[i] < 5:
                    expected[r, c] = x[i, 0, r - dy[i], c - dx[i]]
        torch.testing.assert_close(got[i, 0], expected)


def test_shift_and_onecycle_train_deterministically_and_differently(digits) -> None:
    images, labels = digits[0][:40], digits[1][:40]
    runs = {}
    for name, config in {"plain": QUICK, "shift": dataclasses.replace(QUICK, shift=1),
                         "onecycle": dataclasses.replace(QUICK, schedule="onecycle")}.items():
        runs[name] = [train_model(_model("small_cnn"), images, labels, config).state_dict() for _ in (0, 1)]
        assert _same(*runs[name]), name
    assert not _same(runs["plain"][0], runs["shift"][0])
    assert not _same(runs["plain"][0], runs["onecycle"][0])
    with pytest.raises(ModelError, match="shift must be >= 0, got -1"):
        dataclasses.replace(QUICK, shift=-1)

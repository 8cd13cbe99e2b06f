"""save_checkpoint / load_checkpoint: round trip, atomic writes, and every way a file can be wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from auditkit.errors import AuditError
from auditkit.models import (
    MODEL_FAMILIES,
    CheckpointError,
    ModelError,
    TrainingConfig,
    build_model,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_model,
)

CONFIG = TrainingConfig(epochs=1, batch_size=16, optimizer="adam", learning_rate=1e-2)
META = {"key": "abc", "fold": 1, "accuracy": 0.5, "tags": ["x", None, True], "nested": {"n": 2}}


def _model(family: str, base: int = 4) -> torch.nn.Module:
    return build_model(family, in_channels=1, num_classes=10, image_size=(8, 8), base_filters=base)


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_round_trip_gives_identical_outputs(family: str, digits, tmp_path: Path) -> None:
    images, labels = digits[0][:64], digits[1][:64]
    trained = train_model(_model(family), images, labels, CONFIG)
    path = tmp_path / "sub" / "fold_0.pt"
    save_checkpoint(path, trained, META)
    fresh = _model(family).eval()
    assert load_checkpoint(path, fresh) == META
    assert torch.equal(fresh(images), trained(images))
    assert torch.equal(predict(fresh, images), predict(trained, images))
    assert [p.name for p in path.parent.iterdir()] == ["fold_0.pt"]


def test_failed_save_keeps_the_old_checkpoint_and_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "fold_0.pt"
    model = _model("small_cnn")
    save_checkpoint(path, model, {"version": 1})
    good = path.read_bytes()

    def broken_save(obj: object, handle) -> None:
        handle.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _model("small_cnn", base=8), {"version": 2})
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold_0.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path, _model("small_cnn")) == {"version": 1}


def test_missing_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match=r"nope\.pt does not exist") as info:
        load_checkpoint(path, _model("small_cnn"))
    assert info.value.path == path and info.value.reason == "missing"
    assert isinstance(info.value, AuditError) and isinstance(info.value, OSError)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_corrupt_checkpoint(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"bad\.pt is corrupt or not a torch file") as info:
        load_checkpoint(path, _model("small_cnn"))
    assert info.value.reason == "corrupt"


def test_truncated_real_checkpoint_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    save_checkpoint(path, _model("small_cnn"), META)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"corrupt") as info:
        load_checkpoint(path, _model("small_cnn"))
    assert info.value.reason == "corrupt"


def test_malformed_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights_only.pt"
    torch.save(_model("small_cnn").state_dict(), path)
    with pytest.raises(CheckpointError, match=r"not an auditkit checkpoint") as info:
        load_checkpoint(path, _model("small_cnn"))
    assert info.value.reason == "malformed"


def test_other_architecture_leaves_the_model_untouched(tmp_path: Path) -> None:
    path = tmp_path / "wide.pt"
    save_checkpoint(path, _model("small_cnn", base=8), META)
    target = _model("small_cnn", base=4)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"wide\.pt was saved from another architecture") as info:
        load_checkpoint(path, target)
    assert info.value.reason == "mismatch"
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    with pytest.raises(CheckpointError, match=r"missing: .*unexpected: "):
        load_checkpoint(path, _model("resnet18", base=4))


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ([1, 2], r"meta must be a dict, got list"),
        ({1: "a"}, r"meta keys must be str, got 1"),
        ({"a": {"b": torch.zeros(1)}}, r"meta\['a'\]\['b'\] must be JSON-like .* got Tensor"),
        ({"a": [1, (2, 3)]}, r"meta\['a'\]\[1\] must be JSON-like .* got tuple"),
    ],
)
def test_meta_must_be_json_like(meta: object, match: str, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=match):
        save_checkpoint(tmp_path / "m.pt", _model("small_cnn"), meta)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_config_goes_in_meta_as_a_dict(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"meta\['config'\] must be JSON-like .* got TrainingConfig"):
        save_checkpoint(tmp_path / "m.pt", _model("small_cnn"), {"config": CONFIG})
    save_checkpoint(tmp_path / "m.pt", _model("small_cnn"), {"config": dataclasses.asdict(CONFIG)})
    assert load_checkpoint(tmp_path / "m.pt", _model("small_cnn"))["config"]["optimizer"] == "adam"

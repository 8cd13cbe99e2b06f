"""Declared preprocessing at load: resize and centre crop, mixed-size folders, header-only shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

from auditkit.data import MixedSizesError, Resize, dataset_shape, load_dataset, resize_crop


def _folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> None:
    rng = np.random.default_rng(0)
    for label, wh in sizes.items():
        (root / label).mkdir(parents=True)
        for i, (w, h) in enumerate(wh):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / label / f"{i}.png")


def test_mixed_sizes_load_with_resize_each_image_resized_as_torchvision_does(tmp_path: Path) -> None:
    _folder(tmp_path, {"a": [(6, 5), (9, 4)], "b": [(7, 7), (6, 5)]})
    ds = load_dataset("imagefolder", tmp_path, resize=Resize((8, 10)))
    assert ds.images.shape == (4, 3, 8, 10) and ds.images.dtype == torch.uint8
    rgb = np.asarray(Image.open(tmp_path / "a" / "1.png").convert("RGB"))
    pixels = torch.from_numpy(rgb.transpose(2, 0, 1).copy())
    expected = F.resize(pixels, [8, 10], interpolation=InterpolationMode.BILINEAR, antialias=True)
    assert torch.equal(ds.images[1], expected)
    spec = Resize((8, 10), crop=(4, 4), interpolation="nearest")
    cropped = load_dataset("imagefolder", tmp_path, resize=spec)
    assert cropped.images.shape == (4, 3, 4, 4) and cropped.fingerprint != ds.fingerprint


def test_mixed_sizes_without_resize_list_the_sizes_from_the_headers(tmp_path: Path) -> None:
    _folder(tmp_path, {"a": [(6, 5), (9, 4)], "b": [(6, 5), (6, 5)]})
    with pytest.raises(MixedSizesError) as info:
        load_dataset("imagefolder", tmp_path)
    assert list(info.value.sizes) == [(6, 5), (9, 4)]
    assert info.value.path == tmp_path / "a" / "1.png"
    assert "6x5 (3 images, e.g. a/0.png, b/0.png, b/1.png); 9x4 (1 image, e.g. a/1.png)" in str(info.value)
    with pytest.raises(MixedSizesError):
        dataset_shape("imagefolder", tmp_path, Resize())
    assert dataset_shape("imagefolder", tmp_path, Resize((16, 12))) == (3, 2, (16, 12))


def test_dataset_shape_reads_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folder(tmp_path, {"a": [(6, 5)], "b": [(6, 5)], "c": [(6, 5)]})

    def no_decoding(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    assert dataset_shape("imagefolder", tmp_path, Resize()) == (3, 3, (5, 6))
    assert dataset_shape("imagefolder", tmp_path, Resize(crop=(4, 4))) == (3, 3, (4, 4))
    assert dataset_shape("digits", None, Resize((16, 16))) == (1, 10, (16, 16))


def test_resize_of_loaded_tensors_keeps_float_pixels_in_range() -> None:
    ds = load_dataset("digits", max_images=40, resize=Resize((16, 16), interpolation="bicubic"))
    assert ds.images.shape == (40, 1, 16, 16) and ds.images.dtype == torch.float32
    assert float(ds.images.min()) >= 0.0 and float(ds.images.max()) <= 1.0
    x = torch.rand(3000, 1, 4, 4)
    torch.testing.assert_close(resize_crop(x, Resize((6, 6))),
                               F.resize(x, [6, 6], antialias=True).clamp(0, 1))

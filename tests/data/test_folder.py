"""EuroSAT and ImageFolder: real PNG/JPEG class folders written with PIL in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from auditkit.data import load_dataset
from auditkit.errors import DataError

EUROSAT = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)


def write_folder(
    root: Path, classes: tuple[str, ...], per_class: int, size: tuple[int, int] = (6, 5), mode: str = "RGB"
) -> dict[Path, np.ndarray]:
    """PNG files root/<class>/<i>.png with seeded random pixels; returns {file: HxWx3 RGB pixels}."""
    rng = np.random.default_rng(2)
    written = {}
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            channels = 3 if mode == "RGB" else 1
            pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
            file = root / c / f"{i}.png"
            Image.fromarray(pixels if mode == "RGB" else pixels[..., 0], mode=mode).save(file)
            written[file] = np.repeat(pixels, 3 // channels, axis=2)
    return written


def test_imagefolder_sorted_classes_and_exact_pixels(tmp_path: Path) -> None:
    written = write_folder(tmp_path, ("zebra", "apple", "mango"), per_class=2)
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    ds = load_dataset("imagefolder", tmp_path)
    assert ds.classes == ("apple", "mango", "zebra")
    assert ds.images.shape == (6, 3, 5, 6) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    files = [tmp_path / c / f"{i}.png" for c in ds.classes for i in range(2)]
    expected = np.stack([written[f].transpose(2, 0, 1) for f in files])
    assert np.array_equal(ds.images.numpy(), expected)


def test_grayscale_becomes_rgb_and_jpeg_reads(tmp_path: Path) -> None:
    written = write_folder(tmp_path, ("a", "b"), per_class=1, mode="L")
    ds = load_dataset("imagefolder", tmp_path)
    assert ds.in_channels == 3
    assert np.array_equal(ds.images[0].numpy(), written[tmp_path / "a" / "0.png"].transpose(2, 0, 1))
    Image.fromarray(np.full((5, 6, 3), 200, np.uint8)).save(tmp_path / "b" / "1.jpg", quality=95)
    ds = load_dataset("imagefolder", tmp_path)
    assert len(ds) == 3 and abs(int(ds.images[2].float().mean().round()) - 200) <= 2


def test_eurosat_layouts_and_class_check(tmp_path: Path) -> None:
    write_folder(tmp_path / "2750", EUROSAT, per_class=1, size=(64, 64))
    ds = load_dataset("eurosat", tmp_path)
    assert ds.name == "eurosat" and ds.classes == EUROSAT and ds.images.shape == (10, 3, 64, 64)
    assert ds.labels.tolist() == list(range(10))
    (tmp_path / "2750" / "Forest").rename(tmp_path / "2750" / "Woods")
    with pytest.raises(DataError, match=r"missing: \['Forest'\], unexpected: \['Woods'\]"):
        load_dataset("eurosat", tmp_path / "2750")


def test_mixed_sizes_name_the_odd_file(tmp_path: Path) -> None:
    write_folder(tmp_path, ("a", "b"), per_class=2)
    Image.fromarray(np.zeros((7, 6, 3), np.uint8)).save(tmp_path / "b" / "1.png")
    with pytest.raises(DataError, match=r"b/1\.png is 6x7 pixels but .*a/0\.png is 6x5") as info:
        load_dataset("imagefolder", tmp_path)
    assert info.value.path == tmp_path / "b" / "1.png"


def test_missing_folder_empty_class_and_unreadable_image(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"image folder .*gone not found"):
        load_dataset("imagefolder", tmp_path / "gone")
    with pytest.raises(DataError, match="has no class sub-folders"):
        load_dataset("imagefolder", tmp_path)
    write_folder(tmp_path, ("a",), per_class=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no valid file for the classes empty"):
        load_dataset("imagefolder", tmp_path)
    (tmp_path / "empty" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"empty/0\.png: not a readable image"):
        load_dataset("imagefolder", tmp_path)

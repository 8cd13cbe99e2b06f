"""EuroSAT and ImageFolder: real PNG/JPEG class folders written with PIL in tmp_path."""

from __future__ import annotations

import logging
import os
import socket
import struct
import zlib
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


def test_grey_images_stay_one_channel_unless_rgb_is_asked(tmp_path: Path) -> None:
    from auditkit.data.preprocess import Resize, dataset_shape

    written = write_folder(tmp_path, ("a", "b"), per_class=2, mode="L")
    grey = load_dataset("imagefolder", tmp_path)
    assert grey.in_channels == 1 and dataset_shape("imagefolder", tmp_path, Resize())[0] == 1
    files = [tmp_path / c / f"{i}.png" for c in ("a", "b") for i in range(2)]
    assert np.array_equal(grey.images[:, 0].numpy(), np.stack([written[f][..., 0] for f in files]))
    rgb = load_dataset("imagefolder", tmp_path, resize=Resize(channels="rgb"))
    assert rgb.in_channels == 3 and dataset_shape("imagefolder", tmp_path, Resize(channels="rgb"))[0] == 3
    assert torch.equal(rgb.images, grey.images.expand(-1, 3, -1, -1))  # the grey image, three times


def test_one_colour_image_makes_the_folder_rgb_and_jpeg_reads(tmp_path: Path) -> None:
    from auditkit.data.preprocess import Resize, dataset_shape

    written = write_folder(tmp_path, ("a", "b"), per_class=1, mode="L")
    Image.fromarray(np.full((5, 6, 3), 200, np.uint8)).save(tmp_path / "b" / "1.jpg", quality=95)
    ds = load_dataset("imagefolder", tmp_path)
    assert ds.in_channels == 3 and dataset_shape("imagefolder", tmp_path, Resize())[0] == 3
    assert np.array_equal(ds.images[0].numpy(), written[tmp_path / "a" / "0.png"].transpose(2, 0, 1))
    assert len(ds) == 3 and abs(int(ds.images[2].float().mean().round()) - 200) <= 2


def test_grey_converts_colour_with_the_luma_weights(tmp_path: Path) -> None:
    from auditkit.data.preprocess import Resize

    written = write_folder(tmp_path, ("a", "b"), per_class=2)
    ds = load_dataset("imagefolder", tmp_path, resize=Resize(channels="grey"))
    assert ds.in_channels == 1
    first = written[tmp_path / "a" / "0.png"].astype(float)
    luma = first[..., 0] * 0.299 + first[..., 1] * 0.587 + first[..., 2] * 0.114  # ITU-R 601-2
    assert np.abs(ds.images[0, 0].numpy().astype(float) - luma).max() <= 1.0  # PIL rounds in fixed point


def test_declared_channels_convert_a_fixed_format_data_set() -> None:
    from auditkit.data.preprocess import Resize, dataset_shape

    grey = load_dataset("digits", max_images=30)
    rgb = load_dataset("digits", max_images=30, resize=Resize(channels="rgb"))
    assert rgb.in_channels == 3 and torch.equal(rgb.images, grey.images.expand(-1, 3, -1, -1))
    assert dataset_shape("digits", None, Resize(channels="rgb"))[0] == 3
    assert torch.equal(load_dataset("digits", max_images=30, resize=Resize(channels="grey")).images,
                       grey.images)  # already grey: unchanged


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
    with pytest.raises(DataError, match="class folder empty holds no image file"):
        load_dataset("imagefolder", tmp_path)
    (tmp_path / "empty" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"empty/0\.png: not a readable image"):
        load_dataset("imagefolder", tmp_path)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_hidden_entries_are_skipped_and_counted(tmp_path: Path, caplog) -> None:
    write_folder(tmp_path, ("a", "b"), per_class=2)
    write_folder(tmp_path / ".ipynb_checkpoints", ("a",), per_class=1)  # would become a class
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(tmp_path / "a" / ".hidden.png")
    (tmp_path / "b" / ".DS_Store").write_bytes(b"\0")
    ds = load_dataset("imagefolder", tmp_path)
    assert ds.classes == ("a", "b") and len(ds) == 4
    [line] = _warnings(caplog)
    assert line.startswith(f"{tmp_path}: skipped 3 hidden entries") and "\n" not in line


def test_special_files_are_skipped_not_opened(tmp_path: Path, caplog) -> None:
    write_folder(tmp_path, ("a", "b"), per_class=2)
    os.mkfifo(tmp_path / "a" / "fifo.png")  # opening it would block
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "a" / "sock.png"))
    (tmp_path / "b" / "device.png").symlink_to("/dev/null")  # a character device
    (tmp_path / "b" / "broken.png").symlink_to(tmp_path / "nowhere.png")
    try:
        ds = load_dataset("imagefolder", tmp_path)
    finally:
        server.close()
    assert len(ds) == 4
    [line] = _warnings(caplog)
    assert "skipped 4 entries that are not regular files or folders" in line


def test_linked_folders_are_followed_unless_already_read(tmp_path: Path, caplog) -> None:
    root = tmp_path / "data"
    write_folder(root, ("a", "b"), per_class=2)
    outside = write_folder(tmp_path / "outside", ("extra", "cls"), per_class=1)
    (root / "a" / "extra").symlink_to(tmp_path / "outside" / "extra")  # followed: read once
    (root / "c").symlink_to(tmp_path / "outside" / "cls")  # a linked class folder: followed
    (root / "a" / "loop").symlink_to(root / "a")  # a loop
    (root / "a" / "up").symlink_to(root)  # a loop through the top
    (root / "b" / "a_again").symlink_to(root / "a")  # class a's images a second time
    ds = load_dataset("imagefolder", root)
    assert ds.classes == ("a", "b", "c")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 2]  # a: 0.png, 1.png, extra/0.png
    extra = outside[tmp_path / "outside" / "extra" / "0.png"].transpose(2, 0, 1)
    assert np.array_equal(ds.images[2].numpy(), extra)
    [line] = _warnings(caplog)
    assert "skipped 3 linked folders already read" in line


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A small PNG whose header says ``width`` x ``height`` (a decompression bomb's header)."""
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("resize", [None, {"size": (4, 4)}])
def test_an_image_above_the_pixel_limit_names_its_file(tmp_path: Path, resize) -> None:
    from auditkit.data.preprocess import Resize

    write_folder(tmp_path, ("a", "b"), per_class=1)
    bomb = tmp_path / "b" / "bomb.png"
    _png_claiming(bomb, 20000, 20000)
    spec = None if resize is None else Resize(**resize)
    with pytest.raises(DataError, match=rf"{bomb}: .*above the 89,478,485 pixels auditkit reads"):
        load_dataset("imagefolder", tmp_path, resize=spec)


def test_the_pixel_limit_holds_whatever_pil_is_told(tmp_path: Path, monkeypatch) -> None:
    from auditkit.data import _scan

    write_folder(tmp_path, ("a", "b"), per_class=1, size=(6, 5))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # PIL's own check off
    monkeypatch.setattr(_scan, "MAX_PIXELS", 29)
    with pytest.raises(DataError, match=r"a/0\.png: 6x5 pixels, above the 29 pixels"):
        load_dataset("imagefolder", tmp_path)
    monkeypatch.setattr(_scan, "MAX_PIXELS", 30)
    assert len(load_dataset("imagefolder", tmp_path)) == 2
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # PIL's check fires first, in Image.open
    with pytest.raises(DataError, match=r"a/0\.png: more pixels than PIL's limit"):
        load_dataset("imagefolder", tmp_path)


def test_imagefolder_reads_its_train_and_test_subfolders(tmp_path: Path) -> None:
    train = write_folder(tmp_path / "train", ("cat", "dog"), 3)
    test = write_folder(tmp_path / "test", ("cat", "dog"), 2)
    got = {split: load_dataset("imagefolder", tmp_path, split=split) for split in ("train", "test", "all")}
    assert [len(got[s]) for s in ("train", "test", "all")] == [6, 4, 10]
    assert got["all"].classes == ("cat", "dog")
    assert got["all"].labels.tolist() == [0] * 3 + [1] * 3 + [0] * 2 + [1] * 2
    first_test = next(iter(test.values()))
    pixels = torch.from_numpy(first_test.transpose(2, 0, 1).copy())
    torch.testing.assert_close(got["test"].images[0], pixels)
    torch.testing.assert_close(got["all"].images[6], got["test"].images[0])
    assert len(train) == 6


def test_imagefolder_without_split_folders_has_only_all(tmp_path: Path) -> None:
    write_folder(tmp_path, ("cat", "dog"), 2)
    assert len(load_dataset("imagefolder", tmp_path)) == 4
    with pytest.raises(DataError, match="has no train/ and test/ sub-folders, so no 'test' split"):
        load_dataset("imagefolder", tmp_path, split="test")


def test_imagefolder_splits_must_share_their_classes(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", ("cat", "dog"), 2)
    write_folder(tmp_path / "test", ("cat", "eel"), 2)
    with pytest.raises(DataError, match="differ from"):
        load_dataset("imagefolder", tmp_path)

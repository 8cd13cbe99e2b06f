"""CIFAR-10 python batches: real pickles written in tmp_path, loaded back, and the refusal of crafted ones."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from auditkit.data import load_dataset
from auditkit.errors import DataError

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _batch(rng: np.random.Generator, n: int) -> dict:
    """A batch as the official files hold it: bytes keys, data uint8 [n, 3072], labels a list of ints."""
    return {
        b"batch_label": b"fake",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, size=n)],
        b"filenames": [b"f.png"] * n,
    }


def write_cifar(root: Path, n_train: int = 4, n_test: int = 3, protocol: int = 2) -> tuple[dict, ...]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = (*(_batch(rng, n_train) for _ in range(5)), _batch(rng, n_test))
    for name, b in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], batches, strict=True):
        (folder / name).write_bytes(pickle.dumps(b, protocol=protocol))
    meta = {b"label_names": [n.encode() for n in NAMES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return batches


@pytest.mark.parametrize("protocol", [2, 4])
def test_all_split_round_trips_pixels_labels_and_names(tmp_path: Path, protocol: int) -> None:
    batches = write_cifar(tmp_path, protocol=protocol)
    ds = load_dataset("cifar10", tmp_path)  # parent of cifar-10-batches-py
    assert ds.name == "cifar10" and ds.classes == tuple(NAMES)
    assert ds.images.shape == (23, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64
    data = np.concatenate([b[b"data"] for b in batches])
    # Channel-plane layout: the first 1024 bytes are red, row-major 32x32.
    assert np.array_equal(ds.images[:, 0].reshape(23, -1).numpy(), data[:, :1024])
    assert np.array_equal(ds.images.reshape(23, -1).numpy(), data)
    assert ds.labels.tolist() == [v for b in batches for v in b[b"labels"]]
    h = hashlib.sha256(data.tobytes())
    h.update(np.asarray(ds.labels.tolist(), dtype="<i8").tobytes())
    h.update("\n".join(NAMES).encode())
    assert ds.fingerprint == h.hexdigest()


def test_train_and_test_splits(tmp_path: Path) -> None:
    batches = write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    train = load_dataset("cifar10", folder, split="train")
    test = load_dataset("cifar10", folder, split="test")
    assert len(train) == 20 and len(test) == 3
    assert np.array_equal(test.images.reshape(3, -1).numpy(), batches[5][b"data"])
    assert test.labels.tolist() == batches[5][b"labels"]


def test_str_keys_of_python3_pickles(tmp_path: Path) -> None:
    batches = write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    b = batches[5]
    (folder / "test_batch").write_bytes(pickle.dumps({"data": b[b"data"], "labels": b[b"labels"]}))
    assert load_dataset("cifar10", folder, split="test").labels.tolist() == b[b"labels"]


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"CIFAR-10 folder .*nowhere not found: expected .*data_batch_1\.\.5"):
        load_dataset("cifar10", tmp_path / "nowhere")
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 not found") as info:
        load_dataset("cifar10", tmp_path)
    assert info.value.path == tmp_path / "cifar-10-batches-py" / "data_batch_3"
    assert len(load_dataset("cifar10", tmp_path, split="test")) == 3  # test split needs no train batch


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    evil = {b"data": _RunsCommand(marker), b"labels": []}
    target = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    target.write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1: refusing to unpickle the global (posix|nt)\.system"):
        load_dataset("cifar10", tmp_path)
    assert not marker.exists()


def test_truncated_pickle_and_wrong_content(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    whole = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"test_batch: not a readable pickle \(truncated"):
        load_dataset("cifar10", folder, split="test")
    bad_shape = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (folder / "test_batch").write_bytes(pickle.dumps(bad_shape))
    with pytest.raises(DataError, match=r"test_batch: 'data' must be a uint8 array \[n <= 10000, 3072\]"):
        load_dataset("cifar10", folder, split="test")
    bad_label = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}
    (folder / "test_batch").write_bytes(pickle.dumps(bad_label))
    with pytest.raises(DataError, match=r"test_batch: 'labels' must be 2 integers in \[0, 10\)"):
        load_dataset("cifar10", folder, split="test")


_RECONSTRUCT = np.empty(0).__reduce__()[0]


class _ArrayHeader:
    """Pickles as numpy's own array reconstruction with a chosen shape, dtype and data: what a crafted
    batch can declare."""

    def __init__(self, shape: tuple[int, ...], data: bytes, *, at_creation: bool = False) -> None:
        self.shape, self.data, self.at_creation = shape, data, at_creation

    def __reduce__(self):  # type: ignore[no-untyped-def]
        if self.at_creation:  # the size asked of _reconstruct itself
            return (_RECONSTRUCT, (np.ndarray, self.shape, b"b"))
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"),
                (1, self.shape, np.dtype(np.uint8), False, self.data))


@pytest.mark.parametrize(("header", "match"), [
    (_ArrayHeader((10**15,), b"\0" * 16), r"an array of shape \(1000000000000000,\)"),
    (_ArrayHeader((10**8, 10**7), b"\0"), r"an array of shape \(100000000, 10000000\)"),
    (_ArrayHeader((10**15,), b"\0", at_creation=True), r"an array of shape \(1000000000000000,\)"),
    (_ArrayHeader((2, 3072), b"\0" * 10), r"an array of shape \(2, 3072\) uint8 with 10 bytes of data"),
    (_ArrayHeader((10_001, 3072), b"\0"),
     r"an array of shape \(10001, 3072\) .*more than the 30,720,000 expected"),
])
def test_array_sizes_are_checked_before_numpy_allocates(tmp_path: Path, header: _ArrayHeader,
                                                        match: str) -> None:
    write_cifar(tmp_path)
    target = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    target.write_bytes(pickle.dumps({b"data": header, b"labels": [0, 1]}, protocol=2))
    with pytest.raises(DataError, match=rf"data_batch_2: refusing {match}"):
        load_dataset("cifar10", tmp_path)

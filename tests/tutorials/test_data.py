"""The data loaders: real MNIST and Fashion-MNIST when present, the digits, and every error
path on small IDX files written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import data

FILES = [file for _, file, _ in data.IDX_FILES]


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file's bytes for a uint8 array (its real magic number unless one is given)."""
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_gzip(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw, mtime=0))
    return path


def write_dataset(folder: Path, n_train: int = 6, n_test: int = 4) -> dict[str, np.ndarray]:
    """Four valid IDX files of random 5x3 images in `folder`; returns the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 5, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 5, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for part, file, _ in data.IDX_FILES:
        write_gzip(folder / file, idx_bytes(arrays[part]))
    return arrays


def test_load_real_idx_dataset_shapes_types_and_range(real_data):
    name, folder = real_data
    d = data.load(name, folder.parent)  # the parent folder holds one folder per data set
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert np.array_equal(np.unique(d.y_test), np.arange(10))
    if name == "fashion-mnist":  # balanced by construction; MNIST's classes are not
        assert np.bincount(d.y_train).tolist() == [6000] * 10


def test_load_real_mnist_first_labels(real_data):
    name, folder = real_data
    d = data.load(name, folder)  # the folder holding the files works too
    first = {"mnist": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "fashion-mnist": [9, 0, 0, 3, 0, 2, 7, 2]}
    assert d.y_train[: len(first[name])].tolist() == first[name]


def test_load_digits_follows_the_same_convention():
    d = data.load()
    assert d.name == "digits" and d.x_train.shape[1:] == (8, 8)
    assert len(d.x_train) + len(d.x_test) == 1797 and len(d.x_test) == 450
    assert d.x_train.dtype == np.float32 and d.y_test.dtype == np.int64
    assert 0.0 <= d.x_train.min() and d.x_train.max() == 1.0


@pytest.mark.parametrize("subfolder", ["", "mnist"])
def test_load_synthetic_files_scales_to_unit_interval(tmp_path, subfolder):
    arrays = write_dataset(tmp_path / subfolder)
    x_train, y_train, x_test, y_test = data.load("mnist", tmp_path)
    np.testing.assert_array_equal(x_train * np.float32(255), arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert x_test.dtype == np.float32 and y_train.dtype == np.int64


def test_directory_defaults_to_environment_variable(tmp_path, monkeypatch):
    arrays = write_dataset(tmp_path / "fashion-mnist")
    monkeypatch.setenv("SYMBOLIC_DATA", str(tmp_path))
    d = data.load("fashion-mnist")
    np.testing.assert_array_equal(d.y_train, arrays["y_train"])
    assert d.class_names[9] == "Ankle boot"


def test_no_directory_error_names_the_environment_variable(monkeypatch):
    monkeypatch.delenv("SYMBOLIC_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SYMBOLIC_DATA"):
        data.load("mnist")


def test_missing_files_error_lists_expected_names_and_folders(tmp_path):
    write_gzip(tmp_path / FILES[0], b"")  # one file present: the other three are missing
    with pytest.raises(FileNotFoundError) as caught:
        data.load("mnist", tmp_path)
    message = str(caught.value)
    assert all(file in message for file in FILES)
    assert str(tmp_path) in message and str(tmp_path / "mnist") in message
    assert f"missing: {', '.join(FILES[1:])}" in message


def test_files_split_between_folders_is_an_error(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "mnist").mkdir()
    for file in FILES[2:]:
        (tmp_path / file).rename(tmp_path / "mnist" / file)
    with pytest.raises(FileNotFoundError, match="not all four in one folder"):
        data.load("mnist", tmp_path)


def test_bad_magic_number_names_file(tmp_path):
    labels = write_gzip(tmp_path / "labels.gz", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(data.DataError, match=r"labels\.gz: magic number 0x00000801.*0x00000803"):
        data.read_idx(labels, ndim=3)


@pytest.mark.parametrize(
    "raw, problem",
    [
        (idx_bytes(np.zeros((4, 2, 2), np.uint8))[:-3], "truncated"),
        (idx_bytes(np.zeros((4, 2, 2), np.uint8))[:10], "truncated"),  # inside the header
        (idx_bytes(np.zeros((4, 2, 2), np.uint8)) + b"\0", "has trailing bytes"),
    ],
)
def test_wrong_size_names_file(tmp_path, raw, problem):
    path = write_gzip(tmp_path / "images.gz", raw)
    with pytest.raises(data.DataError, match=rf"images\.gz: {problem}"):
        data.read_idx(path, ndim=3)


def test_truncated_gzip_stream_names_file(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)), mtime=0)
    path = tmp_path / "labels.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(data.DataError, match=r"labels\.gz: truncated or damaged gzip"):
        data.read_idx(path, ndim=1)


def test_not_gzip_names_file(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)))  # not compressed
    with pytest.raises(data.DataError, match=r"labels\.gz: not a gzip file"):
        data.read_idx(path, ndim=1)


def test_images_and_labels_must_match(tmp_path):
    write_dataset(tmp_path)
    write_gzip(tmp_path / FILES[1], idx_bytes(np.zeros(5, np.uint8)))  # 6 images, 5 labels
    with pytest.raises(data.DataError, match="holds 6 images but .* holds 5 labels"):
        data.load("mnist", tmp_path)


def test_labels_must_be_classes(tmp_path):
    write_dataset(tmp_path)
    write_gzip(tmp_path / FILES[3], idx_bytes(np.full(4, 10, np.uint8)))
    with pytest.raises(data.DataError, match="label 10 is not a class"):
        data.load("mnist", tmp_path)


def test_unknown_data_set_lists_known_ones():
    with pytest.raises(ValueError, match="unknown data set 'cifar'.*digits.*fashion-mnist"):
        data.load("cifar")

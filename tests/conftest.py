"""Shared fixtures: small IDX datasets written by the tests themselves, and an isolated
environment in which no real dataset or download is found by accident."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One XLA compilation cache for the session, shared by every JAX process the tests start: a
# worker that compiles a program an earlier one compiled loads it instead (the same executable,
# so the same numbers; a tiny JAX run takes 6 s instead of 14).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="fashiongan-test-xla-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import numpy as np
import pytest

from fashiongan import spec
from fashiongan.model import data


def synthetic_split(count: int, seed: int) -> data.Split:
    """Images with a class-dependent bright bar, so they are neither constant nor pure noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    images = rng.integers(0, 40, size=(count, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels):
        image[4 + 2 * label : 8 + 2 * label, 4:24] = 220
    return data.Split(images=images, labels=labels)


def write_idx_dataset(directory: Path, train: int = 64, test: int = 16, compress: bool = True) -> Path:
    splits = {"train": synthetic_split(train, 0), "test": synthetic_split(test, 1)}
    suffix = ".gz" if compress else ""
    for (split, kind), stem in data.FILE_STEMS.items():
        array = getattr(splits[split], kind)
        data.write_idx(directory / f"{stem}{suffix}", array, compress=compress)
    return directory


ROOT = Path(__file__).resolve().parents[1]


def checkout_files(root: Path = ROOT) -> list[Path]:
    """The checkout's files as they are on disk: tracked, and untracked ones git does not ignore
    (what a clone with the working tree's changes would hold). Links are listed as links."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True,
    ).stdout  # fmt: skip
    paths = {root / name for name in listed.decode().split("\0") if name}
    return sorted(path for path in paths if path.is_symlink() or path.is_file())


def copy_checkout(target: Path) -> Path:
    """The checkout copied to `target`: a source tree for pip with no build/ folder left by an
    earlier build, and none shared with a test running beside this one."""
    for path in checkout_files():
        destination = target / path.relative_to(ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            destination.symlink_to(os.readlink(path))
        else:
            shutil.copy2(path, destination)
    return target


def benchmark_script(name: str):
    """A script of benchmarks/ (not a package module), loaded from its path."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now, for tests that start a cluster of local processes."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def _gpu_visible() -> bool:
    """A GPU seen by TensorFlow, or by JAX where TensorFlow is absent (a GPU machine without it)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow"):
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    import jax

    return any(device.platform == "gpu" for device in jax.devices())


def pytest_sessionfinish(session, exitstatus):
    """The process that made the cache removes it: not a pytest-xdist worker, which shares it."""
    cache = Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    if cache.name.startswith("fashiongan-test-xla-") and not hasattr(session.config, "workerinput"):
        shutil.rmtree(cache, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Tests marked cpu_only assume no GPU is visible (the CPU defaults, bitwise CPU determinism,
    logical CPU devices as replicas): skipped on a GPU host, where `-m gpu` has their twins."""
    marked = [item for item in items if item.get_closest_marker("cpu_only")]
    if marked and _gpu_visible():
        for item in marked:
            item.add_marker(pytest.mark.skip(reason="assumes no GPU is visible"))


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_idx_dataset(tmp_path_factory.mktemp("tiny-fashion"))


@pytest.fixture(scope="session")
def real_mnist_dir(tmp_path_factory) -> Path:
    """Real MNIST as IDX files, fetched once a session by `fashiongan data mnist`'s own code."""
    return data.fetch_mnist(tmp_path_factory.mktemp("real") / "mnist")


@pytest.fixture
def no_data_sources(tmp_path, monkeypatch):
    """No env var, an empty Keras cache and no Debian folder: only what a test provides is found."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(data, "DEBIAN_ROOT", tmp_path / "no-debian")
    return tmp_path


class LazyExports:
    """For each variant, on first use: a run trained for one step on tiny data, and its export of
    every format (every TFLite file). Built once per session, and only for the variants the
    selected tests ask for (`pytest -k dense` trains and exports dense alone). A name
    `jax:VARIANT` trains on Keras' JAX backend in a process without TensorFlow, then exports
    here, on TensorFlow."""

    def __init__(self, root: Path, data_dir: Path):
        self.root, self.data_dir = root, data_dir
        self.built: dict[str, tuple[Path, Path]] = {}

    def __getitem__(self, name: str) -> tuple[Path, Path]:
        if name not in self.built:
            from fashiongan.export import exporter
            from fashiongan.model.train import TrainConfig, train

            backend, _, variant = name.rpartition(":")
            folder = name.replace(":", "-")
            config = TrainConfig(
                variant=variant,
                epochs=1,
                batch_size=8,
                steps_per_epoch=1 if not backend else 2,
                data_dir=str(self.data_dir),
                out=str(self.root / f"run-{folder}"),
            )
            run = train_on_jax(config) if backend == "jax" else train(config, verbose=0)
            out = exporter.export(run, self.root / f"export-{folder}", spec.EXPORT_FORMATS, spec.TFLITE_QUANTS)
            self.built[name] = (run, out)
        return self.built[name]


def train_on_jax(config) -> Path:
    """train(config) on Keras' JAX backend, in tests/workers/jax_worker.py (no TensorFlow there)."""
    import dataclasses
    import json
    import subprocess
    import sys

    worker = Path(__file__).parent / "workers" / "jax_worker.py"
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, str(worker), "train", json.dumps(dataclasses.asdict(config))],
                          capture_output=True, text=True, timeout=600, env=environment)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["result"]["error"] is None and report["tensorflow_imported"] == []
    return Path(config.out)


@pytest.fixture(scope="session")
def exports(tiny_data_dir, tmp_path_factory) -> LazyExports:
    """Runs and exports by variant name, shared by the export, inference, demo and evaluation tests."""
    return LazyExports(tmp_path_factory.mktemp("exports"), tiny_data_dir)

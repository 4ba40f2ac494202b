"""Shared fixtures: small IDX datasets written by the tests themselves, and an isolated
environment in which no real dataset or download is found by accident."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from model import data


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


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_idx_dataset(tmp_path_factory.mktemp("tiny-fashion"))


@pytest.fixture
def no_data_sources(tmp_path, monkeypatch):
    """No env var, an empty Keras cache and no Debian folder: only what a test provides is found."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(data, "DEBIAN_ROOT", tmp_path / "no-debian")
    return tmp_path


@pytest.fixture(scope="session")
def exports(tiny_data_dir, tmp_path_factory):
    """For each variant: a run trained for one step on tiny data, and its export of every format
    (three TFLite files). Shared by the export and inference tests."""
    from export import exporter
    from model.train import TrainConfig, train
    from model.variants import VARIANTS

    root = tmp_path_factory.mktemp("exports")
    made = {}
    for name in VARIANTS:
        run = train(TrainConfig(variant=name, epochs=1, batch_size=8, steps_per_epoch=1,
                                data_dir=str(tiny_data_dir), out=str(root / f"run-{name}")), verbose=0)
        out = exporter.export(run, root / f"export-{name}", exporter.FORMATS, exporter.TFLITE_QUANTS)
        made[name] = (run, out)
    return made

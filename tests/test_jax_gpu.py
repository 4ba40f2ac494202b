"""Checks of the JAX training path that need a GPU: skipped where JAX sees none (CI has none).
`benchmarks/gpu_run.sh` runs them on a GPU machine without TensorFlow."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest
from conftest import write_idx_dataset
from test_jax import run_worker, tiny


def _jax_gpu() -> bool:
    if importlib.util.find_spec("jax") is None:
        return False
    import jax

    return any(device.platform == "gpu" for device in jax.devices())


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _jax_gpu(), reason="JAX sees no GPU")]


def test_jax_gpu_defaults_turn_on_the_fast_path():
    runtime = run_worker("runtime")
    assert runtime["backend"] == "jax" and runtime["device"] == "GPU"  # type: ignore[index]
    assert runtime["jit_compile"] and runtime["steps_per_execution"] == 32  # type: ignore[index]
    assert runtime["mixed_precision"] == "mixed_bfloat16" and runtime["device_data"]  # type: ignore[index]


@pytest.mark.parametrize("variant", ["dcgan", "csngan"])
def test_jax_gpu_training_in_chunks_is_finite_and_resumes(tmp_path, variant):
    """40 steps an epoch of 8 images (320 of 512): calls of 32 and 8 steps, then of 8, 16 and 16."""
    data_dir = write_idx_dataset(tmp_path / "data", train=512)
    run = tmp_path / "run"
    config = tiny(data_dir, run, variant=variant, batch_size=8, steps_per_epoch=40, epochs=1)
    assert run_worker("train", json.dumps(config))["error"] is None  # type: ignore[index]
    config["epochs"] = 2
    assert run_worker("train", json.dumps(config))["error"] is None  # type: ignore[index]
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["step"]) for row in rows] == [40, 80]
    assert all(np.isfinite(float(row["d_loss"])) and np.isfinite(float(row["g_loss"])) for row in rows)
    assert (run / "generator.keras").is_file() and (run / "samples" / "epoch-0002.png").is_file()

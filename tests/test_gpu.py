"""Checks that need a GPU under TensorFlow: skipped where none is visible (CI has none) or
TensorFlow is absent; run them on a GPU machine with `pytest -m gpu`. The JAX twins are in
test_jax_gpu.py."""

import csv

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from fashiongan.model.runtime import resolve_runtime  # noqa: E402  (after the skip)
from fashiongan.model.train import TrainConfig, train  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible"),
]


def test_gpu_defaults_turn_on_the_fast_path():
    runtime = resolve_runtime()
    assert runtime.device == "GPU" and runtime.jit_compile and runtime.steps_per_execution == 32
    assert runtime.mixed_precision in ("mixed_bfloat16", "mixed_float16") and runtime.device_data


@pytest.mark.parametrize("mixed_precision", ["bfloat16", "float16"])
def test_gpu_training_with_xla_and_mixed_precision_is_finite_and_exports_float32(
    tiny_data_dir, tmp_path, mixed_precision
):
    run = train(
        TrainConfig(
            variant="dcgan",
            epochs=2,
            batch_size=8,
            steps_per_epoch=4,
            out=str(tmp_path / "run"),
            data_dir=str(tiny_data_dir),
            mixed_precision=mixed_precision,
        ),
        verbose=0,
    )
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["step"]) for row in rows] == [4, 8]
    assert all(np.isfinite(float(row["d_loss"])) and np.isfinite(float(row["g_loss"])) for row in rows)
    import keras

    generator = keras.saving.load_model(run / "generator.keras", safe_mode=True)
    assert generator.dtype_policy.name == "float32"

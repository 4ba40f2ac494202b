"""Training on Keras' JAX backend, in worker processes where TensorFlow cannot be imported:
one step per variant, seeds, exact resume (after an epoch and inside one), the NaN stop,
DataParallel over two CPU devices, and `evaluate` without TensorFlow."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import free_ports

from fashiongan.spec import VARIANTS

pytestmark = pytest.mark.cpu_only
WORKER = Path(__file__).parent / "workers" / "jax_worker.py"
TWO_CPU_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def run_worker(*args: str, env: dict | None = None, expect_rc: int = 0) -> object:
    """The worker's result; asserts the worker exits with `expect_rc` and imported no TensorFlow."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    environment.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=600,
                          env=environment)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["tensorflow_imported"] == []
    return report["result"]


def tiny(data_dir, out, **overrides) -> dict:
    settings = dict(variant="dcgan", epochs=2, batch_size=8, steps_per_epoch=3, data_dir=str(data_dir), seed=5)
    return {**settings, "out": str(out), **overrides}


def train_jax(config: dict, poison_epoch: int | None = None, env: dict | None = None) -> str | None:
    args = [json.dumps(config)] + ([] if poison_epoch is None else [str(poison_epoch)])
    return run_worker("train", *args, env=env)["error"]  # type: ignore[index]


def weights(run: Path) -> list[np.ndarray]:
    """The trained generator's weights and the whole GAN's last checkpoint (both networks, both
    optimizers), as arrays."""
    import h5py
    import keras

    generator = keras.saving.load_model(run / "generator.keras", safe_mode=True).get_weights()
    checkpoint = sorted((run / "checkpoints").glob("epoch-*"))[-1] / "gan.weights.h5"
    arrays: list[np.ndarray] = []
    with h5py.File(checkpoint, "r") as handle:
        handle.visititems(lambda name, item: arrays.append(np.array(item)) if isinstance(item, h5py.Dataset) else None)
    return generator + arrays


def test_device_calls_are_aligned_powers_of_two():
    from fashiongan.model.jax_loop import chunk_size

    def calls(start: int, steps: int, chunk: int) -> list[int]:
        counts, step = [], start
        while step < start + steps:
            counts.append(chunk_size(step, start + steps - step, chunk))
            step += counts[-1]
        return counts

    assert calls(0, 96, 32) == [32, 32, 32]
    assert calls(0, 14, 32) == [8, 4, 2]  # a 14-step epoch (batch 4096): three calls, not 14
    assert calls(14, 14, 32) == [2, 8, 4]  # the next epoch starts off a boundary
    assert calls(5, 3, 32) == [1, 2]  # a resume at step 5
    assert calls(0, 10, 1) == [1] * 10 and calls(0, 10, 6) == [4, 4, 2]  # powers of two up to the setting
    assert len({count for start in range(0, 500, 7) for count in calls(start, 37, 32)}) <= 6


def test_one_jax_step_per_variant_is_finite_and_moves_both_networks_and_the_average(tiny_data_dir):
    """Every variant, and csngan with each training option (DiffAugment, the warm-up average)."""
    options = ["csngan:augment=translation,cutout", "csngan:ema_warmup=true"]
    results = run_worker("steps", str(tiny_data_dir), *sorted(VARIANTS), *options)
    assert set(results) == {*VARIANTS, *options}  # type: ignore[arg-type]
    for name, result in results.items():  # type: ignore[union-attr]
        assert result["iterations"] == 1, name
        assert all(np.isfinite(value) for value in result["losses"].values()), name
        assert result["moved"]["generator"] > 0 and result["moved"]["discriminator"] > 0, name
        assert result["moved"]["generator_average"] > 0, name  # the EMA that grids and export use


def test_each_random_draw_of_a_jax_step_comes_from_its_own_stream(tiny_data_dir):
    """Two steps in one device call, with label noise and translation: the translation's row and
    column shifts of the real and of the generated batch, the noise and the real and fake label
    noise draw from seven different streams a step (the generated batch is shifted twice, alike,
    for the discriminator's update and the generator's), and the second step from seven others."""
    records = run_worker("draws", str(tiny_data_dir))
    assert isinstance(records, list)
    streams: dict[int, set] = {}
    for record in records:
        streams.setdefault(record["step"], set()).add(tuple(record["fingerprint"]))
    assert sorted(streams) == [0, 1]
    assert [len(streams[0]), len(streams[1])] == [7, 7], "two draws of a step share a stream"
    assert not streams[0] & streams[1], "a draw of step 1 repeats one of step 0"


@pytest.mark.slow
def test_jax_runs_are_reproducible_and_resume_exactly(tiny_data_dir, tmp_path):
    """Same seed, same weights; a resume after epoch 1, or after a stop inside epoch 1, ends with
    the weights of an uninterrupted two-epoch run (bitwise, on CPU). Chunks of two steps per
    device call compute the same steps (another XLA program: equal up to rounding)."""
    straight = tmp_path / "straight"
    assert train_jax(tiny(tiny_data_dir, straight)) is None
    again = tmp_path / "again"
    assert train_jax(tiny(tiny_data_dir, again)) is None
    chunked = tmp_path / "chunked"
    assert train_jax(tiny(tiny_data_dir, chunked, steps_per_execution=2)) is None
    after_epoch = tmp_path / "after-epoch"
    assert train_jax(tiny(tiny_data_dir, after_epoch, epochs=1)) is None
    assert train_jax(tiny(tiny_data_dir, after_epoch)) is None
    inside_epoch = tmp_path / "inside-epoch"
    assert train_jax(tiny(tiny_data_dir, inside_epoch, max_steps=2)) is None
    assert sorted(path.name for path in (inside_epoch / "checkpoints").iterdir()) == ["epoch-0000-step-2"]
    assert train_jax(tiny(tiny_data_dir, inside_epoch)) is None

    expected = weights(straight)
    for run in (again, after_epoch, inside_epoch):
        assert all(np.array_equal(a, b) for a, b in zip(weights(run), expected)), run.name
    differences = [np.abs(a - b).max() for a, b in zip(weights(chunked), expected) if a.dtype.kind == "f"]
    assert max(differences) < 1e-4, max(differences)
    other_seed = tmp_path / "other-seed"
    assert train_jax(tiny(tiny_data_dir, other_seed, seed=6, epochs=1)) is None
    assert not np.array_equal(weights(other_seed)[0], weights(after_epoch)[0])
    rows = list(csv.DictReader((straight / "history.csv").open()))
    assert [(int(row["epoch"]), int(row["step"])) for row in rows] == [(1, 3), (2, 6)]
    assert (straight / "samples" / "epoch-0002.png").is_file()


@pytest.mark.slow
def test_a_time_budget_stops_jax_training_inside_the_epoch_and_resumes_exactly(tiny_data_dir, tmp_path):
    """A budget of 6 ms ends at the first step; the resume without it ends as an uninterrupted run."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert train_jax(tiny(tiny_data_dir, straight, variant="dense")) is None
    assert train_jax(tiny(tiny_data_dir, stopped, variant="dense", time_budget=1e-4)) is None
    assert sorted(path.name for path in (stopped / "checkpoints").iterdir()) == ["epoch-0000-step-1"]
    assert train_jax(tiny(tiny_data_dir, stopped, variant="dense")) is None
    assert all(np.array_equal(a, b) for a, b in zip(weights(stopped), weights(straight)))


@pytest.mark.slow
def test_jax_nan_stops_and_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    error = train_jax(tiny(tiny_data_dir, run, variant="dense", epochs=3), poison_epoch=1)
    assert error is not None and "non-finite loss" in error and "in epoch 2" in error and "epoch-0001" in error
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["epoch-0001"]
    assert not (run / "generator.keras").exists()
    assert train_jax(tiny(tiny_data_dir, run, variant="dense", epochs=3)) is None
    assert [int(row["epoch"]) for row in csv.DictReader((run / "history.csv").open())] == [1, 2, 3]


@pytest.mark.slow
def test_data_parallel_over_two_cpu_devices_trains_resumes_and_matches_one_device(tiny_data_dir, tmp_path):
    """The JAX step sees the global batch, split over devices: two devices give one device's
    run up to float rounding, and resume exactly."""
    one = tmp_path / "one"
    assert train_jax(tiny(tiny_data_dir, one, batch_size=8)) is None
    two = tmp_path / "two"
    assert train_jax(tiny(tiny_data_dir, two, batch_size=8, epochs=1), env=TWO_CPU_DEVICES) is None
    assert train_jax(tiny(tiny_data_dir, two, batch_size=8), env=TWO_CPU_DEVICES) is None
    rows = list(csv.DictReader((two / "history.csv").open()))
    assert len(rows) == 2 and all(np.isfinite(float(row["d_loss"])) for row in rows)
    for a, b in zip(weights(one), weights(two)):
        assert np.allclose(a, b, atol=1e-4), np.abs(a - b).max()
    uneven = tmp_path / "uneven"
    args = ["train", "--backend", "jax", "--data-dir", str(tiny_data_dir), "--out", str(uneven), "--batch-size", "7"]
    assert run_worker("cli", *args, env=TWO_CPU_DEVICES) == 2  # does not split over two devices
    assert not uneven.exists()


@pytest.mark.slow
def test_cli_trains_on_jax_and_evaluates_without_tensorflow(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--backend", "jax", "--variant", "cdcgan", "--data-dir", str(tiny_data_dir), "--out", str(run)]
    assert run_worker("cli", *args, "--batch-size", "8", "--steps-per-epoch", "2", "--quiet") == 0
    assert (run / "generator.keras").is_file() and not (run / "logs").exists()  # no TensorBoard writer here
    result = tmp_path / "evaluation.json"
    assert run_worker("cli", "evaluate", str(run / "generator.keras"), "--data-dir", str(tiny_data_dir),
                      "--n", "16", "--out", str(result)) == 0  # fmt: skip
    figures = json.loads(result.read_text())["generator"]
    assert np.isfinite(figures["frechet_distance"]) and 0 <= figures["recall"] <= 1


@pytest.mark.slow
def test_two_jax_processes_on_localhost_end_with_identical_generators(tiny_data_dir, tmp_path):
    """Multi-host through keras.distribution.initialize (jax.distributed, Gloo collectives on
    CPU): process 0 writes the run, process 1 its copy in .worker-1; both hold the same weights,
    which match a one-process run of the same global batch up to float rounding."""
    run = tmp_path / "run"
    addresses = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    args = ["train", "--backend", "jax", "--data-dir", str(tiny_data_dir), "--out", str(run), "--batch-size", "8",
            "--steps-per-epoch", "2", "--epochs", "2", "--seed", "5", "--quiet"]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "cli", *args],
            env={
                **environment,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": addresses,
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        assert json.loads(stdout.strip().splitlines()[-1]) == {"result": 0, "tensorflow_imported": []}
    chief, worker = weights(run), weights(run / ".worker-1")
    assert all(np.array_equal(a, b) for a, b in zip(chief, worker))
    one = tmp_path / "one"
    assert train_jax(tiny(tiny_data_dir, one, steps_per_epoch=2)) is None
    for a, b in zip(weights(one), chief):
        assert np.allclose(a, b, atol=1e-4), np.abs(a - b).max()

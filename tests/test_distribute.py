"""tf.distribute on CPU: MirroredStrategy over two logical CPU devices, and two
MultiWorkerMirroredStrategy workers on 127.0.0.1. Each runs in fresh processes, bounded in time."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import free_ports

from fashiongan.model.config import TrainConfig, large_batch_lr_scale
from fashiongan.model.runtime import resolve_runtime

WORKER = Path(__file__).parent / "workers" / "distributed_worker.py"
ROOT = WORKER.parents[1]


def run_worker(config: dict, *extra: str, env: dict | None = None, timeout: int = 240) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(config), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(process: subprocess.Popen, timeout: int = 240) -> dict:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"worker timed out after {timeout} s: {stderr[-2000:]}")
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def tiny(data_dir, out, **overrides) -> dict:
    return {
        "variant": "dcgan",
        "epochs": 1,
        "batch_size": 8,
        "steps_per_epoch": 2,
        "seed": 5,
        "data_dir": str(data_dir),
        "out": str(out),
        **overrides,
    }


@pytest.mark.cpu_only
def test_mirrored_over_two_cpus_trains_and_resumes(tiny_data_dir, tmp_path):
    config = tiny(tiny_data_dir, tmp_path / "run", strategy="mirrored")
    first = finish(run_worker(config, "--logical-cpus", "2"))
    resumed = finish(run_worker({**config, "epochs": 2}, "--logical-cpus", "2", "--resume"))
    assert first["run_dir"] == resumed["run_dir"] == str(tmp_path / "run")
    rows = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1, 2] and [int(row["step"]) for row in rows] == [2, 4]
    assert all(np.isfinite(float(row[key])) for row in rows for key in ("d_loss", "g_loss"))
    assert (tmp_path / "run" / "samples" / "epoch-0002.png").is_file()
    assert np.isfinite(resumed["checksum"]) and resumed["checksum"] != first["checksum"]


@pytest.mark.cpu_only
def test_batch_must_split_over_replicas(tiny_data_dir, tmp_path):
    process = run_worker(
        tiny(tiny_data_dir, tmp_path / "run", strategy="mirrored", batch_size=7), "--logical-cpus", "2"
    )
    _, stderr = process.communicate(timeout=240)
    assert process.returncode != 0 and "does not split evenly over 2 replicas" in stderr


@pytest.mark.cpu_only
def test_two_multiworker_processes_end_with_identical_generators(tiny_data_dir, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    config = tiny(tiny_data_dir, tmp_path / "run", strategy="multiworker", epochs=2)
    processes = [
        run_worker(
            config,
            env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})},
        )
        for index in range(2)
    ]
    try:
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    failures = [
        f"worker {index}: "
        + "\n".join(line for line in stderr.splitlines() if not line.startswith(("I0000", "W0000", "E0000")))[-1500:]
        for index, (process, (_, stderr)) in enumerate(zip(processes, outputs))
        if process.returncode != 0
    ]
    assert not failures, "\n".join(reversed(failures))  # a worker's own error first, the chief's abort after
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    assert results[0]["run_dir"] == str(tmp_path / "run")
    assert results[1]["run_dir"] == str(tmp_path / "run" / ".worker-1")
    assert results[0]["checksum"] == results[1]["checksum"]
    rows = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert [int(row["step"]) for row in rows] == [2, 4]


@pytest.mark.cpu_only
def test_auto_runtime_on_this_cpu_machine():
    runtime = resolve_runtime()
    assert runtime.device == "CPU" and runtime.strategy_name == "one" and runtime.replicas == 1
    assert runtime.jit_compile is False and runtime.steps_per_execution == 1 and runtime.device_data
    off = resolve_runtime(xla="on", steps_per_execution=4, mixed_precision="off", device_data="off")
    assert off.jit_compile and off.steps_per_execution == 4 and off.mixed_precision is None and not off.device_data
    with pytest.raises(Exception, match="needs TF_CONFIG"):
        resolve_runtime(strategy="multiworker")


def test_large_batch_learning_rate_rule():
    assert large_batch_lr_scale(1024, 256) == 2.0 and large_batch_lr_scale(64, 256) == 1.0
    config = TrainConfig(variant="dcgan", batch_size=1024).resolved()
    assert config.g_learning_rate == pytest.approx(2e-4) and config.d_learning_rate == pytest.approx(2e-4)
    explicit = TrainConfig(variant="dcgan", batch_size=1024, g_learning_rate=1e-4).resolved()
    assert explicit.g_learning_rate == 1e-4


@pytest.mark.cpu_only
def test_each_replica_draws_its_own_noise_under_mirrored_strategy():
    """The (seed, step) noise seed is folded with the replica id: two replicas, two streams."""
    code = """
import json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fashiongan.model.runtime import resolve_runtime
from fashiongan.model.train import TrainConfig, build_gan
runtime = resolve_runtime(strategy="mirrored")
gan = build_gan(TrainConfig(variant="dense").resolved(), runtime)
draw = tf.function(lambda: gan.noise(1, gan.g_optimizer.iterations)[0, :4])
noise = runtime.strategy.experimental_local_results(runtime.strategy.run(draw))
print(json.dumps([runtime.replicas, [n.numpy().tolist() for n in noise]]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    replicas, noise = json.loads(result.stdout.strip().splitlines()[-1])
    assert replicas == 2 and len(noise) == 2 and noise[0] != noise[1]

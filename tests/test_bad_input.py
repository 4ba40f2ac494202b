"""Every command, bad values: exit status 2, exactly one line on stderr (TensorFlow's start-up
chatter included in the count), no traceback, and no file written or changed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Placeholders, filled per run: DATA (tiny IDX files), RUN (a finished dense run), UNRELATED (a
# folder of someone's files), TEXT_KERAS (a text file named .keras), GARBAGE_ONNX, A_FILE, A_DIR.
CASES = [
    (["train", "--out", "run", "--variant", "wgan"], "invalid choice: 'wgan'"),
    (["train", "--out", "run", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["train", "--out", "run", "--batch-size", "many"], "'many' is not an integer"),
    (["train", "--out", "run", "--seed", "-1"], "--seed: must be a non-negative integer, got -1"),
    (["train", "--out", "run", "--seed", "99999999999", "--data-dir", "DATA"], "seed must be an integer in [0, 2**32)"),
    (["train", "--out", "run", "--beta1", "1.5", "--data-dir", "DATA"], "beta_1 must be in [0, 1)"),
    (["train", "--out", "run", "--ema-momentum", "2", "--data-dir", "DATA"], "ema_momentum must be in [0, 1)"),
    (["train", "--out", "run", "--grid-size", "100000", "--data-dir", "DATA"], "grid_size must be at most 64"),
    (["train", "--out", "run", "--max-steps", "0"], "--max-steps: must be a positive integer"),
    (
        ["train", "--out", "run", "--steps-per-execution", "99999999999999999999", "--data-dir", "DATA"],
        "steps_per_execution must be at most 4096",
    ),
    (["train", "--out", "run", "--strategy", "tpu"], "invalid choice: 'tpu'"),
    (["train", "--out", "run", "--backend", "torch"], "invalid choice: 'torch'"),
    (
        ["train", "--out", "run", "--backend", "jax", "--mixed-precision", "float16", "--data-dir", "DATA"],
        "float16 needs loss scaling, which only the TensorFlow path has",
    ),
    (
        ["train", "--out", "run", "--backend", "jax", "--device-data", "off", "--data-dir", "DATA"],
        "--device-data off feeds batches through tf.data",
    ),
    (
        ["train", "--out", "run", "--backend", "jax", "--strategy", "multiworker", "--data-dir", "DATA"],
        "--strategy multiworker on JAX needs KERAS_DISTRIBUTION_JOB_ADDRESSES",
    ),
    (["train", "--out", "run", "--data-dir", "nowhere"], "--data-dir nowhere: not a directory"),
    (["train", "--out", "run", "--batch-size", "512", "--data-dir", "DATA"], "larger than the 64 training images"),
    (["train", "--out", "", "--data-dir", "DATA"], "--out: '' is not a usable path"),
    (["train", "--out", "A_FILE", "--data-dir", "DATA"], "exists and is not a directory"),
    (["train", "--resume", "--out", "run", "--data-dir", "DATA"], "nothing to resume"),
    (["train", "--out", "RUN", "--data-dir", "DATA"], "already holds a run; pass --resume"),
    (["train", "--resume", "--out", "RUN", "--batch-size", "16"], "was started with batch_size=8, not 16"),
    (["export", "nothing", "--out", "e"], "no such run directory"),
    (["export", "TEXT_KERAS", "--variant", "dcgan", "--out", "e"], "a .keras file is a zip archive"),
    (["export", "RUN", "--out", "e", "--formats", "onnx,pt"], "--formats: unknown pt"),
    (["export", "RUN", "--out", "e", "--tflite-quant", "int4"], "--tflite-quant: unknown int4"),
    (["export", "RUN", "--out", "UNRELATED"], "not a fashiongan export"),
    (["export", "RUN", "--out", "RUN"], "holds or lies inside the source"),
    (["export", "RUN", "--out", "A_FILE"], "exists and is not a folder"),
    (["export", "RUN", "--out", ""], "--out: '' is not a usable path"),
    (["export", "RUN", "--out", "."], "not a fashiongan export"),
    (["sample", "fashion_mnist", "--n", "0"], "--n: must be a positive integer"),
    (["sample", "fashion_mnist", "--n", "1000000000"], "limit is 100,000,000"),
    (["sample", "fashion_mnist", "--n", "100001", "--nrow", "400", "--scale", "1"], "positive integer up to 100,000"),
    (["sample", "fashion_mnist", "--scale", "100000"], "limit is 100,000,000"),
    (["sample", "fashion_mnist", "--seed", "-1"], "--seed: must be a non-negative integer"),
    (["sample", "fashion_mnist", "--interpolate", "-5"], "--interpolate: must be a non-negative integer"),
    (["sample", "fashion_mnist", "--format", "pt"], "unknown format 'pt'"),
    (["sample", "fashion_mnist", "--label", "hat"], "unknown class name 'hat'"),
    (["sample", "fashion_mnist", "--label", "²"], "unknown class name '²'"),
    (["sample", "fashion_mnist", "--n", "3", "--label", "bag", "--label", "coat"], "2 labels given for 3 images"),
    (["sample", "fashion_mnist", "--out", ""], "--out: '' is not a usable path"),
    (["sample", "fashion_mnist", "--out", "A_DIR"], "A_DIR: is a folder; give the PNG a file name"),
    (["sample", "nothing"], "no such export folder or model file, nor a pretrained generator"),
    (["sample", "TEXT_KERAS"], "a .keras file is a zip archive"),
    (["sample", "GARBAGE_ONNX"], "not a loadable ONNX model"),
    (["sample", "UNRELATED"], "neither an export folder"),
    (["demo", "--port", "99999"], "--port: must be a port from 0 to 65535"),
    (["demo", "nowhere"], "no such export folder"),
    (["demo", "UNRELATED"], "no manifest"),
    (["evaluate", "fashion_mnist", "--n", "3", "--data-dir", "DATA"], "larger than k=5"),
    (["evaluate", "fashion_mnist", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    (["evaluate", "nothing", "--data-dir", "DATA"], "no such export folder"),
    (["train-classifier", "--out", "A_FILE", "--data-dir", "DATA"], "is a file, not a folder"),
    (["train-classifier", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["data", "cifar10"], "invalid choice: 'cifar10'"),
    (["variants", "--all"], "unrecognized arguments: --all"),
]


def snapshot(*folders: Path) -> dict:
    return {path: path.stat().st_mtime_ns for folder in folders for path in folder.rglob("*")}


@pytest.fixture(scope="module")
def places(exports, tiny_data_dir, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad-input")
    unrelated = root / "my-files"
    unrelated.mkdir()
    (unrelated / "notes.txt").write_text("mine")
    (root / "notes.keras").write_text("not a model")
    (root / "garbage.onnx").write_bytes(b"\x08\x01garbage" * 32)
    run, _ = exports["dense"]
    return {"DATA": str(tiny_data_dir), "RUN": str(run), "UNRELATED": str(unrelated),
            "TEXT_KERAS": str(root / "notes.keras"), "GARBAGE_ONNX": str(root / "garbage.onnx")}  # fmt: skip


@pytest.mark.parametrize("args, expected", CASES, ids=[" ".join(args) for args, _ in CASES])
def test_bad_values_are_one_line_exit_2_and_write_nothing(places, tmp_path, args, expected):
    (tmp_path / "A_FILE").write_text("")
    (tmp_path / "A_DIR").mkdir()
    argv = [places.get(arg, arg) for arg in args]
    watched = [tmp_path, Path(places["RUN"]), Path(places["UNRELATED"])]
    before = snapshot(*watched)
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "fashiongan", *argv], capture_output=True, text=True,
                            cwd=tmp_path, env=environment, timeout=300)  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("fashiongan") and expected in lines[0], lines[0]
    assert snapshot(*watched) == before

"""Every command, bad values: exit status 2, exactly one line on stderr (TensorFlow's start-up
chatter included in the count), no traceback, and no file written or changed."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashiongan.model import data

ROOT = Path(__file__).resolve().parents[1]

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
    (["sample", "fashion_mnist", "--out", "A_DIR"], "A_DIR: is a folder; give a file name to write"),
    (["sample", "nothing"], "no such export folder or model file, nor a pretrained generator"),
    (["sample", "TEXT_KERAS"], "a .keras file is a zip archive"),
    (["sample", "GARBAGE_ONNX"], "not a loadable ONNX model"),
    (["sample", "UNRELATED"], "neither an export folder"),
    (["demo", "--port", "99999"], "--port: must be a port from 0 to 65535"),
    (["demo", "nowhere"], "no such export folder"),
    (["demo", "UNRELATED"], "no manifest"),
    (["evaluate", "fashion_mnist", "--n", "3", "--data-dir", "DATA"], "larger than k=5"),
    (["evaluate", "fashion_mnist", "--dataset", "cifar10"], "unknown dataset 'cifar10': not a built-in"),
    (["evaluate", "fashion_mnist", "--dataset", "no/such/folder"], "--dataset: no/such/folder: no such folder or file"),
    (["evaluate", "nothing", "--data-dir", "DATA"], "no such export folder"),
    (["train-classifier", "--out", "A_FILE", "--data-dir", "DATA"], "is a file, not a folder"),
    (["train-classifier", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["data", "cifar10"], "unknown dataset 'cifar10': not a built-in"),
    (["variants", "--all"], "unrecognized arguments: --all"),
    (["train", "--out", "run", "--g-lr", "1e400"], "--g-lr: must be a positive finite number, got 1e400"),
    (["train", "--out", "run", "--d-lr", "inf"], "--d-lr: must be a positive finite number, got inf"),
    (["train", "--out", "run", "--time-budget", "nan"], "--time-budget: must be a positive finite number"),
    (["sample", "fashion_mnist", "--interpolate", "3", "--label", "1", "--label", "2"], "walks one class"),
    (["sample", "LONE_ONNX", "--label", "hat"], "unknown class name 'hat'; choose from t-shirt, trouser"),
    (["sample", "LONE_TFLITE", "--label", "hat"], "unknown class name 'hat'; choose from t-shirt, trouser"),
    (["sample", "fashion_mnist", "--format", "tflite_dynamic", "--n", "0"], "--n: must be a positive integer"),
    (["sample", "fashion_mnist", "--format", "tflite_dynamic", "--label", "99"], "label 99 is out of range 0-9"),
    (["sample", "MORE_CLASSES", "--label", "999"], "names 11 classes, but"),
    (["sample", "NO_IMAGES_ONNX"], "no `images` output (it has pixels): not a generator"),
    (["sample", "FLOAT_LABEL_ONNX"], "input `label` is tensor(float), not the contract's tensor(int32)"),
    (["evaluate", "LONE_ONNX", "--out", "LONE_ONNX", "--data-dir", "DATA"], "is a file of the model being sampled"),
    (["evaluate", "fashion_mnist", "--n", "8", "--classifier", "EMPTY_INFO", "--data-dir", "DATA"],
     "not a classifier record (needs dataset, version, test_accuracy)"),
    (["evaluate", "fashion_mnist", "--n", "8", "--classifier", "NO_MODEL", "--data-dir", "DATA"],
     "holds neither classifier.onnx nor classifier.keras"),
    (["train-classifier", "--out", "A_DIR", "--data-dir", "EMPTY_DATA"], "holds no images"),
    (["train", "--out", "run", "--data-dir", "EMPTY_DATA"], "holds no images"),
    (["train", "--out", "run", "--data-dir", "DATA"], "TF_CONFIG is not JSON", {"TF_CONFIG": '{"cluster": '}),
    (["train", "--out", "run", "--data-dir", "DATA"], 'TF_CONFIG needs a "cluster"', {"TF_CONFIG": "[1,2,3]"}),
    (
        ["train", "--out", "run", "--data-dir", "DATA"],
        "is not one of its cluster's tasks",
        {"TF_CONFIG": '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}'},
    ),
    (
        ["train", "--out", "run", "--backend", "jax", "--data-dir", "DATA"],
        "KERAS_DISTRIBUTION_NUM_PROCESSES must be a positive integer, got 'abc'",
        {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "localhost:1", "KERAS_DISTRIBUTION_NUM_PROCESSES": "abc",
         "KERAS_DISTRIBUTION_PROCESS_ID": "0"},
    ),
    (
        ["train", "--out", "run", "--backend", "jax", "--data-dir", "DATA"],
        "KERAS_DISTRIBUTION_PROCESS_ID must be an integer from 0 to 1, got '5'",
        {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "localhost:1,localhost:2", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
         "KERAS_DISTRIBUTION_PROCESS_ID": "5"},
    ),
]  # fmt: skip


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
    return {"DATA": str(tiny_data_dir), "RUN": str(run), "UNRELATED": str(unrelated), "ROOT": str(root),
            "TEXT_KERAS": str(root / "notes.keras"), "GARBAGE_ONNX": str(root / "garbage.onnx"),
            "EMPTY_DATA": str(empty_dataset(root / "empty")),
            **hostile_models(root), **classifier_folders(root)}  # fmt: skip


def hostile_models(root: Path) -> dict[str, str]:
    """Lone copies of the pretrained conditional generator's ONNX and TFLite files; an export
    whose manifest names more classes than its model has; ONNX files that break the contract."""
    import onnx
    from onnx import TensorProto, helper

    pretrained = ROOT / "pretrained" / "fashion_mnist"
    (root / "lone").mkdir()
    for name in ("generator.onnx", "generator_dynamic_int8.tflite"):
        shutil.copy(pretrained / name, root / "lone" / name)
    more = Path(shutil.copytree(pretrained, root / "more-classes"))
    manifest = json.loads((more / "manifest.json").read_text())
    (more / "manifest.json").write_text(json.dumps({**manifest, "class_names": [str(i) for i in range(11)]}))

    def graph(path: Path, label_type: int, output: str) -> str:
        inputs = [helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["n", 100]),
                  helper.make_tensor_value_info("label", label_type, ["n"])]  # fmt: skip
        outputs = [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", 100])]
        nodes = [helper.make_node("Identity", ["noise"], [output])]
        model = helper.make_model(helper.make_graph(nodes, "hostile", inputs, outputs),
                                  opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
        onnx.save(model, path)
        return str(path)

    return {"LONE_ONNX": str(root / "lone" / "generator.onnx"),
            "LONE_TFLITE": str(root / "lone" / "generator_dynamic_int8.tflite"), "MORE_CLASSES": str(more),
            "NO_IMAGES_ONNX": graph(root / "pixels.onnx", TensorProto.INT32, "pixels"),
            "FLOAT_LABEL_ONNX": graph(root / "float-label.onnx", TensorProto.FLOAT, "images")}  # fmt: skip


def classifier_folders(root: Path) -> dict[str, str]:
    """A classifier folder whose classifier.json is {}, and one with a record but no model."""
    (root / "empty-info").mkdir()
    (root / "empty-info" / "classifier.json").write_text("{}")
    (root / "no-model").mkdir()
    record = {"dataset": "fashion_mnist", "version": 1, "test_accuracy": 0.93}
    (root / "no-model" / "classifier.json").write_text(json.dumps(record))
    return {"EMPTY_INFO": str(root / "empty-info"), "NO_MODEL": str(root / "no-model")}


def empty_dataset(folder: Path) -> Path:
    """IDX files of a dataset with no images at all."""
    folder.mkdir()
    for (_, kind), stem in data.FILE_STEMS.items():
        empty = np.zeros((0, 28, 28) if kind == "images" else (0,), np.uint8)
        data.write_idx(folder / stem, empty)
    return folder


def case_id(case: tuple) -> str:
    return " ".join([*(f"{key}={value}" for key, value in (case[2] if len(case) > 2 else {}).items()), *case[0]])


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_bad_values_are_one_line_exit_2_and_write_nothing(places, tmp_path, case):
    args, expected, settings = case if len(case) > 2 else (*case, {})
    (tmp_path / "A_FILE").write_text("")
    (tmp_path / "A_DIR").mkdir()
    argv = [places.get(arg, arg) for arg in args]
    watched = [tmp_path, Path(places["RUN"]), Path(places["UNRELATED"]), Path(places["ROOT"])]
    before = snapshot(*watched)
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(settings)
    result = subprocess.run([sys.executable, "-m", "fashiongan", *argv], capture_output=True, text=True,
                            cwd=tmp_path, env=environment, timeout=300)  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("fashiongan") and expected in lines[0], lines[0]
    assert snapshot(*watched) == before

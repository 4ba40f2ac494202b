"""Export parity: every variant, every format, the same noise, the same images.

Tolerances, in the [0, 1] output contract: float32 formats within 1e-4 of the Keras generator
in inference mode; float16 TFLite within 2e-3; dynamic-range int8 TFLite within 1e-1. On trained
generators the largest differences measured were 5.6e-4 (float16) and 4.3e-2 (int8, dcgan):
`python benchmarks/export_parity.py RUN_DIR ...`, table in the README."""

import json
import shutil

import keras
import numpy as np
import onnx
import pytest

from fashiongan import spec
from fashiongan.export import exporter, tflite_writer
from fashiongan.inference.backends import open_artifact
from fashiongan.inference.manifest import ManifestError, read_manifest, sha256_file, verify_artifact
from fashiongan.model.variants import generator_feed, make_discriminator
from fashiongan.spec import VARIANTS

pytestmark = pytest.mark.slow

TOLERANCES = {artifact.name: artifact.tolerance for artifact in spec.ARTIFACTS}
ALL_ARTIFACTS = spec.ARTIFACT_NAMES


def reference_images(run_dir, variant_name, noise, labels=None):
    """The trained generator in inference mode, mapped to [0, 1] by hand."""
    generator = keras.saving.load_model(run_dir / "generator.keras", safe_mode=True)
    low, high = VARIANTS[variant_name].output_range
    return (np.asarray(generator(generator_feed(noise, labels), training=False)) - low) / (high - low)


def parity_inputs(name, count=5):
    """Noise, and for a conditional variant a label per image (all ten classes over two calls)."""
    variant = VARIANTS[name]
    noise = np.random.default_rng(11).standard_normal((count, variant.latent_dim)).astype(np.float32)
    return noise, (np.array([9, 0, 3, 7, 5][:count], np.int32) if variant.conditional else None)


def backend_for(export_dir, artifact):
    return open_artifact(artifact, export_dir / spec.ARTIFACT_FORMATS[artifact].path, trust_savedmodel=True)


@pytest.mark.parametrize("artifact", ALL_ARTIFACTS)
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_format_matches_keras(exports, name, artifact):
    assert_parity(*exports[name], name, artifact)


@pytest.mark.parametrize("artifact", ALL_ARTIFACTS)
@pytest.mark.parametrize("name", ["dcgan", "csngan"])
def test_a_jax_trained_run_exports_with_the_same_parity(exports, name, artifact):
    """Trained on JAX without TensorFlow, exported on TensorFlow: the same per-format parity."""
    run_dir, export_dir = exports[f"jax:{name}"]
    assert read_manifest(export_dir)["variant"] == name
    assert_parity(run_dir, export_dir, name, artifact)


def assert_parity(run_dir, export_dir, name, artifact):
    noise, labels = parity_inputs(name)
    expected = reference_images(run_dir, name, noise, labels)
    images = backend_for(export_dir, artifact).run(noise, labels)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0  # the contract holds exactly, in every format
    assert np.abs(images - expected).max() <= TOLERANCES[artifact]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_tflite_files_hold_only_builtin_ops(exports, name):
    _, export_dir = exports[name]
    for artifact in spec.artifacts_of("tflite"):
        ops = tflite_writer.tflite_ops(export_dir / artifact.path)
        assert ops and tflite_writer.non_builtin_tflite_ops(export_dir / artifact.path) == []
        assert not any(op.startswith("Flex") for op in ops)


def test_non_builtin_ops_are_detected(tmp_path):
    """The checker itself must catch a Select-TF op: convert a graph that needs one."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
    def needs_flex(x):
        return tf.strings.to_number(tf.strings.as_string(x))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([needs_flex.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "flex.tflite"
    path.write_bytes(converter.convert())
    assert any(op.startswith("Flex") for op in tflite_writer.non_builtin_tflite_ops(path))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_manifest_describes_the_export(exports, name):
    _, export_dir = exports[name]
    manifest = read_manifest(export_dir)
    variant = VARIANTS[name]
    assert manifest["variant"] == name and manifest["latent_dim"] == variant.latent_dim
    expected_inputs = [{"name": "noise", "shape": [None, variant.latent_dim], "dtype": "float32"}]
    if variant.conditional:
        expected_inputs.append({"name": "label", "shape": [None], "dtype": "int32"})
    assert manifest["inputs"] == expected_inputs
    assert manifest["conditional"] == variant.conditional
    assert (manifest["class_names"] is not None) == variant.conditional
    assert manifest["outputs"][0]["name"] == "images" and manifest["output_range"] == [0.0, 1.0]
    assert manifest["generator_output_range"] == list(variant.output_range)
    assert manifest["training"]["epochs"] == 1 and manifest["training"]["steps"] == 1
    assert set(manifest["artifacts"]) == set(ALL_ARTIFACTS)
    for record in manifest["artifacts"].values():
        verify_artifact(export_dir, record)
    onnx_record = manifest["artifacts"]["onnx"]
    assert onnx_record["sha256"] == sha256_file(export_dir / "generator.onnx")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_onnx_describes_itself(exports, name):
    """A file apart from its manifest still says what it is: metadata props, producer, graph
    name, a doc string, and no opset import that no node uses."""
    _, export_dir = exports[name]
    model = onnx.load(export_dir / spec.ARTIFACT_FORMATS["onnx"].path)
    onnx.checker.check_model(model, full_check=True)
    props = {entry.key: entry.value for entry in model.metadata_props}
    variant = VARIANTS[name]
    assert props["variant"] == name and props["dataset"] == "fashion_mnist"
    assert json.loads(props["class_names"]) == list(spec.get_dataset("fashion_mnist").class_names)
    assert int(props["latent_dim"]) == variant.latent_dim and json.loads(props["output_range"]) == [0.0, 1.0]
    assert (
        props["noise_distribution"] == spec.NOISE_DISTRIBUTION
        and json.loads(props["conditional"]) == variant.conditional
    )
    assert model.producer_name == "fashiongan" and model.graph.name == "generator" and name in model.doc_string
    assert [opset.domain for opset in model.opset_import] == [""]


def read_tflite(path):
    """A TFLite file's model table and its metadata entries by name, read with LiteRT's own
    flatbuffer schema (independently of the exporter's reader)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    entries = (model.Metadata(index) for index in range(model.MetadataLength()))
    return model, {entry.Name(): model.Buffers(entry.Buffer()).DataAsNumpy().tobytes() for entry in entries}


@pytest.mark.parametrize("name", ["dense", "cdcgan"])
def test_manifest_states_each_tflite_files_minimum_runtime(exports, name):
    """The manifest's min_runtime_version is the one the file records; dynamic-range int8 needs
    a newer runtime than float32 and float16."""
    _, export_dir = exports[name]
    records = read_manifest(export_dir)["artifacts"]
    versions = {}
    for artifact in spec.artifacts_of("tflite"):
        _, metadata = read_tflite(export_dir / artifact.path)
        recorded = metadata[b"min_runtime_version"].rstrip(b"\0").decode()
        assert records[artifact.name]["min_runtime_version"] == recorded
        versions[artifact.name] = tuple(int(part) for part in recorded.split("."))
    assert versions["tflite_dynamic"] > versions["tflite"] and versions["tflite_float16"] >= versions["tflite"]
    assert versions["tflite_int8"] < versions["tflite_dynamic"]  # the int8 choice for older runtimes


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_onnx_runs_in_opencv_dnn(exports, name):
    """OpenCV's DNN module (the version the test extra installs) imports and runs every
    variant's ONNX file with the images onnxruntime gives; no ConvTranspose keeps asymmetric
    pads (OpenCV 4 and ONNX-to-PyTorch converters refuse those)."""
    import cv2  # the [test] extra installs it: a missing OpenCV fails here rather than skipping

    _, export_dir = exports[name]
    path = export_dir / spec.ARTIFACT_FORMATS["onnx"].path
    model = onnx.load(path)
    for node in model.graph.node:
        pads = [list(a.ints) for a in node.attribute if a.name == "pads"]
        if node.op_type == "ConvTranspose" and pads:
            assert pads[0][: len(pads[0]) // 2] == pads[0][len(pads[0]) // 2 :], node.name
    noise, labels = parity_inputs(name)
    if labels is not None:  # the embedding is looked up with the label itself
        assert any(node.op_type == "Gather" and node.input[1] == "label" for node in model.graph.node)
    expected = backend_for(export_dir, "onnx").run(noise, labels)
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(noise, "noise")
    if labels is not None:
        net.setInput(labels, "label")
    images = np.asarray(net.forward()).reshape(expected.shape)
    assert np.abs(images - expected).max() <= 1e-5 and images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_onnx_runs_in_the_onnx_reference_evaluator(exports, name):
    from onnx.reference import ReferenceEvaluator

    _, export_dir = exports[name]
    path = export_dir / spec.ARTIFACT_FORMATS["onnx"].path
    noise, labels = parity_inputs(name, count=2)
    feeds = {"noise": noise} if labels is None else {"noise": noise, "label": labels}
    images = ReferenceEvaluator(onnx.load(path)).run(None, feeds)[0]
    assert np.abs(images - backend_for(export_dir, "onnx").run(noise, labels)).max() <= 1e-5


@pytest.mark.parametrize("name", ["dense", "csngan"])
def test_every_tflite_file_describes_itself(exports, name):
    """The class names and the contract travel inside each TFLite file, read with LiteRT's own
    flatbuffer schema; the file still runs (its parity is tested above)."""
    _, export_dir = exports[name]
    for artifact in spec.artifacts_of("tflite"):
        model, metadata = read_tflite(export_dir / artifact.path)
        description = json.loads(metadata[b"fashiongan"])
        assert description["variant"] == name and description["batch_size"] == "1"
        assert json.loads(description["class_names"]) == list(spec.get_dataset("fashion_mnist").class_names)
        assert json.loads(description["output_range"]) == [0.0, 1.0] and b"min_runtime_version" in metadata
        assert model.Description().decode().startswith(f"fashiongan {name} generator")
        if artifact.integer_io:  # the int8 noise and images, with the scale and zero point to read them
            from ai_edge_litert.interpreter import Interpreter

            runner = Interpreter(model_path=str(export_dir / artifact.path)).get_signature_runner("serving_default")
            quantization = json.loads(description["quantization"])
            assert quantization["images"] == list(runner.get_output_details()["images"]["quantization"])
            assert description["output"].startswith("images: int8") and "noise: int8" in description["inputs"]
        else:
            assert "quantization" not in description and description["output"].startswith("images: float32")


def test_h5_holds_no_keras3_only_input_keys(exports):
    """TF 2.15's tf.keras refuses an InputLayer with tf_keras 2.21's `optional` key."""
    import h5py

    _, export_dir = exports["cdcgan"]
    with h5py.File(export_dir / spec.ARTIFACT_FORMATS["h5"].path, "r") as handle:
        config = json.loads(handle.attrs["model_config"])
    inputs = [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == "InputLayer"]
    assert len(inputs) == 2 and all("optional" not in layer for layer in inputs)


def test_onnx_is_valid_with_named_dynamic_batch(exports):
    _, export_dir = exports["dcgan"]
    model = onnx.load(export_dir / "generator.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert [value.name for value in model.graph.input] == ["noise"]
    assert [value.name for value in model.graph.output] == ["images"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert max(opset.version for opset in model.opset_import if opset.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("name", ["cdcgan", "csngan"])
def test_conditional_exports_take_noise_and_label(exports, name):
    _, export_dir = exports[name]
    model = onnx.load(export_dir / "generator.onnx")
    assert [value.name for value in model.graph.input] == ["noise", "label"]
    label = model.graph.input[1].type.tensor_type
    assert label.elem_type == onnx.TensorProto.INT32 and label.shape.dim[0].dim_param == "batch"
    backend = backend_for(export_dir, "tflite")
    assert backend.conditional and backend.input_names == ("noise", "label")


def test_savedmodel_signature_and_keras_safe_mode(exports):
    import tensorflow as tf

    _, export_dir = exports["fashiongan"]
    signature = tf.saved_model.load(str(export_dir / "saved_model" / "1")).signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["noise"]
    assert list(signature.structured_outputs) == ["images"]
    model = keras.saving.load_model(export_dir / "generator.keras", safe_mode=True)
    assert model.output.shape == (None, 28, 28, 1)


@pytest.mark.parametrize("name", ["dcgan", "cdcgan"])
def test_exported_keras_generator_takes_keras_call_forms_without_warnings(exports, name):
    """Keras' convention for one- and two-input generators: the bare noise, or [noise, label]
    (a tuple and the dict of the contract's names too), in that order, without warnings."""
    from workers.keras_backend_worker import call_every_way

    run_dir, export_dir = exports[name]
    noise, labels = parity_inputs(name, 3)
    for path in (run_dir / "generator.keras", export_dir / "generator.keras"):
        model = keras.saving.load_model(path, safe_mode=True)
        assert [tensor.name for tensor in model.inputs] == list(VARIANTS[name].input_names)
        assert model.inputs[0].shape[-1] == VARIANTS[name].latent_dim
        assert call_every_way(model, noise, labels).shape == (3, 28, 28, 1)


def test_corrupted_artifact_fails_verification(exports, tmp_path):
    _, export_dir = exports["dense"]
    copy = shutil.copytree(export_dir, tmp_path / "copy")
    with open(copy / "generator.onnx", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    record = read_manifest(copy)["artifacts"]["onnx"]
    with pytest.raises(ManifestError, match="checksum does not match"):
        verify_artifact(copy, record)


def test_failed_export_leaves_the_previous_one_intact(exports, monkeypatch):
    run_dir, export_dir = exports["dense"]
    before = {path.name: sha256_file(path) for path in export_dir.iterdir() if path.is_file()}

    def broken_onnx(*args, **kwargs):
        raise exporter.ExportError("simulated converter crash")

    monkeypatch.setitem(exporter.WRITERS, "onnx", broken_onnx)
    with pytest.raises(exporter.ExportError, match="simulated"):
        exporter.export(run_dir, export_dir)
    after = {path.name: sha256_file(path) for path in export_dir.iterdir() if path.is_file()}
    assert after == before
    assert not [p for p in export_dir.parent.iterdir() if p.name.startswith(f".{export_dir.name}")]


def test_bad_sources_are_refused(exports, tmp_path):
    run_dir, _ = exports["dcgan"]
    with pytest.raises(exporter.ExportError, match="no such run directory"):
        exporter.export(tmp_path / "missing", tmp_path / "out")
    text_file = tmp_path / "notes.keras"
    text_file.write_text("not a model")
    with pytest.raises(exporter.ExportError, match="not a loadable Keras model"):
        exporter.export(text_file, tmp_path / "out", variant="dcgan")
    discriminator = tmp_path / "discriminator.keras"
    make_discriminator("dcgan").save(discriminator)
    with pytest.raises(exporter.ExportError, match="not a dcgan generator"):
        exporter.export(discriminator, tmp_path / "out", variant="dcgan")
    with pytest.raises(exporter.ExportError, match="pass --variant"):
        shutil.copy(run_dir / "generator.keras", tmp_path / "bare.keras")
        exporter.export(tmp_path / "bare.keras", tmp_path / "out")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(exporter.ExportError, match="not a folder"):
        exporter.export(run_dir, tmp_path / "a-file")
    assert not (tmp_path / "out").exists()


def test_the_shared_export_fixture_builds_only_the_variants_asked_for(tiny_data_dir, tmp_path):
    from conftest import LazyExports

    lazy = LazyExports(tmp_path, tiny_data_dir)
    assert list(tmp_path.iterdir()) == []
    run, export_dir = lazy["dense"]
    assert lazy["dense"] == (run, export_dir)  # built once
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export-dense", "run-dense"]
    assert (export_dir / "manifest.json").is_file()


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    "backend",
    ["jax", pytest.param("torch", marks=pytest.mark.skipif(not _installed("torch"), reason="torch not installed"))],
)
def test_every_keras_generator_gives_the_same_images_on_other_keras_backends(exports, backend, tmp_path):
    """Each run's generator.keras and each export's, loaded under KERAS_BACKEND=jax or torch in a
    fresh process, against TensorFlow in this one; every call form (bare array, [noise, label],
    tuple, dict; call and predict) gives those images with no warning, inputs in order noise, label."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from workers.keras_backend_worker import call_every_way

    jobs, expected, input_names = [], [], []
    for name in sorted(VARIANTS):
        run_dir, export_dir = exports[name]
        noise, labels = parity_inputs(name, 4)
        inputs = {"noise": noise} if labels is None else {"noise": noise, "label": labels}
        np.savez(tmp_path / f"{name}-inputs.npz", **inputs)
        low, high = VARIANTS[name].output_range
        for path, scale in ((run_dir / "generator.keras", (low, high)), (export_dir / "generator.keras", (0.0, 1.0))):
            model = keras.saving.load_model(path, safe_mode=True)
            jobs.append([str(path), str(tmp_path / f"{name}-inputs.npz"), str(tmp_path / f"{len(jobs)}.npy")])
            expected.append(call_every_way(model, noise, labels))
            input_names.append(" ".join(VARIANTS[name].input_names))
            assert [tensor.name for tensor in model.inputs] == list(VARIANTS[name].input_names)
            assert model.inputs[0].shape[-1] == VARIANTS[name].latent_dim
            assert scale[0] <= expected[-1].min() and expected[-1].max() <= scale[1]
    worker = Path(__file__).parent / "workers" / "keras_backend_worker.py"
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(worker), json.dumps(jobs)], capture_output=True, text=True,
                            env=environment, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    *names, used = result.stdout.strip().splitlines()[-len(jobs) - 1 :]
    assert used == backend and names == input_names
    for (path, _, output), reference in zip(jobs, expected):
        np.testing.assert_allclose(np.load(output), reference, atol=1e-5, err_msg=path)


def test_export_runs_on_tensorflow_whatever_keras_backend_is_set(exports, tmp_path):
    import os
    import subprocess
    import sys

    run_dir, _ = exports["cdcgan"]
    environment = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = ["export", str(run_dir), "--out", str(tmp_path / "e"), "--formats", "onnx,h5"]
    result = subprocess.run([sys.executable, "-m", "fashiongan", *command], capture_output=True, text=True,
                            env=environment, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    noise, labels = parity_inputs("cdcgan")
    expected = reference_images(run_dir, "cdcgan", noise, labels)
    for artifact in ("onnx", "h5"):
        images = backend_for(tmp_path / "e", artifact).run(noise, labels)
        assert np.abs(images - expected).max() <= TOLERANCES[artifact]


def test_the_full_integer_file_is_calibrated_with_every_label_equally_often():
    """A conditional generator's calibration rows spread the labels evenly: each class as often as
    any other, up to the one row that the row count leaves over."""
    variant = VARIANTS["cdcgan"]
    rows = list(tflite_writer.calibration_rows(variant)())
    labels = np.concatenate([row["label"] for row in rows])
    counts = np.bincount(labels, minlength=variant.num_classes)
    assert len(rows) == spec.TFLITE_CALIBRATION_ROWS and len(counts) == variant.num_classes
    assert counts.min() > 0 and counts.max() - counts.min() <= 1, counts.tolist()


def test_an_mnist_export_describes_itself_as_mnist_in_tflite_and_onnx(tiny_data_dir, tmp_path):
    from fashiongan.model.train import TrainConfig, train

    config = TrainConfig(variant="dense", dataset="mnist", batch_size=8, steps_per_epoch=1,
                         data_dir=str(tiny_data_dir), out=str(tmp_path / "run"))  # fmt: skip
    out = exporter.export(train(config, verbose=0), tmp_path / "export", ("tflite", "onnx"), ("none",))
    names = list(spec.get_dataset("mnist").class_names)
    assert names != list(spec.get_dataset(spec.DEFAULT_DATASET).class_names)
    props = {entry.key: entry.value for entry in onnx.load(out / spec.ARTIFACT_FORMATS["onnx"].path).metadata_props}
    assert props["dataset"] == "mnist" and json.loads(props["class_names"]) == names
    model, metadata = read_tflite(out / spec.tflite_artifact("none").path)
    description = json.loads(metadata[b"fashiongan"])
    assert description["dataset"] == "mnist" and json.loads(description["class_names"]) == names
    assert "of mnist images" in model.Description().decode()


# Runs files.replace_folder(NEW, TARGET) and is killed (SIGKILL) right after its first rename.
KILLED_MID_SWAP = """
import os, signal, sys
from pathlib import Path
from fashiongan import files

rename = os.replace
def rename_then_die(source, destination):
    rename(source, destination)
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = rename_then_die
files.replace_folder(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_an_export_killed_between_its_renames_is_put_back_by_the_next_export(exports, tmp_path, monkeypatch):
    """A process killed after setting the earlier export aside, before moving the new one in,
    leaves it on disk under its (now dead) pid; the next export puts it back first, so even
    that export failing leaves the earlier one in place."""
    import signal
    import subprocess
    import sys

    run_dir, export_dir = exports["dense"]
    out = shutil.copytree(export_dir, tmp_path / "out")
    files = lambda folder: {str(p.relative_to(folder)): sha256_file(p) for p in folder.rglob("*") if p.is_file()}  # noqa: E731
    earlier = files(out)
    new = tmp_path / "new"
    new.mkdir()
    killed = subprocess.Popen([sys.executable, "-c", KILLED_MID_SWAP, str(new), str(out)], stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    _, stderr = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, stderr[-2000:]
    assert not out.exists() and new.is_dir()  # the new folder never moved in
    aside = tmp_path / f".out.previous-{killed.pid}"
    assert aside.is_dir(), sorted(path.name for path in tmp_path.iterdir())
    assert files(aside) == earlier  # the earlier export is still on disk, under the dead pid

    def broken_onnx(*args, **kwargs):
        raise exporter.ExportError("simulated converter crash")

    monkeypatch.setitem(exporter.WRITERS, "onnx", broken_onnx)
    with pytest.raises(exporter.ExportError, match="simulated"):
        exporter.export(run_dir, out, ("onnx",))
    assert files(out) == earlier
    assert not aside.exists()


def test_a_savedmodel_file_changed_in_place_fails_verification(exports, tmp_path):
    """One byte of the variables flipped, the size unchanged: the folder's checksums catch it."""
    _, export_dir = exports["dense"]
    copy = shutil.copytree(export_dir, tmp_path / "copy")
    record = read_manifest(copy)["artifacts"]["savedmodel"]
    verify_artifact(copy, record)
    (variables,) = (copy / record["path"] / "variables").glob("variables.data-*")
    size = variables.stat().st_size
    with open(variables, "r+b") as handle:
        handle.seek(size // 2)
        byte = handle.read(1)[0]
        handle.seek(size // 2)
        handle.write(bytes([byte ^ 0xFF]))
    assert variables.stat().st_size == size
    with pytest.raises(ManifestError, match="checksum does not match"):
        verify_artifact(copy, record)


def test_onnx_weights_float16_halves_the_file_within_its_tolerance(exports, tmp_path):
    """`--onnx-weights float16`: the manifest says so, the file is about half the float32 one,
    and its images stay within spec.ONNX_FLOAT16_TOLERANCE of Keras."""
    run_dir, export_dir = exports["cdcgan"]
    out = exporter.export(run_dir, tmp_path / "half", ("onnx",), onnx_weights="float16")
    half, full = read_manifest(out)["artifacts"]["onnx"], read_manifest(export_dir)["artifacts"]["onnx"]
    assert half["weights"] == "float16" and full["weights"] == "float32"
    assert half["bytes"] < 0.6 * full["bytes"]
    noise, labels = parity_inputs("cdcgan")
    images = backend_for(out, "onnx").run(noise, labels)
    difference = np.abs(images - reference_images(run_dir, "cdcgan", noise, labels)).max()
    assert difference <= spec.ONNX_FLOAT16_TOLERANCE
    with pytest.raises(exporter.ExportError, match="unknown ONNX weights bfloat16; choose from float32, float16"):
        exporter.export(run_dir, tmp_path / "bad", ("onnx",), onnx_weights="bfloat16")

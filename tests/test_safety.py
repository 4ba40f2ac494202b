"""Hostile and unlucky input: no file runs code, nothing the user wrote is lost, a second or
killed run does no harm, and a full or read-only disk is one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashiongan import files, inference
from fashiongan.export import exporter
from fashiongan.inference.backends import BackendError
from fashiongan.inference.manifest import ManifestError, describe_artifact
from fashiongan.inference.sampler import SamplerError

ROOT = Path(__file__).resolve().parents[1]


def fashiongan(*args, cwd=None, timeout=300):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "fashiongan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=environment, timeout=timeout)  # fmt: skip


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fashiongan") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def evil_h5(path: Path, marker: Path) -> Path:
    """A Keras 2 generator whose Lambda layer runs a shell command when the model is loaded."""
    import tf_keras

    noise = tf_keras.Input((100,), name="noise")
    x = tf_keras.layers.Dense(784)(noise)
    x = tf_keras.layers.Lambda(lambda t, m=str(marker): (__import__("os").system(f"touch {m}"), t)[1])(x)
    images = tf_keras.layers.Reshape((28, 28, 1), name="images")(x)
    tf_keras.Model(noise, images).save(path, save_format="h5")
    marker.unlink(missing_ok=True)  # building it ran the lambda once
    return path


@pytest.mark.slow
def test_an_h5_file_that_would_run_code_is_refused_everywhere(exports, tiny_data_dir, tmp_path):
    marker = tmp_path / "code-ran"
    evil = evil_h5(tmp_path / "evil.h5", marker)
    with pytest.raises(BackendError, match=r"refusing to load a \.h5 model with class_name 'Lambda'"):
        inference.load(evil)
    assert "class_name 'Lambda'" in one_error_line(fashiongan("sample", evil, "--out", tmp_path / "g.png"))
    evaluated = fashiongan("evaluate", evil, "--n", "8", "--data-dir", tiny_data_dir)
    assert "refusing to load" in one_error_line(evaluated)
    # listed, with a matching checksum, in an export folder's manifest
    _, export_dir = exports["dense"]
    folder = Path(shutil.copytree(export_dir, tmp_path / "export"))
    shutil.copy(evil, folder / "generator.h5")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifacts"]["h5"] = describe_artifact(folder, "generator.h5")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackendError, match="refusing to load"):
        inference.load(folder, "h5")
    assert not marker.exists()
    assert not (tmp_path / "g.png").exists()


@pytest.mark.slow
def test_an_h5_with_a_serialised_function_anywhere_in_its_config_is_refused(exports, tmp_path):
    import h5py

    _, export_dir = exports["dense"]
    path = Path(shutil.copy(export_dir / "generator.h5", tmp_path / "lambda-activation.h5"))
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
        dense["config"]["activation"] = {"class_name": "__lambda__", "config": {"code": "", "defaults": None}}
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(BackendError, match=r"refusing to load a \.h5 model with activation"):
        inference.load(path)
    assert inference.load(export_dir / "generator.h5").sample(1).shape == (1, 28, 28)  # the real one loads


@pytest.mark.slow
def test_a_bare_savedmodel_opens_only_when_trusted(exports, tmp_path):
    _, export_dir = exports["dense"]
    bare = Path(shutil.copytree(export_dir / "saved_model" / "1", tmp_path / "bare"))
    with pytest.raises(BackendError, match=r"runs whatever its graph does .*; open it only if you trust it"):
        inference.load(bare)
    assert "--trust-savedmodel" in one_error_line(fashiongan("sample", bare, "--out", tmp_path / "g.png"))
    trusted = inference.load(bare, trust_savedmodel=True).sample(2, seed=1)
    in_export = inference.load(export_dir, "savedmodel", trust_savedmodel=True).sample(2, seed=1)
    np.testing.assert_array_equal(trusted, in_export)
    assert fashiongan("sample", bare, "--trust-savedmodel", "--n", "2", "--out", tmp_path / "g.png").returncode == 0


@pytest.mark.slow
def test_export_replaces_only_an_earlier_export(exports, tmp_path):
    run, _ = exports["dense"]
    before = sorted(path.name for path in run.iterdir())
    for out in (run, run / "inside", run.parent):
        with pytest.raises(exporter.ExportError, match="holds or lies inside the source"):
            exporter.export(run, out, ("onnx",))
    assert sorted(path.name for path in run.iterdir()) == before
    unrelated = tmp_path / "my-files"
    unrelated.mkdir()
    (unrelated / "thesis.txt").write_text("years of work")
    line = one_error_line(fashiongan("export", run, "--out", unrelated, "--formats", "onnx"))
    assert "not a fashiongan export" in line and (unrelated / "thesis.txt").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (exporter.export(run, empty, ("onnx",)) / "generator.onnx").is_file()
    assert (exporter.export(run, empty, ("tflite",)) / "generator.tflite").is_file()  # an export is replaced
    assert not (empty / "generator.onnx").exists()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.slow
def test_a_killed_exports_leftovers_are_cleaned_and_a_set_aside_export_is_restored(exports, tmp_path):
    run, export_dir = exports["dense"]
    out = tmp_path / "export"
    pid = _dead_pid()
    half_built = tmp_path / f".export.building-{pid}-x1y2"
    (half_built / "export").mkdir(parents=True)
    set_aside = Path(shutil.copytree(export_dir, tmp_path / f".export.previous-{pid}"))
    # killed between the two renames: the earlier export comes back
    files.clean_leftovers(out, restorable=exporter.is_export)
    assert not half_built.exists() and not set_aside.exists()
    assert inference.load(out).sample(1).shape == (1, 28, 28)
    shutil.copytree(export_dir, set_aside)
    exporter.export(run, out, ("onnx",))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]


def test_malformed_manifests_are_one_error(tmp_path):
    good = {"format_version": 1, "latent_dim": 100, "conditional": False,
            "artifacts": {"onnx": {"path": "generator.onnx", "bytes": 1, "sha256": "0" * 64}}}  # fmt: skip
    for change, message in (
        ({"artifacts": ["generator.onnx"]}, "artifacts must be an object"),
        ({"artifacts": {"onnx": {"path": "generator.onnx", "sha256": "0" * 64}}}, "needs bytes and sha256"),
        ({"artifacts": {"onnx": {"path": "../../etc/passwd", "bytes": 1, "sha256": ""}}}, "leaves the export folder"),
        ({"class_names": 5}, "class_names must be a list"),
        ({"latent_dim": "100"}, "latent_dim must be a positive integer"),
        ({"artifacts": {"onnx": {"path": "generator.onnx", "files": {}}}}, "needs bytes and sha256"),
    ):
        (tmp_path / "manifest.json").write_text(json.dumps({**good, **change}))
        with pytest.raises(ManifestError, match=message):
            inference.load(tmp_path)
        assert message in one_error_line(fashiongan("sample", tmp_path, "--out", tmp_path / "g.png"))


def test_a_second_train_on_one_folder_is_refused_and_a_killed_ones_lock_is_not(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    hold_lock = (
        "import sys, time; from pathlib import Path; from fashiongan.model.run_folder import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold_lock, str(run)], stdout=subprocess.PIPE, text=True)
    common = ("--variant", "dense", "--batch-size", "8", "--steps-per-epoch", "1", "--data-dir", tiny_data_dir)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_error_line(fashiongan("train", "--out", run, *common))
        assert f"is in use by another fashiongan train (pid {holder.pid})" in line
        assert not (run / "config.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".lock").exists()  # left by the killed process; the kernel dropped its lock
    assert fashiongan("train", "--out", run, *common, "--quiet").returncode == 0
    assert (run / "generator.keras").is_file()


def _train_on_tmpfs(options: str, data_dir: Path, mount_point: Path):
    """`fashiongan train` into a tmpfs mounted with `options` in a mount namespace of its own
    (util-linux unshare): a real full or read-only disk, no root needed outside it."""
    mount_point.mkdir()
    script = (f"mount -t tmpfs -o {options} tmpfs {mount_point} || exit 99\n"
              f"{sys.executable} -m fashiongan train --variant dense --batch-size 8 --steps-per-epoch 2 --epochs 2 "
              f"--data-dir {data_dir} --out {mount_point}/run --quiet\n"
              f"status=$?; ls -aR {mount_point}; exit $status")  # fmt: skip
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=environment,
                          timeout=300)  # fmt: skip


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path):
    """A 60 MB tmpfs holds one 41 MB dense checkpoint, not two."""
    result = _train_on_tmpfs("size=60m", tiny_data_dir, tmp_path / "full")
    if result.returncode == 99:
        pytest.fail(f"this machine cannot mount a tmpfs in a user namespace: {result.stderr}")
    line = one_error_line(result)
    assert "No space left on device" in line
    listing = result.stdout
    assert "epoch-0001" in listing and "state.json" in listing and ".building-" not in listing


@pytest.mark.slow
def test_a_read_only_out_is_one_line(tiny_data_dir, tmp_path):
    result = _train_on_tmpfs("size=8m,ro", tiny_data_dir, tmp_path / "ro")
    assert "Read-only file system" in one_error_line(result)


def test_a_text_file_named_keras_is_named_for_what_it_is(tmp_path):
    fake = tmp_path / "notes.keras"
    fake.write_text("not a model")
    assert "a .keras file is a zip archive; this one is not" in one_error_line(
        fashiongan("sample", fake, "--out", tmp_path / "g.png")
    )


def test_train_classifier_refuses_a_file_as_out_before_training(tiny_data_dir, tmp_path):
    (tmp_path / "file").write_text("")
    result = fashiongan("train-classifier", "--out", tmp_path / "file", "--data-dir", tiny_data_dir, "--epochs", "50")
    assert "is a file, not a folder for classifier versions" in one_error_line(result)
    assert "Epoch" not in result.stdout  # refused before the first epoch, not after the last


def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """One HTTP request exactly as written: no client-side normalisation of `..` or escapes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1]), response


def test_the_demo_server_serves_nothing_outside_its_folders(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    server = subprocess.Popen([sys.executable, "-m", "fashiongan", "demo", "--port", "0"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = int(server.stdout.readline().split("http://127.0.0.1:", 1)[1].split("/")[0])
        assert _raw_get(port, "/model/fashion_mnist/manifest.json")[0] == 200
        for target in ("/model/manifest.json", "/model/nothing/manifest.json", "/model/fashion_mnist/",
                       "/model/fashion_mnist/../../../../../etc/hostname", "/model/fashion_mnist/..%2f..%2fserver.py",
                       "/model/../../../../../../etc/hostname", "/model/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hostname",
                       "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/model/..%2f..%2f..%2f..%2fetc%2fpasswd",
                       f"/model/{'..%2f' * 12}{str(secret).lstrip('/')}", "/vendor/", "/model/", "/server.py",
                       "/model/generator.onnx%00.json", "/%00"):  # fmt: skip
            status, body = _raw_get(port, target)
            assert status == 404 and b"private" not in body and b"root:" not in body, target
    finally:
        server.terminate()
        stderr = server.communicate(timeout=10)[1]
    assert "Traceback" not in stderr


def _onnx_model(path: Path, input_name: str, input_shape: list, output_shape: list) -> Path:
    """A one-node ONNX graph (Identity or Reshape) with the given input and output."""
    import onnx
    from onnx import TensorProto, helper

    source = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, output_shape)
    if output_shape == input_shape:
        nodes, initializers = [helper.make_node("Identity", [input_name], ["images"])], []
    else:
        shape = helper.make_tensor("shape", TensorProto.INT64, [len(output_shape)], [-1, *output_shape[1:]])
        nodes, initializers = [helper.make_node("Reshape", [input_name, "shape"], ["images"])], [shape]
    graph = helper.make_graph(nodes, "hostile", [source], [images], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def test_a_lone_onnx_file_that_is_not_a_generator_is_one_error(tmp_path):
    cases = (
        (_onnx_model(tmp_path / "no-noise.onnx", "x", ["n", 784], ["n", 28, 28, 1]), "no `noise` input"),
        (_onnx_model(tmp_path / "symbolic.onnx", "noise", ["n", "width"], ["n", "width"]), "noise width 'width'"),
        (_onnx_model(tmp_path / "huge.onnx", "noise", ["n", 10**9], ["n", 10**9]), "not a size from 1 to 65536"),
        (_onnx_model(tmp_path / "flat.onnx", "noise", ["n", 784], ["n", 784]), "not N×28×28×1"),
    )
    for path, message in cases:
        with pytest.raises(inference.FashionGANError, match=message):
            inference.load(path).sample(2)
        assert message in one_error_line(fashiongan("sample", path, "--out", tmp_path / "g.png"))
    assert not (tmp_path / "g.png").exists()


@pytest.mark.slow
def test_export_of_a_run_with_a_corrupt_checkpoint_state_is_one_error(exports, tmp_path):
    from fashiongan.errors import FashionGANError
    from fashiongan.model.run_folder import latest_checkpoint

    run, _ = exports["dense"]
    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (latest_checkpoint(copy) / "state.json").write_text("[1]")
    with pytest.raises(FashionGANError, match="not a fashiongan checkpoint state"):
        exporter.export(copy, tmp_path / "e", ("onnx",))
    assert not (tmp_path / "e").exists()


def test_leftover_cleaning_reads_the_export_name_literally(tmp_path):
    pid = _dead_pid()
    other = tmp_path / f".a.previous-{pid}"
    other.mkdir()
    (tmp_path / "?").mkdir()
    files.clean_leftovers(tmp_path / "?", restorable=exporter.is_export)  # "?" is a glob pattern matching "a"
    assert other.is_dir()


def _evil_savedmodel(folder: Path, marker: Path) -> Path:
    """A SavedModel whose serving_default writes `marker` each time it runs, then returns images."""
    import tensorflow as tf

    class Evil(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 100], tf.float32, name="noise")])
        def serve(self, noise):
            tf.io.write_file(str(marker), "the graph ran")
            return {"images": tf.zeros([tf.shape(noise)[0], 28, 28, 1])}

    module = Evil()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return folder


@pytest.mark.slow
def test_a_manifest_never_makes_a_savedmodel_trusted(exports, tiny_data_dir, tmp_path):
    """A SavedModel with a manifest written for it (anyone can write one) opens only with
    --trust-savedmodel: its graph ran code of its own when a manifest stood in for trust."""
    _, export_dir = exports["dense"]
    folder = tmp_path / "export"
    folder.mkdir()
    marker = tmp_path / "graph-ran"
    _evil_savedmodel(folder / "saved_model" / "1", marker)
    manifest = json.loads((export_dir / "manifest.json").read_text())
    manifest["artifacts"] = {"savedmodel": describe_artifact(folder, "saved_model/1")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for call in ((), ("--format", "savedmodel")):
        assert "--trust-savedmodel" in one_error_line(fashiongan("sample", folder, *call, "--out", tmp_path / "g.png"))
        evaluated = fashiongan("evaluate", folder, *call, "--n", "8", "--data-dir", tiny_data_dir)
        assert "--trust-savedmodel" in one_error_line(evaluated)
    for format in (None, "savedmodel"):
        with pytest.raises(BackendError, match="no manifest or checksum can vouch for it"):
            inference.load(folder, format)
    assert not marker.exists() and not (tmp_path / "g.png").exists()
    inference.load(folder, trust_savedmodel=True).sample(1)  # the user's word opens it, and the graph runs
    assert marker.read_text() == "the graph ran"


def test_outputs_follow_links_stream_to_devices_and_fifos_and_refuse_other_special_files(tmp_path):
    import socket
    import stat
    import threading

    model = tmp_path / "generator.onnx"
    shutil.copy(ROOT / "pretrained" / "fashion_mnist" / "generator.onnx", model)
    link = tmp_path / "link.png"
    link.symlink_to("target.png")
    assert fashiongan("sample", model, "--n", "2", "--out", link).returncode == 0
    assert link.is_symlink() and (tmp_path / "target.png").read_bytes().startswith(b"\x89PNG")
    assert fashiongan("sample", model, "--n", "2", "--out", "/dev/null", "--npy", "/dev/null").returncode == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert fashiongan("sample", model, "--n", "2", "--out", tmp_path / "g.png", "--npy", fifo).returncode == 0
    reader.join(timeout=60)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and np.load(__import__("io").BytesIO(received[0])).shape == (2, 28, 28)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        for flag in ("--out", "--npy"):
            line = one_error_line(fashiongan("sample", model, "--n", "2", flag, tmp_path / "sock",
                                             "--out" if flag == "--npy" else "--npy", tmp_path / "other"))  # fmt: skip
            assert "sock: is a socket; give a file name to write" in line
        assert stat.S_ISSOCK((tmp_path / "sock").stat().st_mode) and not (tmp_path / "other").exists()
    assert "/dev/full: No space left on device" in one_error_line(fashiongan("sample", model, "--npy", "/dev/full"))


def test_sample_never_writes_over_the_model_it_reads(tmp_path):
    folder = Path(shutil.copytree(ROOT / "pretrained" / "fashion_mnist", tmp_path / "x"))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    (tmp_path / "alias.png").symlink_to(folder / "generator.onnx")
    cases = [(folder / "generator.onnx", folder / "generator.onnx"), (folder, folder / "manifest.json"),
             (folder, folder / "generator_dynamic_int8.tflite"), (folder, tmp_path / "alias.png")]  # fmt: skip
    for model, out in cases:
        for flag in ("--out", "--npy"):
            line = one_error_line(fashiongan("sample", model, "--n", "2", flag, out))
            assert "is a file of the model being sampled; choose another output" in line
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    with pytest.raises(SamplerError, match="is a file of the model being sampled"):
        inference.load(folder).check_output(folder / "manifest.json")


@pytest.mark.slow
def test_export_replaces_a_folder_only_if_everything_in_it_is_an_export(exports, tmp_path):
    run, export_dir = exports["dense"]
    forged = tmp_path / "my-files"
    forged.mkdir()
    (forged / "thesis.txt").write_text("years of work")
    (forged / "manifest.json").write_text(json.dumps({"format_version": 1, "artifacts": {}}))
    line = one_error_line(fashiongan("export", run, "--out", forged, "--formats", "onnx"))
    assert "replacing it would lose what no export wrote (thesis.txt)" in line
    earlier = Path(shutil.copytree(export_dir, tmp_path / "earlier"))
    (earlier / "NOTES.txt").write_text("mine")
    (earlier / "plots").mkdir()
    (earlier / "plots" / "a.png").write_text("")
    with open(earlier / "generator.onnx", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00")
    lost = r"\(NOTES.txt, generator.onnx \(changed since export\), plots/a.png\)"
    with pytest.raises(exporter.ExportError, match=lost):
        exporter.export(run, earlier, ("onnx",))
    assert (earlier / "NOTES.txt").read_text() == "mine" and (forged / "thesis.txt").is_file()


@pytest.mark.slow
def test_export_through_a_link_replaces_the_linked_export_and_keeps_the_link(exports, tmp_path):
    run, export_dir = exports["dense"]
    shutil.copytree(export_dir, tmp_path / "real")
    (tmp_path / "link").symlink_to("real")
    assert fashiongan("export", run, "--out", tmp_path / "link", "--formats", "onnx", "--quiet").returncode == 0
    assert (tmp_path / "link").is_symlink() and sorted(path.name for path in tmp_path.iterdir()) == ["link", "real"]
    assert sorted(path.name for path in (tmp_path / "real").iterdir()) == ["generator.onnx", "manifest.json"]


def test_a_leftover_name_that_is_a_link_is_left_alone(tmp_path):
    pid = _dead_pid()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / f".e.previous-{pid}").symlink_to("elsewhere")
    files.clean_leftovers(tmp_path / "e", restorable=exporter.is_export)
    assert (tmp_path / f".e.previous-{pid}").is_symlink() and (tmp_path / "elsewhere").is_dir()


@pytest.mark.slow
def test_a_diverging_run_writes_no_checkpoint_or_generator_and_takes_a_corrected_rerun(tiny_data_dir, tmp_path):
    from fashiongan.model.run_folder import TrainingError
    from fashiongan.model.train import TrainConfig, train

    config = TrainConfig(variant="dense", batch_size=8, max_steps=3, data_dir=str(tiny_data_dir),
                         out=str(tmp_path / "run"), g_learning_rate=1e30, d_learning_rate=1e30)  # fmt: skip
    with pytest.raises(TrainingError, match=r"non-finite weights at step 3 \(epoch 1\); lower the learning rates"):
        train(config, verbose=0)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "config.json").exists()
    assert not list((tmp_path / "run").rglob("*.png"))
    train(TrainConfig(variant="dense", batch_size=8, max_steps=1, data_dir=str(tiny_data_dir),
                      out=str(tmp_path / "run")), verbose=0)  # fmt: skip
    assert (tmp_path / "run" / "generator.keras").is_file()


@pytest.mark.slow
def test_export_refuses_a_generator_with_non_finite_weights(tmp_path):
    from fashiongan.model.variants import make_generator

    generator = make_generator("dense")
    weights = generator.get_weights()
    weights[0][0, 0] = np.nan
    generator.set_weights(weights)
    generator.save(tmp_path / "nan.keras")
    line = one_error_line(fashiongan("export", tmp_path / "nan.keras", "--variant", "dense", "--out", tmp_path / "e"))
    assert "the generator's weights hold NaN or infinite values" in line and not (tmp_path / "e").exists()


@pytest.mark.parametrize("learning_rate", [float("inf"), float("nan"), 0.0, -1e-4])
def test_learning_rates_must_be_positive_and_finite_in_the_library_too(learning_rate):
    from fashiongan.errors import FashionGANError
    from fashiongan.model.train import TrainConfig

    for field in ("g_learning_rate", "d_learning_rate"):
        with pytest.raises(FashionGANError, match=f"{field} must be positive and finite"):
            TrainConfig(variant="dense", **{field: learning_rate}).resolved()


STATE_EDITS = [("step_in_epoch", 99), ("epoch", 2**40), ("epoch", -1), ("step_in_epoch", -3), ("epoch", 999),
               ("step", 7)]  # fmt: skip


@pytest.fixture(scope="module")
def stopped_run(tiny_data_dir, tmp_path_factory) -> Path:
    """A dense run stopped 3 steps into its first 8-step epoch."""
    run = tmp_path_factory.mktemp("stopped") / "run"
    result = fashiongan("train", "--variant", "dense", "--batch-size", "8", "--max-steps", "3", "--epochs", "2",
                        "--data-dir", tiny_data_dir, "--out", run, "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run


@pytest.mark.slow
@pytest.mark.parametrize("key, value", STATE_EDITS, ids=[f"{key}={value}" for key, value in STATE_EDITS])
def test_a_checkpoint_position_that_its_weights_deny_is_refused(stopped_run, tmp_path, key, value):
    from fashiongan.model.run_folder import latest_checkpoint

    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    state_path = latest_checkpoint(run) / "state.json"
    state_path.write_text(json.dumps({**json.loads(state_path.read_text()), key: value}))
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file() and path.name != ".lock"}
    result = fashiongan("train", "--resume", "--out", run, "--max-steps", "6", "--quiet", timeout=120)
    assert "is not where its weights stopped (step 3, 8 steps an epoch)" in one_error_line(result)
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file() and path.name != ".lock"} == before


@pytest.mark.slow
def test_a_config_edited_to_another_variant_is_one_line(stopped_run, tmp_path):
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "variant": "dcgan"}))
    line = one_error_line(fashiongan("train", "--resume", "--out", run, "--max-steps", "6"))
    assert "holds other networks than this run's variant (was its config.json edited?)" in line

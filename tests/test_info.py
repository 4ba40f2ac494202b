"""`fashiongan info`: what a pretrained name, an export folder or a lone ONNX or TFLite file is,
read from its manifest or metadata without TensorFlow; junk gets one line and status 2."""

import json
import shutil
import subprocess
import sys

import pytest

from fashiongan import cli, pretrained, spec
from fashiongan.inference.info import InfoError, describe, format_info

MNIST = pretrained.generator_dir("mnist")


def test_a_pretrained_name_gives_its_contract_artifacts_and_figures():
    manifest = json.loads((MNIST / spec.MANIFEST_FILE).read_text())
    facts = describe("mnist")
    assert facts["kind"] == "pretrained" and facts["variant"] == manifest["variant"]
    assert facts["class_names"] == [str(digit) for digit in range(10)] and facts["latent_dim"] == 100
    assert [tensor["name"] for tensor in facts["inputs"]] == ["noise", "label"]
    assert facts["outputs"][0]["shape"] == [None, 28, 28, 1] and facts["output_range"] == [0.0, 1.0]
    for record in facts["artifacts"].values():
        assert record["bytes"] == (MNIST / record["path"]).stat().st_size and record["checksum"] == "ok"
    assert "2.17.0" in facts["artifacts"]["tflite_dynamic"]["runtime"]
    assert facts["artifacts"]["onnx"]["weights"] == "float16"
    assert set(facts["evaluation"]) == set(facts["artifacts"])
    assert all(0 < figures["frechet_distance"] < 100 for figures in facts["evaluation"].values())


def test_an_export_folder_says_which_files_changed_since_export(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(MNIST, folder)
    with (folder / "generator.onnx").open("r+b") as file:
        file.seek(-1, 2)
        file.write(b"\x00" if file.read(1) != b"\x00" else b"\x01")
    facts = describe(folder)
    assert facts["kind"] == "export"
    assert facts["artifacts"]["onnx"]["checksum"] == "changed"
    assert facts["artifacts"]["tflite_dynamic"]["checksum"] == "ok"
    assert "onnx: generator.onnx" in format_info(facts) and "checksum changed" in format_info(facts)


@pytest.mark.parametrize(("file", "batch"), [("generator.onnx", None), ("generator_dynamic_int8.tflite", 1)])
def test_a_lone_file_says_what_its_own_metadata_says(tmp_path, file, batch):
    lone = tmp_path / file
    shutil.copyfile(MNIST / file, lone)  # no manifest beside it
    facts = describe(lone)
    assert facts["variant"] == "csngan" and facts["dataset"] == "mnist"
    assert facts["class_names"] == [str(digit) for digit in range(10)] and facts["latent_dim"] == 100
    assert facts["inputs"] == [
        {"name": "noise", "dtype": "float32", "shape": [batch, 100]},
        {"name": "label", "dtype": "int32", "shape": [batch]},
    ]
    assert facts["outputs"] == [{"name": "images", "dtype": "float32", "shape": [batch, 28, 28, 1]}]
    assert facts["output_range"] == [0.0, 1.0]
    if file.endswith(".tflite"):
        assert facts["min_runtime_version"] == "2.17.0"


def test_info_imports_no_tensorflow_and_prints_json():
    code = (
        "import sys, json; from fashiongan import cli; cli.main(['info', '--json', 'fashion_mnist']);"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *printed, imported = result.stdout.strip().splitlines()
    assert json.loads("\n".join(printed))["class_names"][0] == "t-shirt" and json.loads(imported) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "no such file or folder, and not a pretrained generator"),
        (lambda tmp: tmp, "no manifest"),
        (lambda tmp: _written(tmp / "notes.txt", b"hello"), "info reads an export folder"),
        (lambda tmp: _written(tmp / "junk.onnx", b"junk"), "not a loadable ONNX model"),
        (lambda tmp: _written(tmp / "junk.tflite", b"junk"), "not a loadable TFLite generator"),
        (lambda tmp: _written(tmp / "manifest.json", b"{").parent, "unreadable manifest"),
    ],
)
def test_junk_gets_one_line_and_status_2(tmp_path, capsys, make, message):
    target = make(tmp_path)
    assert cli.main(["info", str(target)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("fashiongan: error: ")


def test_an_evaluation_file_without_figures_is_refused(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(MNIST, folder)
    (folder / "evaluation.json").write_text('{"formats": {"onnx": {}}}')
    with pytest.raises(InfoError, match="not an evaluation file"):
        describe(folder)


def _written(path, data: bytes):
    path.write_bytes(data)
    return path

"""One spec: every table that reads a name covers exactly the spec's rows, the CLI builds its
choices and help from it at run time, and the light imports stay TensorFlow-free."""

import dataclasses
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import copy_checkout

from fashiongan import cli, spec
from fashiongan.errors import FashionGANError

ROOT = Path(__file__).resolve().parents[1]


def test_writers_backends_builders_and_losses_cover_the_spec():
    from fashiongan.export.exporter import WRITERS
    from fashiongan.inference.backends import BACKENDS
    from fashiongan.model.losses import LOSSES

    assert tuple(WRITERS) == spec.EXPORT_FORMATS
    assert set(BACKENDS) == set(spec.RUNTIMES)
    assert set(LOSSES) == set(spec.LOSSES)


def test_artifact_rows_derive_every_other_artifact_table():
    assert tuple(artifact.name for artifact in spec.ARTIFACTS) == spec.ARTIFACT_NAMES
    assert sorted(spec.PREFERRED_ARTIFACTS) == sorted(spec.ARTIFACT_NAMES)
    assert sorted(artifact.preference for artifact in spec.ARTIFACTS) == list(range(len(spec.ARTIFACTS)))
    # TensorFlow-free runtimes come first when an export folder is sampled without a format
    tensorflow_free = [a.name for a in spec.ARTIFACTS if a.module in ("onnxruntime", "ai_edge_litert")]
    assert set(spec.PREFERRED_ARTIFACTS[: len(tensorflow_free)]) == set(tensorflow_free)
    assert spec.TFLITE_QUANTS == ("none", "float16", "dynamic", "int8")
    assert [spec.tflite_artifact(quant).path for quant in spec.TFLITE_QUANTS] == [
        "generator.tflite",
        "generator_float16.tflite",
        "generator_dynamic_int8.tflite",
        "generator_int8.tflite",
    ]
    assert [a.name for a in spec.ARTIFACTS if a.integer_io] == ["tflite_int8"]
    assert spec.SUFFIX_FORMATS == {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx", ".h5": "h5"}
    assert len({artifact.path for artifact in spec.ARTIFACTS}) == len(spec.ARTIFACTS)


def test_unknown_names_are_the_projects_errors():
    with pytest.raises(FashionGANError, match=r"unknown dataset 'cifar10': not a built-in \(fashion_mnist, mnist\)"):
        spec.get_dataset("cifar10")
    with pytest.raises(FashionGANError, match="unknown variant 'wgan'"):
        spec.get_variant("wgan")


def _choices(parser, command: str, flag: str):
    subparsers = next(action for action in parser._actions if action.dest == "command")
    sub = subparsers.choices[command]
    action = next(action for action in sub._actions if flag in action.option_strings or action.dest == flag)
    return action.choices, " ".join(sub.format_help().split())


def test_a_new_spec_row_appears_in_the_cli_without_touching_it(monkeypatch, capsys):
    tiny = dataclasses.replace(spec.VARIANTS["dense"], name="tiny", description="a row added by this test")
    monkeypatch.setitem(spec.VARIANTS, "tiny", tiny)
    monkeypatch.setitem(spec.DATASETS, "kmnist", dataclasses.replace(spec.DATASETS["mnist"], name="kmnist"))
    monkeypatch.setitem(spec.LOSSES, "relativistic", "a loss added by this test")
    monkeypatch.setattr(spec, "EXPORT_FORMATS", (*spec.EXPORT_FORMATS, "tfjs"))
    monkeypatch.setattr(spec, "ARTIFACT_NAMES", (*spec.ARTIFACT_NAMES, "tfjs"))
    monkeypatch.setattr(spec, "STRATEGIES", (*spec.STRATEGIES, "tpu"))
    parser = cli.build_parser()

    variants, train_help = _choices(parser, "train", "--variant")
    assert (
        "tiny" in variants and "a built-in (fashion_mnist, mnist, kmnist)" in _choices(parser, "train", "--dataset")[1]
    )
    assert "relativistic" in _choices(parser, "train", "--loss")[0] and "a loss added by this test" in train_help
    assert "tpu" in _choices(parser, "train", "--strategy")[0]
    for command, flag in (("evaluate", "--dataset"), ("data", "dataset"), ("train-classifier", "--dataset")):
        assert "a built-in (fashion_mnist, mnist, kmnist)" in _choices(parser, command, flag)[1]
    assert "tiny" in _choices(parser, "export", "--variant")[0]
    _, export_help = _choices(parser, "export", "--formats")
    assert "tfjs" in export_help
    assert cli.parse_choices("onnx,tfjs", spec.EXPORT_FORMATS, "--formats") == ("onnx", "tfjs")
    _, sample_help = _choices(parser, "sample", "--format")
    assert "tfjs" in sample_help
    args = parser.parse_args(
        ["train", "--variant", "tiny", "--dataset", "kmnist", "--loss", "relativistic", "--out", "x"]
    )
    assert (args.variant, args.dataset, args.loss) == ("tiny", "kmnist", "relativistic")
    cli.run_variants(args)
    assert capsys.readouterr().out.splitlines()[-1].split() == ["tiny", "a", "row", "added", "by", "this", "test"]


def test_light_imports_leave_tensorflow_and_keras_out():
    code = (
        "import sys, fashiongan, fashiongan.spec, fashiongan.inference, fashiongan.cli, fashiongan.pretrained;"
        "from fashiongan.demo import server;"
        "fashiongan.cli.build_parser();"
        "print(sorted(name for name in ('tensorflow', 'keras', 'tf_keras', 'tf2onnx') if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_package_is_reachable_as_fashiongan_only():
    import fashiongan

    assert fashiongan.inference.load is not None and fashiongan.spec is spec
    with pytest.raises(AttributeError):
        fashiongan.not_a_subpackage  # noqa: B018
    for name in ("model", "export", "inference", "demo", "evaluation"):
        result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd="/")
        assert result.returncode != 0, f"`import {name}` works: a generic top-level name is installed"


@pytest.mark.slow
def test_built_wheel_holds_one_top_level_package_and_the_package_data(tmp_path):
    source = copy_checkout(tmp_path / "source")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("fashiongan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"fashiongan", wheel.name.split("-py3")[0] + ".dist-info"}
    for required in (
        "fashiongan/cli.py",
        "fashiongan/spec.py",
        "fashiongan/model/train.py",
        "fashiongan/evaluation/metrics.py",
        "fashiongan/inference/sampler.py",
        "fashiongan/export/exporter.py",
        "fashiongan/demo/app.js",
        "fashiongan/pretrained/fashion_mnist/manifest.json",
        "fashiongan/pretrained/fashion_mnist/generator.onnx",
        "fashiongan/pretrained/mnist/manifest.json",
        "fashiongan/pretrained/mnist/generator_dynamic_int8.tflite",
        "fashiongan/pretrained/classifiers/mnist/v1/classifier.json",
        "fashiongan/pretrained/classifiers/fashion_mnist/v1/classifier.onnx",
    ):
        assert required in names, required
    assert not any("__pycache__" in name or name.startswith("fashiongan/tests") for name in names)
    assert not any(name.endswith("classifier.keras") for name in names)  # the evaluator runs the ONNX twin
    assert wheel.stat().st_size < 40_000_000

"""The sampler: parity across formats, seeds, labels, interpolation, and refusals."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashiongan import inference, pretrained, spec
from fashiongan.inference.backends import Backend
from fashiongan.inference.manifest import ManifestError
from fashiongan.inference.sampler import Sampler, SamplerError

ROOT = Path(__file__).resolve().parents[1]
FLOAT32_ARTIFACTS = ("onnx", "tflite", "keras", "savedmodel", "h5")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense", "fashiongan", "dcgan", "cdcgan", "sngan", "csngan"])
def test_sample_is_the_same_from_every_format(exports, name):
    _, export_dir = exports[name]
    reference = inference.load(export_dir, "keras").sample(9, seed=5)
    assert reference.shape == (9, 28, 28) and reference.dtype == np.uint8
    for artifact in FLOAT32_ARTIFACTS:  # the test's own export: its SavedModel is trusted
        images = inference.load(export_dir, artifact, trust_savedmodel=True).sample(9, seed=5)
        assert np.abs(images.astype(int) - reference.astype(int)).max() <= 1, artifact
    for artifact, grey_levels in (("tflite_float16", 1), ("tflite_dynamic", 26)):  # 2e-3 and 1e-1 of 255
        images = inference.load(export_dir, artifact).sample(9, seed=5)
        assert np.abs(images.astype(int) - reference.astype(int)).max() <= grey_levels, artifact


@pytest.mark.slow
@pytest.mark.parametrize("artifact", ["onnx", "tflite"])
def test_conditional_export_samples_by_class_name(exports, artifact):
    _, export_dir = exports["cdcgan"]
    sampler = inference.load(export_dir, artifact)
    assert sampler.conditional and sampler.class_names[7] == "sneaker"
    sneakers = sampler.sample(4, seed=2, labels=["Sneaker"])
    np.testing.assert_array_equal(sneakers, sampler.sample(4, seed=2, labels=[7]))
    assert not np.array_equal(sneakers, sampler.sample(4, seed=2, labels=["bag"]))
    spread = sampler.labels(20)
    assert np.bincount(spread, minlength=10).tolist() == [2] * 10
    with pytest.raises(SamplerError, match="unknown class name 'hat'"):
        sampler.sample(2, labels=["hat"])
    with pytest.raises(SamplerError, match="out of range 0-9"):
        sampler.sample(2, labels=[10])


@pytest.mark.slow
def test_seeds_folder_and_single_file_loading(exports):
    _, export_dir = exports["dcgan"]
    sampler = inference.load(export_dir)
    assert sampler.format == "onnx"  # TensorFlow-free formats come first
    first, again, other = sampler.sample(4, seed=1), sampler.sample(4, seed=1), sampler.sample(4, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_array_equal(inference.load(export_dir / "generator.onnx").sample(4, seed=1), first)
    tflite = inference.load(export_dir / "generator.tflite")
    assert np.abs(tflite.sample(4, seed=1).astype(int) - first.astype(int)).max() <= 1


@pytest.mark.slow
def test_model_file_without_manifest_reads_its_signature(exports, tmp_path):
    _, export_dir = exports["fashiongan"]
    for name in ("generator.onnx", "generator.tflite"):
        shutil.copy(export_dir / name, tmp_path / name)
        sampler = inference.load(tmp_path / name)
        assert sampler.manifest is None and sampler.latent_dim == 128 and not sampler.conditional
        assert sampler.sample(2).shape == (2, 28, 28)


@pytest.mark.slow
def test_interpolation_ends_at_the_two_seeds(exports):
    _, export_dir = exports["dense"]
    sampler = inference.load(export_dir)
    path = sampler.interpolate(3, 8, steps=6)
    assert path.shape == (6, 28, 28)
    np.testing.assert_array_equal(path[0], sampler.sample(1, seed=3)[0])
    assert np.abs(path[-1].astype(int) - sampler.sample(1, seed=8)[0].astype(int)).max() <= 1
    assert not np.array_equal(path[2], path[3])


@pytest.mark.slow
def test_refusals(exports, tmp_path):
    _, export_dir = exports["dense"]
    copy = Path(shutil.copytree(export_dir, tmp_path / "copy"))
    sampler = inference.load(copy)
    with pytest.raises(SamplerError, match="positive integer"):
        sampler.sample(0)
    with pytest.raises(SamplerError, match="unconditional"):
        sampler.sample(2, labels=["sneaker"])
    with pytest.raises(SamplerError, match="unknown format"):
        inference.load(copy, "pt")
    with pytest.raises(SamplerError, match="no such export folder"):
        inference.load(tmp_path / "missing")
    with pytest.raises(SamplerError, match="unknown model format"):
        inference.load(copy / "manifest.json")
    # a checksum mismatch is refused, not loaded
    onnx_file = copy / "generator.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-64])
    with pytest.raises(ManifestError, match="checksum does not match"):
        inference.load(copy, "onnx")
    # a truncated file without a manifest fails in its runtime, with a clear error
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(onnx_file.read_bytes())
    with pytest.raises(inference.FashionGANError, match="not a loadable ONNX model"):
        inference.load(lone)
    truncated_tflite = tmp_path / "lone.tflite"
    truncated_tflite.write_bytes((copy / "generator.tflite").read_bytes()[:1000])
    with pytest.raises(inference.FashionGANError, match="not a loadable TFLite generator"):
        inference.load(truncated_tflite)
    # a manifest that disagrees with its model
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["latent_dim"] = 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="latent size 64"):
        inference.load(copy, "tflite")


class FixedBackend(Backend):
    """A conditional generator whose image is its label, to check label handling alone."""

    format = "test"
    input_names = ("noise", "label")

    @property
    def latent_dim(self):
        return 4

    def __init__(self, path):
        super().__init__(path)
        self.calls: list[int] = []  # rows of each runtime call

    def _run(self, noise, labels):
        self.calls.append(len(noise))
        return np.broadcast_to((labels / 10.0)[:, None, None, None], (len(noise), 28, 28, 1)).astype(np.float32)


def fixed_sampler() -> Sampler:
    return Sampler(
        FixedBackend(Path("fixed")),
        {"latent_dim": 4, "conditional": True, "class_names": ["t-shirt", "trouser", "sneaker"]},
    )


def test_sampling_runs_the_model_in_fixed_batches_with_the_noise_of_one_draw():
    from fashiongan.inference.sampler import BATCH_ROWS

    sampler = fixed_sampler()
    rows = 2 * BATCH_ROWS + 37
    noise = sampler.noise(rows, seed=9)
    np.testing.assert_array_equal(noise, np.random.default_rng(9).standard_normal((rows, 4)).astype(np.float32))
    labels = np.arange(rows) % 3
    images = sampler.generate(noise, labels)
    assert images.shape == (rows, 28, 28, 1) and sampler.backend.calls == [BATCH_ROWS, BATCH_ROWS, 37]
    np.testing.assert_array_equal(images[:, 0, 0, 0], (labels / 10.0).astype(np.float32))
    sampler.backend.calls.clear()
    sampled = sampler.sample(rows, seed=9, labels=labels)
    assert max(sampler.backend.calls) == BATCH_ROWS and sum(sampler.backend.calls) == rows
    np.testing.assert_array_equal(sampled, inference.to_uint8(images))


BAD_CALLS = [
    (lambda s: inference.load(None), "a model is a path or a pretrained name, got None"),
    (lambda s: inference.load(123), "a model is a path or a pretrained name, got 123"),
    (lambda s: inference.load("fashion_mnist", ["onnx"]), r"unknown format \['onnx'\]"),
    (lambda s: inference.load("fashion_mnist", trust_savedmodel="yes"), "trust_savedmodel must be True or False"),
    (lambda s: s.sample(True), "positive integer up to 100,000, got True"),
    (lambda s: s.sample(2.0), "positive integer up to 100,000, got 2.0"),
    (lambda s: s.sample(2, seed=-1), "a seed must be a non-negative integer"),
    (lambda s: s.sample(1, labels=[1.7]), "a whole class index, got 1.7"),
    (lambda s: s.sample(1, labels=float("nan")), "a whole class index, got nan"),
    (lambda s: s.sample(2, labels=np.zeros((2, 2))), r"a 1-D list of classes, got shape \(2, 2\)"),
    (lambda s: s.sample(1, labels={"a": 1}), "a whole class index, got {'a': 1}"),
    (lambda s: s.sample(1, labels=[[1]]), r"a whole class index, got \[1\]"),
    (lambda s: s.sample(1, labels=True), "a whole class index, got True"),
    (lambda s: s.sample(1, labels=b"1"), "a whole class index, got b'1'"),
    (lambda s: s.sample(1, labels="1.5"), "unknown class name '1.5'; choose from t-shirt, trouser, sneaker"),
    (lambda s: s.generate(np.full((2, 4), np.nan)), "noise holds NaN or infinite values"),
    (lambda s: s.generate(np.full((2, 4), np.inf)), "noise holds NaN or infinite values"),
    (lambda s: s.generate({"noise": 1}), "noise must be an N×4 array of numbers, got dict"),
    (lambda s: s.generate(np.array([["a"] * 4])), "noise must hold numbers, got an array of <U1"),
    (lambda s: s.generate(np.zeros((2, 3))), r"noise must be N×4 with N from 1 to 500,000, got \(2, 3\)"),
    (lambda s: s.generate(np.broadcast_to(np.float32(0), (500_001, 4))), r"N from 1 to 500,000, got \(500001, 4\)"),
]  # fmt: skip


@pytest.mark.parametrize("call, message", BAD_CALLS, ids=[message[:40] for _, message in BAD_CALLS])
def test_the_api_refuses_what_cannot_be_a_model_count_label_or_noise(call, message):
    with pytest.raises(SamplerError, match=message):
        call(fixed_sampler())


def test_whole_float_labels_are_indices():
    assert fixed_sampler().labels(2, [1.0, np.float32(2)]).tolist() == [1, 2]


def test_labels_by_name_index_and_default_spread():
    sampler = fixed_sampler()
    assert sampler.labels(5).tolist() == [0, 1, 2, 0, 1]
    assert sampler.labels(3, ["Sneaker"]).tolist() == [2, 2, 2]
    assert sampler.labels(2, [1, "t-shirt"]).tolist() == [1, 0]
    assert sampler.labels(1, ["2"]).tolist() == [2]
    images = sampler.sample(3, labels=["trouser"])
    assert (images == round(255 * 0.1)).all()
    with pytest.raises(SamplerError, match="unknown class name 'hat'; choose from t-shirt, trouser, sneaker"):
        sampler.labels(1, ["hat"])
    with pytest.raises(SamplerError, match="label 3 is out of range 0-2"):
        sampler.labels(1, [3])
    with pytest.raises(SamplerError, match="2 labels given for 3 images"):
        sampler.labels(3, [0, 1])


def _sample_cli(*args, python=sys.executable, env=None):
    return subprocess.run(
        [python, "-m", "fashiongan", "sample", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.mark.slow
def test_sample_cli_writes_grid_and_npy_and_refuses_bad_input(exports, tmp_path):
    from PIL import Image

    _, export_dir = exports["dcgan"]
    result = _sample_cli(
        str(export_dir),
        "--n",
        "6",
        "--nrow",
        "3",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "grid.png"),
        "--npy",
        str(tmp_path / "images.npy"),
    )
    assert result.returncode == 0, result.stderr
    images = np.load(tmp_path / "images.npy")
    np.testing.assert_array_equal(images, inference.load(export_dir).sample(6, seed=4))
    assert Image.open(tmp_path / "grid.png").size == ((3 * 30 + 2) * 2, (2 * 30 + 2) * 2)
    for args, message in (
        (["--n", "0"], "--n: must be a positive integer"),
        (["--label", "sneaker"], "unconditional generator"),
        (["--format", "pt"], "unknown format 'pt'"),
    ):
        failed = _sample_cli(str(export_dir), *args, "--out", str(tmp_path / "x.png"))
        assert failed.returncode == 2 and "Traceback" not in failed.stderr
        assert message in failed.stderr.strip().splitlines()[-1]
    missing = _sample_cli(str(tmp_path / "nothing"), "--out", str(tmp_path / "x.png"))
    assert missing.returncode == 2 and "no such export folder" in missing.stderr
    assert not (tmp_path / "x.png").exists()


PRETRAINED_NAMES = ("fashion_mnist", "mnist")  # one per dataset, the README's grids and figures


def test_every_dataset_has_a_pretrained_generator():
    assert set(pretrained.generator_names()) == set(PRETRAINED_NAMES) == set(spec.DATASETS)


@pytest.mark.parametrize("name", PRETRAINED_NAMES)
def test_pretrained_generator_verifies_and_is_small(name):
    from fashiongan.inference.manifest import read_manifest, verify_artifact
    from fashiongan.spec import VARIANTS

    folder = pretrained.generator_dir(name)
    manifest = read_manifest(folder)
    assert set(manifest["artifacts"]) == {"onnx", "tflite_dynamic"}
    for record in manifest["artifacts"].values():
        verify_artifact(folder, record)
    assert sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) < 15_000_000
    variant = VARIANTS[manifest["variant"]]
    assert not variant.classic and manifest["dataset"] == name and manifest["conditional"]
    assert manifest["class_names"] == list(spec.DATASETS[name].class_names)
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["variant"] == manifest["variant"] and evaluation["dataset"] == name
    assert set(evaluation["formats"]) == {"onnx", "tflite_dynamic"}
    onnx_figures = evaluation["formats"]["onnx"]["generator"]
    floor = evaluation["formats"]["onnx"]["real_floor"]
    assert floor["frechet_distance"] < onnx_figures["frechet_distance"] and 0 < onnx_figures["recall"] <= 1


@pytest.mark.parametrize("name", PRETRAINED_NAMES)
def test_pretrained_generator_loads_by_name_and_samples_by_class(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder of that name here: the package's generator
    onnx_sampler = inference.load(name, "onnx")
    tflite_sampler = inference.load(name, "tflite_dynamic")
    assert onnx_sampler.class_names == list(spec.DATASETS[name].class_names)
    labels = [onnx_sampler.class_names[1], onnx_sampler.class_names[7]]
    images = onnx_sampler.sample(2, seed=3, labels=labels)
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8 and images.std() > 10
    assert np.abs(tflite_sampler.sample(2, seed=3, labels=labels).astype(int) - images.astype(int)).mean() < 8
    assert not np.array_equal(images, onnx_sampler.sample(2, seed=3, labels=labels[::-1]))


def test_a_pretrained_file_that_fails_its_checksum_is_refused(tmp_path):
    folder = Path(shutil.copytree(pretrained.generator_dir("mnist"), tmp_path / "mnist"))
    onnx_file = folder / spec.ARTIFACT_FORMATS["onnx"].path
    onnx_file.write_bytes(onnx_file.read_bytes()[:-1] + b"\0")
    with pytest.raises(ManifestError, match="checksum"):
        inference.load(folder, "onnx")


def test_tflite_batch_is_fixed_at_one_and_more_rows_get_a_clear_error(exports):
    """The README's claim: a TFLite file's batch is fixed at export (resizing its input fails in
    the runtime); the sampler loops row by row, and a call LiteRT refuses names the batch."""
    from ai_edge_litert.interpreter import Interpreter

    from fashiongan.inference.backends import BackendError, TFLiteBackend

    _, export_dir = exports["dcgan"]
    path = export_dir / spec.ARTIFACT_FORMATS["tflite"].path
    interpreter = Interpreter(model_path=str(path))
    noise_input = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(noise_input["index"], [4, noise_input["shape"][1]])
    with pytest.raises(RuntimeError, match=r"failed to (reshape|prepare)"):
        interpreter.allocate_tensors()

    backend = TFLiteBackend(path)
    noise = np.random.default_rng(3).standard_normal((4, backend.latent_dim)).astype(np.float32)
    rows = np.concatenate([backend.run(noise[row : row + 1]) for row in range(4)])
    assert backend.batch_size == 1 and np.array_equal(backend.run(noise), rows)
    backend.batch_size = 4  # as if the file said 4: LiteRT refuses the 4-row call
    with pytest.raises(BackendError, match=r"its batch is fixed at export to 4 row\(s\) a call"):
        backend.run(noise)

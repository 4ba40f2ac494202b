"""The base install, as a user gets it: `pip install .` of this checkout into a fresh virtual
environment, with no TensorFlow and no Keras. One environment serves every scenario below."""

import json
import subprocess
import urllib.request
import venv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_checkout

from fashiongan import inference

pytestmark = pytest.mark.slow
BASE_INSTALL_LIMIT_BYTES = 300e6  # site-packages of `pip install .`, pretrained generators included


@dataclass(frozen=True)
class BaseInstall:
    environment: Path
    source: Path  # the checkout it was installed from
    scratch: Path  # a working folder that holds no package

    @property
    def python(self) -> str:
        return str(self.environment / "bin" / "python")

    def run(self, *args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        """`fashiongan ARGS...` of this install, in the scratch folder unless told otherwise."""
        command = [str(self.environment / "bin" / "fashiongan"), *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd or self.scratch, timeout=timeout)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> BaseInstall:
    root = tmp_path_factory.mktemp("base-install")
    installed = BaseInstall(root / "venv", copy_checkout(root / "source"), root / "scratch")
    installed.scratch.mkdir()
    venv.create(installed.environment, with_pip=True)
    done = subprocess.run(
        [installed.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(installed.source)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return installed


def test_the_base_install_fits_in_300_mb_without_tensorflow(base):
    installed = sum(file.stat().st_size for file in (base.environment / "lib").rglob("*") if file.is_file())
    assert installed < BASE_INSTALL_LIMIT_BYTES, f"the base install takes {installed / 1e6:.0f} MB"
    probe = "import importlib.util as u; print([u.find_spec(n) for n in ('tensorflow', 'keras')])"
    no_tf = subprocess.run([base.python, "-c", probe], capture_output=True, text=True)
    assert no_tf.stdout.strip() == "[None, None]"


@pytest.mark.parametrize("artifact", ["onnx", "tflite"])
def test_the_base_install_samples_onnx_and_tflite_as_keras_does(base, exports, artifact):
    _, export_dir = exports["dcgan"]
    npy = base.scratch / f"{artifact}.npy"
    png = base.scratch / f"{artifact}.png"
    result = base.run("sample", str(export_dir), "--format", artifact, "--n", "4", "--seed", "2",
                      "--out", str(png), "--npy", str(npy))  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = inference.load(export_dir, "keras").sample(4, seed=2)
    assert np.abs(np.load(npy).astype(int) - expected.astype(int)).max() <= 1


def test_the_base_install_samples_the_pretrained_generator_by_name(base):
    """From a folder that holds no such path: the generator is package data."""
    from PIL import Image

    grid = base.scratch / "pretrained.png"
    shipped = base.run("sample", "fashion_mnist", "--n", "64", "--out", str(grid))
    assert shipped.returncode == 0, shipped.stderr
    assert "(onnx)" in shipped.stdout and Image.open(grid).size == ((8 * 30 + 2) * 2, (8 * 30 + 2) * 2)
    assert str(base.environment.resolve()) in shipped.stdout  # read from the installed package


def test_the_base_install_serves_the_demo_with_its_webassembly(base):
    demo = subprocess.Popen([str(base.environment / "bin" / "fashiongan"), "demo", "--port", "0"],
                            cwd=base.scratch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = demo.stdout.readline().split(" at ", 1)[1].split()[0]
        manifest = json.loads(urllib.request.urlopen(f"{url}model/fashion_mnist/manifest.json", timeout=30).read())
        assert manifest["dataset"] == "fashion_mnist"
        wasm = urllib.request.urlopen(f"{url}vendor/litertjs-core/wasm/litert_wasm_compat_internal.wasm", timeout=30)
        assert wasm.headers["Content-Type"] == "application/wasm" and wasm.read(4) == b"\0asm"
        assert b"app.js" in urllib.request.urlopen(url, timeout=30).read()
    finally:
        demo.terminate()
        demo.wait(timeout=10)


def test_the_base_install_names_the_extra_that_train_and_export_need(base, exports):
    _, export_dir = exports["dcgan"]
    listed = base.run("variants", timeout=120)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 6  # `variants` needs nothing more
    expected = {
        "train": "fashiongan train needs TensorFlow or JAX, which this install lacks: "
        "pip install 'fashiongan[train]' or 'fashiongan[jax]'",
        "export": "fashiongan export needs tensorflow, which this install lacks: pip install 'fashiongan[train]'",
    }
    for command in (["train", "--out", "run"], ["export", str(export_dir), "--out", "again"]):
        needs = base.run(*command, timeout=120)
        assert needs.returncode == 2
        assert needs.stderr.strip().splitlines() == [f"fashiongan: error: {expected[command[0]]}"]
    assert not (base.scratch / "run").exists() and not (base.scratch / "again").exists()


def test_the_base_install_evaluates_with_the_shipped_onnx_classifier(base, tiny_data_dir):
    evaluate = base.run("evaluate", "fashion_mnist", "--n", "8", "--data-dir", str(tiny_data_dir))
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert "Fréchet distance" in evaluate.stdout and "real floor" in evaluate.stdout


def test_sampling_in_the_base_install_imports_neither_tensorflow_nor_keras(base, exports):
    _, export_dir = exports["dcgan"]
    probe = (
        "import sys; from fashiongan import inference; inference.load(sys.argv[1]).sample(2); "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    check = subprocess.run([base.python, "-c", probe, str(export_dir)],
                           capture_output=True, text=True, cwd=base.scratch, timeout=300)  # fmt: skip
    assert check.returncode == 0 and check.stdout.strip() == "False", check.stderr


def test_a_regular_install_imports_from_the_repository_root(base):
    """Run from the checkout's root, whose fashiongan/ folder comes first on sys.path: the
    package there is complete (its subpackages are links to the top-level folders)."""
    probe = (
        "import fashiongan.inference, fashiongan.model.data, fashiongan.pretrained as p; "
        "print(fashiongan.inference.__file__); print(sorted(p.generator_names()))"
    )
    result = subprocess.run([base.python, "-c", probe], capture_output=True, text=True, cwd=base.source, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    where, names = result.stdout.strip().splitlines()
    assert Path(where).is_relative_to(base.source) and names == "['fashion_mnist', 'mnist']"

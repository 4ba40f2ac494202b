"""The command line: one-line errors with exit status 2, and a tiny training run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fashiongan(*args, env=None, timeout=300):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fashiongan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=timeout,
    )


def error_line(result) -> str:
    """The one line the CLI printed about the error (TensorFlow's own start-up logging aside)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("fashiongan")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--variant", "wgan"],
            "invalid choice: 'wgan' (choose from 'dense', 'fashiongan', 'dcgan', 'cdcgan', 'sngan', 'csngan')",
        ),
        (["--dataset", "cifar10"], "unknown dataset 'cifar10': not a built-in (fashion_mnist, mnist)"),
        (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
        (["--epochs", "-3"], "--epochs: must be a positive integer, got -3"),
        (["--batch-size", "many"], "--batch-size: 'many' is not an integer"),
        (["--g-lr", "0"], "--g-lr: must be a positive finite number, got 0"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args, expected, tmp_path):
    line = error_line(fashiongan("train", "--out", str(tmp_path / "run"), *args))
    assert expected in line
    assert not (tmp_path / "run").exists()


def test_missing_data_gives_one_line(tmp_path):
    result = fashiongan("train", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "nowhere"))
    assert "--data-dir" in error_line(result) and "not a directory" in error_line(result)
    assert not (tmp_path / "run").exists()


def test_corrupt_data_gives_one_line_naming_the_file(tiny_data_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in tiny_data_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    images = broken / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: len(images.read_bytes()) // 2])
    line = error_line(fashiongan("train", "--out", str(tmp_path / "run"), "--data-dir", str(broken)))
    assert "train-images-idx3-ubyte.gz" in line


def test_train_and_resume_from_the_command_line(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    common = [
        "--variant",
        "dense",
        "--batch-size",
        "8",
        "--steps-per-epoch",
        "2",
        "--data-dir",
        str(tiny_data_dir),
        "--out",
        str(run),
        "--quiet",
    ]
    first = fashiongan("train", "--epochs", "1", *common)
    assert first.returncode == 0, first.stderr
    assert f"sample grids: {run / 'samples'}" in first.stdout
    resumed = fashiongan("train", "--resume", "--epochs", "2", "--out", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and (run / "samples" / "epoch-0002.png").is_file()
    again = fashiongan("train", "--epochs", "1", *common)
    assert "already holds a run; pass --resume" in error_line(again)


def test_resume_without_max_steps_goes_on_to_the_epochs(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    common = ["--variant", "dense", "--batch-size", "8", "--steps-per-epoch", "2", "--data-dir", str(tiny_data_dir)]
    first = fashiongan("train", "--epochs", "2", "--max-steps", "1", "--out", str(run), "--quiet", *common)
    assert first.returncode == 0, first.stderr
    resumed = fashiongan("train", "--resume", "--out", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert [row.split(",")[1] for row in (run / "history.csv").read_text().splitlines()[1:]] == ["1", "2", "4"]


def test_export_errors_give_one_line(tmp_path):
    missing = error_line(fashiongan("export", str(tmp_path / "no-run"), "--out", str(tmp_path / "e")))
    assert "no such run directory" in missing
    bad_format = error_line(fashiongan("export", str(tmp_path), "--out", str(tmp_path / "e"), "--formats", "onnx,pt"))
    assert "--formats: unknown pt; choose from keras, savedmodel, tflite, onnx, h5" in bad_format
    bad_quant = error_line(fashiongan("export", str(tmp_path), "--out", str(tmp_path / "e"), "--tflite-quant", "int4"))
    assert "--tflite-quant: unknown int4" in bad_quant
    assert not (tmp_path / "e").exists()

"""Sampling speed of every exported format against the tutorials' Keras path, model.predict.

    python benchmarks/sample_speed.py EXPORT_DIR [EXPORT_DIR ...] [--calls 200] [--no-install-size]

For each export folder and format it prints the batch-1 latency (median over --calls calls),
the throughput at batch 256, and the speed-up over `model.predict` on the same .keras
generator. Then the cold start of `fashiongan sample` in a fresh process for ONNX, TFLite and
the TensorFlow path (.keras), and the size of a base install (no extras) in a fresh venv.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, export_folder, manifest_with, opens, run_script, script_parser

from fashiongan.cli import add_trust_flag, positive_int

ROOT = Path(__file__).resolve().parents[1]
COLD_START_FORMATS = ("onnx", "tflite", "keras")  # timed on the first export


def median_seconds(function, calls: int) -> float:
    function()  # warm-up
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def throughput(function, batch: int, repeats: int = 3) -> float:
    function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return batch * repeats / (time.perf_counter() - started)


def cold_start(command: list[str], runs: int = 3) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def site_packages_megabytes(environment: Path) -> float:
    site = next(environment.glob("lib/python*/site-packages"))
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("exports", nargs="+", type=export_folder)
    parser.add_argument("--calls", type=positive_int, default=200, help="batch-1 calls timed per format")
    parser.add_argument("--no-install-size", action="store_true")
    add_trust_flag(parser)
    add_docs_option(parser, "sample_speed")
    args = parser.parse_args()
    report = Report("sample_speed", args.docs)
    manifest_with(args.exports[0], COLD_START_FORMATS, "the cold starts")
    for export_dir in args.exports:
        manifest_with(export_dir, ("keras",), "the model.predict baseline")

    import keras
    import numpy as np

    from fashiongan import inference

    report.print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    report.print(
        "| variant | format | batch-1 latency (ms) | x faster than predict | images/s at batch 256 | x predict |"
    )
    report.print("| --- | --- | ---: | ---: | ---: | ---: |")
    for export_dir in args.exports:
        manifest = inference.manifest.read_manifest(export_dir)
        model = keras.saving.load_model(export_dir / "generator.keras", safe_mode=True)
        rng = np.random.default_rng(0)
        one = rng.standard_normal((1, manifest["latent_dim"])).astype(np.float32)
        many = rng.standard_normal((256, manifest["latent_dim"])).astype(np.float32)
        predict_one, predict_many = one, many
        if manifest["conditional"]:  # the sampler spreads labels evenly; the baseline gets the same
            classes = len(manifest["class_names"])
            predict_one = [one, np.zeros(1, np.int32)]
            predict_many = [many, np.arange(256, dtype=np.int32) % classes]
        predict_latency = median_seconds(
            lambda model=model, batch=predict_one: model.predict(batch, verbose=0), max(20, args.calls // 10)
        )
        predict_rate = throughput(lambda model=model, batch=predict_many: model.predict(batch, verbose=0), 256)
        baseline = f"{predict_latency * 1e3:.2f} | 1.0 | {predict_rate:,.0f} | 1.0"
        report.print(f"| {manifest['variant']} | keras `predict` (baseline) | {baseline} |")
        for artifact in filter(lambda name: opens(name, args), manifest["artifacts"]):
            sampler = inference.load(export_dir, artifact, trust_savedmodel=args.trust_savedmodel)
            latency = median_seconds(lambda sampler=sampler, noise=one: sampler.generate(noise), args.calls)
            rate = throughput(lambda sampler=sampler, noise=many: sampler.generate(noise), 256)
            report.print(
                f"| {manifest['variant']} | {artifact} | {latency * 1e3:.2f} | {predict_latency / latency:.1f} "
                f"| {rate:,.0f} | {rate / predict_rate:.1f} |"
            )
    report.print()
    fashiongan = [sys.executable, "-m", "fashiongan", "sample", str(args.exports[0].resolve()), "--n", "16"]
    with tempfile.TemporaryDirectory() as scratch:
        for artifact in COLD_START_FORMATS:
            seconds = cold_start(fashiongan + ["--format", artifact, "--out", f"{scratch}/{artifact}.png"])
            report.print(
                f"cold start, fashiongan sample --format {artifact} (fresh process to PNG written): {seconds:.2f} s"
            )
        if not args.no_install_size:
            environment = Path(scratch) / "base"
            venv.create(environment, with_pip=True)
            subprocess.run([environment / "bin" / "python", "-m", "pip", "install", "-q", str(ROOT)], check=True)
            report.print(
                f"base install (no extras), site-packages: {site_packages_megabytes(environment):.0f} MB "
                f"(pip and setuptools included)"
            )
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)

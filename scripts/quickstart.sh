#!/usr/bin/env bash
# Quick start, from the repository root of a fresh Debian machine with Python 3.11: real
# Fashion-MNIST from Debian, a virtual environment in .venv/ with the [train] extra, 10 minutes of
# training, an export to every format, one 8x8 grid per format in samples/ and the evaluator's
# figures for the export. Run it again after `rm -rf runs/quickstart` (training refuses a folder
# that holds a run; `fashiongan train --out runs/quickstart --resume --time-budget 10` goes on).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n==> %s\n' "$*"; }

step "1/6 Fashion-MNIST from Debian's dataset-fashion-mnist package"
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
fi

step "2/6 Virtual environment .venv/ with fashiongan and its [train] extra"
python3 -m venv .venv
.venv/bin/python -m pip install -e ".[train]"

step "3/6 Train csngan for 10 minutes into runs/quickstart"
.venv/bin/fashiongan train --variant csngan --ema-warmup on --g-lr 2e-4 --d-lr 8e-4 --batch-size 16 --epochs 30 --time-budget 10 --out runs/quickstart

step "4/6 Export every format, every TFLite quantization, into exports/quickstart"
.venv/bin/fashiongan export runs/quickstart --out exports/quickstart --tflite-quant none,float16,dynamic,int8

step "5/6 One 8x8 grid per format into samples/"
for format in onnx tflite tflite_float16 tflite_dynamic tflite_int8 keras savedmodel h5; do
    .venv/bin/fashiongan sample exports/quickstart --format "$format" --trust-savedmodel --n 64 --nrow 8 --out "samples/quickstart-$format.png"
done

step "6/6 Evaluate the export (its ONNX file) against the real test images"
.venv/bin/fashiongan evaluate exports/quickstart --quiet

#!/usr/bin/env bash
# Install everything the tests need from scratch, then lint, format check, type check and run the
# whole suite: Debian's Fashion-MNIST and Chromium, a virtual environment in .venv/ with the
# [train,test,jax] extras (and PyTorch's CPU wheel where this machine has it), and the older
# stack in .venv-older/. From the repository root; `.ci/run` runs this on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n==> %s\n' "$*"; }

step "1/8 Debian packages: real Fashion-MNIST, and Chromium for the browser-demo tests"
if [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -x /usr/bin/chromium ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist chromium
fi

step "2/8 Virtual environment .venv/ with the [train,test,jax] extras"
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[train,test,jax]"

step "3/8 PyTorch's CPU wheel, where it lies on this machine's disk"
# PyTorch as one more Keras backend for the generator tests, where its CPU wheel is on this
# machine's disk (a download would be a CUDA build of several GB); the tests skip it otherwise.
if ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
fi

step "4/8 The older stack for the consumer tests (TensorFlow 2.15, OpenCV 4) in .venv-older/"
bash tests/workers/older_stack.sh

step "5/8 Lint: ruff check"
.venv/bin/ruff check .

step "6/8 Format: ruff format --check"
.venv/bin/ruff format --check .

step "7/8 Types: .ci/typecheck (mypy)"
.ci/typecheck

step "8/8 Tests: pytest on two workers"
.venv/bin/python -m pytest -q -n 2  # two workers (pytest-xdist), one a core

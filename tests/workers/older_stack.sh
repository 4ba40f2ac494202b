#!/usr/bin/env bash
# The older stack the consumer tests open exported files with (tests/test_older_stack.py):
# TensorFlow 2.15 (its built-in Keras 2, tf.lite and SavedModel loader) and OpenCV 4's DNN module,
# in their own venv, .venv-older/, beside the project's. About 1.4 GB; a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# TensorFlow 2.15 has wheels for Python 3.9 to 3.11 only.
PYTHON=$(command -v python3.11 || command -v python3)
if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 11))'; then
    echo "tests/workers/older_stack.sh: TensorFlow 2.15 needs Python 3.9 to 3.11; $PYTHON is $("$PYTHON" -V)" >&2
    exit 2
fi
if [ ! -e .venv-older/complete ]; then
    rm -rf .venv-older
    "$PYTHON" -m venv .venv-older
    .venv-older/bin/python -m pip install -q --disable-pip-version-check \
        "tensorflow-cpu==2.15.1" "opencv-python-headless==4.11.0.86" "numpy<2"
    touch .venv-older/complete
fi

#!/usr/bin/env bash
# One command for a GPU lease: a bare H100 or H200 with Python 3.12, JAX (CUDA), PyTorch and
# onnxruntime, no TensorFlow, no network. It runs the GPU tests, the training-speed benchmark
# (JAX against the PyTorch reference, eager and torch.compile) and a timed quality run on real
# Fashion-MNIST, evaluates that run with the ONNX classifier, and writes everything to $OUT.
#
#   bash benchmarks/gpu_run.sh --prepare     here, once: .gpu/ gets the wheels that machine
#                                            lacks (keras, namex, optree) and Fashion-MNIST,
#                                            recompressed with xz (lossless, 4 MB smaller)
#   bash benchmarks/gpu_run.sh [PART...]     there, with .gpu/ sent along beside the checkout;
#                                            PART is tests, speed or quality (default: all
#                                            three). One command there may run 10 minutes:
#                                            give each part a call of its own, back to back.
#
# What travels (the tracked tree, untracked files git does not ignore, and .gpu/) must stay at or
# under 56 MiB, 8 MiB below the machine's 64 MiB a call; tests/test_gpu.py sums it.
# Settings (environment): GPU_BUNDLE (.gpu: where --prepare writes and the run reads),
# QUALITY_VARIANT (csngan), QUALITY_EPOCHS (50), QUALITY_BATCH (256),
# QUALITY_SECONDS (480: the quality run's limit, inside the 10-minute command),
# SPEED_BATCHES (256 4096), PYTHON (python3), OUT (gpu-out). GPU_RUN_SMOKE=1 makes every
# part tiny: the CPU dry run that proves the script before a lease.
# $OUT gets: figures.md (devices, versions, speed tables, a timed log), tests.log, train.log,
# quality.json, history.csv, grid.png, generator.keras.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
bundle=${GPU_BUNDLE:-$root/.gpu}
wheels=(keras==3.15.1 namex==0.1.0 optree==0.20.0)

if [[ "${1:-}" == "--prepare" ]]; then
    set -e
    rm -rf "$bundle/wheels" "$bundle/data"  # nothing of an earlier --prepare may travel too
    mkdir -p "$bundle/wheels" "$bundle/data"
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$bundle/wheels" "${wheels[@]}"
    "$python" - "$bundle/data" /usr/share/datasets/fashion-mnist/*-ubyte.gz <<'EOF'
import gzip, lzma, pathlib, sys
for source in map(pathlib.Path, sys.argv[2:]):
    target = pathlib.Path(sys.argv[1], source.stem + ".xz")
    target.with_suffix(".tmp").write_bytes(lzma.compress(gzip.decompress(source.read_bytes()), preset=6))
    target.with_suffix(".tmp").replace(target)
EOF
    du -sh "$bundle" && echo "send .gpu/ along (with the checkout it must stay at or under 56 MiB)"
    exit 0
fi

parts=("$@")
[[ ${#parts[@]} == 0 ]] && parts=(tests speed quality)
for part in "${parts[@]}"; do
    [[ $part =~ ^(tests|speed|quality)$ ]] || { echo "gpu_run.sh: unknown part $part (tests, speed, quality)" >&2; exit 2; }
done
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
figures=$out/figures.md
smoke=${GPU_RUN_SMOKE:-0}
started=$SECONDS
log() { echo "[gpu_run $((SECONDS - started))s] $*" | tee -a "$figures"; }

# fashiongan without installing it: the checkout's package is complete in place (fashiongan/
# links to the top-level folders); the wheels that machine lacks are unpacked beside it
site=$(mktemp -d)
if ! "$python" -c "import importlib.util, sys; sys.exit(not all(map(importlib.util.find_spec, ('keras', 'namex', 'optree'))))"; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$bundle"/wheels/*.whl || exit 2
fi
export PYTHONPATH=$root:$site:$root/tests${PYTHONPATH:+:$PYTHONPATH}
export KERAS_BACKEND=jax FASHIONGAN_DATA_DIR=$bundle/data PYTHONUNBUFFERED=1
data=(--data-dir "$bundle/data")

{
    echo "# GPU run $(date -u +%FT%TZ)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    "$python" - <<'EOF'
import jax, keras, sys
try:
    import torch
    torch_line = f"torch {torch.__version__} (CUDA {torch.version.cuda})"
except ImportError:
    torch_line = "no torch"
print(f"- Python {sys.version.split()[0]}; jax {jax.__version__} on {jax.devices()}; keras {keras.__version__}; {torch_line}")
EOF
} >>"$figures" 2>&1

run_tests() {
log "GPU tests"
# the test process and its workers each open the GPU: none may take most of its memory up front
XLA_PYTHON_CLIENT_PREALLOCATE=false "$python" -m pytest -q -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" "$root/tests/test_jax_gpu.py" \
    >"$out/tests.log" 2>&1
log "tests: $(tail -1 "$out/tests.log")"
}

run_speed() {
log "training speed"
if [[ "$smoke" == 1 ]]; then
    "$python" "$root/benchmarks/train_speed.py" --sides jax,torch-eager,torch-compile --variants dcgan --batch-size 32 \
        --steps 2 --warmup 1 "${data[@]}" >>"$figures" 2>&1
else
    for batch in ${SPEED_BATCHES:-256 4096}; do
        steps=$((163840 / batch))  # 160k images a side
        "$python" "$root/benchmarks/train_speed.py" --sides jax,torch-eager,torch-compile --variants dcgan \
            --batch-size "$batch" --steps "$steps" --warmup 64 "${data[@]}" >>"$figures" 2>&1
        echo >>"$figures"
    done
    log "JAX float32 at batch 256, for the mixed-precision gain"
    "$python" "$root/benchmarks/train_speed.py" --sides jax --variants dcgan --batch-size 256 --steps 640 --warmup 64 \
        --mixed-precision off "${data[@]}" >>"$figures" 2>&1
fi
log "speed done"
}

run_quality() {
variant=${QUALITY_VARIANT:-csngan}
run=$(mktemp -d)/run
if [[ "$smoke" == 1 ]]; then
    quality=(--epochs 1 --steps-per-epoch 4 --batch-size 16)
    evaluate_n=64
else
    quality=(--epochs "${QUALITY_EPOCHS:-50}" --batch-size "${QUALITY_BATCH:-256}")
    evaluate_n=10000
fi
log "quality run: $variant ${quality[*]}"
train_started=$SECONDS
timeout "${QUALITY_SECONDS:-480}" "$python" -m fashiongan train --backend jax --variant "$variant" --out "$run" "${quality[@]}" "${data[@]}" \
    >"$out/train.log" 2>&1
log "train exit $? after $((SECONDS - train_started)) s: $(grep -m1 '^training' "$out/train.log")"
"$python" -m fashiongan evaluate "$run/generator.keras" --n "$evaluate_n" --out "$out/quality.json" "${data[@]}" \
    >>"$figures" 2>&1
log "evaluate exit $?"
cp "$run/history.csv" "$out/" 2>/dev/null
cp "$run/generator.keras" "$out/" 2>/dev/null
last_grid=$(ls "$run"/samples/epoch-*.png 2>/dev/null | tail -1)
[[ -n "$last_grid" ]] && cp "$last_grid" "$out/grid.png"
log "quality done"
}

for part in "${parts[@]}"; do
    case $part in
        tests) run_tests ;;
        speed) run_speed ;;
        quality) run_quality ;;
    esac
done

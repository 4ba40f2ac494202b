"""Peak memory of sampling: the largest `fashiongan sample` call the CLI allows, and
`Sampler.generate()` on a batch twice the CLI's limit, each in a fresh process (peak resident
set from the kernel's accounting of that process), beside a 64-image call for the floor.

    python benchmarks/sample_memory.py [--model fashion_mnist] [--n 100000] [--rows 200000]

The sampler runs its model BATCH_ROWS rows at a time into one preallocated result, so a call's
peak is the start-up floor plus its result (and, for `sample`, the grid and its PNG), whatever n.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import image_count, run_script, script_parser

from fashiongan.cli import path_text

GENERATE = (
    "import sys, numpy as np; from fashiongan import inference\n"
    "sampler = inference.load(sys.argv[1])\n"
    "noise = np.random.default_rng(0).standard_normal((int(sys.argv[2]), sampler.latent_dim)).astype(np.float32)\n"
    "images = sampler.generate(noise)\n"
    "print(images.shape, images.dtype, images.nbytes)"
)


def peak_megabytes(command: list[str]) -> tuple[float, float]:
    """(peak resident set in MB, wall seconds) of one child process, which must succeed."""
    started = datetime.datetime.now()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().strip()[-500:]}")
    return usage.ru_maxrss / 1024, (datetime.datetime.now() - started).total_seconds()


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--model", default="fashion_mnist", type=path_text, help="pretrained name or export folder")
    parser.add_argument("--n", type=image_count, default=100_000, help="images of the sample call (default: 100000)")
    parser.add_argument("--rows", type=image_count, default=200_000, help="noise rows for generate() (default: 200000)")
    args = parser.parse_args()
    from fashiongan.inference.sampler import BATCH_ROWS, MAX_IMAGES

    if args.n > MAX_IMAGES:
        parser.error(f"--n: the CLI samples at most {MAX_IMAGES:,} images")
    fashiongan = [sys.executable, "-m", "fashiongan", "sample", args.model, "--nrow", "400", "--scale", "1"]
    print(
        f"{datetime.date.today()}, {platform.machine()} with {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"rows per runtime call: {BATCH_ROWS}\n")
    print("| call | peak RSS (MB) | wall (s) |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for n in (64, args.n):
            megabytes, seconds = peak_megabytes(fashiongan + ["--n", str(n), "--out", f"{scratch}/grid.png"])
            print(
                f"| `fashiongan sample {args.model} --n {n} --nrow 400 --scale 1` | {megabytes:,.0f} | {seconds:.0f} |"
            )
    for rows in (64, args.rows):
        megabytes, seconds = peak_megabytes([sys.executable, "-c", GENERATE, args.model, str(rows)])
        result = rows * 28 * 28 * 4 / 1e6
        print(f"| `Sampler.generate()` on {rows:,} rows ({result:,.0f} MB of float32 images) "
              f"| {megabytes:,.0f} | {seconds:.0f} |")  # fmt: skip


if __name__ == "__main__":
    run_script(main, __file__)

"""benchmarks/gpu_run.sh reaches a GPU machine only if what travels fits: that machine receives
the tracked tree, the untracked files git does not ignore and the carried `.gpu/`, 64 MiB a call
at most. The project keeps 8 MiB of that free, for growth."""

import gzip
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import checkout_files

ROOT = Path(__file__).resolve().parents[1]
CARRY_LIMIT_BYTES = 56 << 20
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def tree_bytes(files: list[Path]) -> int:
    """What the files weigh as they travel: a link as a link, not what it points to."""
    return sum(path.lstat().st_size for path in files)


@pytest.mark.slow
def test_the_gpu_run_carries_the_real_data_losslessly_within_56_mib(tmp_path):
    if not DEBIAN_FASHION.is_dir():
        pytest.skip("no Debian dataset-fashion-mnist (CI installs it)")
    bundle = tmp_path / ".gpu"
    prepared = subprocess.run(
        ["bash", "benchmarks/gpu_run.sh", "--prepare"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "GPU_BUNDLE": str(bundle), "PYTHON": sys.executable},
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    wheels = sorted(path.name.split("-")[0] for path in (bundle / "wheels").iterdir())
    assert wheels == ["keras", "namex", "optree"]
    for source in DEBIAN_FASHION.glob("*-ubyte.gz"):  # every file, bit for bit
        carried = bundle / "data" / f"{source.stem}.xz"
        assert lzma.decompress(carried.read_bytes()) == gzip.decompress(source.read_bytes()), carried.name
    assert len(list((bundle / "data").iterdir())) == 4
    files = checkout_files(ROOT)
    bundle_bytes = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())
    largest = ", ".join(f"{path.relative_to(ROOT)} {path.stat().st_size / 2**20:.1f} MiB"
                        for path in sorted(files, key=lambda path: -path.stat().st_size)[:5])  # fmt: skip
    total = tree_bytes(files) + bundle_bytes
    assert total <= CARRY_LIMIT_BYTES, (
        f"{total / 2**20:.1f} MiB would travel ({tree_bytes(files) / 2**20:.1f} checkout, "
        f"{bundle_bytes / 2**20:.1f} .gpu); the largest files: {largest}"
    )


def test_the_travelling_tree_is_what_git_tracks_plus_unignored_files(tmp_path):
    """The sum the carry test relies on: tracked and untracked-unignored files count, ignored
    ones do not, and a link counts as a link."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "tracked.bin").write_bytes(bytes(1000))
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "big.bin").write_bytes(bytes(5000))
    subprocess.run(["git", "add", ".gitignore", "tracked.bin"], cwd=tmp_path, check=True)
    (tmp_path / "new.bin").write_bytes(bytes(300))
    (tmp_path / "link.bin").symlink_to(tmp_path / "ignored" / "big.bin")
    files = checkout_files(tmp_path)
    assert [path.name for path in files] == [".gitignore", "link.bin", "new.bin", "tracked.bin"]
    assert tree_bytes(files) == 1000 + 300 + len("ignored/\n") + len(str(tmp_path / "ignored" / "big.bin"))

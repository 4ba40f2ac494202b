"""Writing files so that a reader never sees half of one: a temporary file beside the target,
then a rename."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

SPACE_MARGIN = 1 << 20  # a megabyte beyond the estimate, for metadata and what else is written


def write_atomic(path: Path, payload: bytes) -> Path:
    """Write `payload` to `path` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(payload)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def ensure_free_space(folder: Path, needed: int) -> None:
    """Raise ENOSPC before writing `needed` bytes into `folder` when the disk lacks them. HDF5
    does not fail cleanly on a full disk (h5py then crashes the interpreter at exit), so its
    writers check first."""
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (needs {needed:,} bytes, {free:,} free)", str(folder))

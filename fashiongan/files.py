"""Writing files so that a reader never sees half of one: a temporary file beside the target,
then a rename."""

from __future__ import annotations

import os
from pathlib import Path


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

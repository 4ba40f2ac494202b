"""Writing files so that a reader never sees half of one, and nothing but the named file is
touched. The rule for what stands at the path being written:

- nothing, or a regular file: written to a temporary file beside it, then renamed over it;
- a symbolic link: followed, and its target written by this same rule (the link stays);
- a character device or a FIFO (`/dev/null`, `/dev/stdout`, a pipe): written as a stream;
- a folder or any other special file (block device, socket): refused, nothing written.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from fashiongan.errors import FashionGANError

SPACE_MARGIN = 1 << 20  # a megabyte beyond the estimate, for metadata and what else is written
SPECIAL_KINDS = {stat.S_IFBLK: "block device", stat.S_IFSOCK: "socket", stat.S_IFDIR: "folder"}


class OutputError(FashionGANError):
    """An output path that names something other than a file we may write."""


def output_target(path: str | os.PathLike) -> Path:
    """Where writing `path` lands: its final target with symbolic links followed."""
    return Path(os.path.realpath(path))


def is_stream(path: str | os.PathLike) -> bool:
    """Whether writing `path` writes a stream (a character device or a FIFO, links followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_writable(path: str | os.PathLike) -> tuple[Path, int | None]:
    """The target `path` writes to and its file mode (None where nothing stands), refused by
    the module's rule before anything is computed or written."""
    path = Path(path)
    target = output_target(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target, None
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        kind = SPECIAL_KINDS.get(stat.S_IFMT(mode), "special file")
        raise OutputError(f"{path}: is a {kind}; give a file name to write")
    return target, mode


def write_atomic(path: str | os.PathLike, payload: bytes) -> Path:
    """Write `payload` to `path` by the module's rule; an error names `path`, never a temporary."""
    path = Path(path)
    target, mode = check_writable(path)
    if mode is not None and not stat.S_ISREG(mode):
        return _write_stream(path, target, payload)
    return _write_replacing(path, target, payload, mode)


def _write_stream(path: Path, target: Path, payload: bytes) -> Path:
    try:
        with open(target, "wb", buffering=0) as stream:
            stream.write(payload)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    return path


def _write_replacing(path: Path, target: Path, payload: bytes, mode: int | None) -> Path:
    """A temporary file in the target's folder, renamed over it: the old file (its permissions
    kept) or nothing stays until the new one is whole."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def ensure_free_space(folder: Path, needed: int) -> None:
    """Raise ENOSPC before writing `needed` bytes into `folder` when the disk lacks them. HDF5
    does not fail cleanly on a full disk (h5py then crashes the interpreter at exit), so its
    writers check first."""
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (needs {needed:,} bytes, {free:,} free)", str(folder))

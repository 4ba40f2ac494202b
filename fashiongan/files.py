"""Writing files and folders so that a reader never sees half of one, and nothing but the named
path is touched. The rule for what stands at a file path being written:

- nothing, or a regular file: written to a temporary file beside it, then renamed over it;
- a symbolic link: followed, and its target written by this same rule (the link stays);
- a character device or a FIFO (`/dev/null`, `/dev/stdout`, a pipe): written as a stream;
- a folder or any other special file (block device, socket): refused, nothing written.

A folder (an export, a checkpoint, a classifier version) is built as `.NAME.building-PID-*`
beside its final path and renamed into place whole (`atomic_folder`); an earlier folder of
that name is set aside as `.NAME.previous-PID` first and removed only after. What a killed
process left is undone by the next writer of that name (`clean_leftovers`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
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
        with atomic_file(target, mode=stat.S_IMODE(mode) if mode is not None else None) as temporary:
            temporary.write_bytes(payload)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    return path


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike, *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside `target`, with its suffix, for a writer that wants a file name
    (Keras' `save`); on success it is renamed over `target`, on any error removed, so `target`
    holds the old file or the whole new one. `mode` is the new file's permissions (else the
    umask's)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, mode if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(
    target: str | os.PathLike, *, restorable: Callable[[Path], bool] = lambda folder: True
) -> Iterator[Path]:
    """An empty folder beside `target` to fill; when the block ends without error it replaces
    `target` whole (`replace_folder`), and on any error it is removed and `target` stays as it
    was. Leftovers of a killed earlier writer are undone first (`clean_leftovers`, which puts
    back a set-aside folder only where `restorable` says it is whole)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target, restorable=restorable)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-{os.getpid()}-", dir=target.parent))
    try:
        os.chmod(building, 0o777 & ~_umask())
        yield building
        replace_folder(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def replace_folder(new: Path, target: Path) -> None:
    """Move `new` to `target`; an earlier `target` is set aside first and removed only after (a
    kill in between leaves it as `.NAME.previous-PID`, which `clean_leftovers` puts back)."""
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        os.replace(target, previous)
    os.replace(new, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def clean_leftovers(target: Path, *, restorable: Callable[[Path], bool] = lambda folder: True) -> None:
    """Undo what a killed writer of `target` left: a half-built folder is removed; a folder
    that a kill left set aside mid-swap is put back when `target` is missing (and `restorable`
    accepts it), else removed. Only folders named after a process that is gone are touched."""
    for path, _ in _leftovers(target, "building"):
        shutil.rmtree(path, ignore_errors=True)
    for path, _ in sorted(_leftovers(target, "previous"), key=lambda item: item[0].stat().st_mtime, reverse=True):
        if not target.exists() and restorable(path):
            os.replace(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _leftovers(target: Path, kind: str) -> list[tuple[Path, int]]:
    """Temporary folders beside `target` (`.NAME.building-PID-*`, `.NAME.previous-PID`) whose
    process is gone, with that process id; links and files of those names are left alone."""
    found = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.{kind}-*"):
        if path.is_symlink() or not path.is_dir():
            continue
        pid = path.name[len(f".{target.name}.{kind}-") :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            found.append((path, int(pid)))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

"""IDX files, the format MNIST, Fashion-MNIST, KMNIST and EMNIST ship in: read (raw, gzip or
xz, with their header and length checked, and a decompression bomb refused) and written."""

from __future__ import annotations

import contextlib
import gzip
import lzma
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic

_IDX_DTYPES = {0x08: np.uint8}
IMAGE_SIZE = 28  # the side of every image the project reads and draws
# The four files of a dataset in IDX form, by (split, kind); a file may add .gz or .xz.
FILE_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


class DataError(FashionGANError):
    """Missing, truncated or corrupt dataset files."""


MAX_IDX_BYTES = 2 << 30  # an IDX file larger than this (once decompressed) is refused, not read
GZIP_MAGIC, XZ_MAGIC = b"\x1f\x8b", b"\xfd7zXZ\x00"
IDX_SUFFIXES = (".gz", ".xz", "")  # the names an IDX file may have beside its stem, in the order looked for


def _decompressed(file: BinaryIO) -> contextlib.AbstractContextManager[BinaryIO | gzip.GzipFile | lzma.LZMAFile]:
    """A stream of the file's bytes, decompressed if it is gzip or xz (told apart by content)."""
    magic = file.read(len(XZ_MAGIC))
    file.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=file)
    if magic == XZ_MAGIC:
        return lzma.LZMAFile(file)
    return contextlib.nullcontext(file)


def _idx_payload(path: Path) -> bytearray:
    """An IDX file's bytes, read in chunks, so a file that would decompress past MAX_IDX_BYTES
    is refused before it fills memory."""
    payload = bytearray()
    with path.open("rb") as file, _decompressed(file) as stream:
        while chunk := stream.read(1 << 24):
            payload += chunk
            if len(payload) > MAX_IDX_BYTES:
                raise DataError(f"{path}: larger than {MAX_IDX_BYTES:,} bytes once decompressed: not read")
    return payload


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw, gzip or xz), checking its header and length."""
    path = Path(path)
    try:
        raw = _idx_payload(path)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        raise DataError(f"{path}: cannot read or decompress ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise DataError(f"{path}: unsupported IDX type 0x{dtype_code:02x} with {ndim} dimensions")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = header_size + math.prod(shape)  # Python integers: no overflow
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: {kind}: {len(raw)} bytes, header {shape} needs {expected}")
    return np.frombuffer(raw, dtype=_IDX_DTYPES[dtype_code], offset=header_size).reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an uncompressed IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool = False) -> Path:
    """Write a uint8 array as an IDX file (gzip when `compress`), atomically."""
    path = Path(path)
    payload = idx_bytes(array)
    write_atomic(path, gzip.compress(payload, mtime=0) if compress else payload)
    return path

"""The project's error base class: what the CLI reports as one line and exit status 2."""

from __future__ import annotations

import os
import re


class FashionGANError(Exception):
    """A problem the user can fix (bad input, missing data, wrong file): reported without a traceback."""


def describe_error(error: BaseException, limit: int = 160) -> str:
    """An exception from a library (converter, runtime, loader) as a short single line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:limit] if lines else ''}"


def describe_os_error(error: OSError) -> str:
    """A failed read or write as one line: the file, then the system's reason. HDF5 folds both
    into a long multi-line message; they are picked out of it."""
    message = str(error)
    number = error.errno or next((int(n) for n in re.findall(r"errno = (\d+)", message)), None)
    filename = error.filename or next(iter(re.findall(r"filename = '([^']+)'", message)), None)
    reason = os.strerror(number) if number else (message.strip().splitlines() or [type(error).__name__])[0]
    return f"{filename}: {reason}" if filename else reason

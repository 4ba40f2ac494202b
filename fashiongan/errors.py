"""The project's error base class: what the CLI reports as one line and exit status 2."""

from __future__ import annotations


class FashionGANError(Exception):
    """A problem the user can fix (bad input, missing data, wrong file): reported without a traceback."""


def describe_error(error: BaseException, limit: int = 160) -> str:
    """An exception from a library (converter, runtime, loader) as a short single line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:limit] if lines else ''}"

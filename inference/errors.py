"""Errors that the CLI reports as one line and exit status 2."""


class FashionGANError(Exception):
    """A problem the user can fix (bad input, missing data, wrong file): reported without a traceback."""


def describe_error(error: Exception, limit: int = 160) -> str:
    """An exception from a library (converter, runtime, loader) as a short single line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:limit] if lines else ''}"

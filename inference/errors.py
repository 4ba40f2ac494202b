"""Errors that the CLI reports as one line and exit status 2."""


class FashionGANError(Exception):
    """A problem the user can fix (bad input, missing data, wrong file): reported without a traceback."""

"""The generators and domain classifiers that ship with fashiongan, as package data.

A generator is addressed by its folder's name (`fashion_mnist`): `fashiongan sample fashion_mnist`
and `inference.load("fashion_mnist")` open this package's `fashion_mnist/` export when no file
or folder of that name exists where they run. The classifiers live in
`classifiers/<dataset>/v<N>/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from fashiongan.spec import MANIFEST_FILE

ROOT = Path(__file__).resolve().parent
CLASSIFIERS = ROOT / "classifiers"


def generator_names() -> tuple[str, ...]:
    """The pretrained generators shipped with this install."""
    return tuple(sorted(folder.name for folder in ROOT.iterdir() if (folder / MANIFEST_FILE).is_file()))


def generator_dir(name: str) -> Path | None:
    """The export folder of a pretrained generator, or None if `name` is not one."""
    return ROOT / name if name in generator_names() else None


def resolve(path: str | os.PathLike) -> Path:
    """A path that exists, else the pretrained generator of that name, else the path as given."""
    path = Path(path)
    if path.exists():
        return path
    return generator_dir(str(path)) or path

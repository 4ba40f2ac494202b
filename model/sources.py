"""A dataset from the user's own files, read as the built-ins are: 28×28 grey uint8 images with
integer labels, a train and a test split, class names.

A `--dataset` value that is not a built-in name is a source:

- a folder of images (PNG, JPEG, BMP, WebP) with one subfolder per class, named in sorted order
  as Keras' `image_dataset_from_directory` names them; images directly in the folder are one
  class (an unconditional dataset); `train/` and `test/` folders of that layout give the splits;
- an `.npz` in the Keras datasets layout (`x_train`, `y_train`, `x_test`, `y_test`) or
  MedMNIST's (`train_images`, `train_labels`, `test_images`, `test_labels`), its class names from
  a `class_names` array in the file or a JSON list in `NAME.json` beside it;
- a folder of IDX files (`[PREFIX]train-images-idx3-ubyte[.gz|.xz]` and the other three, as
  EMNIST and KMNIST ship them), or the path of a prefix in such a folder (`emnist/emnist-letters`),
  its class names from a JSON list in `class_names.json` in the folder;
- `tfds:NAME[:CONFIG]`, a TensorFlow Datasets dataset already prepared under the TFDS data
  folder (`--data-dir`, else $TFDS_DATA_DIR, else ~/tensorflow_datasets), read offline.

Every image becomes grey (Pillow's ITU-R 601-2 luma; transparency over black), is centred on a
black square as wide as its longer side and resized to 28×28 with area averaging (Pillow's BOX
filter; bilinear when enlarging). A 28×28 grey image keeps its pixels exactly. A source without a
test split holds out a tenth of each class's images (at least one of a class of two or more), the
same ones every time. Labels are 0..K-1 with 1 <= K <= MAX_CLASSES.

An image folder is decoded once: the result is cached as uint8 under the cache folder
($FASHIONGAN_CACHE_DIR, else $XDG_CACHE_HOME/fashiongan or ~/.cache/fashiongan), keyed by the
source's content (every file's name and bytes), so a changed folder is read again and an
unchanged one is not. The other sources are read directly each time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import struct
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fashiongan.files import write_atomic
from fashiongan.model.idx import FILE_STEMS, IMAGE_SIZE, DataError, read_idx
from fashiongan.spec import DatasetSpec

MAX_CLASSES = 1000
MAX_SIDE = 4096  # an image wider or taller than this (by its header) is refused before it is decoded
MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
MAX_IMAGE_FILE_BYTES = 64 << 20  # an image file larger than this is refused before it is read
MAX_NPZ_BYTES = 4 << 30  # the arrays of an .npz, uncompressed
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "WEBP")  # the only decoders Pillow may use on a user's file
HELD_OUT_SHARE = 0.1
DECODE_VERSION = 1  # part of the cache key: a change to the conversion reads every folder again
CACHE_DIR_ENV = "FASHIONGAN_CACHE_DIR"
TFDS_PREFIX = "tfds:"
TFDS_NAME = re.compile(r"[a-z0-9_]+(:[A-Za-z0-9_.-]+)?")  # NAME[:CONFIG], no path
TFDS_FEATURES = "tensorflow_datasets.core.features."  # the only classes a features.json may name
KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
MEDMNIST_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


class SourceError(DataError):
    """A dataset source that cannot be read as 28×28 grey images with labels."""


@dataclasses.dataclass(frozen=True)
class Source:
    """A dataset read from the user's files: its spec (name and class names), identity and splits."""

    spec: DatasetSpec
    kind: str  # "images", "npz", "idx" or "tfds"
    location: str  # the folder or file read, or tfds:NAME[:CONFIG]
    identity: str  # sha256 of the source's content (with DECODE_VERSION)
    images: dict[str, np.ndarray]  # split -> uint8 N×28×28
    labels: dict[str, np.ndarray]  # split -> int32 N
    cached: bool = False  # read from the decoded cache


def is_source(text: str) -> bool:
    """Whether a --dataset value names a source (a path or tfds:NAME) rather than a built-in."""
    return text.startswith(TFDS_PREFIX) or "/" in text or os.sep in text or Path(text).exists()


def canonical(text: str) -> str:
    """The form a run records: a local path made absolute; tfds:NAME[:CONFIG] as given."""
    return text if text.startswith(TFDS_PREFIX) else str(Path(text).expanduser().resolve())


def read_source(text: str, data_dir: str | os.PathLike | None = None) -> Source:
    """The source `text` names, read (or reloaded from the cache), checked and split."""
    return _read_cached(canonical(text), str(data_dir) if data_dir is not None else None)


@functools.lru_cache(maxsize=4)
def _read_cached(text: str, data_dir: str | None) -> Source:
    if text.startswith(TFDS_PREFIX):
        return _from_tfds(text, data_dir)
    path = Path(text)
    if path.suffix == ".npz" and path.is_file():
        return _from_npz(path)
    if path.is_dir() and not _idx_sets(path):
        partial = sorted(
            entry.name for entry in path.iterdir() if any(stem in entry.name for stem in FILE_STEMS.values())
        )
        if partial:
            raise SourceError(f"{path}: an incomplete IDX set ({', '.join(partial)}); it needs all four files")
        return _from_image_folder(path)
    if path.is_dir() or (path.parent.is_dir() and path.name in _idx_sets(path.parent)):
        return _from_idx(path)
    if not path.exists():
        raise SourceError(f"--dataset {text}: no such folder or file, and not a built-in dataset or tfds:NAME")
    raise SourceError(f"--dataset {text}: not an image folder, IDX folder, .npz file or tfds:NAME")


# --- the pieces every kind shares -------------------------------------------------------------------------


def slug(text: str) -> str:
    """A name made of lower-case letters, digits, '-' and '_' (for file and folder names)."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "dataset"


def _source(kind: str, location: str, label: str, splits: dict, class_names: list[str], identity: str) -> Source:
    """Check labels against the class names and make the test split if the source has none."""
    class_names = [str(name) for name in class_names]
    if not 1 <= len(class_names) <= MAX_CLASSES:
        raise SourceError(f"{location}: {len(class_names)} classes; a dataset has 1 to {MAX_CLASSES}")
    if any(not name or any(ord(char) < 32 for char in name) for name in class_names):
        raise SourceError(f"{location}: a class name is empty or holds control characters (a newline, a tab)")
    if len(set(class_names)) != len(class_names):
        raise SourceError(f"{location}: class names repeat ({', '.join(class_names[:5])}, ...)")
    for split, (images, labels) in splits.items():
        if len(images) != len(labels):
            raise SourceError(f"{location}: {split} holds {len(images)} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise SourceError(
                f"{location}: {split} label {int(labels.min() if labels.min() < 0 else labels.max())} is out of "
                f"range 0-{len(class_names) - 1} ({len(class_names)} classes)"
            )
    if "test" not in splits:
        splits = held_out(*splits["train"])
    if not len(splits["train"][0]):
        raise SourceError(f"{location}: no training images")
    spec = DatasetSpec(
        name=f"{slug(label)}-{identity[:10]}", folder=location, class_names=tuple(class_names), how_to_get=location
    )
    return Source(
        spec=spec,
        kind=kind,
        location=location,
        identity=identity,
        images={split: np.ascontiguousarray(pair[0], np.uint8) for split, pair in splits.items()},
        labels={split: np.asarray(pair[1], np.int32) for split, pair in splits.items()},
    )


def held_out(images: np.ndarray, labels: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train and test splits of one set: HELD_OUT_SHARE of each class's images (at least one of
    a class of two or more) go to test, chosen by a fixed seed, so the split is the same each time."""
    rng = np.random.default_rng(0)
    test: list[int] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, round(len(members) * HELD_OUT_SHARE)) if len(members) >= 2 else 0
        test.extend(rng.permutation(members)[:count])
    is_test = np.zeros(len(labels), bool)
    is_test[np.asarray(test, np.int64)] = True
    return {"train": (images[~is_test], labels[~is_test]), "test": (images[is_test], labels[is_test])}


def to_grey_28(picture) -> np.ndarray:
    """A Pillow image as 28×28 grey uint8 by the module's stated conversion."""
    from PIL import Image

    if picture.mode.startswith("I"):  # 16- or 32-bit grey: the top 8 bits of the full range
        wide = np.asarray(picture, np.float32)
        picture = Image.fromarray(
            np.clip(wide / (65535.0 if wide.max() > 255 else 255.0) * 255.0, 0, 255).astype(np.uint8)
        )
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    grey = picture.convert("L")
    if grey.size != (IMAGE_SIZE, IMAGE_SIZE):
        side = max(grey.size)
        square = Image.new("L", (side, side), 0)
        square.paste(grey, ((side - grey.width) // 2, (side - grey.height) // 2))
        method = Image.Resampling.BOX if side >= IMAGE_SIZE else Image.Resampling.BILINEAR
        grey = square.resize((IMAGE_SIZE, IMAGE_SIZE), method)
    return np.asarray(grey, np.uint8)


def array_to_grey_28(images: np.ndarray, where: str) -> np.ndarray:
    """An N×H×W[×C] uint8 array as N×28×28 grey, converting only what is not 28×28 grey already."""
    from PIL import Image

    if images.dtype != np.uint8:
        raise SourceError(f"{where}: images must be uint8 pixels, not {images.dtype}")
    if images.ndim not in (3, 4):
        raise SourceError(f"{where}: expected N×H×W grey or N×H×W×3 colour images, got {images.shape}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 3 and images.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE):
        return images
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (3, 4)):
        raise SourceError(f"{where}: expected N×H×W grey or N×H×W×3 colour images, got {images.shape}")
    if not (0 < images.shape[1] <= MAX_SIDE and 0 < images.shape[2] <= MAX_SIDE):
        raise SourceError(f"{where}: images of {images.shape[1]}×{images.shape[2]}; each side must be 1 to {MAX_SIDE}")
    return (
        np.stack([to_grey_28(Image.fromarray(image)) for image in images])
        if len(images)
        else images[:, :IMAGE_SIZE, :IMAGE_SIZE]
    )


def cache_dir() -> Path:
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fashiongan"


def class_names_file(path: Path) -> list[str] | None:
    """A JSON list of class names (or {"class_names": [...]}) in `path`, or None where there is none."""
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:
        raise SourceError(f"{path}: unreadable class names ({type(error).__name__})") from None
    names = names.get("class_names") if isinstance(names, dict) else names
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise SourceError(f"{path}: class names must be a JSON list of strings")
    return names


def default_names(*labels: np.ndarray) -> list[str]:
    top = max((int(part.max()) for part in labels if len(part)), default=0)
    if top >= MAX_CLASSES:
        raise SourceError(f"label {top} is out of range: a dataset has at most {MAX_CLASSES} classes")
    return [str(index) for index in range(top + 1)]


# --- image folders -----------------------------------------------------------------------------------------


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    """The images under `folder` (recursively, by suffix, case-insensitive), in sorted order;
    hidden ones skipped. Links are not followed out of the dataset: a linked folder is refused,
    as is a file whose link leads outside `root`; an unreadable folder is an error, not a gap."""
    root = folder.resolve()

    def refuse(error: OSError) -> None:
        raise SourceError(f"{error.filename}: cannot read the folder ({error.strerror})")

    found = []
    for directory, subfolders, files in os.walk(folder, onerror=refuse):
        for name in subfolders:
            if not name.startswith(".") and os.path.islink(os.path.join(directory, name)):
                raise SourceError(
                    f"{os.path.join(directory, name)}: a linked folder; links to folders are not followed"
                )
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            path = Path(directory, name)
            if name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            if path.is_symlink() and root not in path.resolve().parents:
                raise SourceError(f"{path}: links outside {folder}; links out of the dataset are not followed")
            found.append(path)
    return sorted(found)


def _class_files(folder: Path) -> dict[str | None, list[Path]]:
    """Each class's images by class folder name, in sorted order; {None: images} when the
    folder holds images and no subfolders (one class, an unconditional dataset)."""
    try:
        entries = list(folder.iterdir())
    except OSError as error:
        raise SourceError(f"{folder}: cannot read the folder ({error.strerror})") from None
    linked = [path for path in entries if path.is_symlink() and path.is_dir()]
    if linked:
        raise SourceError(f"{linked[0]}: a linked folder; links to folders are not followed")
    subfolders = sorted(path for path in entries if path.is_dir() and _visible(path))
    loose = [path for path in entries if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES]
    if subfolders and loose:
        raise SourceError(f"{folder}: holds both images and class folders; put every image in a class folder")
    if not subfolders:
        if not loose:
            raise SourceError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) and no class folders")
        return {None: _image_files(folder)}
    if len(subfolders) > MAX_CLASSES:
        raise SourceError(f"{folder}: {len(subfolders)} class folders; a dataset has at most {MAX_CLASSES} classes")
    files: dict[str | None, list[Path]] = {subfolder.name: _image_files(subfolder) for subfolder in subfolders}
    empty = [name for name, found in files.items() if not found]
    if empty:
        raise SourceError(f"{folder}: class folder {empty[0]} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def decode_image(path: Path, payload: bytes) -> np.ndarray:
    """One image file as 28×28 grey; a corrupt, truncated or oversized file is refused by name.
    Only Pillow's PNG, JPEG, BMP and WebP decoders may open it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload), formats=list(PILLOW_FORMATS)) as picture:
                if picture.width > MAX_SIDE or picture.height > MAX_SIDE:
                    raise SourceError(
                        f"{path}: {picture.width}×{picture.height} pixels; each side must be at most {MAX_SIDE}: "
                        "not decoded"
                    )
                picture.load()
                return to_grey_28(picture)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SourceError(
            f"{path}: declares more pixels than Pillow's limit (a decompression bomb); not decoded"
        ) from None
    except (OSError, ValueError, SyntaxError, struct.error) as error:  # Pillow's errors for bad and truncated files
        reason = "" if "cannot identify" in str(error) else f" ({str(error).splitlines()[0][:100]})"
        raise SourceError(f"{path}: not a readable PNG, JPEG, BMP or WebP image{reason}") from None


def _read_image_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_IMAGE_FILE_BYTES:
            raise SourceError(f"{path}: larger than {MAX_IMAGE_FILE_BYTES:,} bytes; not read")
        return path.read_bytes()
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error.strerror})") from None


def _read_all(files: list[Path]) -> list[bytes]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(_read_image_file, files))


def _listing(folder: Path) -> tuple[list[str], list[tuple[str, int, Path]]]:
    """The class names and every image as (split, label, path): train/ and test/ when both are
    there, else the folder as the train split."""
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        layout = {split: _class_files(folder / split) for split in ("train", "test")}
        if (None in layout["train"]) != (None in layout["test"]):
            raise SourceError(f"{folder}: train/ and test/ must both hold class folders, or both images alone")
        extra = sorted(str(name) for name in set(layout["test"]) - set(layout["train"]))
        if extra:
            raise SourceError(f"{folder}/test: class folders not in train/: {', '.join(map(str, extra))}")
    else:
        layout = {"train": _class_files(folder)}
    names = [name for name in layout["train"] if name is not None] or [folder.name]
    indices = {name: index for index, name in enumerate(layout["train"])}
    listed = [(split, indices[name], path) for split, classes in layout.items() for name, paths in classes.items()
              for path in paths]  # fmt: skip
    return names, listed


def _from_image_folder(folder: Path) -> Source:
    class_names, listed = _listing(folder)
    payloads = _read_all([path for _, _, path in listed])
    digest = hashlib.sha256(f"images {DECODE_VERSION}\n".encode())
    for (split, label, path), payload in zip(listed, payloads):
        name = os.fsencode(path.relative_to(folder))  # bytes: any file name, UTF-8 or not
        digest.update(f"{split}/".encode() + name + f"\0{label}\0{hashlib.sha256(payload).hexdigest()}\n".encode())
    identity = digest.hexdigest()
    cached = _load_cache(identity)
    if cached is not None:
        return dataclasses.replace(_source("images", str(folder), folder.name, *cached, identity), cached=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        images = list(pool.map(lambda item: decode_image(item[0][2], item[1]), zip(listed, payloads)))
    splits = {}
    for split in dict.fromkeys(split for split, _, _ in listed):
        rows = [index for index, item in enumerate(listed) if item[0] == split]
        splits[split] = (
            np.stack([images[row] for row in rows]),
            np.asarray([listed[row][1] for row in rows], np.int32),
        )
    source = _source("images", str(folder), folder.name, splits, class_names, identity)
    _save_cache(source)
    return source


def _cache_file(identity: str) -> Path:
    return cache_dir() / "datasets" / f"{identity}.npz"


def _load_cache(identity: str) -> tuple[dict, list[str]] | None:
    """The decoded splits and class names of a folder read before, or None (a damaged cache
    file is read again from the source, not trusted)."""
    path = _cache_file(identity)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            splits = {
                split: (arrays[f"x_{split}"], arrays[f"y_{split}"])
                for split in ("train", "test")
                if f"x_{split}" in arrays
            }
            names = [str(name) for name in arrays["class_names"]]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if any(images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) for images, _ in splits.values()):
        return None
    return splits, names


def _save_cache(source: Source) -> None:
    buffer = io.BytesIO()
    arrays: dict[str, np.ndarray] = {"class_names": np.asarray(source.spec.class_names, dtype=str)}
    arrays |= {f"x_{split}": images for split, images in source.images.items()}
    arrays |= {f"y_{split}": labels for split, labels in source.labels.items()}
    np.savez(buffer, allow_pickle=False, **arrays)
    try:
        write_atomic(_cache_file(source.identity), buffer.getvalue())
    except OSError as error:  # a cache that cannot be written costs time, never the run
        warnings.warn(f"could not cache the decoded images ({error})", stacklevel=2)


# --- .npz files ------------------------------------------------------------------------------------------


def _from_npz(path: Path) -> Source:
    payload = path.read_bytes()
    unpacked = _declared_bytes(path, payload)
    if unpacked > MAX_NPZ_BYTES:
        raise SourceError(f"{path}: its arrays take {unpacked:,} bytes unpacked, over {MAX_NPZ_BYTES:,}; not read")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
            keys = set(arrays.files)
            layout = next((names for names in (KERAS_KEYS, MEDMNIST_KEYS) if set(names[:2]) <= keys), None)
            if layout is None:
                raise SourceError(
                    f"{path}: holds {', '.join(sorted(keys)) or 'no arrays'}; expected {', '.join(KERAS_KEYS)} "
                    f"(Keras) or {', '.join(MEDMNIST_KEYS)} (MedMNIST)"
                )
            splits = {"train": (arrays[layout[0]], arrays[layout[1]])}
            if set(layout[2:]) <= keys:
                splits["test"] = (arrays[layout[2]], arrays[layout[3]])
            names = _names_array(arrays["class_names"], path) if "class_names" in keys else None
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise SourceError(f"{path}: holds object arrays, which would need unpickling; not read") from None
        raise SourceError(f"{path}: unreadable arrays ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as error:
        raise SourceError(f"{path}: unreadable .npz ({type(error).__name__}: {str(error)[:100]})") from None
    checked = {split: _checked_pair(images, labels, f"{path} {split}") for split, (images, labels) in splits.items()}
    names = (
        names
        or class_names_file(path.with_suffix(".json"))
        or default_names(*(labels for _, labels in checked.values()))
    )
    identity = hashlib.sha256(b"npz %d\n" % DECODE_VERSION + payload).hexdigest()
    return _source("npz", str(path), path.stem, checked, names, identity)


def _names_array(array: np.ndarray, path: Path) -> list[str]:
    if array.ndim != 1 or array.dtype.kind != "U" or not len(array):
        raise SourceError(
            f"{path}: class_names must be a non-empty 1-D array of strings, got {array.dtype} {array.shape}"
        )
    return [str(name) for name in array]


def _declared_bytes(path: Path, payload: bytes) -> int:
    """What an .npz's arrays take once loaded, by the shapes and types their headers declare
    (read before any array is), and at least what the zip directory says."""
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            for member in archive.infolist():
                total += member.file_size
                if not member.filename.endswith(".npy"):
                    continue
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                total += int(np.prod(shape, dtype=object)) * max(dtype.itemsize, 1)
    except zipfile.BadZipFile:
        raise SourceError(f"{path}: not an .npz file (not a zip archive)") from None
    except (ValueError, OSError, EOFError, NotImplementedError, RuntimeError, TypeError) as error:
        raise SourceError(f"{path}: unreadable .npz ({type(error).__name__}: {str(error)[:100]})") from None
    return total


def _checked_pair(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim not in (3, 4):
        raise SourceError(f"{where}: expected N×H×W grey or N×H×W×3 colour images, got {images.shape}")
    if labels.ndim == 2 and labels.shape[1] == 1:  # MedMNIST's N×1 labels
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SourceError(f"{where}: labels must be a vector of integers, got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise SourceError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= MAX_CLASSES):
        raise SourceError(f"{where}: label {int(labels.min() if labels.min() < 0 else labels.max())} is out of range "
                          f"0-{MAX_CLASSES - 1}")  # fmt: skip
    return array_to_grey_28(images, where), labels.astype(np.int32)


# --- IDX folders -------------------------------------------------------------------------------------------


def _idx_sets(folder: Path) -> dict[str, dict[tuple[str, str], Path]]:
    """Complete sets of four IDX files in `folder`, by their name prefix ('' for the plain names)."""
    found: dict[str, dict[tuple[str, str], Path]] = {}
    if not folder.is_dir():
        return {}
    for path in folder.iterdir():
        for key, stem in FILE_STEMS.items():
            match = re.fullmatch(rf"(.*?){re.escape(stem)}(\.gz|\.xz)?", path.name)
            if match and path.is_file():
                files = found.setdefault(match[1].rstrip("-_"), {})
                if key in files:
                    raise SourceError(f"{folder}: both {files[key].name} and {path.name}; keep one")
                files[key] = path
    return {prefix: files for prefix, files in found.items() if len(files) == len(FILE_STEMS)}


def _from_idx(path: Path) -> Source:
    folder, sets = (path, _idx_sets(path)) if path.is_dir() else (path.parent, _idx_sets(path.parent))
    if path.is_dir() and len(sets) > 1:
        choices = ", ".join(str(folder / prefix) for prefix in sorted(sets))
        raise SourceError(f"{folder}: holds {len(sets)} IDX sets; name one: {choices}")
    prefix = next(iter(sets)) if path.is_dir() else path.name
    files = sets[prefix]
    digest = hashlib.sha256(b"idx %d\n" % DECODE_VERSION)
    splits = {}
    for split in ("train", "test"):
        images, labels = read_idx(files[(split, "images")]), read_idx(files[(split, "labels")])
        splits[split] = _checked_pair(images, labels, str(files[(split, "images")]))
        for key in ((split, "images"), (split, "labels")):
            digest.update(files[key].read_bytes())
    names = class_names_file(folder / "class_names.json") or default_names(*(labels for _, labels in splits.values()))
    return _source("idx", str(folder / prefix) if prefix else str(folder), prefix or folder.name, splits, names,
                   digest.hexdigest())  # fmt: skip


# --- TensorFlow Datasets -------------------------------------------------------------------------------------


def tfds_data_dir(data_dir: str | None) -> Path:
    return Path(data_dir or os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets")


def prepared_tfds_dir(name: str, config: str | None, data_dir: Path) -> Path | None:
    """The newest prepared version folder of NAME[/CONFIG] under a TFDS data folder (the one
    holding dataset_info.json), or None."""
    root = data_dir / name / config if config else data_dir / name
    versions = [path.parent for path in root.glob("*/dataset_info.json")]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) if part.isdigit() else -1 for part in path.name.split("."))

    return max(versions, key=version) if versions else None


def _check_tfds_features(folder: Path, text: str) -> None:
    """Refuse a features.json naming any class outside TFDS's own feature connectors: TFDS
    imports the module a `pythonClassName` names, so a crafted file could run code."""

    def names(node) -> list[str]:
        if isinstance(node, dict):
            found = [node["pythonClassName"]] if "pythonClassName" in node else []
            return found + [name for value in node.values() for name in names(value)]
        return [name for value in node for name in names(value)] if isinstance(node, list) else []

    path = folder / "features.json"
    try:
        declared = names(json.loads(path.read_text()))
    except (OSError, ValueError, RecursionError) as error:
        raise SourceError(f"{path}: unreadable ({type(error).__name__})") from None
    foreign = [name for name in declared if not (isinstance(name, str) and name.startswith(TFDS_FEATURES))]
    if foreign or not declared:
        raise SourceError(f"{path}: names {foreign[0] if foreign else 'no'} feature class; only TFDS's own are read")


def _from_tfds(text: str, data_dir: str | None) -> Source:
    from fashiongan.extras import require

    if not TFDS_NAME.fullmatch(text[len(TFDS_PREFIX) :]):
        raise SourceError(f"{text}: a TFDS name is lower-case letters, digits and _ (tfds:NAME or tfds:NAME:CONFIG)")
    name, _, config = text[len(TFDS_PREFIX) :].partition(":")
    root = tfds_data_dir(data_dir)
    folder = prepared_tfds_dir(name, config or None, root)
    if not name or folder is None:
        raise SourceError(
            f"{text}: not prepared under the TFDS data folder {root} (no {name}/{config + '/' if config else ''}"
            f"VERSION/dataset_info.json); nothing is downloaded: prepare it with `tfds build {name} --data_dir {root}`"
        )
    _check_tfds_features(folder, text)
    tfds = require("tensorflow_datasets", f"--dataset {text}", extra="tfds")
    try:
        builder = tfds.builder_from_directory(str(folder))
        features = dict(builder.info.features.items())
    except Exception as error:  # TFDS raises many kinds on a malformed info file
        raise SourceError(f"{text}: unreadable TFDS dataset info in {folder} ({type(error).__name__})") from None
    image_key = next((key for key, feature in features.items() if isinstance(feature, tfds.features.Image)), None)
    label_key = next((key for key, feature in features.items() if isinstance(feature, tfds.features.ClassLabel)), None)
    if image_key is None:
        raise SourceError(f"{text}: no image feature among {', '.join(sorted(features))}; nothing to train on")
    digest = hashlib.sha256(b"tfds %d\n" % DECODE_VERSION)
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            digest.update(f"{file.relative_to(folder)}\0".encode() + file.read_bytes())
    splits = {}
    for split in ("train", "test"):
        if split in builder.info.splits:
            arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
            labels = arrays[label_key] if label_key else np.zeros(len(arrays[image_key]), np.int32)
            splits[split] = _checked_pair(np.asarray(arrays[image_key]), np.asarray(labels), f"{text} {split}")
    if "train" not in splits:
        raise SourceError(f"{text}: no train split (it has {', '.join(builder.info.splits)})")
    names = list(features[label_key].names) if label_key else [name]
    return _source("tfds", text, f"{name}-{config}" if config else name, splits, names, digest.hexdigest())

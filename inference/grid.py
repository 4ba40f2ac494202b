"""Tile images into a grid and write PNGs (numpy and Pillow only)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic

MAX_GRID_PIXELS = 100_000_000  # a PNG grid of at most 100 megapixels (100 MB before compression)
TILE_PADDING = 2


class GridError(FashionGANError):
    """A grid larger than a PNG of MAX_GRID_PIXELS, or no images to tile."""


def _layout(count: int, nrow: int | None) -> tuple[int, int]:
    """(tiles a row, rows) of a grid of `count` tiles: square by default, never wider than count."""
    nrow = min(nrow or math.ceil(math.sqrt(count)), count)
    return nrow, math.ceil(count / nrow)


def grid_size(count: int, nrow: int | None = None, scale: int = 1, tile: int = 28) -> tuple[int, int]:
    """(width, height) in pixels of the grid of `count` tiles, refused before anything is
    allocated when it would exceed MAX_GRID_PIXELS."""
    if count <= 0 or (nrow is not None and nrow <= 0) or scale <= 0:
        raise GridError(f"a grid needs positive counts, got {count} images, nrow {nrow}, scale {scale}")
    nrow, ncol = _layout(count, nrow)
    width = (nrow * (tile + TILE_PADDING) + TILE_PADDING) * scale
    height = (ncol * (tile + TILE_PADDING) + TILE_PADDING) * scale
    if width * height > MAX_GRID_PIXELS:
        raise GridError(
            f"a grid of {count} images, {nrow} a row, at scale {scale} would be {width}×{height} pixels; "
            f"the limit is {MAX_GRID_PIXELS:,} (lower --n, --nrow or --scale)"
        )
    return width, height


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Map float images in `value_range` to uint8 N×H×W, clipping values outside the range."""
    low, high = value_range
    scaled = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    pixels = np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.ndim == 4 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return pixels


def make_grid(images: np.ndarray, nrow: int | None = None, padding: int = TILE_PADDING) -> np.ndarray:
    """Tile uint8 N×H×W images into one uint8 image, `nrow` images per row (default: square)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected N×H×W images, got shape {images.shape}")
    count, height, width = images.shape
    grid_size(count, nrow, tile=max(height, width))
    nrow, ncol = _layout(count, nrow)
    grid = np.zeros((ncol * (height + padding) + padding, nrow * (width + padding) + padding), np.uint8)
    for index, image in enumerate(images):
        top = padding + (index // nrow) * (height + padding)
        left = padding + (index % nrow) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(image: np.ndarray, path: str | os.PathLike, scale: int = 1) -> Path:
    """Write a uint8 H×W image as a PNG, atomically (temporary file, then rename)."""
    from PIL import Image

    path = Path(path)
    if path.is_dir():
        raise GridError(f"{path}: is a folder; give the PNG a file name")
    image = np.asarray(image, dtype=np.uint8)
    if image.shape[0] * image.shape[1] * scale * scale > MAX_GRID_PIXELS:
        raise GridError(f"a {image.shape[1] * scale}×{image.shape[0] * scale} PNG is over {MAX_GRID_PIXELS:,} pixels")
    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    return write_atomic(path, encoded.getvalue())


def save_grid(images: np.ndarray, path: str | os.PathLike, nrow: int | None = None, scale: int = 2) -> Path:
    """Tile uint8 N×H×W images and write them as one PNG."""
    return save_png(make_grid(images, nrow=nrow), path, scale=scale)

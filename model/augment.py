"""Differentiable augmentation for the discriminator's inputs (DiffAugment, Zhao et al. 2020), in
keras.ops so that both backends run it: the same random transform is a pure function of the
draws, and gradients flow through it to the generator.

- `translation`: shift by up to 1/8 of the image size in each direction, the border filled with
  the background value (the low end of the output range);
- `cutout`: a square of half the image size, at a random place, set to 0 (as in the paper).
"""

from __future__ import annotations

from collections.abc import Callable

from keras import ops

TRANSLATION_FRACTION = 1 / 8
CUTOUT_FRACTION = 1 / 2


def _shift(images, shifts, axis: int, reach: int, fill: float):
    """Each image moved by its own shift (an int32 per image) along `axis` (1: rows, 2: columns)."""
    size = images.shape[axis]
    padding = [(0, 0)] * 4
    padding[axis] = (reach, reach)
    padded = ops.pad(images, padding, constant_values=fill)
    index = ops.arange(size, dtype="int32")[None, :] + reach - shifts[:, None]
    index = ops.reshape(index, (-1, size, 1, 1) if axis == 1 else (-1, 1, size, 1))
    shape = list(ops.shape(padded))
    shape[axis] = size
    return ops.take_along_axis(padded, ops.broadcast_to(index, shape), axis=axis)


def translation(images, uniform: Callable, fill: float):
    """Each image shifted by whole pixels, up to round(size / 8) along each axis (draws 0, 1)."""
    batch = ops.shape(images)[0]
    for axis, offset in ((1, 0), (2, 1)):
        reach = int(images.shape[axis] * TRANSLATION_FRACTION + 0.5)
        draw = uniform((batch,), offset)
        shifts = ops.cast(ops.floor(draw * (2 * reach + 1)), "int32") - reach
        images = _shift(images, shifts, axis, reach, fill)
    return images


def _outside(size: int, cut: int, draw):
    """Per image, 1 where a pixel index along one axis lies outside the cut span, else 0: the span
    of `cut` pixels starts at round-down(draw * (size + 1 - cut % 2)) - cut // 2, as in the paper."""
    start = ops.floor(draw * (size + 1 - cut % 2))[:, None] - cut // 2
    index = ops.arange(size, dtype="float32")[None, :]
    return ops.logical_or(index < start, index >= start + cut)


def cutout(images, uniform: Callable):
    """Each image with one rectangle of half its height and width set to 0 (draws 2, 3)."""
    batch = ops.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    rows = _outside(height, int(height * CUTOUT_FRACTION + 0.5), uniform((batch,), 2))
    columns = _outside(width, int(width * CUTOUT_FRACTION + 0.5), uniform((batch,), 3))
    keep = ops.cast(ops.logical_or(rows[:, :, None], columns[:, None, :]), images.dtype)
    return images * keep[:, :, :, None]


def diff_augment(images, policy: tuple[str, ...], uniform: Callable, fill: float):
    """`images` (N×H×W×C) under each augmentation of `policy`; `uniform(shape, offset)` gives
    the [0, 1) draws (offsets 0 to 3)."""
    if "translation" in policy:
        images = translation(images, uniform, fill)
    if "cutout" in policy:
        images = cutout(images, uniform)
    return images

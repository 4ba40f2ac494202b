"""The training callbacks, shared by Keras' `fit()` (TensorFlow) and `jax_loop.fit` (JAX):
per-epoch grids and their animation, checkpoints, history.csv, TensorBoard, the stops (non-finite
loss, --max-steps, --time-budget) and progress lines for logs. Imported by `train` once Keras is
loaded on its backend."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from fashiongan.files import write_atomic
from fashiongan.inference.grid import GridError, save_grid, to_uint8
from fashiongan.model.run_folder import check_finite_weights, save_checkpoint, trained_steps
from fashiongan.model.variants import sampling_generator
from fashiongan.spec import VariantSpec

if TYPE_CHECKING:
    from PIL import Image

ANIMATION_FILE = "progress.gif"  # in the samples folder: the per-epoch grids as one animated image
ANIMATION_SIDE = 480  # animation frames are scaled to fit this many pixels a side
PROGRESS_SECONDS = 30.0  # a progress line at the first step this long after the last, in a log or a pipe


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _finite(logs) -> bool:
    return all(np.isfinite(float(value)) for value in (logs or {}).values())


def animation_frame(path: str | os.PathLike) -> Image.Image:
    """A grid PNG as an animation frame: greyscale, scaled (nearest) to fit ANIMATION_SIDE."""
    from PIL import Image

    with Image.open(path) as picture:
        frame = picture.convert("L")
    scale = ANIMATION_SIDE / max(frame.size)
    if scale < 1:
        size = (max(1, int(frame.width * scale)), max(1, int(frame.height * scale)))
        frame = frame.resize(size, Image.Resampling.NEAREST)
    return frame


def save_animation(frames: list[Image.Image], path: str | os.PathLike, milliseconds: int = 250) -> Path:
    """Write frames (from `animation_frame`) as one looping animated GIF, atomically; the last
    frame holds four times as long."""
    if not frames:
        raise GridError("an animation needs at least one frame")
    durations = [milliseconds] * (len(frames) - 1) + [milliseconds * 4]
    encoded = io.BytesIO()
    frames[0].save(
        encoded, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=False
    )
    return write_atomic(Path(path), encoded.getvalue())


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, write a grid from the same fixed inputs (noise, and labels for a
    conditional generator), drawn by the generator that export will use, and rewrite the
    animation of all the epochs' grids."""

    def __init__(self, variant: VariantSpec | str, inputs, output_range, directory: Path, nrow: int):
        super().__init__()
        self.variant, self.inputs, self.output_range = variant, inputs, output_range
        self.directory, self.nrow = directory, nrow
        self.generator: Any = None
        self.last_path: Path | None = None
        self.frames: dict[Path, Image.Image] | None = None  # by grid path; a resumed run reads the earlier ones once

    def on_epoch_end(self, epoch, logs=None):
        if not _finite(logs):
            return
        self.generator = sampling_generator(self.model, self.variant, self.generator)
        images = self.generator(self.inputs, training=False)
        self.last_path = save_grid(
            to_uint8(np.asarray(images), self.output_range),
            self.directory / f"epoch-{epoch + 1:04d}.png",
            nrow=self.nrow,
            scale=4,
        )
        if self.frames is None:
            self.frames = {path: animation_frame(path) for path in self.directory.glob("epoch-*.png")}
        self.frames[self.last_path] = animation_frame(self.last_path)
        save_animation([self.frames[path] for path in sorted(self.frames)], self.directory / ANIMATION_FILE)


class Checkpoint(keras.callbacks.Callback):
    """After each epoch with finite losses, and at a stop inside one (--max-steps), save
    everything needed to resume, the position inside the epoch included."""

    def __init__(self, run_dir: Path, steps_per_epoch: int):
        super().__init__()
        self.run_dir, self.steps_per_epoch = run_dir, steps_per_epoch

    def on_epoch_end(self, epoch, logs=None):
        if _finite(logs):
            save_checkpoint(self.model, self.run_dir, self.steps_per_epoch)


class FiniteTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard logs, without the epoch a non-finite loss stopped."""

    def on_epoch_end(self, epoch, logs=None):
        if _finite(logs):
            super().on_epoch_end(epoch, logs)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first batch whose losses are NaN or infinite, and remember where; at an
    epoch's end (or a stop inside one), before any grid or checkpoint is written, refuse weights
    that went non-finite while the losses still looked finite. Runs first of the callbacks."""

    def __init__(self):
        super().__init__()
        self.failure: str | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.failure is None and not _finite(logs):
            bad = {name: float(value) for name, value in logs.items() if not np.isfinite(value)}
            step = trained_steps(self.model)
            self.failure = f"non-finite loss {bad} in epoch {self.epoch + 1} at step {step}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.failure is None:
            check_finite_weights(self.model, f"step {trained_steps(self.model)} (epoch {epoch + 1})")


class HistoryCSV(keras.callbacks.Callback):
    """Append one row per epoch: the epoch, the step, the mean metrics and images per second."""

    def __init__(self, path: Path, batch_size: int):
        super().__init__()
        self.path, self.batch_size = path, batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.first_step = time.perf_counter(), trained_steps(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if not _finite(logs):
            return
        seconds = time.perf_counter() - self.started
        step = trained_steps(self.model)
        row = {"epoch": epoch + 1, "step": step, **{k: float(v) for k, v in sorted(logs.items())}}
        row["images_per_second"] = (step - self.first_step) * self.batch_size / max(seconds, 1e-9)
        new_file = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)


class StopAtStep(keras.callbacks.Callback):
    """Stop after `max_steps` steps in all (--max-steps); the Checkpoint callback saves there."""

    def __init__(self, max_steps: int):
        super().__init__()
        self.max_steps = max_steps

    def on_train_batch_end(self, batch, logs=None):
        if trained_steps(self.model) >= self.max_steps:
            self.model.stop_training = True


class StopAtDeadline(keras.callbacks.Callback):
    """Stop after the step (or device call) that ends past `seconds` of training; the
    Checkpoint callback then saves the position inside the epoch, so --resume goes on exactly."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.reached = seconds, False
        self.deadline: float | None = None

    def on_train_begin(self, logs=None):
        if self.deadline is None:  # a resumed run's two fit calls share one budget
            self.deadline = time.monotonic() + self.seconds

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.model.stop_training = self.reached = True


class ProgressLines(keras.callbacks.Callback):
    """For logs and pipes, where Keras prints a line an epoch: a line at the first step (or
    device call) ending PROGRESS_SECONDS after the last line, with the step, images per
    second, an estimate of the time left and the running losses. The first interval starts
    after the first step, so compilation does not count in the rate."""

    def __init__(self, last_step: int, batch_size: int, budget: StopAtDeadline | None = None):
        super().__init__()
        self.last_step, self.batch_size, self.budget, self.interval = last_step, batch_size, budget, PROGRESS_SECONDS
        self.since: tuple[float, int] | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if self.since is None:
            self.since = (now, trained_steps(self.model))
            return
        if now - self.since[0] < self.interval:
            return
        step = trained_steps(self.model)
        rate = (step - self.since[1]) / max(now - self.since[0], 1e-9)
        left = (self.last_step - step) / max(rate, 1e-9)
        if self.budget is not None and self.budget.deadline is not None:
            left = min(left, max(self.budget.deadline - now, 0.0))
        figures = ", ".join(f"{name} {float(value):.3f}" for name, value in sorted((logs or {}).items()))
        print(f"step {step}/{self.last_step} (epoch {self.epoch + 1}): {rate * self.batch_size:,.0f} images/s, "
              f"about {_minutes(left)} left; {figures}", flush=True)  # fmt: skip
        self.since = (now, step)

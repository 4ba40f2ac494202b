"""A run's settings: `TrainConfig`, what a resume may change, and the limits every setting is
checked against. None in a field means the variant's own setting (`resolved()` fills it in)."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from pathlib import Path

from fashiongan import spec
from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic
from fashiongan.spec import get_variant

MAX_STEPS_PER_EXECUTION = 4096  # steps per host call; Keras overflows far beyond
MAX_GRID_SIZE = 64  # a 64×64 grid of the epoch's samples is a 7688-pixel square PNG
# what --resume may change: the targets, the data's place and how (not what) to compute
RESUMABLE_CHANGES = (
    "epochs",
    "max_steps",
    "time_budget",
    "out",
    "data_dir",
    "strategy",
    "xla",
    "steps_per_execution",
    "mixed_precision",
    "device_data",
)


@dataclass
class TrainConfig:
    """Everything that defines a run; None means the variant's own setting."""

    variant: str = spec.DEFAULT_VARIANT
    dataset: str = spec.DEFAULT_DATASET
    epochs: int = 1
    out: str = "runs/dcgan"
    batch_size: int | None = None
    seed: int = 0
    data_dir: str | None = None
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    time_budget: float | None = None  # minutes of training for this invocation, then a clean stop
    g_learning_rate: float | None = None
    d_learning_rate: float | None = None
    beta_1: float | None = None
    grid_size: int = 4
    strategy: str = "auto"
    xla: str = "auto"
    steps_per_execution: int | None = None
    mixed_precision: str = "auto"
    device_data: str = "auto"
    loss: str | None = None
    ema_momentum: float | None = None
    ema_warmup: bool | None = None
    augment: str | None = None  # DiffAugment policy, e.g. "translation,cutout"; "none" for none

    def resolved(self) -> TrainConfig:
        """A copy with the variant's defaults filled in and every number checked."""
        from fashiongan.model import data, sources

        variant = get_variant(self.variant)
        dataset = data.dataset_spec(self.dataset, self.data_dir)
        batch_size = variant.batch_size if self.batch_size is None else self.batch_size
        scale = large_batch_lr_scale(batch_size, variant.batch_size) if batch_size > 0 else 1.0
        config = dataclasses.replace(
            self,
            dataset=sources.canonical(self.dataset) if dataset.name not in spec.DATASETS else self.dataset,
            batch_size=batch_size,
            g_learning_rate=variant.g_learning_rate * scale if self.g_learning_rate is None else self.g_learning_rate,
            d_learning_rate=variant.d_learning_rate * scale if self.d_learning_rate is None else self.d_learning_rate,
            beta_1=variant.beta_1 if self.beta_1 is None else self.beta_1,
            loss=self.loss or variant.loss,
            ema_momentum=variant.ema_momentum if self.ema_momentum is None else self.ema_momentum,
            ema_warmup=variant.ema_warmup if self.ema_warmup is None else self.ema_warmup,
            augment=",".join(spec.parse_augment(variant.augment if self.augment is None else self.augment)) or "none",
        )
        if config.loss not in spec.LOSSES:
            raise FashionGANError(f"unknown loss {config.loss!r}; choose one of: {', '.join(spec.LOSSES)}")
        for name in (
            "epochs",
            "batch_size",
            "steps_per_epoch",
            "max_steps",
            "time_budget",
            "grid_size",
            "g_learning_rate",
            "d_learning_rate",
            "steps_per_execution",
        ):
            value = getattr(config, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise FashionGANError(f"{name} must be positive and finite, got {value}")
        if config.steps_per_execution is not None and config.steps_per_execution > MAX_STEPS_PER_EXECUTION:
            raise FashionGANError(
                f"steps_per_execution must be at most {MAX_STEPS_PER_EXECUTION}, got {config.steps_per_execution}"
            )
        if config.grid_size > MAX_GRID_SIZE:
            raise FashionGANError(
                f"grid_size must be at most {MAX_GRID_SIZE} (a {MAX_GRID_SIZE}² grid), got {config.grid_size}"
            )
        if not isinstance(config.seed, int) or not 0 <= config.seed < 2**32:
            raise FashionGANError(f"seed must be an integer in [0, 2**32), got {config.seed!r}")
        if config.beta_1 is None or not 0 <= config.beta_1 < 1:
            raise FashionGANError(f"beta_1 must be in [0, 1), got {config.beta_1}")
        if config.ema_momentum is None or not 0 <= config.ema_momentum < 1:
            raise FashionGANError(
                f"ema_momentum must be in [0, 1) (0 turns the average off), got {config.ema_momentum}"
            )
        if variant.conditional and dataset.num_classes < 2:
            unconditional = ", ".join(name for name, row in spec.VARIANTS.items() if not row.conditional)
            raise FashionGANError(
                f"{self.dataset} has one class (an unconditional dataset); variant {variant.name} draws classes: "
                f"choose one of {unconditional}"
            )
        return config

    def variant_spec(self) -> spec.VariantSpec:
        """The run's variant for its dataset (a conditional one with the dataset's class count)."""
        from fashiongan.model import data

        return spec.variant_for(get_variant(self.variant), data.dataset_spec(self.dataset, self.data_dir))

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(dataclasses.asdict(self), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """A saved config, each field checked against its declared type."""
        try:
            saved = json.loads(path.read_text())
            config = cls(**saved)
        except (OSError, ValueError, TypeError) as error:
            raise FashionGANError(f"{path}: not a fashiongan run config ({error})") from None
        for name, hint in typing.get_type_hints(cls).items():
            if not _fits(getattr(config, name), hint):
                raise FashionGANError(f"{path}: {name} is {getattr(config, name)!r}, not {hint}")
        return config


def _fits(value: object, hint: object) -> bool:
    """Whether a JSON value fits a field's type: an integer fits a float field, a bool fits no
    number field."""
    kinds = typing.get_args(hint) or (hint,)
    if float in kinds:
        kinds = (*kinds, int)
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def large_batch_lr_scale(batch_size: int, reference_batch_size: int) -> float:
    """The learning-rate rule for large batches: above the recipe's batch size, Adam's learning
    rate grows with the square root of the batch ratio (applied only to rates not given)."""
    return math.sqrt(batch_size / reference_batch_size) if batch_size > reference_batch_size else 1.0

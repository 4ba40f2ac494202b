"""train(config) end to end on tiny IDX data: grids, checkpoints, exact resume, seeds, NaN."""

import csv
import json

import keras
import numpy as np
import pytest
from PIL import Image

from fashiongan.errors import FashionGANError
from fashiongan.model.run_folder import TrainingError, latest_checkpoint, list_checkpoints, read_state, resume_config
from fashiongan.model.train import TrainConfig, train


def tiny_config(data_dir, out, **overrides) -> TrainConfig:
    settings = dict(
        variant="dcgan",
        dataset="fashion_mnist",
        epochs=1,
        out=str(out),
        batch_size=8,
        steps_per_epoch=2,
        data_dir=str(data_dir),
        seed=3,
    )
    return TrainConfig(**{**settings, **overrides})


def generator_weights(run_dir):
    model = keras.saving.load_model(run_dir / "generator.keras", safe_mode=True)
    return model.get_weights()


def test_run_directory_contents_and_grid(tiny_data_dir, tmp_path):
    run_dir = train(tiny_config(tiny_data_dir, tmp_path / "run", epochs=2), verbose=0)
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["variant"] == "dcgan" and saved["g_learning_rate"] == 1e-4  # variant defaults filled in
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1, 2] and [int(r["step"]) for r in rows] == [2, 4]
    assert all(np.isfinite(float(row[key])) for row in rows for key in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert list((run_dir / "logs").rglob("events.out.tfevents.*"))
    grid = np.asarray(Image.open(run_dir / "samples" / "epoch-0002.png"))
    assert grid.shape == ((4 * 30 + 2) * 4, (4 * 30 + 2) * 4)  # 4x4 tiles of 28 px, 2 px padding, x4
    assert grid.std() > 1
    assert latest_checkpoint(run_dir).name == "epoch-0002"


@pytest.mark.cpu_only
def test_resume_matches_an_uninterrupted_run(tiny_data_dir, tmp_path):
    straight = train(tiny_config(tiny_data_dir, tmp_path / "straight", epochs=2), verbose=0)
    interrupted = tmp_path / "interrupted"
    train(tiny_config(tiny_data_dir, interrupted, epochs=1), verbose=0)
    train(tiny_config(tiny_data_dir, interrupted, epochs=2), resume=True, verbose=0)
    for a, b in zip(generator_weights(straight), generator_weights(interrupted)):
        np.testing.assert_array_equal(a, b)
    rows = list(csv.DictReader((interrupted / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1, 2]  # no lost or repeated epoch


@pytest.mark.cpu_only
def test_a_resume_from_python_is_the_same_run_as_the_same_resume_from_the_cli(tiny_data_dir, tmp_path):
    """One rule (run_folder.resume_config): the saved settings, the changes given, and no stop
    carried over from the first invocation (its max_steps of 3 would end the resume at once)."""
    from fashiongan import cli

    for name in ("library", "cli"):
        train(tiny_config(tiny_data_dir, tmp_path / name, variant="dense", epochs=2, max_steps=3), verbose=0)
    library = train(resume_config(tmp_path / "library", epochs=3), resume=True, verbose=0)
    assert cli.main(["train", "--out", str(tmp_path / "cli"), "--resume", "--epochs", "3", "--quiet"]) == 0
    settings = [json.loads((run / "config.json").read_text()) for run in (library, tmp_path / "cli")]
    assert [{**saved, "out": None} for saved in settings] == [{**settings[0], "out": None}] * 2
    assert settings[0]["epochs"] == 3 and settings[0]["max_steps"] is None and settings[0]["batch_size"] == 8
    assert resume_config(library, max_steps=5, time_budget=2.0).max_steps == 5  # a stop given again is kept
    for a, b in zip(generator_weights(library), generator_weights(tmp_path / "cli")):
        np.testing.assert_array_equal(a, b)
    histories = [list(csv.DictReader((run / "history.csv").open())) for run in (library, tmp_path / "cli")]
    steps = [[int(row["step"]) for row in rows] for rows in histories]
    assert steps[0] == steps[1] and steps[0][-1] == 6  # the stop at step 3 logged alike, then to epoch 3


@pytest.mark.cpu_only
def test_seed_makes_runs_reproducible(tiny_data_dir, tmp_path):
    first = train(tiny_config(tiny_data_dir, tmp_path / "a", variant="dense"), verbose=0)
    second = train(tiny_config(tiny_data_dir, tmp_path / "b", variant="dense"), verbose=0)
    other = train(tiny_config(tiny_data_dir, tmp_path / "c", variant="dense", seed=4), verbose=0)
    for a, b in zip(generator_weights(first), generator_weights(second)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(generator_weights(first), generator_weights(other)))


def test_resume_refuses_changed_settings_and_existing_runs(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(tiny_data_dir, run, variant="dense"), verbose=0)
    with pytest.raises(Exception, match="already holds a run; pass --resume"):
        train(tiny_config(tiny_data_dir, run, variant="dense"), verbose=0)
    with pytest.raises(Exception, match="was started with variant='dense', not 'dcgan'"):
        train(tiny_config(tiny_data_dir, run, variant="dcgan"), resume=True, verbose=0)
    with pytest.raises(Exception, match="nothing to resume"):
        train(tiny_config(tiny_data_dir, tmp_path / "empty"), resume=True, verbose=0)
    with pytest.raises(FashionGANError, match="was started with batch_size=8, not 16"):
        train(tiny_config(tiny_data_dir, run, variant="dense", batch_size=16), resume=True, verbose=0)


class PoisonDiscriminator(keras.callbacks.Callback):
    """Sets the discriminator's output weights to NaN when the given epoch begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            weights = self.model.discriminator.get_weights()
            weights[-2][...] = np.nan
            self.model.discriminator.set_weights(weights)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(tiny_data_dir, run, variant="dense", epochs=3)
    with pytest.raises(TrainingError, match=r"non-finite loss .* in epoch 2 .* last good checkpoint is .*epoch-0001"):
        train(config, verbose=0, extra_callbacks=[PoisonDiscriminator(epoch=1)])
    assert latest_checkpoint(run).name == "epoch-0001"
    assert not (run / "generator.keras").exists()
    assert not (run / "samples" / "epoch-0002.png").exists()
    # the kept checkpoint is good: resuming from it finishes the run with finite losses
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1]  # nothing from the bad epoch
    assert all(np.isfinite(value) for _, value in tensorboard_scalars(run))
    assert {name for name, _ in tensorboard_scalars(run)} >= {"epoch_d_loss", "epoch_g_loss"}
    train(config, resume=True, verbose=0)
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows][-2:] == [2, 3]
    assert all(np.isfinite(w).all() for w in generator_weights(run))


def tensorboard_scalars(run):
    """(tag, value) of every scalar in the run's TensorBoard logs."""
    import tensorflow as tf

    found = []
    for path in (run / "logs").rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            found += [(value.tag, float(tf.make_ndarray(value.tensor))) for value in event.summary.value]
    return found


@pytest.mark.cpu_only
def test_resume_after_a_stop_inside_an_epoch_matches_an_uninterrupted_run(tiny_data_dir, tmp_path):
    """--max-steps 3 then 6 on 4-step epochs stops twice inside an epoch; each checkpoint keeps
    the position, so the resumed run sees the same batches and ends with the same weights."""
    settings = {"variant": "dense", "epochs": 3, "steps_per_epoch": 4}
    straight = train(tiny_config(tiny_data_dir, tmp_path / "straight", **settings), verbose=0)
    run = tmp_path / "stopped"
    train(tiny_config(tiny_data_dir, run, max_steps=3, **settings), verbose=0)
    state = json.loads((latest_checkpoint(run) / "state.json").read_text())
    assert (latest_checkpoint(run).name, state["step"], state["epoch"], state["step_in_epoch"]) == (
        "epoch-0000-step-3", 3, 0, 3)  # fmt: skip
    train(tiny_config(tiny_data_dir, run, max_steps=6, **settings), resume=True, verbose=0)
    assert json.loads((latest_checkpoint(run) / "state.json").read_text())["step"] == 6
    train(tiny_config(tiny_data_dir, run, **settings), resume=True, verbose=0)
    assert latest_checkpoint(run).name == "epoch-0003"
    assert json.loads((latest_checkpoint(run) / "state.json").read_text())["step"] == 12
    for a, b in zip(generator_weights(straight), generator_weights(run)):
        np.testing.assert_array_equal(a, b)


def test_a_resume_that_keeps_a_reached_cap_trains_no_step_past_it(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path / "run", variant="dense", epochs=3, steps_per_epoch=4, max_steps=3)
    run = train(config, verbose=0)
    train(config, resume=True, verbose=0)
    assert json.loads((latest_checkpoint(run) / "state.json").read_text())["step"] == 3
    assert [int(row["step"]) for row in csv.DictReader((run / "history.csv").open())] == [3]


def test_checkpoints_are_ordered_by_step_past_epoch_9999(tmp_path):
    for name, step in (("epoch-9999", 9999), ("epoch-10000", 10000), ("epoch-10000-step-10001", 10001)):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        (tmp_path / "checkpoints" / name / "state.json").write_text(json.dumps({"step": step}))
    assert [path.name for path in list_checkpoints(tmp_path)] == ["epoch-9999", "epoch-10000", "epoch-10000-step-10001"]
    assert latest_checkpoint(tmp_path).name == "epoch-10000-step-10001"


@pytest.mark.parametrize(
    "state, message",
    [
        ({"step": 4, "seed_generator_states": []}, "needs integer epoch and step"),
        ({"epoch": "1", "step": 4, "seed_generator_states": []}, "needs integer epoch and step"),
        ([1, 2], "needs integer epoch and step"),
    ],
)
def test_a_malformed_checkpoint_state_is_one_error(tmp_path, state, message):
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(TrainingError, match=message):
        read_state(tmp_path)


@pytest.mark.parametrize("change, message", [({"epochs": "ten"}, "epochs is 'ten'"), ({"seed": None}, "seed is None")])
def test_a_malformed_run_config_is_one_error(tiny_data_dir, tmp_path, change, message):
    run = train(tiny_config(tiny_data_dir, tmp_path / "run", variant="dense"), verbose=0)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(FashionGANError, match=message):
        TrainConfig.load(run / "config.json")


def test_a_start_that_fails_writes_nothing(tiny_data_dir, tmp_path):
    with pytest.raises(FashionGANError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
        train(tiny_config(tiny_data_dir, tmp_path / "run", seed=-1), verbose=0)
    with pytest.raises(FashionGANError, match="grid_size must be at most 64"):
        train(tiny_config(tiny_data_dir, tmp_path / "run", grid_size=100000), verbose=0)
    assert not (tmp_path / "run").exists()
    train(tiny_config(tiny_data_dir, tmp_path / "run", variant="dense"), verbose=0)  # the folder is usable


def test_batch_larger_than_data_is_refused_before_writing(tiny_data_dir, tmp_path):
    with pytest.raises(Exception, match="batch size 512 is larger than the 64 training images"):
        train(tiny_config(tiny_data_dir, tmp_path / "run", batch_size=512), verbose=0)
    assert not (tmp_path / "run").exists()


def test_max_steps_caps_the_run(tiny_data_dir, tmp_path):
    run = train(tiny_config(tiny_data_dir, tmp_path / "run", variant="dense", epochs=5, max_steps=3), verbose=0)
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["step"]) for row in rows] == [2, 3]
    assert (run / "generator.keras").is_file()


@pytest.mark.cpu_only
def test_a_time_budget_stops_at_the_first_step_past_it_and_resumes_exactly(tiny_data_dir, tmp_path, monkeypatch):
    """The budget's clock moves 0.7 s a step (a fake clock, so a slow first step on a busy
    machine cannot use up the budget): a 6 s budget stops at the first step that ends past it,
    step 9 at 6.3 s (the step before ends at 5.6 s, so a stop one step late fails), with a
    checkpoint there, inside the third epoch; a resume without the budget ends as an
    uninterrupted run."""
    import time
    from types import SimpleNamespace

    from fashiongan.model import callbacks

    class SlowSteps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.ends = 0, []

        def now(self) -> float:
            return 0.7 * self.steps

        def on_train_batch_begin(self, batch, logs=None):
            self.steps += 1

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(self.now())

    settings = {"variant": "dense", "epochs": 6, "steps_per_epoch": 4}
    straight = train(tiny_config(tiny_data_dir, tmp_path / "straight", **settings), verbose=0)
    run, slow = tmp_path / "budget", SlowSteps()
    monkeypatch.setattr(callbacks, "time", SimpleNamespace(monotonic=slow.now, perf_counter=time.perf_counter))
    train(tiny_config(tiny_data_dir, run, time_budget=0.1, **settings), verbose=0, extra_callbacks=[slow])
    assert 2 <= len(slow.ends) < 24, slow.ends
    assert slow.ends[-2] < 6 <= slow.ends[-1], slow.ends  # the first step ending past the budget, not one later
    state = json.loads((latest_checkpoint(run) / "state.json").read_text())
    assert state["step"] == len(slow.ends)
    train(tiny_config(tiny_data_dir, run, **settings), resume=True, verbose=0)
    assert json.loads((latest_checkpoint(run) / "state.json").read_text())["step"] == 24
    for a, b in zip(generator_weights(straight), generator_weights(run)):
        np.testing.assert_array_equal(a, b)


def test_progress_lines_in_a_log_and_an_animation_with_a_frame_per_epoch(tiny_data_dir, tmp_path, capsys, monkeypatch):
    from fashiongan.model import callbacks

    monkeypatch.setattr(callbacks, "PROGRESS_SECONDS", 0.0)
    run = train(tiny_config(tiny_data_dir, tmp_path / "run", variant="dense", epochs=3), verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert len(lines) >= 5 and lines[-1].startswith("step 6/6 (epoch 3): ")
    assert all(" images/s, about " in line and " left; " in line and " d_loss " in line for line in lines)
    with Image.open(run / "samples" / "progress.gif") as animation:
        assert animation.n_frames == 3 and animation.is_animated and animation.info["loop"] == 0
        assert max(animation.size) <= 480 and animation.size[0] == animation.size[1]


@pytest.mark.cpu_only
def test_long_run_evaluates_the_checkpoint_not_a_stale_generator(tiny_data_dir, tmp_path):
    """A long run killed after a chunk's last checkpoint but before train() wrote generator.keras
    resumes into the checkpoint's generator: the chunk is not evaluated with an older one."""
    import shutil

    from conftest import benchmark_script

    long_run = benchmark_script("long_run")
    run = tmp_path / "run"
    train(tiny_config(tiny_data_dir, run, variant="dense"), verbose=0)
    stale = tmp_path / "stale" / "generator.keras"
    stale.parent.mkdir()
    shutil.copyfile(run / "generator.keras", stale)
    train(tiny_config(tiny_data_dir, run, variant="dense", epochs=2), resume=True, verbose=0)
    trained = generator_weights(run)
    shutil.copyfile(stale, run / "generator.keras")  # as if killed between checkpoint and export
    long_run.train_to(run, {}, "fashion_mnist", 2)
    assert any(not np.array_equal(a, b) for a, b in zip(trained, generator_weights(tmp_path / "stale")))
    for a, b in zip(trained, generator_weights(run)):
        np.testing.assert_array_equal(a, b)
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1, 2]  # no epoch trained again


def test_each_optimizer_gets_its_own_configured_learning_rate():
    """Distinct generator and discriminator rates, neither the variant's default, land on the right optimizers."""
    from fashiongan.model.train import build_gan

    config = TrainConfig(variant="dense", g_learning_rate=3e-4, d_learning_rate=5e-5).resolved()
    gan = build_gan(config)
    assert float(np.asarray(gan.g_optimizer.learning_rate)) == pytest.approx(config.g_learning_rate, rel=1e-6)
    assert float(np.asarray(gan.d_optimizer.learning_rate)) == pytest.approx(config.d_learning_rate, rel=1e-6)


def test_a_resumed_run_keeps_a_frame_per_epoch_in_its_animation(tiny_data_dir, tmp_path):
    """The animation rewritten after a resume still holds the frames of the epochs before it."""
    run = tmp_path / "run"
    train(tiny_config(tiny_data_dir, run, variant="dense", epochs=1), verbose=0)
    train(tiny_config(tiny_data_dir, run, variant="dense", epochs=3), resume=True, verbose=0)
    with Image.open(run / "samples" / "progress.gif") as animation:
        assert animation.n_frames == 3


def test_a_progress_line_gives_images_per_second_as_steps_per_second_times_the_batch(monkeypatch, capsys):
    """Under a fake clock, device calls of 2 steps each 0.5 s apart: 4 steps/s, so 4 × 12 images/s."""
    import re
    import time
    from types import SimpleNamespace

    from fashiongan.model import callbacks

    clock = SimpleNamespace(now=100.0)
    steps = SimpleNamespace(count=0)
    monkeypatch.setattr(callbacks, "time", SimpleNamespace(monotonic=lambda: clock.now, perf_counter=time.perf_counter))
    monkeypatch.setattr(callbacks, "PROGRESS_SECONDS", 0.0)
    step_counter = SimpleNamespace(numpy=lambda: steps.count)
    progress = callbacks.ProgressLines(last_step=40, batch_size=12)
    progress.set_model(SimpleNamespace(g_optimizer=SimpleNamespace(iterations=step_counter)))
    progress.on_epoch_begin(0)
    for _ in range(4):
        clock.now += 0.5
        steps.count += 2
        progress.on_train_batch_end(0, {"d_loss": 0.5})
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert len(lines) == 3  # the first call only starts the clock
    rates = [float(rate.replace(",", "")) for line in lines for rate in re.findall(r": ([\d,.]+) images/s", line)]
    assert rates == [2 / 0.5 * 12] * 3


@pytest.mark.parametrize("budget", [0, -1])
def test_a_time_budget_must_be_positive(budget):
    with pytest.raises(FashionGANError, match="time_budget must be positive"):
        TrainConfig(variant="dense", time_budget=budget).resolved()


@pytest.mark.parametrize("budget", ["0", "-1"])
def test_the_cli_refuses_a_time_budget_that_is_not_positive(budget, tmp_path, capsys):
    from fashiongan.cli import main

    args = ["train", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "no-data"), "--time-budget", budget]
    with pytest.raises(SystemExit) as stopped:  # refused by the parser, before any data is looked for
        main(args)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--time-budget: must be a positive" in error and f"got {budget}" in error
    assert not (tmp_path / "run").exists()

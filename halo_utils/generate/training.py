"""A resumable, step-counted training loop shared by the generative models.

``run_steps`` calls ``step_fn()`` until ``total_steps`` are done, saving a TensorFlow
checkpoint of everything that defines the run (networks, optimisers, EMA weights, the
step counter and the ``tf.random.Generator`` all randomness is drawn from) every
``every`` steps and at the end. Started again on the same folder it restores the latest
checkpoint and continues, so a killed run ends at the same step count, and - because the
random state is restored too - with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..paths import atomic_write

__all__ = ["run_steps", "read_losses"]


def read_losses(workdir) -> dict:
    """Per-step losses saved with the checkpoints: name -> list (one value per finished step)."""
    path = Path(workdir) / "losses.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save(manager, step, losses: dict, workdir: Path):

    manager.save(checkpoint_number=int(step))
    text = json.dumps(losses)
    atomic_write(workdir / "losses.json", lambda tmp: Path(tmp).write_text(text))


def _seed_states(trackables: dict) -> list:
    """The state variables of the Keras seed generators (dropout masks) inside ``trackables``.

    ``tf.train.Checkpoint`` does not save them through the model, so they are checkpointed
    explicitly; without them a resumed run would draw other dropout masks.
    """
    import keras

    models = [t for t in trackables.values() if isinstance(t, keras.Model)]
    return [v.value for m in models for v in m.variables if "seed_generator_state" in v.path]


def _check_settings(workdir: Path, settings: dict | None):
    """Refuse to resume a run folder written with other settings (it would fail deep in TensorFlow or mix runs)."""
    if settings is None:
        return
    path, text = workdir / "settings.json", json.dumps(settings, sort_keys=True, default=str)
    if path.exists() and (old := json.loads(path.read_text())) != (new := json.loads(text)):
        differ = ", ".join(f"{k}: {old.get(k, 'unset')} there, {new.get(k, 'unset')} here"
                           for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k))
        raise ValueError(f"{workdir} holds a run with other settings ({differ}; see {path.name}): delete the "
                         f"folder or choose another run name")
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _progress_line(desc: str, done: int, start: int, total: int, losses: dict, seconds: float) -> str:
    """'DDPM training: step 350/2000 (18 %), loss 0.0412, 95 s, about 448 s left' (the rate of this call's steps)."""
    left = seconds / max(done - start, 1) * (total - done)
    return (f"{desc}: step {done}/{total} ({100 * done / total:.0f} %), "
            + ", ".join(f"{k} {v[-1]:.4f}" for k, v in losses.items()) + f", {seconds:.0f} s, about {left:.0f} s left")


def run_steps(step_fn, trackables: dict, total_steps: int, workdir, every: int = 100, desc: str = "training",
              settings: dict | None = None, report_every: float = 60.0) -> dict:
    """Run ``step_fn`` (returns a dict of scalar losses) until ``total_steps``; resumable.

    Parameters
    ----------
    step_fn : callable with no arguments doing one optimisation step
    trackables : objects to checkpoint (Keras models, optimisers, ``tf.random.Generator``, variables)
    total_steps : steps the finished run has
    workdir : checkpoint folder (``ckpt-<step>`` files and ``losses.json``)
    every : checkpoint interval in steps
    settings : the run's configuration; a folder written with other settings is refused
    report_every : seconds between progress lines (step, losses, time left) printed as text besides the bar, and at
        every checkpoint: the progress a terminal shows under ``papermill --log-output``, where a notebook's bar is a
        widget

    Returns
    -------
    dict with ``steps`` (done), ``resumed_from`` (0 for a fresh run), ``seconds`` (this call),
    ``losses`` (name -> per-step list over the whole run)
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _check_settings(workdir, settings)
    step = tf.Variable(0, dtype=tf.int64, name="step")
    checkpoint = tf.train.Checkpoint(step=step, seed_states=_seed_states(trackables), **trackables)
    manager = tf.train.CheckpointManager(checkpoint, str(workdir), max_to_keep=2)
    losses = {}
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        losses = {k: v[: int(step.numpy())] for k, v in read_losses(workdir).items()}
    start, begin = int(step.numpy()), time.perf_counter()
    bar = tqdm(range(start, total_steps), desc=desc, initial=start, total=total_steps)
    reported = begin
    for _ in bar:
        logs = step_fn()
        step.assign_add(1)
        for key, value in logs.items():
            losses.setdefault(key, []).append(float(value))
        bar.set_postfix({k: f"{v[-1]:.4f}" for k, v in losses.items()}, refresh=False)
        done, now = int(step.numpy()), time.perf_counter()
        if done % every == 0 or done == total_steps:
            _save(manager, step.numpy(), losses, workdir)
            bar.write(_progress_line(desc, done, start, total_steps, losses, now - begin) + ", checkpoint saved")
            reported = now
        elif now - reported >= report_every:
            bar.write(_progress_line(desc, done, start, total_steps, losses, now - begin))
            reported = now
    return dict(steps=int(step.numpy()), resumed_from=start, seconds=time.perf_counter() - begin, losses=losses)

"""Callbacks for :meth:`zoo.Model.train`: hooks at train, epoch and batch boundaries, each given a ``logs`` dict.

``logs`` carry, per batch: ``batch`` (index), ``size`` (samples), ``loss``; per epoch: ``epoch`` (0-based) and
the epoch's metrics (``loss``, ``accuracy``, ``val_loss``, ...); a callback may add entries at ``on_epoch_end``
and they land in the history the training returns. ``on_train_begin`` gets ``epochs`` and ``steps`` (batches
per epoch, or None). ``self.model`` is the :class:`zoo.Model` being trained; setting
``self.model.stop_training = True`` ends training after the current epoch.
"""
import math
import time

import framework as torch


class Callback:
    """Base class: override any of the ``on_*`` hooks; each receives a ``logs`` dict."""

    model = None

    def set_model(self, model):
        """Attach the :class:`zoo.Model` being trained (called by the Model before ``on_train_begin``)."""
        self.model = model

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once after the last epoch (also after early stopping)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before each epoch's first batch."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch's validation, with the epoch's metrics in ``logs``."""

    def on_batch_begin(self, batch, logs=None):
        """Called before each training batch."""

    def on_batch_end(self, batch, logs=None):
        """Called after each training step, with the batch's ``loss`` and ``size``."""


class LossMonitor(Callback):
    """Prints the epoch's metrics after every epoch, and the loss every ``per_print_times`` batches if given."""

    def __init__(self, per_print_times=0, print_fn=print):
        if not isinstance(per_print_times, int) or per_print_times < 0:
            raise ValueError(f"LossMonitor: per_print_times must be an int >= 0, got {per_print_times!r}")
        self.per_print_times = per_print_times
        self.print_fn = print_fn
        self.epochs = None

    def on_train_begin(self, logs=None):
        self.epochs = (logs or {}).get("epochs")

    def on_batch_end(self, batch, logs=None):
        if self.per_print_times and (batch + 1) % self.per_print_times == 0:
            self.print_fn(f"  batch {batch + 1}  loss {logs['loss']:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        of = f"/{self.epochs}" if self.epochs else ""
        values = "  ".join(_fmt(k, v) for k, v in (logs or {}).items() if k != "epoch")
        self.print_fn(f"epoch {epoch + 1}{of}  {values}")


def _fmt(key, value):
    if not isinstance(value, float):
        return f"{key} {value}"
    if key.endswith("time"):
        return f"{key} {value:.2f}s"
    return f"{key} {value:,.0f}" if abs(value) >= 100 else f"{key} {value:.4g}" if key == "lr" else f"{key} {value:.4f}"


class _Monitored(Callback):
    """Shared logic for callbacks that watch one logged value and remember its best."""

    def __init__(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = None

    def _current(self, logs):
        if self.monitor not in (logs or {}):
            raise KeyError(f"{type(self).__name__}: monitored value {self.monitor!r} is not in the epoch logs; "
                           f"available: {sorted(logs or {})} (val_* values need a val_loader)")
        return float(logs[self.monitor])

    def _improved(self, value):
        """Whether ``value`` beats the best so far by more than ``min_delta`` (the first value always does)."""
        if self.best is None:
            return not math.isnan(value)
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class ModelCheckpoint(_Monitored):
    """Saves the network after each epoch (or only when ``monitor`` improves) with :func:`framework.save`.

    ``filepath`` may hold ``{epoch}`` (1-based) and any logged name, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.pt"``.
    Writes are atomic: a temporary file in the same folder renamed over the target, so a crash never leaves a
    half-written checkpoint. ``save_weights_only=False`` saves ``{"epoch", "model", "optimizer"}`` state dicts.
    """

    def __init__(self, filepath, monitor="val_loss", mode="auto", save_best_only=False, save_weights_only=True):
        super().__init__(monitor, mode)
        self.filepath = str(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._current(logs)
            if not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(**{**logs, "epoch": epoch + 1})
        network = self.model.network
        if self.save_weights_only:
            obj = network.state_dict()
        else:
            optimizer = self.model.optimizer
            obj = {"epoch": epoch + 1, "model": network.state_dict(),
                   "optimizer": optimizer.state_dict() if optimizer is not None else None}
        torch.save(obj, path)
        self.saved.append(path)


class EarlyStopping(_Monitored):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``restore_best_weights=True`` puts back the weights of the best epoch when training stops.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.patience = patience
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.stopped_epoch, self.best_epoch = None, 0, None, None
        self._best_state = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = {k: v.detach().clone() for k, v in self.model.network.state_dict().items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_state is not None:
            self.model.network.load_state_dict(self._best_state)


class LRSchedulerCallback(Callback):
    """Steps ``scheduler`` (a ``framework.optim.lr_scheduler`` object) after every epoch or every batch.

    ``ReduceLROnPlateau`` is stepped with the epoch's ``monitor`` value. The learning rate in use at each
    epoch's end is logged as ``lr``.
    """

    def __init__(self, scheduler, interval="epoch", monitor="val_loss"):
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'epoch' or 'batch', got {interval!r}")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self._plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        if self._plateau and interval == "batch":
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau steps on an epoch metric; use interval='epoch'")

    def on_batch_end(self, batch, logs=None):
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["lr"] = self.scheduler.optimizer.param_groups[0]["lr"]
        if self.interval != "epoch":
            return
        if self._plateau:
            if self.monitor not in logs:
                raise KeyError(f"LRSchedulerCallback: {self.monitor!r} is not in the epoch logs; "
                               f"available: {sorted(logs)}")
            self.scheduler.step(logs[self.monitor])
        else:
            self.scheduler.step()


class Timer(Callback):
    """Times each epoch: logs ``epoch_time`` (s, validation included) and ``samples_per_sec`` (training only)."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.epoch_times, self.samples_per_sec = [], []

    def on_train_begin(self, logs=None):
        self.epoch_times, self.samples_per_sec = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last_batch = self.clock()
        self._samples = 0

    def on_batch_end(self, batch, logs=None):
        self._samples += (logs or {}).get("size", 0)
        self._last_batch = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self.clock() - self._start
        train_time = self._last_batch - self._start
        rate = self._samples / train_time if train_time > 0 else float("nan")
        self.epoch_times.append(elapsed)
        self.samples_per_sec.append(rate)
        if logs is not None:
            logs["epoch_time"], logs["samples_per_sec"] = elapsed, rate


__all__ = ["Callback", "LossMonitor", "ModelCheckpoint", "EarlyStopping", "LRSchedulerCallback", "Timer"]

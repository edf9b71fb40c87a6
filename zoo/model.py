"""``zoo.Model``: train, evaluate and predict with any ``nn.Module`` in a few lines (Keras/MindSpore style).

::

    model = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1),
                      metrics=["accuracy"])
    history = model.train(5, train_loader, val_loader, callbacks=[LossMonitor(), Timer()])
    model.evaluate(test_loader)          # {"loss": 0.08, "accuracy": 0.97}
    model.predict(x)                     # the network's outputs, on the CPU
"""
import framework as torch

from .callbacks import Callback
from .metrics import get_metric
from .progress import progress


class Model:
    """Wraps ``network`` with its loss, optimizer and metrics; ``graph=True`` compiles the training step."""

    def __init__(self, network, loss_fn=None, optimizer=None, metrics=("accuracy",), device="cpu", graph=False):
        if not isinstance(network, torch.nn.Module):
            raise TypeError(f"Model: network must be an nn.Module, got {type(network).__name__}")
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"Model: loss_fn must be callable (output, target) -> loss, got {type(loss_fn).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"Model: optimizer must be a framework.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(metrics, str):
            metrics = [metrics]
        for spec in metrics or ():
            get_metric(spec)  # unknown names fail here, not after the first epoch
        self.network = network.to(device)
        self.loss_fn, self.optimizer, self.metrics = loss_fn, optimizer, list(metrics or ())
        self.device = torch.device(device)
        self.graph = graph
        self.stop_training = False
        self._step = self._train_step
        if graph:
            if not hasattr(torch, "compile"):
                raise NotImplementedError("Model(graph=True): graph mode is unavailable, this framework build has "
                                          "no framework.compile yet; use graph=False")
            self._step = torch.compile(self._train_step)

    # ------------------------------------------------------------------ training
    def train(self, epochs, train_loader, val_loader=None, callbacks=None, verbose=1):
        """Train for ``epochs`` passes over ``train_loader``; returns the history ``{name: [value per epoch]}``.

        ``train_loader`` yields ``(inputs, targets)`` batches. The history holds ``loss``, each metric, their
        ``val_`` counterparts when ``val_loader`` is given, and whatever callbacks log. ``verbose=0`` hides the
        progress bar (it is only drawn on a terminal anyway).
        """
        if self.loss_fn is None or self.optimizer is None:
            raise ValueError("Model.train needs both loss_fn and optimizer; pass them to zoo.Model(...)")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"Model.train: epochs must be an int >= 0, got {epochs!r}")
        callbacks = list(callbacks or ())
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Model.train: callbacks must be zoo.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
            cb.set_model(self)
        self.stop_training = False
        history = {}
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        _call(callbacks, "on_train_begin", {"epochs": epochs, "steps": steps})
        for epoch in range(epochs):
            _call(callbacks, "on_epoch_begin", epoch, {})
            logs = self._train_epoch(train_loader, callbacks, f"epoch {epoch + 1}/{epochs}", verbose)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader, verbose=verbose).items()})
            logs["epoch"] = epoch
            _call(callbacks, "on_epoch_end", epoch, logs)
            for key, value in logs.items():
                if key != "epoch":
                    history.setdefault(key, []).append(value)
            if self.stop_training:
                break
        _call(callbacks, "on_train_end", {k: v[-1] for k, v in history.items()})
        return history

    def _train_epoch(self, loader, callbacks, desc, verbose):
        self.network.train()
        metrics = self._fresh_metrics()
        bar = progress(total=_num_samples(loader), desc=desc, enabled=None if verbose else False, unit="sample")
        try:
            for i, batch in enumerate(loader):
                x, y = self._unpack(batch, "train")
                _call(callbacks, "on_batch_begin", i, {"batch": i, "size": _len(x)})
                loss, output = self._step(x, y)
                loss = float(loss.item())
                _update(metrics, output, y, loss)
                _call(callbacks, "on_batch_end", i, {"batch": i, "size": _len(x), "loss": loss})
                bar.update(_len(x))
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        finally:
            bar.close()
        return {m.name: m.compute() for m in metrics}

    def _train_step(self, x, y):
        """One optimisation step; returns the detached loss and outputs (what graph mode compiles)."""
        self.optimizer.zero_grad()
        output = self.network(x)
        loss = self.loss_fn(output, y)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), output.detach()

    # ------------------------------------------------------------------ inference
    def evaluate(self, loader, verbose=1):
        """The loss (when there is a loss_fn) and every metric over ``loader``'s ``(inputs, targets)`` batches."""
        self.network.eval()
        metrics = self._fresh_metrics()
        if not metrics:
            raise ValueError("Model.evaluate: nothing to compute: give the Model a loss_fn or metrics")
        batches = progress(loader, desc="evaluate", enabled=None if verbose else False)
        with torch.no_grad():
            for batch in batches:
                x, y = self._unpack(batch, "evaluate")
                output = self.network(x)
                loss = float(self.loss_fn(output, y).item()) if self.loss_fn is not None else None
                _update(metrics, output, y, loss)
        return {m.name: m.compute() for m in metrics}

    def predict(self, x, verbose=1):
        """The network's outputs (on the CPU, in eval mode, without grad) for a tensor or a loader of batches.

        A loader may yield inputs or ``(inputs, targets)`` pairs; the outputs of all batches are concatenated.
        """
        self.network.eval()
        with torch.no_grad():
            if isinstance(x, torch.Tensor):
                return self.network(x.to(self.device)).to("cpu")
            outputs = []
            for batch in progress(x, desc="predict", enabled=None if verbose else False):
                inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                if not isinstance(inputs, torch.Tensor):
                    raise TypeError(f"Model.predict: batches must be tensors or (inputs, targets) pairs, got "
                                    f"{type(inputs).__name__}")
                outputs.append(self.network(inputs.to(self.device)).to("cpu"))
        if not outputs:
            raise ValueError("Model.predict: the loader yielded no batches")
        return torch.cat(outputs)

    # ------------------------------------------------------------------ helpers
    def _fresh_metrics(self):
        specs = list(self.metrics)
        if self.loss_fn is not None and "loss" not in specs:
            specs.insert(0, "loss")
        return [get_metric(spec) for spec in specs]

    def _unpack(self, batch, where):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError(f"Model.{where}: each batch must be an (inputs, targets) pair, got "
                             f"{type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, '__len__')
                                                          else ""))
        x, y = batch
        return x.to(self.device), y.to(self.device)

    def __repr__(self):
        return (f"Model(network={type(self.network).__name__}, loss_fn={self.loss_fn!r}, "
                f"optimizer={type(self.optimizer).__name__ if self.optimizer else None}, metrics={self.metrics}, "
                f"device={self.device}, graph={self.graph})")


def _call(callbacks, hook, *args):
    for cb in callbacks:
        getattr(cb, hook)(*args)


def _update(metrics, output, target, loss):
    output, target = output.detach().to("cpu"), target.to("cpu")
    for m in metrics:
        m.update(output, target, loss)


def _len(x):
    return x.shape[0] if x.ndim else 1


def _num_samples(loader):
    dataset = getattr(loader, "dataset", None)
    try:
        return len(dataset) if dataset is not None else None
    except TypeError:  # an IterableDataset has no length
        return None

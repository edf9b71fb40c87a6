"""Metrics for :class:`zoo.Model`, accumulated over batches and named as Keras and MindSpore users expect.

``get_metric("accuracy")`` (also ``"acc"``), ``"top_5_accuracy"`` (any k: ``"top_k_accuracy"`` is k=5,
``"top3_accuracy"``, ``"sparse_top_k_categorical_accuracy"``), ``"loss"``, ``"mae"`` /
``"mean_absolute_error"``, ``"mse"`` / ``"mean_squared_error"``. A :class:`Metric` instance may be passed
instead of a name.
"""
import re


class Metric:
    """A running metric: ``reset()``, ``update(output, target, loss)`` per batch, ``compute()`` -> float."""

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self):
        """Forget every batch seen so far."""
        self.total = 0.0
        self.count = 0

    def update(self, output, target, loss=None):
        """Add one batch: the network's ``output``, the ``target`` and the batch's mean ``loss`` (a float)."""
        value, count = self.batch(output, target, loss)
        self.total += value
        self.count += count

    def batch(self, output, target, loss):
        """(sum of per-sample values, number of samples) for one batch."""
        raise NotImplementedError(f"{type(self).__name__} must define batch(output, target, loss)")

    def compute(self):
        """The mean over every sample seen since ``reset()``."""
        if self.count == 0:
            raise RuntimeError(f"metric {self.name!r}: compute() called before any update()")
        return self.total / self.count


class Loss(Metric):
    """The mean of the loss function's value, weighted by batch size."""

    name = "loss"

    def batch(self, output, target, loss):
        if loss is None:
            raise ValueError("metric 'loss' needs a loss function: pass loss_fn to zoo.Model")
        n = _batch_size(output)
        return loss * n, n


class TopKAccuracy(Metric):
    """Fraction of samples whose target class is among the ``k`` highest scores (k=1 is plain accuracy)."""

    def __init__(self, k=5, name=None):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"TopKAccuracy: k must be a positive int, got {k!r}")
        self.k = k
        self.name = name or ("accuracy" if k == 1 else f"top_{k}_accuracy")
        super().__init__()

    def batch(self, output, target, loss):
        labels = _class_labels(output, target, self.name)
        if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
            if self.k != 1:
                raise ValueError(f"metric {self.name!r}: top-k needs per-class scores, got output shape "
                                 f"{tuple(output.shape)}")
            predicted = (output.reshape(-1) > 0.5).long()  # one probability per sample: binary accuracy
            return (predicted == labels).sum().item(), labels.shape[0]
        if self.k > output.shape[1]:
            raise ValueError(f"metric {self.name!r}: k={self.k} exceeds the {output.shape[1]} classes")
        top = output.topk(self.k, dim=1).indices
        hits = (top == labels.unsqueeze(1)).any(dim=1)
        return hits.sum().item(), labels.shape[0]


class Accuracy(TopKAccuracy):
    """Fraction of samples whose highest score is the target class."""

    def __init__(self):
        super().__init__(k=1, name="accuracy")


class MeanAbsoluteError(Metric):
    """Mean of ``|output - target|`` over every element."""

    name = "mae"

    def batch(self, output, target, loss):
        _check_same_shape(output, target, self.name)
        return (output.float() - target.float()).abs().sum().item(), output.numel()


class MeanSquaredError(Metric):
    """Mean of ``(output - target)**2`` over every element."""

    name = "mse"

    def batch(self, output, target, loss):
        _check_same_shape(output, target, self.name)
        return (output.float() - target.float()).square().sum().item(), output.numel()


_NAMED = {
    "accuracy": Accuracy, "acc": Accuracy, "sparse_categorical_accuracy": Accuracy, "categorical_accuracy": Accuracy,
    "loss": Loss,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "top_k_accuracy": lambda: TopKAccuracy(5, "top_k_accuracy"),
    "sparse_top_k_categorical_accuracy": lambda: TopKAccuracy(5, "sparse_top_k_categorical_accuracy"),
    "top_k_categorical_accuracy": lambda: TopKAccuracy(5, "top_k_categorical_accuracy"),
}
_TOP_K = re.compile(r"top_?(\d+)_?(?:accuracy|acc|categorical_accuracy)")


def known_metrics():
    """The metric names :func:`get_metric` accepts (``top_<k>_accuracy`` stands for any k)."""
    return sorted(_NAMED) + ["top_<k>_accuracy"]


def get_metric(spec):
    """A fresh :class:`Metric` for a name (see the module docstring) or ``spec`` itself if it is a Metric."""
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"metrics: expected a metric name or a zoo.metrics.Metric, got {type(spec).__name__}")
    key = spec.strip().lower()
    if key in _NAMED:
        metric = _NAMED[key]()
        metric.name = spec
        return metric
    match = _TOP_K.fullmatch(key)
    if match:
        return TopKAccuracy(int(match.group(1)), name=spec)
    raise ValueError(f"unknown metric {spec!r}; known metrics: {', '.join(known_metrics())}")


def _batch_size(output):
    return output.shape[0] if output.ndim else 1


def _class_labels(output, target, name):
    """Integer class labels from ``target``: class indices as given, one-hot or probability rows by argmax."""
    if target.ndim == output.ndim and target.ndim >= 2 and target.shape == output.shape and output.shape[1] > 1:
        return target.argmax(dim=1)
    if target.dtype.is_floating_point and not (output.ndim == 1 or output.shape[-1] == 1):
        raise ValueError(f"metric {name!r}: targets must be class indices or one-hot rows matching the output; "
                         f"got output {tuple(output.shape)} and float target {tuple(target.shape)}")
    labels = target.reshape(-1)
    if labels.shape[0] != _batch_size(output):
        raise ValueError(f"metric {name!r}: {_batch_size(output)} outputs but {labels.shape[0]} targets")
    return labels.long() if not labels.dtype.is_floating_point else labels.round().long()


def _check_same_shape(output, target, name):
    if tuple(output.shape) != tuple(target.shape):
        raise ValueError(f"metric {name!r}: output shape {tuple(output.shape)} differs from target shape "
                         f"{tuple(target.shape)}")

"""Loss kernels: pick each sample's target class from the last axis, and its adjoint (scatter back); the
gradient of log-softmax under a class pick in one pass, and mean cross-entropy's forward and backward in one
call (graph mode's fusions of those chains)."""
import numpy as np

from ._numba import jit
from .softmax import exp_of_nonpositive


def _class_pick(x, target):
    """x[..., target[...]] for x of shape target.shape + (C,)."""
    return np.take_along_axis(x, target[..., None], axis=-1)[..., 0]


def _class_place(g, target, classes):
    """Zeros of shape target.shape + (classes,) holding g at each sample's target class."""
    out = np.zeros(g.shape + (classes,), dtype=g.dtype)
    np.put_along_axis(out, target[..., None], g[..., None], axis=-1)
    return out


@jit(error_model="numpy")
def _class_pick_backward_rows(logp, g, target, out):
    for i in range(logp.shape[0]):
        gi = g[i]
        for j in range(logp.shape[1]):
            out[i, j] = np.float32(0.0) - exp_of_nonpositive(logp[i, j]) * gi
        t = target[i]
        out[i, t] = gi - exp_of_nonpositive(logp[i, t]) * gi


def _check_targets(target, classes):
    if target.size and (target.min() < 0 or target.max() >= classes):
        bad = target[(target < 0) | (target >= classes)][0]
        raise IndexError(f"Target {bad} is out of bounds for {classes} classes.")


def _log_softmax_class_backward(logp, g, target):
    """The gradient reaching log-softmax's input from ``g`` placed at each row's target class of its output:
    ``G - exp(logp) * G.sum(-1)`` for ``G = class_place(g, target)``, which is ``G - exp(logp) * g``.

    ``logp`` (N, C) log-probabilities (<= 0), ``g`` (N,), ``target`` (N,) class indices.
    """
    _check_targets(target, logp.shape[-1])
    return _class_backward(logp, g, target)


def _class_backward(logp, g, target):
    """``_log_softmax_class_backward`` of targets known to be in range."""
    # on a device (kernels/cuda re-binds this module) the Numba loop is None and the array expression runs
    one_pass = logp.dtype == np.float32 and logp.ndim == 2 and g.dtype == np.float32
    if one_pass and _class_pick_backward_rows is not None:
        out = np.empty_like(logp)
        _class_pick_backward_rows(np.ascontiguousarray(logp), np.ascontiguousarray(g),
                                  np.ascontiguousarray(target, dtype=np.int64), out)
        return out
    out = -(np.exp(logp) * g[..., None])
    rows = np.indices(target.shape)
    out[(*rows, target)] += g  # 0 - e * g  becomes  g - e * g  at the target class
    return out


@jit(error_model="numpy")
def _cross_entropy_rows(logp, target, ignore, seed, grad):
    """Mean cross-entropy of float32 rows and its gradient into ``grad``; returns (loss, -1) or (0, the index
    of a row whose target is out of range)."""
    classes = logp.shape[1]
    count, total = 0, 0.0
    for i in range(logp.shape[0]):
        t = target[i]
        if t != ignore:
            if t < 0 or t >= classes:
                return np.float32(0.0), i
            count += 1
            total += -logp[i, t]
    share = np.float32(seed) / np.float32(count)
    for i in range(logp.shape[0]):
        t = target[i]
        g = np.float32(0.0) - (share if t != ignore else np.float32(0.0))
        for j in range(classes):
            grad[i, j] = np.float32(0.0) - exp_of_nonpositive(logp[i, j]) * g
        if t != ignore:
            grad[i, t] = g - exp_of_nonpositive(logp[i, t]) * g
    return np.float32(np.float32(total) / np.float32(count)), -1


def _cross_entropy_mean(logp, target, seed, *, ignore_index):
    """(loss, gradient) of the mean negative log-likelihood of ``target`` under ``logp`` (N, C), rows whose
    target is ``ignore_index`` left out, and its gradient reaching ``logp``'s input (log-softmax's) from
    ``seed``: cross-entropy's forward and backward as autograd computes them, in one call."""
    # on a device (kernels/cuda re-binds this module) the Numba loop is None and the array expressions run
    if logp.dtype == np.float32 and logp.ndim == 2 and _cross_entropy_rows is not None:
        grad = np.empty_like(logp)
        loss, bad = _cross_entropy_rows(np.ascontiguousarray(logp), np.ascontiguousarray(target, dtype=np.int64),
                                        ignore_index, float(seed), grad)
        if bad >= 0:
            _check_targets(target[bad:bad + 1], logp.shape[-1])
        return np.float32(loss), grad
    ignored = target == ignore_index
    safe = np.where(ignored, 0, target)
    _check_targets(safe, logp.shape[-1])
    valid = np.logical_not(ignored).astype(logp.dtype)
    count = valid.sum(dtype=logp.dtype)
    picked = _class_pick(logp, safe)
    loss = np.where(ignored, logp.dtype.type(0), -picked * valid).sum(dtype=logp.dtype) / count
    grad = -(np.where(ignored, logp.dtype.type(0), np.asarray(seed, logp.dtype) / count) * valid)
    return loss, _class_backward(logp, grad, safe)


KERNELS = {"class_pick": _class_pick, "class_place": _class_place,
           "log_softmax_class_backward": _log_softmax_class_backward, "cross_entropy_mean": _cross_entropy_mean}

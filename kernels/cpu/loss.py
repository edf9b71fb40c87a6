"""Loss kernels: pick each sample's target class from the last axis, and its adjoint (scatter back); the
gradient of log-softmax under a class pick in one pass (graph mode's fusion of that backward)."""
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


def _log_softmax_class_backward(logp, g, target):
    """The gradient reaching log-softmax's input from ``g`` placed at each row's target class of its output:
    ``G - exp(logp) * G.sum(-1)`` for ``G = class_place(g, target)``, which is ``G - exp(logp) * g``.

    ``logp`` (N, C) log-probabilities (<= 0), ``g`` (N,), ``target`` (N,) class indices.
    """
    classes = logp.shape[-1]
    if target.size and (target.min() < 0 or target.max() >= classes):
        bad = target[(target < 0) | (target >= classes)][0]
        raise IndexError(f"Target {bad} is out of bounds for {classes} classes.")
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


KERNELS = {"class_pick": _class_pick, "class_place": _class_place,
           "log_softmax_class_backward": _log_softmax_class_backward}

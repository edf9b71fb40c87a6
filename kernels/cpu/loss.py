"""Loss kernels: pick each sample's target class from the last axis, and its adjoint (scatter back)."""
import numpy as np


def _class_pick(x, target):
    """x[..., target[...]] for x of shape target.shape + (C,)."""
    return np.take_along_axis(x, target[..., None], axis=-1)[..., 0]


def _class_place(g, target, classes):
    """Zeros of shape target.shape + (classes,) holding g at each sample's target class."""
    out = np.zeros(g.shape + (classes,), dtype=g.dtype)
    np.put_along_axis(out, target[..., None], g[..., None], axis=-1)
    return out


KERNELS = {"class_pick": _class_pick, "class_place": _class_place}

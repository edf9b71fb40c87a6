"""float32 conv2d and max_pool2d, forward and forward+backward: our Numba loops vs our numpy path vs torch.

``ours`` runs the Numba im2col / col2im and pooling loops, ``numpy`` the same kernels with them switched off
(strided windows, a transposing copy, col2im as one strided add per kernel offset). Both do the GEMM in BLAS.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
import framework.nn.functional as F  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402
from kernels.cpu import conv as conv_kernels  # noqa: E402

CONVS = [  # (input shape, out channels, kernel, stride, padding)
    ((64, 1, 28, 28), 6, 5, 1, 0),
    ((64, 6, 14, 14), 16, 5, 1, 0),
    ((8, 64, 56, 56), 64, 3, 1, 1),
    ((8, 128, 28, 28), 128, 3, 2, 1),
]
POOLS = [  # (input shape, kernel, stride, padding)
    ((64, 6, 24, 24), 2, 2, 0),
    ((64, 16, 10, 10), 2, 2, 0),
    ((8, 64, 56, 56), 3, 2, 1),
    ((8, 128, 28, 28), 3, 2, 1),
]


def _path(numba, fn):
    """``fn`` run with the Numba loops switched on or off."""
    def run():
        conv_kernels.NUMBA = numba
        try:
            return fn()
        finally:
            conv_kernels.NUMBA = True
    return run


def _step(f, arrays, backward):
    """A call of ``f`` on framework tensors made from ``arrays``; with ``backward``, through its gradient too."""
    tensors = [framework.from_numpy(a) for a in arrays]
    tensors[0].requires_grad_(backward)
    if len(tensors) > 1:
        tensors[1].requires_grad_(backward)

    def run():
        y = f(*tensors)
        if backward:
            y.sum().backward()
    return run


def _torch_step(f, arrays, backward):
    tensors = [torch.from_numpy(a).requires_grad_(backward) for a in arrays]

    def run():
        y = f(*tensors)
        if backward:
            y.sum().backward()
    return run


def _rows(cases):
    rows = []
    for label, arrays, ours, theirs, big in cases:
        for backward in (False, True):
            cands = {"ours": _path(True, _step(ours, arrays, backward)),
                     "numpy": _path(False, _step(ours, arrays, backward))}
            if torch is not None:
                cands["torch"] = _torch_step(theirs, arrays, backward)
            rows.append((f"{label} {'fwd+bwd' if backward else 'fwd'}", measure(cands, repeat=5 if big else 11)))
    return rows


def conv():
    rng = np.random.default_rng(0)
    cases = []
    for shape, out, k, s, p in CONVS:
        x = rng.standard_normal(shape, dtype=np.float32)
        w = rng.standard_normal((out, shape[1], k, k), dtype=np.float32)
        label = f"{shape} {k}x{k}/{s} -> {out} ch"
        cases.append((label, (x, w), lambda a, b, s=s, p=p: F.conv2d(a, b, stride=s, padding=p),
                      lambda a, b, s=s, p=p: torch.nn.functional.conv2d(a, b, stride=s, padding=p), shape[0] == 8))
    report("float32 conv2d (interleaved, median; numpy = our kernels without Numba)", _rows(cases))


def pool():
    rng = np.random.default_rng(0)
    cases = []
    for shape, k, s, p in POOLS:
        x = rng.standard_normal(shape, dtype=np.float32)
        cases.append((f"max {shape} {k}x{k}/{s}", (x,), lambda a, k=k, s=s, p=p: F.max_pool2d(a, k, s, p),
                      lambda a, k=k, s=s, p=p: torch.nn.functional.max_pool2d(a, k, s, p), False))
        cases.append((f"avg {shape} {k}x{k}/{s}", (x,), lambda a, k=k, s=s, p=p: F.avg_pool2d(a, k, s, p),
                      lambda a, k=k, s=s, p=p: torch.nn.functional.avg_pool2d(a, k, s, p), False))
    report("float32 max_pool2d / avg_pool2d (interleaved, median; numpy = our kernels without Numba)", _rows(cases))


if __name__ == "__main__":
    conv()
    pool()

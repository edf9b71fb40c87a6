"""``framework.signal.windows``: window functions (``torch.signal.windows``).

Windows are computed in float64 with numpy and returned in ``dtype``. ``sym=True`` gives the symmetric window
used for filter design; ``sym=False`` the periodic one for spectral analysis (one sample of a window of
length M + 1).
"""
import math
import sys
import types

import numpy as np

from . import _dtype
from ._creation import tensor

__all__ = ["windows"]


def _check(name, M, dtype, layout):
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not None and getattr(layout, "name", "strided") != "strided":
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (_dtype.float32, _dtype.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _make(values, dtype, device, requires_grad):
    return tensor(np.asarray(values, dtype=np.float64).astype(dtype.np), dtype=dtype, device=device,
                  requires_grad=requires_grad)


def _span(M, sym):
    """The denominator spacing the samples: M - 1 for a symmetric window, M for a periodic one."""
    return M - 1 if sym else M


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Sum of cosines: w[n] = sum_i (-1)^i a[i] cos(2 pi i n / (M - 1)) (``windows.general_cosine``)."""
    dtype = _check("general_cosine", M, dtype, layout)
    if M <= 1:
        return _make(np.ones(M), dtype, device, requires_grad)
    if not isinstance(a, (list, tuple)):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    z = 2 * math.pi * np.arange(M) / _span(M, sym)
    w = sum((-1) ** i * c * np.cos(i * z) for i, c in enumerate(a))
    return _make(w, dtype, device, requires_grad)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Generalised Hamming window alpha - (1 - alpha) cos(2 pi n / (M - 1)) (``windows.general_hamming``)."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Hamming window (``windows.hamming``)."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Hann window (``windows.hann``)."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Blackman window (``windows.blackman``)."""
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Nuttall's minimum 4-term Blackman-Harris window (``windows.nuttall``)."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Triangular window 1 - |2n / (M - 1) - 1| (``windows.bartlett``)."""
    dtype = _check("bartlett", M, dtype, layout)
    if M <= 1:
        return _make(np.ones(M), dtype, device, requires_grad)
    return _make(1 - np.abs(np.arange(M) * 2.0 / _span(M, sym) - 1), dtype, device, requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Sine window sin(pi (n + 1/2) / M) (``windows.cosine``)."""
    dtype = _check("cosine", M, dtype, layout)
    span = M + 1 if not sym and M > 1 else M
    return _make(np.sin(math.pi * (np.arange(M) + 0.5) / max(span, 1)), dtype, device, requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Exponential (Poisson) window exp(-|n - center| / tau) (``windows.exponential``)."""
    dtype = _check("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    return _make(np.exp(-np.abs(np.arange(M) - center) / tau), dtype, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Gaussian window exp(-(n - c)^2 / (2 std^2)) centred on the window (``windows.gaussian``)."""
    dtype = _check("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    offset = (M if not sym and M > 1 else M - 1) / 2.0
    return _make(np.exp(-((np.arange(M) - offset) / std) ** 2 / 2), dtype, device, requires_grad)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Kaiser window I0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / I0(beta) (``windows.kaiser``)."""
    dtype = _check("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _make(np.ones(M), dtype, device, requires_grad)
    k = np.minimum(np.arange(M) * 2.0 / _span(M, sym) - 1, 1.0)
    return _make(np.i0(beta * np.sqrt(np.maximum(1 - k * k, 0))) / np.i0(beta), dtype, device, requires_grad)


windows = types.ModuleType(__name__ + ".windows", "Window functions (``torch.signal.windows``).")
for _name in ("bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
              "hamming", "hann", "kaiser", "nuttall"):
    setattr(windows, _name, globals()[_name])
sys.modules[windows.__name__] = windows  # so that ``import framework.signal.windows`` works

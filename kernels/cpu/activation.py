"""Activation kernels on raw arrays: numpy expressions; erf and GELU as one-pass generated kernels on the host."""
import functools
import math

import numpy as np

from ._numba import jit

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@jit
def _erf_loop(x, out):
    for i in range(x.size):
        out[i] = math.erf(x[i])


_ONE_PASS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=None)
def _program(op, dtype, arity, params):
    # one program object per signature: the fused-kernel cache is keyed by it
    return ((dtype,) * arity, ((op, tuple(range(arity)), params, dtype),), (arity,))


def _fused_one_pass(op, arrays, params=()):
    """``op`` of the fused-kernel vocabulary in one vectorised pass over same-dtype float32/float64 ``arrays``.

    Graph mode's fused kernels compute the same program, so eager and graph results have the same bits.
    """
    from .fused import fused_elementwise
    return fused_elementwise(*arrays, program=_program(op, arrays[0].dtype.name, len(arrays), params))


# None where arrays are not host memory (the CUDA twins of these kernels take the numpy-expression paths)
_one_pass = _fused_one_pass


def _runs_one_pass(*arrays):
    return _one_pass is not None and all(a.dtype == arrays[0].dtype for a in arrays) and \
        arrays[0].dtype in _ONE_PASS_DTYPES


def erf(x):
    """Elementwise erf of a float array, same dtype (float16 computed in float32).

    float32 runs the fused kernels' vectorised erf (``fused.py``; libm's is a scalar call, 3-5x slower);
    float64 keeps libm's.
    """
    if x.dtype != np.float64 and _one_pass is not None:
        return _one_pass("erf", (x.astype(np.float32, copy=False),)).astype(x.dtype, copy=False)
    out = np.empty(x.shape, np.float64)
    _erf_loop(np.ascontiguousarray(x, dtype=np.float64).reshape(-1), out.reshape(-1))
    return out.astype(x.dtype, copy=False)


def _t(x, value):
    return x.dtype.type(value)


def _relu(x):
    return np.maximum(x, _t(x, 0)) if x.dtype != np.bool_ else x.copy()


def _hardtanh(x, lo, hi):
    return np.clip(x, _t(x, lo), _t(x, hi))


def _leaky_relu(x, slope):
    return np.where(x > 0, x, x * _t(x, slope))


def _elu(x, alpha, scale, input_scale):
    neg = np.expm1(np.minimum(x, _t(x, 0)) * _t(x, input_scale)) * _t(x, alpha)
    return np.where(x > 0, x, neg) * _t(x, scale)


def _softplus(x, beta, threshold):
    bx = x * _t(x, beta)
    soft = (np.maximum(bx, _t(x, 0)) + np.log1p(np.exp(-np.abs(bx)))) / _t(x, beta)
    return np.where(bx > threshold, x, soft)


def _logsigmoid(x):
    return np.minimum(x, _t(x, 0)) - np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(x))
    one = _t(x, 1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _silu(x):
    return x * _sigmoid(x)


def _mish(x):
    return x * np.tanh(_softplus(x, 1.0, 20.0))


def _gelu(x, approximate):
    if _runs_one_pass(x):
        return _one_pass("gelu", (x,), (approximate,))
    half = _t(x, 0.5)
    if approximate == "tanh":
        # 0.5 * (1 + tanh(u)) == sigmoid(2u), without the cancellation of 1 + tanh(u) for u << 0
        return x * _sigmoid(_t(x, 2 * _SQRT_2_OVER_PI) * (x + _t(x, 0.044715) * x * x * x))
    return half * x * (_t(x, 1) + erf(x * _t(x, _SQRT_HALF)))


def gelu_derivative(x, approximate):
    """d gelu(x) / dx."""
    if approximate == "tanh":
        one = _t(x, 1)
        k, c = _t(x, _SQRT_2_OVER_PI), _t(x, 0.044715)
        s = _sigmoid(_t(x, 2) * k * (x + c * x * x * x))  # (1 + tanh(u)) / 2, and 1 - tanh(u)^2 == 4 s (1 - s)
        return s + _t(x, 2) * x * s * (one - s) * k * (one + _t(x, 3) * c * x * x)
    return _gelu_derivative_from_cdf(x, gelu_cdf(x))


def gelu_cdf(x):
    """Phi(x), the standard normal CDF: exact GELU is x * Phi(x)."""
    if _runs_one_pass(x):
        return _one_pass("gelu_cdf", (x,))
    return _t(x, 0.5) * (_t(x, 1) + erf(x * _t(x, _SQRT_HALF)))


def _gelu_derivative_from_cdf(x, cdf):
    return cdf + x * np.exp(_t(x, -0.5) * x * x) * _t(x, _INV_SQRT_2PI)


def _gelu_backward(g, x, approximate):
    if _runs_one_pass(g, x):
        return _one_pass("gelu_backward", (g, x), (approximate,))
    return g * gelu_derivative(x, approximate)


def _gelu_backward_from_cdf(g, x, cdf):
    # exact GELU's backward given the Phi(x) its forward computed (graph mode shares it)
    if _runs_one_pass(g, x, cdf):
        return _one_pass("gelu_backward_from_cdf", (g, x, cdf))
    return g * _gelu_derivative_from_cdf(x, cdf)


def _threshold(x, threshold, value):
    return np.where(x > threshold, x, np.asarray(value).astype(x.dtype))


def _hardsigmoid(x):
    return np.clip(x + _t(x, 3), _t(x, 0), _t(x, 6)) / _t(x, 6)


def _hardswish(x):
    return x * _hardsigmoid(x)


def _softshrink(x, lambd):
    lam = _t(x, lambd)
    return np.where(x > lam, x - lam, np.where(x < -lam, x + lam, _t(x, 0)))


def _hardshrink(x, lambd):
    return np.where(np.abs(x) > _t(x, lambd), x, _t(x, 0))


KERNELS = {
    "relu": _relu, "hardtanh": _hardtanh, "leaky_relu": _leaky_relu, "elu": _elu, "softplus": _softplus,
    "logsigmoid": _logsigmoid, "silu": _silu, "mish": _mish, "gelu": _gelu, "gelu_backward": _gelu_backward,
    "gelu_cdf": gelu_cdf, "gelu_backward_from_cdf": _gelu_backward_from_cdf,
    "threshold": _threshold, "hardsigmoid": _hardsigmoid, "hardswish": _hardswish, "softshrink": _softshrink,
    "hardshrink": _hardshrink,
}

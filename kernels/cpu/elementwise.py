"""Elementwise kernels on raw arrays: numpy ufuncs (C loops) keyed by op name."""
import numpy as np


def _floor_divide(a, b):
    if a.dtype.kind in "iub" and np.any(b == 0):
        raise ZeroDivisionError("ZeroDivisionError")
    return np.floor_divide(a, b)


def _trunc_divide(a, b):
    if a.dtype.kind in "iub":
        if np.any(b == 0):
            raise ZeroDivisionError("ZeroDivisionError")
        q = np.floor_divide(a, b)
        # floor and trunc differ where the signs differ and the division is inexact
        fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
        return q + fix.astype(q.dtype)
    return np.trunc(a / b)


def _remainder(a, b):
    if a.dtype.kind in "iub" and np.any(b == 0):
        raise ZeroDivisionError("ZeroDivisionError")
    return np.remainder(a, b)


def _fmod(a, b):
    if a.dtype.kind in "iub" and np.any(b == 0):
        raise ZeroDivisionError("ZeroDivisionError")
    return np.fmod(a, b)


def _pow(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return np.power(a, b)


def _round(a, decimals=0):
    return np.round(a, decimals) if a.dtype.kind == "f" else a.copy()


def _sign(a):
    return np.sign(a) if a.dtype.kind != "b" else a.copy()


def _xlogy(x, y):
    out = x * np.log(y)
    return np.where((x == 0) & ~np.isnan(y), np.zeros((), out.dtype), out)


def _sigmoid(x):
    one = x.dtype.type(1)
    return one / (one + np.exp(-x))


def _logit(x, eps=None):
    if eps is not None:
        x = np.clip(x, eps, 1 - eps)
    return np.log(x / (1 - x))


def _erf_family():
    from math import erf, erfc, lgamma
    return np.vectorize(erf, otypes=[np.float64]), np.vectorize(erfc, otypes=[np.float64]), \
        np.vectorize(lgamma, otypes=[np.float64])


def _special(index):
    def kernel(x):
        fn = _erf_family()[index]
        return fn(x.astype(np.float64)).astype(x.dtype)
    return kernel


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _clamp(x, lo, hi):
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out if out is not x else x.copy()


def _where(cond, a, b):
    return np.where(cond, a, b)


def _lerp(a, b, w):
    return np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w)).astype(np.result_type(a, b))


KERNELS = {
    # unary
    "neg": np.negative, "abs": np.abs, "sign": _sign, "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1,
    "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt,
    "square": np.square, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "sigmoid": _sigmoid, "logit": _logit, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "round": _round, "reciprocal": np.reciprocal,
    "rsqrt": lambda x: 1 / np.sqrt(x), "erf": _special(0), "erfc": _special(1), "lgamma": _special(2),
    "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit,
    "logical_not": np.logical_not, "bitwise_not": np.invert, "nan_to_num": _nan_to_num, "clamp": _clamp,
    "frac": lambda x: x - np.trunc(x), "deg2rad": np.deg2rad, "rad2deg": np.rad2deg,
    # binary
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "div_floor": _floor_divide, "div_trunc": _trunc_divide, "remainder": _remainder, "fmod": _fmod,
    "pow": _pow, "atan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp,
    "logaddexp2": np.logaddexp2, "xlogy": _xlogy, "maximum": np.maximum, "minimum": np.minimum,
    "fmax": np.fmax, "fmin": np.fmin, "copysign": np.copysign, "nextafter": np.nextafter,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor, "bitwise_left_shift": np.left_shift,
    "bitwise_right_shift": np.right_shift,
    # ternary
    "where": _where, "lerp": _lerp,
}

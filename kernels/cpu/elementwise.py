"""Elementwise kernels on raw arrays: numpy ufuncs (C loops) keyed by op name, Numba loops for special functions."""
import math

import numpy as np

from ._numba import jit
from .activation import erf


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


# Special functions: Numba loops over float64 (math.erf/erfc/lgamma are C calls inside the loop).
@jit
def _erfc_loop(x, out):
    for i in range(x.size):
        out[i] = math.erfc(x[i])


@jit
def _lgamma_loop(x, out):
    for i in range(x.size):
        out[i] = math.lgamma(x[i])


@jit
def _digamma_loop(x, out):
    for i in range(x.size):
        v = x[i]
        if v == 0.0:
            out[i] = -math.copysign(math.inf, v)  # PyTorch: -inf at +0, +inf at -0
            continue
        if v == -math.inf or (v < 0.0 and v == math.floor(v)) or math.isnan(v):
            out[i] = math.nan
            continue
        acc = 0.0
        if v < 0.0:
            # reflection: psi(v) = psi(1 - v) - pi / tan(pi v)
            acc = -math.pi / math.tan(math.pi * v)
            v = 1.0 - v
        while v < 6.0:
            acc -= 1.0 / v
            v += 1.0
        f = 1.0 / (v * v)
        series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
        out[i] = acc + math.log(v) - 0.5 / v - series


# B_2j / (2j)! for the Euler-Maclaurin tail of the Hurwitz zeta function
_ZETA_B = np.array([1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600, 1.0 / 47900160,
                    -691.0 / 1307674368000, 1.0 / 74724249600, -3617.0 / 10670622842880000,
                    43867.0 / 5109094217170944000, -174611.0 / 802857662698291200000])


@jit
def _polygamma_loop(x, n, bern, out):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x), zeta by Euler-Maclaurin after shifting x past 20."""
    s = n + 1.0
    scale = math.gamma(n + 1.0) * (1.0 if n % 2 == 1 else -1.0)
    for i in range(x.size):
        v = x[i]
        if math.isnan(v) or v == -math.inf or (v <= 0.0 and v == math.floor(v)):
            out[i] = math.nan if (math.isnan(v) or v == -math.inf) else math.inf * (1.0 if n % 2 == 1 else -1.0)
            continue
        if v == math.inf:
            out[i] = 0.0
            continue
        total = 0.0
        while v < 20.0:
            total += v ** -s
            v += 1.0
        total += v ** (1.0 - s) / (s - 1.0) + 0.5 * v ** -s
        rising = s
        power = v ** (-s - 1.0)
        for j in range(bern.size):
            term = bern[j] * rising * power
            total += term
            rising *= (s + 2 * j + 1) * (s + 2 * j + 2)
            power /= v * v
        out[i] = scale * total


@jit
def _erfinv_loop(y, out):
    """Giles' single-precision approximation, then two Newton steps on erf in float64."""
    for i in range(y.size):
        v = y[i]
        if math.isnan(v) or v < -1.0 or v > 1.0:
            out[i] = math.nan
            continue
        if v == 1.0 or v == -1.0:
            out[i] = math.copysign(math.inf, v)
            continue
        w = -math.log((1.0 - v) * (1.0 + v))
        if w < 5.0:
            w -= 2.5
            p = 2.81022636e-08
            for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                      -0.00417768164, 0.246640727, 1.50140941):
                p = c + p * w
        else:
            w = math.sqrt(w) - 3.0
            p = -0.000200214257
            for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                      0.00943887047, 1.00167406, 2.83297682):
                p = c + p * w
        r = p * v
        for _ in range(2):
            r -= (math.erf(r) - v) / (2.0 / math.sqrt(math.pi) * math.exp(-r * r))
        out[i] = r


def float64_map(loop, *extra):
    """Kernel running ``loop(flat_float64_x, *extra, out)`` and returning the input's float dtype."""
    def kernel(x):
        flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        out = np.empty_like(flat)
        loop(flat, *extra, out)
        return out.reshape(x.shape).astype(x.dtype, copy=False)
    return kernel


def _polygamma(x, n):
    if n == 0:
        return float64_map(_digamma_loop)(x)
    return float64_map(_polygamma_loop, n, _ZETA_B)(x)


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _clamp(x, lo, hi):
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out if out is not x else x.copy()


def _isclose(a, b, rtol, atol, equal_nan):
    if a.dtype.kind in "biu":
        a, b = a.astype(np.float64), b.astype(np.float64)  # no unsigned wrap-around in a - b
    close = a == b
    close |= np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= atol + rtol * np.abs(b))
    if equal_nan:
        close |= np.isnan(a) & np.isnan(b)
    return close


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
    "rsqrt": lambda x: 1 / np.sqrt(x), "erf": erf, "erfc": float64_map(_erfc_loop),
    "lgamma": float64_map(_lgamma_loop), "digamma": float64_map(_digamma_loop), "polygamma": _polygamma,
    "erfinv": float64_map(_erfinv_loop),
    "isnan": np.isnan, "isposinf": np.isposinf, "isneginf": np.isneginf, "sinc": np.sinc,
    "heaviside": lambda x, v: np.heaviside(x, v).astype(np.result_type(x, v), copy=False),
    "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit,
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
    "where": _where, "lerp": _lerp, "isclose": _isclose,
}

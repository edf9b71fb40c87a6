"""Fused elementwise kernels: one generated Numba loop per program of scalar ops (graph mode's fusion).

A *program* is a hashable description of a DAG of scalar ops, ``(input_dtypes, ops, outputs)``:
``input_dtypes`` names each input's dtype; each op is ``(name, args, params, dtype)`` where ``args``
index *slots* (inputs first, then one slot per op in order), ``params`` are the op's scalar attributes
(in ``SCALAR_OPS[name].params`` order) and ``dtype`` its result dtype; ``outputs`` lists the slots
written out. ``("const", (), (value,), dtype)`` is a literal. Each op means exactly what the eager kernel
of the same name computes (``elementwise.py``, ``activation.py``), element by element in its dtype.

The generated loop is compiled once per (program, layout): Numba source written under a cache directory
and imported, so ``cache=True`` lets a new process reuse the machine code. Inputs are read flat when
they are C-contiguous and full-sized, hoisted when they hold one element, and through broadcast
strides (over coalesced dimensions) otherwise; loops run in parallel above ``PARALLEL_MIN`` elements.
"""
import hashlib
import importlib.util
import math
import os
import sys
import threading

import numpy as np

from . import openblas_threads
from ._numba import num_threads

__all__ = ["SCALAR_OPS", "fused_elementwise", "source_for", "cache_dir", "PARALLEL_MIN"]

PARALLEL_MIN = 200_000  # on Numba's threads, which compete with OpenBLAS's spinning ones (openblas_threads.py)
SPLIT_MIN = 100_000  # on OpenBLAS's threads: handing out the halves costs ~10-20 us
_CHUNK = 16384


class ScalarOp:
    """A scalar op of the fusion vocabulary: its arity, attribute names, result kind and Numba emitter.

    ``kind`` is "float" (computed in its result dtype, arguments cast to it) or "bool" (a comparison
    or logical op: arguments compared as Numba promotes them, which is numpy's promotion).
    ``emit(r, args, params, T)`` returns source lines assigning variable ``r``; ``T`` is the dtype's
    constructor (``np.float32``).
    """

    __slots__ = ("arity", "params", "kind", "emit")

    def __init__(self, arity, emit, params=(), kind="float"):
        self.arity, self.emit, self.params, self.kind = arity, emit, params, kind


def _expr(template):
    """An emitter from an expression over ``{0}``, ``{1}`` (arguments), ``{p0}``.. (params) and ``{T}``."""
    def emit(r, a, p, T):
        return [f"{r} = {T}(" + template.format(*a, T=T, **{f"p{i}": _literal(v) for i, v in enumerate(p)}) + ")"]
    return emit


def _test(template):
    """A bool-valued emitter (no cast of the result)."""
    def emit(r, a, p, T):
        return [f"{r} = " + template.format(*a)]
    return emit


def _literal(value):
    """Python source for a scalar constant, exact for floats (inf and nan included)."""
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return repr(value if not isinstance(value, np.bool_) else bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    f = float(value)
    if math.isnan(f):
        return "math.nan"
    if math.isinf(f):
        return "math.inf" if f > 0 else "(-math.inf)"
    return repr(f)


# NaN-propagating max/min, as np.maximum / np.minimum / np.clip
def _max(a, b):
    return f"({a} if ({a} >= {b} or {a} != {a}) else {b})"


def _min(a, b):
    return f"({a} if ({a} <= {b} or {a} != {a}) else {b})"


def _stable_sigmoid(r, u, T):
    # exp of a non-positive number never overflows (activation.py's sigmoid)
    return _exp_lines(f"{r}_e", f"-abs({u})", T) + [
        f"{r} = {T}(1) / ({T}(1) + {r}_e) if {u} >= {T}(0) else {r}_e / ({T}(1) + {r}_e)"]


def _relu(r, a, p, T):
    return [f"{r} = {_max(a[0], f'{T}(0)')}"]


def _clamp(r, a, p, T):
    lo, hi = p
    lines, cur = [], a[0]
    if lo is not None:
        lines.append(f"{r} = {_max(cur, f'{T}({_literal(lo)})')}")
        cur = r
    if hi is not None:
        lines.append(f"{r} = {_min(cur, f'{T}({_literal(hi)})')}")
        cur = r
    return lines or [f"{r} = {a[0]}"]


def _silu(r, a, p, T):
    return _stable_sigmoid(f"{r}_s", a[0], T) + [f"{r} = {T}({a[0]} * {r}_s)"]


# float32 erf and exp: libm's math.erf / math.exp are scalar calls that stop LLVM from vectorising a loop, and
# they dominate a fused GELU. These branch-free polynomials vectorise. erf: below |x| = 1 an odd series in float64
# (7 terms), above it 1 - exp(-x^2) * erfcx(x) in float32, twice as many lanes (erfc is at most 0.16 there, so
# float32's relative error in it stays under an ulp of the result): at most 1 ulp from libm's value rounded to
# float32 (97% equal), the bound of PyTorch's own vectorised erf. Coefficients: least-squares Chebyshev fits
# against libm in float64, turned into powers of the variable shown.
_ERF_SPLIT, _ERF_ONE = 1.0, 3.92  # below: odd series; above: 1 - erfc; from 3.9192064 on, float32 erf is 1
_ERF_SMALL = (  # erf(t) / t in powers of t * t on [0, 1], relative error 4.6e-9
    1.1283791641949068, -0.3761262251500992, 0.11283567864697326, -0.026853534981433873,
    0.005188377491123455, -0.0008014541880300706, 7.878967228923663e-05)
_ERFCX_MID, _ERFCX_HALF = 2.46, 1.46
_ERFCX = (  # exp(t * t) * erfc(t) in powers of (t - 2.46) / 1.46 on [1, 3.92], error in erf 7.5e-9
    0.2138206735971668, -0.1115168865925569, 0.055256353799864405, -0.026168058568628295,
    0.011896347908734851, -0.005213820053984106, 0.0022258746547669625, -0.0009159261089156256,
    0.00033257787305358496, -0.0001278919269369553, 7.933967234262024e-05, -2.9805096555523515e-05)
_LN2_HI, _LN2_LO = 0.6931471803691238, 1.9082149292705877e-10  # n * _LN2_HI is exact for |n| < 2 ** 20
_LN2_HI32, _LN2_LO32 = 0.693145751953125, 1.428606765330187e-06  # n * _LN2_HI32 is exact in float32 for |n| < 256


def _poly(r, var, coefs, T=None):
    """Lines setting ``r`` to sum(coefs[k] * var**k), by Estrin's scheme (constants of dtype ``T`` when given).

    Horner's rule is one long chain of dependent multiply-adds; these loops are latency-bound, and Estrin's
    pairs (c0 + c1 x) + x**2 (c2 + c3 x) + ... are independent until a few final steps.
    """
    lines, powers, k = [], {1: var}, 1
    while 2 * k < len(coefs):
        powers[2 * k] = f"{r}_p{2 * k}"
        lines.append(f"{powers[2 * k]} = {powers[k]} * {powers[k]}")
        k *= 2

    def expr(cs):
        if len(cs) == 1:
            return repr(cs[0]) if T is None else f"{T}({cs[0]!r})"
        half = 1
        while 2 * half < len(cs):
            half *= 2
        return f"({expr(cs[:half])} + {powers[half]} * {expr(cs[half:])})"
    return lines + [f"{r} = {expr(tuple(coefs))}"]


def _exp64(r, v, lowest, highest):
    """Lines setting float64 ``r`` to exp(``v``) for float64 ``v`` in [``lowest``, ``highest``] (NaN stays NaN).

    exp(v) = e**f * 2**-m with m = round(-v / ln 2) and |f| <= ln 2 / 2: e**f by its Taylor series to f**10
    (relative error 2e-13), 2**-m from its exponent bits. ``v`` outside is clamped (|bounds| < 700).
    """
    return [f"{r}_v = {lowest!r} if {v} < {lowest!r} else ({highest!r} if {v} > {highest!r} else {v})",
            f"{r}_m = np.floor({r}_v * -1.4426950408889634 + 0.5)",
            f"{r}_f = ({r}_v + {r}_m * {_LN2_HI!r}) + {r}_m * {_LN2_LO!r}",
            f"{r}_k = np.int64({r}_m if {r}_m == {r}_m else 0.0)",  # NaN to int is undefined; f keeps the NaN
            f"{r}_s = np.int64((1023 - {r}_k) << 52).view(np.float64)"] + \
        _poly(f"{r}_e", f"{r}_f", tuple(1.0 / math.factorial(k) for k in range(11))) + [f"{r} = {r}_e * {r}_s"]


def _exp32_of_nonpositive(r, v):
    """Lines setting float32 ``r`` to exp(``v``) for float32 ``v`` <= 0 (NaN stays NaN): 2**m from exponent bits
    times e**f, |f| <= ln 2 / 2, by its Taylor series to f**7 (relative error 6e-9); 0 below -87, where
    float32's normal range ends (the subnormal tail is flushed)."""
    return [f"{r}_v = {v} if {v} >= np.float32(-87.0) else np.float32(-87.0)",  # NaN kept: the poly gives NaN
            f"{r}_m = np.floor({r}_v * np.float32(1.4426950408889634) + np.float32(0.5))",
            f"{r}_f = ({r}_v - {r}_m * np.float32({_LN2_HI32!r})) - {r}_m * np.float32({_LN2_LO32!r})",
            f"{r}_k = np.int32({r}_m if {r}_m == {r}_m else np.float32(0))",  # NaN to int is undefined
            f"{r}_s = np.int32(({r}_k + 127) << 23).view(np.float32)"] + \
        _poly(f"{r}_e", f"{r}_f", tuple(1.0 / math.factorial(k) for k in range(8)), "np.float32") + \
        [f"{r} = np.float32(0) if {v} < np.float32(-87.0) else {r}_e * {r}_s"]


def _erf_lines(r, x, T):
    """Lines setting ``r`` (dtype ``T``) to erf(``x``): the vectorisable polynomials for float32."""
    if T != "np.float32":
        return [f"{r} = {T}(math.erf({x}))"]
    t, tl = f"{r}_t", f"{r}_tl"
    f32 = "np.float32"
    return ([f"{r}_x = {f32}({x})", f"{t} = abs({r}_x)", f"{r}_u = np.float64({t}) * np.float64({t})",
             f"{tl} = {t} if {t} < {f32}({_ERF_ONE!r}) else {f32}({_ERF_ONE!r})",  # NaN and the tail: in range
             f"{r}_w = ({tl} - {f32}({_ERFCX_MID!r})) * {f32}({1.0 / _ERFCX_HALF!r})",
             f"{r}_a = -({tl} * {tl})"]
            + _poly(f"{r}_s", f"{r}_u", _ERF_SMALL)
            + _poly(f"{r}_q", f"{r}_w", _ERFCX, f32)
            + _exp32_of_nonpositive(f"{r}_e", f"{r}_a")
            + [f"{r}_l = {f32}(1) if {t} >= {f32}({_ERF_ONE!r}) else {f32}(1) - {r}_e * {r}_q",
               f"{r}_l = {r}_l if {r}_x >= {f32}(0) else -{r}_l",
               # NaN: the series' NaN
               f"{r} = {r}_l if {t} >= {f32}({_ERF_SPLIT!r}) else {f32}(np.float64({r}_x) * {r}_s)"])


def _exp_lines(r, v, T):
    """Lines setting ``r`` to exp(``v``) in dtype ``T``: vectorisable float64 polynomials for float32."""
    if T != "np.float32":
        return [f"{r} = {T}(math.exp({v}))"]
    # float32's exp is 0 below -103.98 and inf above 88.73
    return _exp64(f"{r}_d", f"np.float64({v})", -110.0, 89.0) + [f"{r} = np.float32({r}_d)"]


def _exp(r, a, p, T):
    return _exp_lines(r, a[0], T)


def _sigmoid(r, a, p, T):
    return _exp_lines(f"{r}_e", f"-{a[0]}", T) + [f"{r} = {T}({T}(1) / ({T}(1) + {r}_e))"]


def _erf(r, a, p, T):
    return _erf_lines(r, a[0], T)


def _gelu(r, a, p, T):
    x = a[0]
    if p[0] == "tanh":
        return ([f"{r}_u = {T}({T}({2 * math.sqrt(2.0 / math.pi)!r}) * ({x} + {T}(0.044715) * {x} * {x} * {x}))"]
                + _stable_sigmoid(f"{r}_s", f"{r}_u", T) + [f"{r} = {T}({x} * {r}_s)"])
    return (_erf_lines(f"{r}_r", f"{T}({x} * {T}({math.sqrt(0.5)!r}))", T)
            + [f"{r} = {T}({T}(0.5) * {x} * ({T}(1) + {r}_r))"])


def _gelu_cdf(r, a, p, T):
    # Phi(x) as exact-GELU's forward and backward both round it: x * Phi(x) equals _gelu's bits (0.5 * y is exact)
    return (_erf_lines(f"{r}_r", f"{T}({a[0]} * {T}({math.sqrt(0.5)!r}))", T)
            + [f"{r} = {T}({T}(0.5) * ({T}(1) + {r}_r))"])


def _gelu_grad_from_cdf(r, g, x, cdf, T):
    exp = _exp32_of_nonpositive if T == "np.float32" else lambda e, v: _exp_lines(e, v, T)
    return (exp(f"{r}_e", f"{T}(-{T}(0.5) * {x} * {x})")
            + [f"{r}_d = {T}({cdf} + {x} * {r}_e * {T}({1.0 / math.sqrt(2.0 * math.pi)!r}))",
               f"{r} = {T}({g} * {r}_d)"])


def _gelu_backward_from_cdf(r, a, p, T):
    return _gelu_grad_from_cdf(r, a[0], a[1], a[2], T)


def _gelu_backward(r, a, p, T):
    g, x = a
    if p[0] == "tanh":
        k = f"{T}({math.sqrt(2.0 / math.pi)!r})"
        c = f"{T}(0.044715)"
        return ([f"{r}_u = {T}({T}(2) * {k} * ({x} + {c} * {x} * {x} * {x}))"]
                + _stable_sigmoid(f"{r}_s", f"{r}_u", T)
                + [f"{r}_d = {T}({r}_s + {T}(2) * {x} * {r}_s * ({T}(1) - {r}_s) * {k} * "
                   f"({T}(1) + {T}(3) * {c} * {x} * {x}))",
                   f"{r} = {T}({g} * {r}_d)"])
    return _gelu_cdf(f"{r}_c", (x,), (), T) + _gelu_grad_from_cdf(r, g, x, f"{r}_c", T)


def _elu(r, a, p, T):
    x = a[0]
    alpha, scale, input_scale = (f"{T}({_literal(v)})" for v in p)
    return [f"{r}_n = {T}(math.expm1({T}({_min(x, f'{T}(0)')} * {input_scale})) * {alpha})",
            f"{r} = {T}(({x} if {x} > {T}(0) else {r}_n) * {scale})"]


def _softplus(r, a, p, T):
    x = a[0]
    beta, threshold = (f"{T}({_literal(v)})" for v in p)
    return [f"{r}_b = {T}({x} * {beta})",
            f"{r}_f = {T}(({_max(f'{r}_b', f'{T}(0)')} + math.log1p(math.exp(-abs({r}_b)))) / {beta})",
            f"{r} = {x} if {r}_b > {threshold} else {r}_f"]


def _logsigmoid(r, a, p, T):
    x = a[0]
    return [f"{r} = {T}({_min(x, f'{T}(0)')} - math.log1p(math.exp(-abs({x}))))"]


def _mish(r, a, p, T):
    return _softplus(f"{r}_p", a, (1.0, 20.0), T) + [f"{r} = {T}({a[0]} * math.tanh({r}_p))"]


def _hardsigmoid(r, a, p, T):
    return [f"{r}_c = {T}({a[0]} + {T}(3))",
            f"{r} = {T}({_min(_max(f'{r}_c', f'{T}(0)'), f'{T}(6)')} / {T}(6))"]


def _hardswish(r, a, p, T):
    return _hardsigmoid(f"{r}_h", a, p, T) + [f"{r} = {T}({a[0]} * {r}_h)"]


def _softshrink(r, a, p, T):
    x, lam = a[0], f"{T}({_literal(p[0])})"
    return [f"{r} = {T}({x} - {lam}) if {x} > {lam} else ({T}({x} + {lam}) if {x} < -{lam} else {T}(0))"]


def _hardshrink(r, a, p, T):
    x, lam = a[0], f"{T}({_literal(p[0])})"
    return [f"{r} = {x} if abs({x}) > {lam} else {T}(0)"]


def _threshold(r, a, p, T):
    x = a[0]
    return [f"{r} = {x} if {x} > {T}({_literal(p[0])}) else {T}({_literal(p[1])})"]


def _leaky_relu(r, a, p, T):
    x = a[0]
    return [f"{r} = {x} if {x} > {T}(0) else {T}({x} * {T}({_literal(p[0])}))"]


def _sign(r, a, p, T):
    x = a[0]
    return [f"{r} = {T}(1) if {x} > {T}(0) else ({T}(-1) if {x} < {T}(0) else {x})"]


def _lerp(r, a, p, T):
    x, y, w = a
    return [f"{r} = {T}({x} + {w} * ({y} - {x})) if abs({w}) < {T}(0.5) else {T}({y} - ({y} - {x}) * ({T}(1) - {w}))"]


def _where(r, a, p, T):
    return [f"{r} = {a[1]} if {a[0]} else {a[2]}"]


def _maximum(r, a, p, T):
    return [f"{r} = {_max(a[0], a[1])}"]


def _minimum(r, a, p, T):
    return [f"{r} = {_min(a[0], a[1])}"]


def _non_nan_wins(compare):
    """fmax / fmin: the first operand when it compares ``compare`` to the second or the second is NaN."""
    def emit(r, a, p, T):
        return [f"{r} = {a[0]} if ({a[0]} {compare} {a[1]} or {a[1]} != {a[1]}) else {a[1]}"]
    return emit


def _cast(r, a, p, T):
    if T == "np.bool_":
        return [f"{r} = {a[0]} != 0"]
    return [f"{r} = {T}({a[0]})"]


def _const(r, a, p, T):
    return [f"{r} = {T}({_literal(p[0])})"]


SCALAR_OPS = {
    # unary
    "neg": ScalarOp(1, _expr("-{0}")), "abs": ScalarOp(1, _expr("abs({0})")),
    "exp": ScalarOp(1, _exp), "expm1": ScalarOp(1, _expr("math.expm1({0})")),
    "log": ScalarOp(1, _expr("math.log({0})")), "log2": ScalarOp(1, _expr("math.log2({0})")),
    "log10": ScalarOp(1, _expr("math.log10({0})")), "log1p": ScalarOp(1, _expr("math.log1p({0})")),
    "sqrt": ScalarOp(1, _expr("math.sqrt({0})")), "rsqrt": ScalarOp(1, _expr("{T}(1) / {T}(math.sqrt({0}))")),
    "square": ScalarOp(1, _expr("{0} * {0}")), "reciprocal": ScalarOp(1, _expr("{T}(1) / {0}")),
    "sin": ScalarOp(1, _expr("math.sin({0})")), "cos": ScalarOp(1, _expr("math.cos({0})")),
    "tan": ScalarOp(1, _expr("math.tan({0})")), "asin": ScalarOp(1, _expr("math.asin({0})")),
    "acos": ScalarOp(1, _expr("math.acos({0})")), "atan": ScalarOp(1, _expr("math.atan({0})")),
    "sinh": ScalarOp(1, _expr("math.sinh({0})")), "cosh": ScalarOp(1, _expr("math.cosh({0})")),
    "tanh": ScalarOp(1, _expr("math.tanh({0})")), "asinh": ScalarOp(1, _expr("math.asinh({0})")),
    "acosh": ScalarOp(1, _expr("math.acosh({0})")), "atanh": ScalarOp(1, _expr("math.atanh({0})")),
    "erf": ScalarOp(1, _erf), "erfc": ScalarOp(1, _expr("math.erfc({0})")),
    "sigmoid": ScalarOp(1, _sigmoid),
    "floor": ScalarOp(1, _expr("np.floor({0})")), "ceil": ScalarOp(1, _expr("np.ceil({0})")),
    "trunc": ScalarOp(1, _expr("np.trunc({0})")), "frac": ScalarOp(1, _expr("{0} - np.trunc({0})")),
    "sign": ScalarOp(1, _sign), "clone": ScalarOp(1, _expr("{0}")),
    "clamp": ScalarOp(1, _clamp, ("lo", "hi")),
    # binary
    "add": ScalarOp(2, _expr("{0} + {1}")), "sub": ScalarOp(2, _expr("{0} - {1}")),
    "mul": ScalarOp(2, _expr("{0} * {1}")), "div": ScalarOp(2, _expr("{0} / {1}")),
    "pow": ScalarOp(2, _expr("{0} ** {1}")), "atan2": ScalarOp(2, _expr("math.atan2({0}, {1})")),
    "hypot": ScalarOp(2, _expr("math.hypot({0}, {1})")), "copysign": ScalarOp(2, _expr("math.copysign({0}, {1})")),
    "maximum": ScalarOp(2, _maximum), "minimum": ScalarOp(2, _minimum),
    "fmax": ScalarOp(2, _non_nan_wins(">=")), "fmin": ScalarOp(2, _non_nan_wins("<=")),
    # comparisons and logic
    "eq": ScalarOp(2, _test("{0} == {1}"), kind="bool"), "ne": ScalarOp(2, _test("{0} != {1}"), kind="bool"),
    "lt": ScalarOp(2, _test("{0} < {1}"), kind="bool"), "le": ScalarOp(2, _test("{0} <= {1}"), kind="bool"),
    "gt": ScalarOp(2, _test("{0} > {1}"), kind="bool"), "ge": ScalarOp(2, _test("{0} >= {1}"), kind="bool"),
    "logical_not": ScalarOp(1, _test("not {0}"), kind="bool"),
    "logical_and": ScalarOp(2, _test("({0} and {1})"), kind="bool"),
    "logical_or": ScalarOp(2, _test("({0} or {1})"), kind="bool"),
    "logical_xor": ScalarOp(2, _test("({0} != {1})"), kind="bool"),
    # ternary
    "where": ScalarOp(3, _where), "lerp": ScalarOp(3, _lerp),
    # activations
    "relu": ScalarOp(1, _relu), "hardtanh": ScalarOp(1, _clamp, ("lo", "hi")),
    "leaky_relu": ScalarOp(1, _leaky_relu, ("slope",)), "elu": ScalarOp(1, _elu, ("alpha", "scale", "input_scale")),
    "softplus": ScalarOp(1, _softplus, ("beta", "threshold")), "logsigmoid": ScalarOp(1, _logsigmoid),
    "silu": ScalarOp(1, _silu), "mish": ScalarOp(1, _mish), "gelu": ScalarOp(1, _gelu, ("approximate",)),
    "gelu_backward": ScalarOp(2, _gelu_backward, ("approximate",)),
    "gelu_cdf": ScalarOp(1, _gelu_cdf), "gelu_backward_from_cdf": ScalarOp(3, _gelu_backward_from_cdf),
    "threshold": ScalarOp(1, _threshold, ("threshold", "value")), "hardsigmoid": ScalarOp(1, _hardsigmoid),
    "hardswish": ScalarOp(1, _hardswish), "softshrink": ScalarOp(1, _softshrink, ("lambd",)),
    "hardshrink": ScalarOp(1, _hardshrink, ("lambd",)),
    # program-internal: a dtype conversion and a literal
    "cast": ScalarOp(1, _cast), "const": ScalarOp(0, _const, ("value",)),
}

_LOGICAL = {"logical_not", "logical_and", "logical_or", "logical_xor"}
_CONSTRUCTOR = {"float16": "np.float16", "float32": "np.float32", "float64": "np.float64", "bool": "np.bool_",
                "int32": "np.int32", "int64": "np.int64"}


# ----- code generation -----------------------------------------------------------------------------
def _body(program):
    """Lines computing every op of ``program`` from variables ``v0..`` (inputs) into ``v<slot>``."""
    dtypes = slot_dtypes(program)
    return [line for k in range(len(program[1])) for line in op_lines(program, k, dtypes)]


def slot_dtypes(program):
    """The dtype name of every slot of ``program``: its inputs', then each op's result."""
    in_dtypes, ops, _ = program
    return list(in_dtypes) + [dtype for _, _, _, dtype in ops]


def op_lines(program, k, dtypes):
    """Lines computing op ``k`` of ``program`` into ``v<slot>`` from the variables of its argument slots."""
    in_dtypes, ops, _ = program
    name, args, params, dtype = ops[k]
    spec = SCALAR_OPS[name]
    T = _CONSTRUCTOR[dtype]
    names = argument_names(name, args, dtype, dtypes, lambda v: f"{T}({v})", spec.kind == "bool")
    return spec.emit(f"v{len(in_dtypes) + k}", names, params, T)


def argument_names(name, args, dtype, dtypes, cast, bool_result):
    """The source of an op's arguments ``v<slot>``: a test against 0 where a logical op or a where's condition
    reads a number, ``cast(v)`` where an op with a ``dtype`` result (not ``bool_result``) reads another dtype.
    Shared by the host and device code generators."""
    names = []
    for i, j in enumerate(args):
        v = f"v{j}"
        if name in _LOGICAL or (name == "where" and i == 0):
            v = v if dtypes[j] == "bool" else f"({v} != 0)"
        elif not bool_result and name != "cast" and dtypes[j] != dtype:
            v = cast(v)
        names.append(v)
    return names


def _stride_offsets(kinds, ndim):
    """({strided input: where its ``ndim`` strides start in ``st``}, how many strides ``st`` holds)."""
    first_stride, at = {}, 0
    for i, kind in enumerate(kinds):
        if kind in "10n":
            first_stride[i], at = at, at + ndim
    return first_stride, at


def source_for(program, layout, parallel):
    """Numba source of the kernel ``fused(o0.., a0.., dims, st)`` for ``program`` over ``layout``.

    ``layout`` is one kind per input then the number of iteration dims. Kinds: "f" (C-contiguous and
    full-sized: read at the linear position), "s" (one element, read once), or a strided input read
    from a flat buffer at offsets from ``st`` (its element strides per dim) whose innermost stride is
    1 ("1"), 0 ("0", read once per row) or anything ("n"). Outputs are flat. The innermost dim runs
    over contiguous row slices, which LLVM vectorises; with one dim it is cut into chunks of ``_CHUNK``
    so that a parallel loop has rows to share out.
    """
    in_dtypes, ops, outputs = program
    *kinds, ndim = layout
    outs = [f"o{j}" for j in range(len(outputs))]
    ins = [f"a{i}" for i in range(len(in_dtypes))]
    first_stride = _stride_offsets(kinds, ndim)[0]
    src = ["import math", "import numba", "import numpy as np", "",
           f"@numba.njit(cache=True, error_model='numpy', parallel={parallel})",
           f"def fused({', '.join(outs + ins + ['dims', 'st'])}):"]
    src += [f"    v{i} = a{i}[0]" for i, kind in enumerate(kinds) if kind == "s"]
    loop = "numba.prange" if parallel else "range"
    pad = "    "
    if ndim == 1:
        src += [f"    for c in {loop}((dims[0] + {_CHUNK - 1}) // {_CHUNK}):",
                f"        k0 = c * {_CHUNK}",
                f"        n = min({_CHUNK}, dims[0] - k0)"]
        pad = "        "
        offsets = {i: f"k0 * st[{first_stride[i]}]" for i in first_stride}
    else:
        src.append(f"    n = dims[{ndim - 1}]")
        for d in range(ndim - 1):
            src.append(f"{pad}for i{d} in {loop if d == 0 else 'range'}(dims[{d}]):")
            pad += "    "
        row = "i0"
        for d in range(1, ndim - 1):
            row = f"({row} * dims[{d}] + i{d})"
        src.append(f"{pad}k0 = {row} * n")
        offsets = {i: " + ".join(f"i{d} * st[{first_stride[i] + d}]" for d in range(ndim - 1)) for i in first_stride}
    for j in range(len(outputs)):
        src.append(f"{pad}r{j} = o{j}[k0:k0 + n]")
    for i, kind in enumerate(kinds):
        if kind == "f":
            src.append(f"{pad}x{i} = a{i}[k0:k0 + n]")
        elif kind == "1":
            src += [f"{pad}b{i} = {offsets[i]}", f"{pad}x{i} = a{i}[b{i}:b{i} + n]"]
        elif kind == "0":
            src.append(f"{pad}v{i} = a{i}[{offsets[i]}]")
        elif kind == "n":
            src.append(f"{pad}b{i} = {offsets[i]}")
    src.append(f"{pad}for i in range(n):")
    pad += "    "
    for i, kind in enumerate(kinds):
        if kind in "f1":
            src.append(f"{pad}v{i} = x{i}[i]")
        elif kind == "n":
            src.append(f"{pad}v{i} = a{i}[b{i} + i * st[{first_stride[i] + ndim - 1}]]")
    src += [pad + line for line in _body(program)]
    src += [f"{pad}r{j}[i] = v{slot}" for j, slot in enumerate(outputs)]
    return "\n".join(src) + "\n"


def job_header(width):
    """Source lines opening ``job(d)``, a C entry point (``void job(void *)``) for ``openblas_threads.run``: ``d`` as
    ``width`` int64s, the first two the range ``lo, hi`` of the job (returning at once when it is empty)."""
    return ["from kernels.cpu._pointers import pointer_to", "",
            "@numba.cfunc(numba.types.void(numba.types.voidptr), cache=True, error_model='numpy')", "def job(arg):",
            f"    d = numba.carray(pointer_to(arg, np.int64(0)), ({width},))",
            "    lo = d[0]", "    hi = d[1]", "    if hi <= lo:", "        return"]


def job_source_for(source, out_dtypes, in_dtypes, n_dims, n_st):
    """``source`` (a generated module whose ``fused(o.., a.., dims, st)`` loops over ``dims``) plus ``job(d)``, a C
    entry point (``void job(void *)``) running that loop over one range of the outermost dim: ``d`` points to
    int64s ``lo, hi``, the ``n_dims`` dims, the ``n_st`` strides ``st``, then per output and per input its
    address, its length and how many elements it advances per step of the outermost dim (``openblas_threads``
    runs one job per thread)."""
    dtypes = list(out_dtypes) + list(in_dtypes)
    head = 2 + n_dims + n_st
    src = [source] + job_header(head + 3 * len(dtypes))
    names = [f"o{j}" for j in range(len(out_dtypes))] + [f"a{i}" for i in range(len(in_dtypes))]
    for k, (name, dtype) in enumerate(zip(names, dtypes)):
        at, size, step = head + 3 * k, head + 3 * k + 1, head + 3 * k + 2
        src.append(f"    {name} = numba.carray(pointer_to(d[{at}] + lo * d[{step}] * {np.dtype(dtype).itemsize}, "
                   f"{_CONSTRUCTOR[dtype]}(0)), (d[{size}] - lo * d[{step}],))")
    dims = "".join(f"{item}, " for item in ["hi - lo"] + [f"d[{2 + k}]" for k in range(1, n_dims)])
    strides = "".join(f"d[{2 + n_dims + k}], " for k in range(n_st))
    src.append(f"    fused({', '.join(names)}, ({dims}), ({strides}))")
    return "\n".join(src) + "\n"


def split_table(dims, strides, arrays, jobs):
    """The int64 rows (one per job) ``job_source_for``'s entry point reads: the outermost dim of ``dims`` cut
    into ``jobs`` ranges; ``arrays`` lists (flat buffer, step per outermost index), outputs first, or
    (buffers, one per job, 0) for a buffer each job writes whole."""
    row = [0, 0, *dims, *strides]
    for buffer, step in arrays:
        row += [0 if type(buffer) is list else buffer.__array_interface__["data"][0],
                (buffer[0] if type(buffer) is list else buffer).size, step]
    table = np.array([row] * jobs, np.int64)
    at = 2 + len(dims) + len(strides)
    for j in range(jobs):
        table[j, 0], table[j, 1] = dims[0] * j // jobs, dims[0] * (j + 1) // jobs
        for k, (buffer, _) in enumerate(arrays):
            if type(buffer) is list:
                table[j, at + 3 * k] = buffer[j].__array_interface__["data"][0]
    return table


def split_jobs(size, outer):
    """How many jobs a loop over ``size`` elements, cut along an outermost dim of ``outer``, is shared among: none
    below ``SPLIT_MIN``, and at least half of ``SPLIT_MIN`` elements each, on many-core machines."""
    if size < SPLIT_MIN:
        return 1
    return max(1, min(openblas_threads.threads(), outer, size // max(1, SPLIT_MIN // 2)))


def _split_steps(results, flat, layout, dims, strides):
    """(buffer, elements per step of the outermost dim) of each output and input of an elementwise loop."""
    *kinds, ndim = layout
    inner = math.prod(dims[1:])
    first_stride = _stride_offsets(kinds, ndim)[0]
    return [(r, inner) for r in results] + [
        (a, inner if kind == "f" else 0 if kind == "s" else strides[first_stride[i]])
        for i, (a, kind) in enumerate(zip(flat, kinds))]


def cache_dir():
    """Where generated kernel modules (and Numba's cache of their machine code) live."""
    path = os.environ.get("FRAMEWORK_FUSED_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "framework", "fused")
    os.makedirs(path, exist_ok=True)
    return path


class _Compiled:
    """What one program needs at run time: dtypes as numpy objects and its kernels per (layout, parallel)."""

    __slots__ = ("program", "in_dtypes", "out_dtypes", "kernels")

    def __init__(self, program):
        in_dtypes, ops, outputs = program
        self.program = program
        self.in_dtypes = tuple(np.dtype(d) for d in in_dtypes)
        self.out_dtypes = tuple(np.dtype(ops[slot - len(in_dtypes)][3]) for slot in outputs)
        self.kernels = {}

    def kernel(self, layout, parallel):
        """The loop for ``layout``: serial, on Numba's threads (``parallel=True``), or for ``parallel="split"``
        the C address of its ``job`` entry point (``job_source_for``)."""
        key = (layout, parallel)
        fn = self.kernels.get(key)
        if fn is None:
            if parallel == "split":
                *kinds, ndim = layout
                n_st = _stride_offsets(kinds, ndim)[1] or 1  # _make_plan's strides: (0,) when there are none
                source = job_source_for(source_for(self.program, layout, False), [d.name for d in self.out_dtypes],
                                        self.program[0], ndim, n_st)
                fn = _load(source, "job").address
            else:
                fn = _load(source_for(self.program, layout, parallel))
            self.kernels[key] = fn
        return fn


_BY_ID = {}  # id(program) -> (program, _Compiled): hashing a long nested tuple per call costs more than the loop
_BY_VALUE = {}  # program -> _Compiled: equal programs (other graphs, loaded files) share kernels


def _compiled(program):
    entry = _BY_ID.get(id(program))
    if entry is None or entry[0] is not program:
        state = _BY_VALUE.get(program)
        if state is None:
            state = _BY_VALUE[program] = _Compiled(program)
        entry = _BY_ID[id(program)] = (program, state)  # holding the program keeps its id from being reused
    return entry[1]


_LOADED = {}  # module name -> the generated module, once it has run to the end
_LOADING = threading.Lock()


def _load(source, name="fused"):
    # a stable file per source: Numba's on-disk cache is keyed by the file, so a new process reuses it
    module_name = "fused_" + hashlib.sha1(source.encode()).hexdigest()[:20]
    module = _LOADED.get(module_name)
    if module is None:
        with _LOADING:  # one thread runs a module; another would find it in sys.modules half-run
            module = _LOADED.get(module_name) or _run_module(module_name, source)
            _LOADED[module_name] = module
    return getattr(module, name)


def _run_module(module_name, source):
    directory = cache_dir()
    path = os.path.join(directory, module_name + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        # registered first: a cfunc compiles while its module runs, and Numba's cache records the module by name
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return module


# ----- the kernel ----------------------------------------------------------------------------------
_PLANS = {}  # input shapes and strides -> how to read them (graphs replay the same shapes)


def _plan(arrays):
    """(shape, size, layout, dims, strides, preps) for reading ``arrays`` broadcast together.

    ``preps[i]`` says how to get input i's flat buffer: None (reshape) or (index cutting its broadcast
    dims, whether to copy); see ``source_for`` for the layout kinds.
    """
    key = tuple((a.shape, a.strides) for a in arrays)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _make_plan(arrays)
    return plan


def _make_plan(arrays):
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    size = math.prod(shape)
    kinds = []
    for a in arrays:
        if a.size == size and a.flags.c_contiguous:
            kinds.append("f")
        elif a.size == 1:
            kinds.append("s")
        else:
            kinds.append("b")
    if "b" not in kinds:
        return shape, size, tuple(kinds) + (1,), (size,), (0,), (None,) * len(arrays)
    nd = len(shape)
    strided = [i for i, k in enumerate(kinds) if k == "b"]
    preps, strides = [None] * len(arrays), {}
    for i in strided:
        preps[i], strides[i] = _flat_source(arrays[i], nd)
    # merge neighbouring dims that every strided input walks as one, and drop dims of extent 1
    dims, merged = [], {i: [] for i in strided}
    for d in range(nd):
        if shape[d] == 1:
            continue
        if dims and all(merged[i][-1] == strides[i][d] * shape[d] for i in strided):
            dims[-1] *= shape[d]
            for i in strided:
                merged[i][-1] = strides[i][d]
            continue
        dims.append(shape[d])
        for i in strided:
            merged[i].append(strides[i][d])
    flat_strides = []
    for i in strided:
        inner = merged[i][-1]
        kinds[i] = "1" if inner == 1 else "0" if inner == 0 else "n"
        flat_strides += merged[i]
    return shape, size, tuple(kinds) + (len(dims),), tuple(dims), tuple(flat_strides), tuple(preps)


def _flat_source(a, nd):
    """(prep, element strides of ``a`` over ``nd`` output dims, 0 where it broadcasts).

    A strided input is read from a flat C-contiguous buffer: its stride-0 dims cut to extent 1 (a view),
    copied only when what remains is not contiguous.
    """
    index, copy = None, False
    if not a.flags.c_contiguous:
        if 0 in a.strides:
            index = tuple(slice(0, 1) if s == 0 else slice(None) for s in a.strides)
            a = a[index]
        copy = not a.flags.c_contiguous
    strides, step = [0] * nd, 1
    for d in range(a.ndim - 1, -1, -1):
        if a.shape[d] != 1:
            strides[nd - a.ndim + d] = step
            step *= a.shape[d]
    return (None if index is None and not copy else (index, copy)), strides


def _flat(a, prep):
    if prep is not None:
        index, copy = prep
        if index is not None:
            a = a[index]
        if copy:
            a = np.ascontiguousarray(a)
    return a.reshape(-1)


def fused_elementwise(*arrays, program, prologue=None, parallel=True, out=None):
    """Run ``program`` elementwise over ``arrays`` broadcast together; return its output array(s).

    ``prologue = (kernel, attr_items, n)`` first calls CPU kernel ``kernel`` on the first ``n`` arrays
    (a GEMM or a reduction) and feeds its result as input 0. ``parallel=False`` keeps the loop on the
    calling thread whatever its size. ``out``: an array (or a sequence, one per output, None to allocate)
    of C-contiguous buffers of the output's shape and dtype to write into.
    """
    state = _compiled(program)
    if prologue is not None:
        from . import KERNELS
        name, attrs, n = prologue
        arrays = (KERNELS[name](*arrays[:n], **dict(attrs)),) + arrays[n:]
    if len(arrays) != len(state.in_dtypes):
        raise ValueError(f"fused_elementwise: the program takes {len(state.in_dtypes)} inputs, got {len(arrays)}")
    arrays = [a if a.dtype == dt else a.astype(dt) for a, dt in zip(arrays, state.in_dtypes)]
    shape, size, layout, dims, strides, preps = _plan(arrays)
    n_out = len(state.out_dtypes)
    given = (None,) * n_out if out is None else (out,) if isinstance(out, np.ndarray) else tuple(out)
    if len(given) != n_out:
        raise ValueError(f"fused_elementwise: out= holds {len(given)} buffers for {n_out} outputs")
    results, copies = [], []
    for j, dt in enumerate(state.out_dtypes):
        buf = given[j]
        if buf is not None:
            if buf.shape != shape or buf.dtype != dt or not buf.flags.c_contiguous:
                raise ValueError(f"fused_elementwise: out[{j}] must be a C-contiguous {dt} array of shape "
                                 f"{shape}, got {buf.dtype} {buf.shape}")
            if any(np.may_share_memory(buf, a) for a in arrays):
                # LLVM's runtime overlap check sends a loop writing over its own input to the scalar
                # version (3-4x slower than computing aside and copying)
                copies.append((buf, j))
                buf = np.empty(shape, dt)
        else:
            buf = np.empty(shape, dt)
        results.append(buf)
    if size:
        flat = [_flat(a, p) for a, p in zip(arrays, preps)]
        jobs = split_jobs(size, dims[0]) if parallel else 1
        if jobs > 1:
            openblas_threads.run(state.kernel(layout, "split"),
                                 split_table(dims, strides, _split_steps(results, flat, layout, dims, strides), jobs))
        else:
            kernel = state.kernel(layout, parallel and size >= PARALLEL_MIN and num_threads() > 1)
            kernel(*[r.reshape(-1) for r in results], *flat, dims, strides)
    for buf, j in copies:
        np.copyto(buf, results[j])
        results[j] = buf
    return results[0] if n_out == 1 else tuple(results)


KERNELS = {"fused_elementwise": fused_elementwise}

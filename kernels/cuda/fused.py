"""Fused elementwise kernels on the GPU: the program of ``kernels/cpu/fused.py`` as a CuPy ``ElementwiseKernel``.

The program (a hashable DAG of scalar ops, described in ``kernels/cpu/fused.py``) becomes the body of one
``ElementwiseKernel``: CuPy broadcasts the inputs and runs one thread per output element. Each op is the
CUDA C of what the eager kernel computes, in the op's dtype (``float`` or ``double``). CuPy is imported
on first launch only, so ``kernel_source`` works (and is tested) without it.
"""
import hashlib
import math

from kernels.cpu.fused import argument_names

__all__ = ["SCALAR_OPS", "kernel_source", "fused_elementwise"]

_CTYPE = {"float32": "float", "float64": "double", "bool": "bool", "int32": "int", "int64": "long long"}
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _literal(value):
    """C source for a scalar constant, exact for doubles (inf and nan as bit patterns)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}LL"
    f = float(value)
    if math.isnan(f):
        return "__longlong_as_double(0x7ff8000000000000LL)"
    if math.isinf(f):
        return f"{'-' if f < 0 else ''}__longlong_as_double(0x7ff0000000000000LL)"
    return repr(f)


def _c(T, value):
    return f"(({T}){_literal(value)})"


def _expr(template):
    """An emitter from a C expression over ``{0}``, ``{1}`` (arguments) and ``{T}`` (the C type)."""
    def emit(r, a, p, T):
        return [f"{T} {r} = ({T})(" + template.format(*a, T=T) + ");"]
    return emit


def _test(template):
    def emit(r, a, p, T):
        return [f"bool {r} = " + template.format(*a) + ";"]
    return emit


# NaN-propagating max/min, as np.maximum / np.minimum / np.clip
def _max(a, b):
    return f"(({a} >= {b} || {a} != {a}) ? {a} : {b})"


def _min(a, b):
    return f"(({a} <= {b} || {a} != {a}) ? {a} : {b})"


def _stable_sigmoid(r, u, T):
    return [f"{T} {r}_e = ({T})exp(-fabs({u}));",
            f"{T} {r} = ({u} >= ({T})0) ? ({T})1 / (({T})1 + {r}_e) : {r}_e / (({T})1 + {r}_e);"]


def _relu(r, a, p, T):
    return [f"{T} {r} = {_max(a[0], f'(({T})0)')};"]


def _clamp(r, a, p, T):
    lo, hi = p
    cur = a[0]
    if lo is not None:
        cur = _max(cur, _c(T, lo))
    if hi is not None:
        cur = _min(f"({cur})", _c(T, hi))
    return [f"{T} {r} = {cur};"]


def _silu(r, a, p, T):
    return _stable_sigmoid(f"{r}_s", a[0], T) + [f"{T} {r} = {a[0]} * {r}_s;"]


def _gelu(r, a, p, T):
    x = a[0]
    if p[0] == "tanh":
        return ([f"{T} {r}_u = {_c(T, 2 * _SQRT_2_OVER_PI)} * ({x} + ({T})0.044715 * {x} * {x} * {x});"]
                + _stable_sigmoid(f"{r}_s", f"{r}_u", T) + [f"{T} {r} = {x} * {r}_s;"])
    return [f"{T} {r} = ({T})0.5 * {x} * (({T})1 + ({T})erf({x} * {_c(T, _SQRT_HALF)}));"]


def _gelu_backward(r, a, p, T):
    g, x = a
    if p[0] == "tanh":
        k, c = _c(T, _SQRT_2_OVER_PI), f"(({T})0.044715)"
        return ([f"{T} {r}_u = ({T})2 * {k} * ({x} + {c} * {x} * {x} * {x});"]
                + _stable_sigmoid(f"{r}_s", f"{r}_u", T)
                + [f"{T} {r} = {g} * ({r}_s + ({T})2 * {x} * {r}_s * (({T})1 - {r}_s) * {k} * "
                   f"(({T})1 + ({T})3 * {c} * {x} * {x}));"])
    return _gelu_cdf(f"{r}_c", (x,), (), T) + _gelu_backward_from_cdf(r, (g, x, f"{r}_c"), (), T)


def _gelu_cdf(r, a, p, T):
    return [f"{T} {r} = ({T})0.5 * (({T})1 + ({T})erf({a[0]} * {_c(T, _SQRT_HALF)}));"]


def _gelu_backward_from_cdf(r, a, p, T):
    g, x, cdf = a
    return [f"{T} {r} = {g} * ({cdf} + {x} * ({T})exp(-({T})0.5 * {x} * {x}) * {_c(T, _INV_SQRT_2PI)});"]


def _elu(r, a, p, T):
    x = a[0]
    alpha, scale, input_scale = (_c(T, v) for v in p)
    return [f"{T} {r}_n = ({T})expm1({_min(x, f'(({T})0)')} * {input_scale}) * {alpha};",
            f"{T} {r} = (({x} > ({T})0) ? {x} : {r}_n) * {scale};"]


def _softplus(r, a, p, T):
    x = a[0]
    beta, threshold = (_c(T, v) for v in p)
    return [f"{T} {r}_b = {x} * {beta};",
            f"{T} {r}_f = ({_max(f'{r}_b', f'(({T})0)')} + ({T})log1p(exp(-fabs({r}_b)))) / {beta};",
            f"{T} {r} = ({r}_b > {threshold}) ? {x} : {r}_f;"]


def _logsigmoid(r, a, p, T):
    x = a[0]
    return [f"{T} {r} = {_min(x, f'(({T})0)')} - ({T})log1p(exp(-fabs({x})));"]


def _mish(r, a, p, T):
    return _softplus(f"{r}_p", a, (1.0, 20.0), T) + [f"{T} {r} = {a[0]} * ({T})tanh({r}_p);"]


def _hardsigmoid(r, a, p, T):
    low = _max(f"{r}_c", f"(({T})0)")
    return [f"{T} {r}_c = {a[0]} + ({T})3;", f"{T} {r} = {_min(f'({low})', f'(({T})6)')} / ({T})6;"]


def _hardswish(r, a, p, T):
    return _hardsigmoid(f"{r}_h", a, p, T) + [f"{T} {r} = {a[0]} * {r}_h;"]


def _softshrink(r, a, p, T):
    x, lam = a[0], _c(T, p[0])
    return [f"{T} {r} = ({x} > {lam}) ? {x} - {lam} : (({x} < -{lam}) ? {x} + {lam} : ({T})0);"]


def _hardshrink(r, a, p, T):
    x, lam = a[0], _c(T, p[0])
    return [f"{T} {r} = (fabs({x}) > {lam}) ? {x} : ({T})0;"]


def _threshold(r, a, p, T):
    x = a[0]
    return [f"{T} {r} = ({x} > {_c(T, p[0])}) ? {x} : {_c(T, p[1])};"]


def _leaky_relu(r, a, p, T):
    x = a[0]
    return [f"{T} {r} = ({x} > ({T})0) ? {x} : {x} * {_c(T, p[0])};"]


def _sign(r, a, p, T):
    x = a[0]
    return [f"{T} {r} = ({x} > ({T})0) ? ({T})1 : (({x} < ({T})0) ? ({T})-1 : {x});"]


def _lerp(r, a, p, T):
    x, y, w = a
    return [f"{T} {r} = (fabs({w}) < ({T})0.5) ? {x} + {w} * ({y} - {x}) : {y} - ({y} - {x}) * (({T})1 - {w});"]


def _where(r, a, p, T):
    return [f"{T} {r} = {a[0]} ? {a[1]} : {a[2]};"]


def _binary_select(condition):
    def emit(r, a, p, T):
        return [f"{T} {r} = ({condition.format(*a)}) ? {a[0]} : {a[1]};"]
    return emit


def _cast(r, a, p, T):
    if T == "bool":
        return [f"bool {r} = {a[0]} != 0;"]
    return [f"{T} {r} = ({T}){a[0]};"]


def _const(r, a, p, T):
    return [f"{T} {r} = {_c(T, p[0])};"]


SCALAR_OPS = {
    "neg": _expr("-{0}"), "abs": _expr("fabs({0})"), "exp": _expr("exp({0})"), "expm1": _expr("expm1({0})"),
    "log": _expr("log({0})"), "log2": _expr("log2({0})"), "log10": _expr("log10({0})"),
    "log1p": _expr("log1p({0})"), "sqrt": _expr("sqrt({0})"), "rsqrt": _expr("({T})1 / ({T})sqrt({0})"),
    "square": _expr("{0} * {0}"), "reciprocal": _expr("({T})1 / {0}"), "sin": _expr("sin({0})"),
    "cos": _expr("cos({0})"), "tan": _expr("tan({0})"), "asin": _expr("asin({0})"), "acos": _expr("acos({0})"),
    "atan": _expr("atan({0})"), "sinh": _expr("sinh({0})"), "cosh": _expr("cosh({0})"),
    "tanh": _expr("tanh({0})"), "asinh": _expr("asinh({0})"), "acosh": _expr("acosh({0})"),
    "atanh": _expr("atanh({0})"), "erf": _expr("erf({0})"), "erfc": _expr("erfc({0})"),
    "sigmoid": _expr("({T})1 / (({T})1 + ({T})exp(-{0}))"), "floor": _expr("floor({0})"),
    "ceil": _expr("ceil({0})"), "trunc": _expr("trunc({0})"), "frac": _expr("{0} - ({T})trunc({0})"),
    "sign": _sign, "clone": _expr("{0}"), "clamp": _clamp,
    "add": _expr("{0} + {1}"), "sub": _expr("{0} - {1}"), "mul": _expr("{0} * {1}"), "div": _expr("{0} / {1}"),
    "pow": _expr("pow({0}, {1})"), "atan2": _expr("atan2({0}, {1})"), "hypot": _expr("hypot({0}, {1})"),
    "copysign": _expr("copysign({0}, {1})"),
    "maximum": lambda r, a, p, T: [f"{T} {r} = {_max(a[0], a[1])};"],
    "minimum": lambda r, a, p, T: [f"{T} {r} = {_min(a[0], a[1])};"],
    "fmax": _binary_select("{0} >= {1} || {1} != {1}"), "fmin": _binary_select("{0} <= {1} || {1} != {1}"),
    "eq": _test("{0} == {1}"), "ne": _test("{0} != {1}"), "lt": _test("{0} < {1}"), "le": _test("{0} <= {1}"),
    "gt": _test("{0} > {1}"), "ge": _test("{0} >= {1}"), "logical_not": _test("!{0}"),
    "logical_and": _test("({0} && {1})"), "logical_or": _test("({0} || {1})"), "logical_xor": _test("({0} != {1})"),
    "where": _where, "lerp": _lerp,
    "relu": _relu, "hardtanh": _clamp, "leaky_relu": _leaky_relu, "elu": _elu, "softplus": _softplus,
    "logsigmoid": _logsigmoid, "silu": _silu, "mish": _mish, "gelu": _gelu, "gelu_backward": _gelu_backward,
    "gelu_cdf": _gelu_cdf, "gelu_backward_from_cdf": _gelu_backward_from_cdf,
    "threshold": _threshold, "hardsigmoid": _hardsigmoid, "hardswish": _hardswish, "softshrink": _softshrink,
    "hardshrink": _hardshrink, "cast": _cast, "const": _const,
}

_BOOL_OPS = {"eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "logical_xor"}


def kernel_source(program):
    """``(in_params, out_params, operation, name)`` of the ``ElementwiseKernel`` running ``program``."""
    in_dtypes, ops, outputs = program
    dtypes = list(in_dtypes)
    lines = [f"{_CTYPE[d]} v{i} = a{i};" for i, d in enumerate(in_dtypes)]
    for k, (name, args, params, dtype) in enumerate(ops):
        slot = len(in_dtypes) + k
        T = _CTYPE[dtype]
        names = argument_names(name, args, dtype, dtypes, lambda v, T=T: f"(({T}){v})", name in _BOOL_OPS)
        lines += SCALAR_OPS[name](f"v{slot}", names, params, T)
        dtypes.append(dtype)
    lines += [f"o{j} = v{slot};" for j, slot in enumerate(outputs)]
    in_params = ", ".join(f"{d} a{i}" for i, d in enumerate(in_dtypes))
    out_params = ", ".join(f"{dtypes[slot]} o{j}" for j, slot in enumerate(outputs))
    operation = "\n".join(lines)
    name = "fused_" + hashlib.sha1(repr(program).encode()).hexdigest()[:16]
    return in_params, out_params, operation, name


_KERNELS = {}  # program -> cupy.ElementwiseKernel


def fused_elementwise(*arrays, program, prologue=None, out=None):
    """Run ``program`` over CuPy ``arrays`` (broadcast); ``prologue`` and ``out`` as in ``kernels/cpu/fused.py``."""
    import cupy
    if prologue is not None:
        from kernels.cuda import KERNELS
        name, attrs, n = prologue
        arrays = (KERNELS[name](*arrays[:n], **dict(attrs)),) + tuple(arrays[n:])
    kernel = _KERNELS.get(program)
    if kernel is None:
        kernel = _KERNELS[program] = cupy.ElementwiseKernel(*kernel_source(program))
    in_dtypes, ops, outputs = program
    arrays = [a if a.dtype == d else a.astype(d) for a, d in zip(arrays, in_dtypes)]
    if out is None:
        return kernel(*arrays)
    outs = [out] if isinstance(out, cupy.ndarray) else list(out)
    shape = cupy.broadcast_shapes(*(a.shape for a in arrays))
    for j, slot in enumerate(outputs):
        if outs[j] is None:
            outs[j] = cupy.empty(shape, ops[slot - len(in_dtypes)][3])
    result = kernel(*arrays, *outs)
    return result

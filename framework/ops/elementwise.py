"""Elementwise ops: unary math, binary arithmetic, comparisons, logic, where, clamp.

Each op is declared once: a front-door function (argument checks and PyTorch's dtype rule), the
kernel name, and its derivative written with framework ops.
"""
import builtins
import math

import numpy as np

from .. import _dtype
from .._backends import array_module
from .._tensor import Tensor
from ..autograd.grad_mode import state
from ._checks import broadcast_shapes, is_scalar
from .registry import REGISTRY, commit_inplace, dispatch, register_op, tensor_method

__all__ = []


def _export(fn, name=None, method=True, inplace=True, saves_input=True):
    """Publish ``fn`` as ``framework.<name>``, ``Tensor.<name>`` and, for in-place, ``Tensor.<name>_``.

    ``saves_input``: the op keeps its input for backward, so under autograd the in-place variant
    computes from a copy of ``self`` (the original values stay available, as in PyTorch).
    """
    name = name or fn.__name__
    fn.__name__ = name
    __all__.append(name)
    globals()[name] = fn
    if method:
        setattr(Tensor, name, fn)
    if inplace:
        def inplace_method(self, *args, **kwargs):
            source = self
            if saves_input and state.enabled and (self._requires_grad or any(
                    isinstance(a, Tensor) and a._requires_grad for a in args)):
                source = self.clone()
            return commit_inplace(self, fn(source, *args, **kwargs))
        inplace_method.__name__ = name + "_"
        inplace_method.__doc__ = f"In-place version of :func:`{name}`."
        setattr(Tensor, name + "_", inplace_method)
        if not name.startswith("_"):
            globals()[name + "_"] = inplace_method
            __all__.append(name + "_")
    return fn


def scalar_tensor_like(value, dtype, like):
    """A 0-d tensor holding Python scalar ``value`` in ``dtype`` on ``like``'s device."""
    if dtype is _dtype.bfloat16:
        from .registry import to_bfloat16_bits
        array = to_bfloat16_bits(np.array(value, dtype=np.float32)).reshape(())
    elif dtype.np.kind in "iu" and isinstance(value, int):
        array = np.array(value, dtype=np.int64).astype(dtype.np)  # wraps around as PyTorch does (uint8 - 2)
    else:
        array = np.array(value, dtype=dtype.np)
    out = Tensor._wrap(array, dtype, like._device)
    if like._device.type != "cpu":
        out = out.to(like._device)
    return out


def _cast(t, dtype):
    return t if t.dtype is dtype else t.to(dtype)


def _finish(result, out):
    if out is None:
        return result
    from .conversion import write_out
    return write_out(out, result)


# ----- unary --------------------------------------------------------------------------------------
def _unary(name, derivative=None, kind="float", save_outputs=False, doc=None):
    """Define unary op ``name``. kind: 'float' (ints promote to float), 'same' (dtype kept), 'bool' (bool out)."""
    op = register_op(name, derivative, save_inputs=not save_outputs, save_outputs=save_outputs)

    def fn(input, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        x = input
        if kind == "float" and not x.dtype.is_floating_point:
            x = x.to(_dtype.get_default_dtype())
        return _finish(dispatch(op, (x,)), out)

    fn.__doc__ = doc or f"Elementwise {name} of ``input`` (``torch.{name}``)."
    return _export(fn, name, inplace=kind != "bool", saves_input=not save_outputs)


def _x(node):
    return node.saved[0]


_unary("exp", lambda n, g: g * n.saved[0], save_outputs=True)
_unary("exp2", lambda n, g: g * n.saved[0] * math.log(2.0), save_outputs=True)
_unary("expm1", lambda n, g: g * (n.saved[0] + 1), save_outputs=True)
_unary("log", lambda n, g: g / _x(n))
_unary("log2", lambda n, g: g / (_x(n) * math.log(2.0)))
_unary("log10", lambda n, g: g / (_x(n) * math.log(10.0)))
_unary("log1p", lambda n, g: g / (_x(n) + 1))
_unary("sqrt", lambda n, g: g / (2 * n.saved[0]), save_outputs=True)
_unary("rsqrt", lambda n, g: g * -0.5 * n.saved[0] ** 3, save_outputs=True)
_unary("sin", lambda n, g: g * _x(n).cos())
_unary("cos", lambda n, g: g * -_x(n).sin())
_unary("tan", lambda n, g: g * (1 + n.saved[0] ** 2), save_outputs=True)
_unary("asin", lambda n, g: g * (1 - _x(n) ** 2).rsqrt())
_unary("acos", lambda n, g: -g * (1 - _x(n) ** 2).rsqrt())
_unary("atan", lambda n, g: g / (1 + _x(n) ** 2))
_unary("sinh", lambda n, g: g * _x(n).cosh())
_unary("cosh", lambda n, g: g * _x(n).sinh())
_unary("tanh", lambda n, g: g * (1 - n.saved[0] ** 2), save_outputs=True)
_unary("asinh", lambda n, g: g * (_x(n) ** 2 + 1).rsqrt())
_unary("acosh", lambda n, g: g * (_x(n) ** 2 - 1).rsqrt())
_unary("atanh", lambda n, g: g / (1 - _x(n) ** 2))
_unary("sigmoid", lambda n, g: g * n.saved[0] * (1 - n.saved[0]), save_outputs=True)
_unary("erf", lambda n, g: g * (2.0 / math.sqrt(math.pi)) * (-_x(n) ** 2).exp())
_unary("erfc", lambda n, g: g * (-2.0 / math.sqrt(math.pi)) * (-_x(n) ** 2).exp())
_unary("lgamma", lambda n, g: g * _x(n).digamma())
_unary("digamma", lambda n, g: g * polygamma(1, _x(n)))  # noqa: F821
_unary("erfinv", lambda n, g: g * (math.sqrt(math.pi) / 2) * (n.saved[0] ** 2).exp(), save_outputs=True)
_unary("reciprocal", lambda n, g: -g * n.saved[0] ** 2, save_outputs=True)
_unary("deg2rad", lambda n, g: g * (math.pi / 180))
_unary("rad2deg", lambda n, g: g * (180 / math.pi))
_unary("neg", lambda n, g: -g, kind="same")
_unary("abs", lambda n, g: g * _x(n).sign(), kind="same")
_unary("sign", lambda n, g: g * 0, kind="same")
_unary("square", lambda n, g: g * 2 * _x(n), kind="same")
_unary("floor", lambda n, g: g * 0, kind="same")
_unary("ceil", lambda n, g: g * 0, kind="same")
_unary("trunc", lambda n, g: g * 0, kind="same")
_unary("frac", lambda n, g: g, kind="same")
_unary("sinc", lambda n, g: g * _sinc_grad(_x(n)))
_unary("isnan", kind="bool")
_unary("isposinf", kind="bool")
_unary("isneginf", kind="bool")
_unary("isinf", kind="bool")
_unary("isfinite", kind="bool")
_unary("signbit", kind="bool")
_unary("logical_not", kind="bool")
_unary("bitwise_not", kind="same")
globals()["negative"] = neg
globals()["absolute"] = abs
globals()["fix"] = trunc
__all__ += ["negative", "absolute", "fix", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"]
for _alias, _target in (("arcsin", asin), ("arccos", acos), ("arctan", atan), ("arcsinh", asinh),  # noqa: F821
                        ("arccosh", acosh), ("arctanh", atanh), ("negative", neg), ("absolute", abs),  # noqa: F821
                        ("fix", trunc)):  # noqa: F821
    globals()[_alias] = _target
    setattr(Tensor, _alias, _target)
    setattr(Tensor, _alias + "_", getattr(Tensor, _target.__name__ + "_"))

_square_op = REGISTRY["square"]


def _square(input, *, out=None):
    """Elementwise square; integers and bools keep PyTorch's dtypes (bool -> int64)."""
    if input.dtype is _dtype.bool:
        input = input.to(_dtype.int64)
    return _finish(dispatch(_square_op, (input,)), out)


_export(_square, "square")


def sgn(input):
    """Sign of ``input`` (equal to ``sign`` for real tensors)."""
    return sign(input)  # noqa: F821


_export(sgn, "sgn")
_export(lambda self: self, "positive", inplace=False)
Tensor.positive.__doc__ = "Returns ``input`` unchanged (``torch.positive``)."

_round_op = register_op("round", lambda n, g: g * 0)


def round(input, *, decimals=0, out=None):
    """Round to ``decimals`` places, halves to even (``torch.round``)."""
    return _finish(dispatch(_round_op, (input,), {"decimals": decimals} if decimals else None), out)


_export(round, "round")

def _sinc_grad(x):
    px = x * math.pi
    d = (px.cos() * px - px.sin()) / (px * x)
    return where(x == 0, x * 0, d)  # noqa: F821


def isreal(input):
    """True everywhere: real tensors have no imaginary part (``torch.isreal``)."""
    return ones_like_bool(input)


def ones_like_bool(input):
    """An all-True bool tensor shaped like ``input``."""
    return Tensor._wrap(array_module(input._data).ones(input._data.shape, dtype=np.bool_), _dtype.bool, input._device)


_export(isreal, "isreal", inplace=False)

_polygamma_op = register_op("polygamma", lambda n, g: g * polygamma(n.attrs["n"] + 1, _x(n)))


def polygamma(n, input, *, out=None):
    """The ``n``-th derivative of the digamma function (``torch.polygamma``)."""
    if not isinstance(n, int) or isinstance(n, builtins.bool):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    x = input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())
    return _finish(dispatch(_polygamma_op, (x,), {"n": n}), out)


_export(polygamma, "polygamma", method=False, inplace=False)
Tensor.polygamma = lambda self, n: polygamma(n, self)
Tensor.polygamma_ = lambda self, n: commit_inplace(self, polygamma(n, self))

_logit_op = register_op("logit", lambda n, g: _logit_grad(n, g))


def _logit_grad(node, g):
    x = node.saved[0]
    eps = node.attrs.get("eps")
    grad = g / (x * (1 - x))
    if eps is not None:
        grad = where((x < eps) | (x > 1 - eps), grad * 0, grad)  # noqa: F821
    return grad


def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), with ``p`` clamped to [eps, 1 - eps] when ``eps`` is given."""
    x = input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())
    return _finish(dispatch(_logit_op, (x,), {"eps": eps} if eps is not None else None), out)


_export(logit, "logit")

_nan_to_num_op = register_op("nan_to_num", lambda n, g: g * _x(n).isfinite())


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN, +inf and -inf with ``nan``, ``posinf`` and ``neginf`` (default: the dtype's limits)."""
    attrs = {"nan": nan, "posinf": posinf, "neginf": neginf}
    return _finish(dispatch(_nan_to_num_op, (input,), attrs), out)


_export(nan_to_num, "nan_to_num")


# ----- binary -------------------------------------------------------------------------------------
def operands(a, b, name, float_result=False):
    """Tensor operands of the common dtype for binary op ``name`` (scalars are weakly typed)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            dtype = a.dtype if a.dtype is b.dtype else _dtype.result_type(a, b)
        elif is_scalar(b):
            dtype = _dtype.result_type(a, b)
        else:
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(b).__name__}")
        like = a
    elif isinstance(b, Tensor):
        if not is_scalar(a):
            raise TypeError(f"{name}(): argument 'input' must be Tensor or Number, not {type(a).__name__}")
        dtype, like = _dtype.result_type(a, b), b
    else:
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(a).__name__}")
    if float_result and not dtype.is_floating_point:
        dtype = _dtype.get_default_dtype()
    a = _cast(a, dtype) if isinstance(a, Tensor) else scalar_tensor_like(a, dtype, like)
    b = _cast(b, dtype) if isinstance(b, Tensor) else scalar_tensor_like(b, dtype, like)
    if a._data.shape != b._data.shape:
        broadcast_shapes(a._data.shape, b._data.shape, name)
    return a, b


def _binary(name, derivative=None, float_result=False, bool_result=False, kernel=None, save_inputs=True,
            doc=None, export=True):
    op = register_op(name, derivative, kernel=kernel, save_inputs=save_inputs)

    def fn(input, other, *, out=None):
        a, b = operands(input, other, name, float_result)
        return _finish(dispatch(op, (a, b)), out)

    fn.__doc__ = doc or f"Elementwise {name} of ``input`` and ``other`` with broadcasting (``torch.{name}``)."
    if export:
        _export(fn, name, inplace=not bool_result, saves_input=save_inputs)
    return fn


_binary("mul", lambda n, g: _mul_grad(n, g), save_inputs="others")


def _mul_grad(node, g):
    a, b = node.saved
    needs = node.needs_input_grad
    return (g * b if needs[0] else None, g * a if needs[1] else None)



_binary("atan2", lambda n, g: _atan2_grad(n, g), float_result=True)
_binary("hypot", lambda n, g: _hypot_grad(n, g))
_binary("logaddexp", lambda n, g: _logaddexp_grad(n, g))
_binary("logaddexp2", lambda n, g: _logaddexp2_grad(n, g))
_binary("xlogy", lambda n, g: _xlogy_grad(n, g), float_result=True)
_binary("maximum", lambda n, g: _minmax_grad(n, g, True))
_binary("minimum", lambda n, g: _minmax_grad(n, g, False))
_binary("fmax", lambda n, g: _minmax_grad(n, g, True))
_binary("fmin", lambda n, g: _minmax_grad(n, g, False))
_binary("copysign", lambda n, g: (g * where(n.saved[0] == 0, g * 0, copysign(n.saved[0], n.saved[1]) / n.saved[0]),  # noqa: F821,E501
                                  g * 0), float_result=True)
_binary("remainder", lambda n, g: (g, -g * (n.saved[0] / n.saved[1]).floor()))
_binary("fmod", lambda n, g: (g, -g * (n.saved[0] / n.saved[1]).trunc()))
_binary("nextafter", lambda n, g: (g, None), save_inputs=False)
for _cmp in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    _binary(_cmp, bool_result=True)
for _bit in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
    _binary(_bit)
for _alias, _target in (("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"), ("less_equal", "le"),
                        ("not_equal", "ne"), ("multiply", "mul")):
    globals()[_alias] = globals()[_target]
    setattr(Tensor, _alias, globals()[_target])
    __all__.append(_alias)


def _atan2_grad(node, g):
    a, b = node.saved
    denom = a * a + b * b
    return g * b / denom, -g * a / denom


def _hypot_grad(node, g):
    a, b = node.saved
    h = hypot(a, b)  # noqa: F821
    return g * a / h, g * b / h


def _logaddexp_grad(node, g):
    a, b = node.saved
    m = maximum(a, b)  # noqa: F821
    ea, eb = (a - m).exp(), (b - m).exp()
    return g * ea / (ea + eb), g * eb / (ea + eb)


def _logaddexp2_grad(node, g):
    a, b = node.saved
    m = maximum(a, b)  # noqa: F821
    ea, eb = (a - m).exp2(), (b - m).exp2()
    return g * ea / (ea + eb), g * eb / (ea + eb)


def _xlogy_grad(node, g):
    x, y = node.saved
    gx = where((x == 0) & ~y.isnan(), g * 0, g * y.log())  # noqa: F821
    return gx, g * x / y


def _minmax_grad(node, g, is_max):
    a, b = node.saved
    pick_a = (a > b) if is_max else (a < b)
    tie = a == b
    half = g * 0.5
    ga = where(pick_a, g, where(tie, half, g * 0))  # noqa: F821
    gb = where(pick_a, g * 0, where(tie, half, g))  # noqa: F821
    return ga, gb


_add_op = register_op("add", lambda n, g: (g, g * n.attrs["alpha"] if "alpha" in n.attrs else g), save_inputs=False)
_sub_op = register_op("sub", lambda n, g: (g, -g), save_inputs=False)


def _alpha_check(alpha, dtype, name):
    if alpha != 1:
        if isinstance(alpha, builtins.float) and not dtype.is_floating_point:
            raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
        if isinstance(alpha, builtins.bool) is False and dtype is _dtype.bool and not isinstance(alpha, builtins.bool):
            raise RuntimeError("Boolean alpha only supported for Boolean results.")


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting (``torch.add``)."""
    a, b = operands(input, other, "add")
    if alpha != 1:
        _alpha_check(alpha, a.dtype, "add")
        b = mul(b, alpha)  # noqa: F821
    return _finish(dispatch(_add_op, (a, b)), out)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other`` with broadcasting (``torch.sub``)."""
    a, b = operands(input, other, "sub")
    if a.dtype is _dtype.bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if alpha != 1:
        _alpha_check(alpha, a.dtype, "sub")
        b = mul(b, alpha)  # noqa: F821
    return _finish(dispatch(_sub_op, (a, b)), out)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return sub(other, input, alpha=alpha)


_export(add, "add", saves_input=False)
_export(sub, "sub", saves_input=False)
_export(rsub, "rsub", inplace=False)
globals()["subtract"] = sub
Tensor.subtract = sub
Tensor.subtract_ = Tensor.sub_
__all__.append("subtract")

_div_op = register_op("div", lambda n, g: _div_grad(n, g))


def _div_grad(node, g):
    a, b = node.saved
    needs = node.needs_input_grad
    return (g / b if needs[0] else None, -g * a / (b * b) if needs[1] else None)



_div_floor_op = register_op("div_floor", lambda n, g: (g * 0, g * 0))
_div_trunc_op = register_op("div_trunc", lambda n, g: (g * 0, g * 0))


def div(input, other, *, rounding_mode=None, out=None):
    """``input / other``; ``rounding_mode`` None (true division), 'trunc' or 'floor' (``torch.div``)."""
    if rounding_mode is None:
        a, b = operands(input, other, "div", float_result=True)
        return _finish(dispatch(_div_op, (a, b)), out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    a, b = operands(input, other, "div")
    if a.dtype is _dtype.bool:
        a, b = a.to(_dtype.int64), b.to(_dtype.int64)
    op = _div_trunc_op if rounding_mode == "trunc" else _div_floor_op
    return _finish(dispatch(op, (a, b)), out)


def true_divide(input, other, *, out=None):
    """``input / other`` as floats."""
    return div(input, other, out=out)


def floor_divide(input, other, *, out=None):
    """``input // other`` rounded toward negative infinity."""
    return div(input, other, rounding_mode="floor", out=out)


_export(div, "div")
_export(true_divide, "true_divide")
_export(floor_divide, "floor_divide")
globals()["divide"] = div
Tensor.divide = div
Tensor.divide_ = Tensor.div_
__all__.append("divide")

_pow_op = register_op("pow", lambda n, g: _pow_grad(n, g), save_inputs=True, save_outputs=True)


def _pow_grad(node, g):
    base, exponent, result = node.saved
    gbase = g * exponent * where(exponent == 0, base * 0 + 1, base ** (exponent - 1))  # noqa: F821
    gexp = g * where((base == 0) & (exponent >= 0), base * 0, result * base.log())  # noqa: F821
    return gbase, gexp


def pow(input, exponent, *, out=None):
    """``input ** exponent`` with broadcasting (``torch.pow``)."""
    if isinstance(input, Tensor) and is_scalar(exponent) and not isinstance(exponent, builtins.bool):
        if exponent == 2 and input.dtype.is_floating_point:
            return _finish(mul(input, input), out)  # noqa: F821
        if exponent == 1:
            return _finish(input.clone(), out)
    a, b = operands(input, exponent, "pow")
    return _finish(dispatch(_pow_op, (a, b)), out)


_export(pow, "pow")


def float_power(input, exponent, *, out=None):
    """``input ** exponent`` computed in float64 (``torch.float_power``)."""
    return pow(input.double() if isinstance(input, Tensor) else builtins.float(input),
               exponent.double() if isinstance(exponent, Tensor) else builtins.float(exponent), out=out)


def _float_power_(self, exponent):
    if self.dtype is not _dtype.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {self.dtype.name.capitalize()} but the "
                           "operation's result requires dtype Double")
    return commit_inplace(self, float_power(self, exponent))


_export(float_power, "float_power", inplace=False)
Tensor.float_power_ = _float_power_


def ldexp(input, other, *, out=None):
    """``input * 2 ** other`` (``torch.ldexp``)."""
    return mul(input, pow(2.0, other), out=out)  # noqa: F821


_export(ldexp, "ldexp")
_heaviside_op = register_op("heaviside")


def heaviside(input, values, *, out=None):
    """Step function: 0 below zero, 1 above, ``values`` at zero (``torch.heaviside``)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not {type(values).__name__}")
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    broadcast_shapes(input._data.shape, values._data.shape, "heaviside")
    return _finish(dispatch(_heaviside_op, (input, values)), out)


_export(heaviside, "heaviside")


# ----- closeness -----------------------------------------------------------------------------------
_isclose_op = register_op("isclose")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (equal infinities are close)."""
    for arg, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"isclose(): argument '{arg}' (position {1 if arg == 'input' else 2}) must be Tensor, "
                            f"not {type(value).__name__}")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{_type_name(input.dtype)} did not match {_type_name(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    broadcast_shapes(input._data.shape, other._data.shape, "isclose")
    return dispatch(_isclose_op, (input, other), {"rtol": rtol, "atol": atol, "equal_nan": bool(equal_nan)})


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of ``input`` is close to ``other`` (see ``isclose``), as a Python bool."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other):
    """True when both tensors have the same shape and the same values."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"equal(): argument 'other' must be Tensor, not {type(bad).__name__}")
    if input.shape != other.shape:
        return False
    return builtins.bool(eq(input, other)._data.all())  # noqa: F821


_export(isclose, "isclose", inplace=False)
_export(allclose, "allclose", inplace=False)
_export(equal, "equal", inplace=False)


# ----- ternary and clamp --------------------------------------------------------------------------
_where_op = register_op("where", lambda n, g: (None, where(n.saved[0], g, 0.0), where(n.saved[0], 0.0, g)),
                        differentiable_inputs=(1, 2))


def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; one argument: ``nonzero(as_tuple)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not {type(condition).__name__}")
    if condition.dtype is not _dtype.bool:
        if condition.dtype is _dtype.uint8:
            condition = condition.to(_dtype.bool)
        else:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{_type_name(condition.dtype)}")
    a, b = operands(input, other, "where")
    broadcast_shapes(condition._data.shape, broadcast_shapes(a._data.shape, b._data.shape), "where")
    return _finish(dispatch(_where_op, (condition, a, b)), out)


def _type_name(d):
    from .registry import _type_word
    return _type_word(d)


_export(where, "where", method=False, inplace=False)


@tensor_method("where")
def _where_method(self, condition, other):
    """``self`` where ``condition`` holds, else ``other`` (the method puts the condition second)."""
    return where(condition, self, other)

_lerp_op = register_op("lerp", lambda n, g: (g * (1 - n.saved[2]), g * n.saved[2],
                                             g * (n.saved[1] - n.saved[0])))


def lerp(input, end, weight, *, out=None):
    """``input + weight * (end - input)`` (``torch.lerp``)."""
    a, b = operands(input, end, "lerp")
    w = weight if isinstance(weight, Tensor) else scalar_tensor_like(weight, a.dtype, a)
    if w.dtype is not a.dtype:
        raise RuntimeError(f"expected dtype {a.dtype} for `weight` but got dtype {w.dtype}")
    return _finish(dispatch(_lerp_op, (a, b, w)), out)


_export(lerp, "lerp")

def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2`` (``torch.addcmul``)."""
    product = mul(tensor1, tensor2)  # noqa: F821
    return add(input, product if value == 1 else mul(product, value), out=out)  # noqa: F821


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2`` (``torch.addcdiv``); integer division is refused as in PyTorch."""
    if not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
                           "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    quotient = div(tensor1, tensor2)
    return add(input, quotient if value == 1 else mul(quotient, value), out=out)  # noqa: F821


_export(addcmul, "addcmul")
_export(addcdiv, "addcdiv")

_clamp_op = register_op("clamp", lambda n, g: _clamp_grad(n, g))


def _clamp_grad(node, g):
    x = node.saved[0]
    lo, hi = node.attrs["lo"], node.attrs["hi"]
    keep = None
    if lo is not None:
        keep = x >= lo
    if hi is not None:
        keep = (x <= hi) if keep is None else keep & (x <= hi)
    return where(keep, g, g * 0)


def clamp(input, min=None, max=None, *, out=None):
    """Clamp every element into [min, max] (``torch.clamp``); tensor bounds broadcast."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = maximum(result, min if isinstance(min, Tensor) else scalar_tensor_like(min, input.dtype, input))  # noqa: F821,E501
        if max is not None:
            result = minimum(result, max if isinstance(max, Tensor) else scalar_tensor_like(max, input.dtype, input))  # noqa: F821,E501
        return _finish(result, out)
    dtype = _dtype.result_type(input, *(v for v in (min, max) if v is not None))
    x = _cast(input, dtype)
    lo = None if min is None else dtype.compute_np.type(min)
    hi = None if max is None else dtype.compute_np.type(max)
    return _finish(dispatch(_clamp_op, (x,), {"lo": lo, "hi": hi}), out)


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


_export(clamp, "clamp")
_export(clamp_min, "clamp_min")
_export(clamp_max, "clamp_max")
globals()["clip"] = clamp
Tensor.clip = clamp
Tensor.clip_ = Tensor.clamp_
__all__.append("clip")


# ----- Python operators ---------------------------------------------------------------------------
def _reflected(fn):
    return lambda self, other: fn(other, self)


Tensor.__add__ = add
Tensor.__radd__ = _reflected(add)
Tensor.__iadd__ = lambda self, other: Tensor.add_(self, other)
Tensor.__sub__ = sub
Tensor.__rsub__ = _reflected(sub)
Tensor.__isub__ = lambda self, other: Tensor.sub_(self, other)
Tensor.__mul__ = mul  # noqa: F821
Tensor.__rmul__ = _reflected(mul)  # noqa: F821
Tensor.__imul__ = lambda self, other: Tensor.mul_(self, other)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _reflected(div)
Tensor.__rdiv__ = Tensor.__rtruediv__
Tensor.__div__ = Tensor.__truediv__
Tensor.__itruediv__ = lambda self, other: Tensor.div_(self, other)
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = _reflected(floor_divide)
Tensor.__ifloordiv__ = lambda self, other: Tensor.floor_divide_(self, other)
Tensor.__mod__ = remainder  # noqa: F821
Tensor.__rmod__ = _reflected(remainder)  # noqa: F821
Tensor.__imod__ = lambda self, other: Tensor.remainder_(self, other)
Tensor.__pow__ = pow
Tensor.__rpow__ = _reflected(pow)
Tensor.__ipow__ = lambda self, other: Tensor.pow_(self, other)
Tensor.__neg__ = lambda self: neg(self)  # noqa: F821
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = lambda self: abs(self)  # noqa: F821
Tensor.__eq__ = lambda self, other: eq(self, other) if isinstance(other, Tensor) or is_scalar(other) else False  # noqa: F821,E501
Tensor.__ne__ = lambda self, other: ne(self, other) if isinstance(other, Tensor) or is_scalar(other) else True  # noqa: F821,E501
Tensor.__lt__ = lt  # noqa: F821
Tensor.__le__ = le  # noqa: F821
Tensor.__gt__ = gt  # noqa: F821
Tensor.__ge__ = ge  # noqa: F821
Tensor.__hash__ = lambda self: id(self)


Tensor.__and__ = lambda self, other: bitwise_and(self, other)  # noqa: F821
Tensor.__rand__ = lambda self, other: bitwise_and(other, self)  # noqa: F821
Tensor.__iand__ = lambda self, other: Tensor.bitwise_and_(self, other)
Tensor.__or__ = lambda self, other: bitwise_or(self, other)  # noqa: F821
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)  # noqa: F821
Tensor.__ior__ = lambda self, other: Tensor.bitwise_or_(self, other)
Tensor.__xor__ = lambda self, other: bitwise_xor(self, other)  # noqa: F821
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)  # noqa: F821
Tensor.__ixor__ = lambda self, other: Tensor.bitwise_xor_(self, other)
Tensor.__invert__ = lambda self: bitwise_not(self) if self.dtype is not _dtype.bool else logical_not(self)  # noqa: F821,E501
Tensor.__lshift__ = lambda self, other: bitwise_left_shift(self, other)  # noqa: F821
Tensor.__rshift__ = lambda self, other: bitwise_right_shift(self, other)  # noqa: F821
Tensor.__radd__.__name__ = "__radd__"

"""``framework.special``: special functions (``torch.special``).

Each function here is an op with a Numba kernel in ``kernels/cpu/special.py`` and, where PyTorch has one,
a derivative written with framework ops. Functions PyTorch also exposes elsewhere (``erf``, ``digamma``,
``i0``, ``softmax``...) are the same objects re-exported.
"""
import math

from . import _dtype
from ._tensor import Tensor
from .ops._checks import is_scalar
from .ops.elementwise import _finish, operands, where
from .ops.elementwise import (erf, erfc, erfinv, exp2, expm1, log1p, logit, polygamma, round, sigmoid,  # noqa: F401
                              sinc, digamma, lgamma, xlogy)
from .ops.extra import i0, igamma, igammac, mvlgamma  # noqa: F401
from .ops.reduction import logsumexp  # noqa: F401
from .ops.registry import dispatch, register_op

__all__ = ["erf", "erfc", "erfinv", "exp2", "expm1", "log1p", "logit", "polygamma", "round", "sinc", "digamma",
           "psi", "gammaln", "expit", "xlogy", "logsumexp", "softmax", "log_softmax", "i0", "multigammaln",
           "gammainc", "gammaincc"]

psi = digamma
gammaln = lgamma
expit = sigmoid
multigammaln = mvlgamma
gammainc = igamma
gammaincc = igammac


def softmax(input, dim, *, dtype=None):
    """Softmax along ``dim`` (``torch.special.softmax``)."""
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """Log-softmax along ``dim`` (``torch.special.log_softmax``)."""
    return input.log_softmax(dim, dtype=dtype)


def _float(input, name, arg="input"):
    if not isinstance(input, Tensor):
        raise TypeError(f"special_{name}(): argument '{arg}' (position 1) must be Tensor, not {type(input).__name__}")
    return input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())


def _unary(name, derivative=None, save_outputs=False):
    """Define ``special.<name>(input, *, out=None)`` over kernel ``special_<kernel>``."""
    op = register_op("special_" + name, derivative, kernel="special_" + _KERNEL.get(name, name),
                     save_inputs=not save_outputs, save_outputs=save_outputs)

    def fn(input, *, out=None):
        return _finish(dispatch(op, (_float(input, name),)), out)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of ``input`` (``torch.special.{name}``)."
    globals()[name] = fn
    __all__.append(name)
    return fn


def _binary(name, derivative=None, first="input", second="other"):
    """Define ``special.<name>(input, other, *, out=None)``; either argument may be a Python number."""
    op = register_op("special_" + name, derivative, kernel="special_" + name)

    def fn(input, other, *, out=None):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"special_{name}(): argument '{first}' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        for arg, value in ((first, input), (second, other)):
            if not isinstance(value, Tensor) and not is_scalar(value):
                raise TypeError(f"special_{name}(): argument '{arg}' must be Tensor or Number, not "
                                f"{type(value).__name__}")
        a, b = operands(input, other, f"special_{name}", float_result=True)
        return _finish(dispatch(op, (a, b)), out)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of ``{first}`` and ``{second}`` (``torch.special.{name}``)."
    globals()[name] = fn
    __all__.append(name)
    return fn


_KERNEL = {"modified_bessel_i0": "i0", "modified_bessel_i1": "i1", "modified_bessel_k0": "k0",
           "modified_bessel_k1": "k1", "scaled_modified_bessel_k0": "k0e", "scaled_modified_bessel_k1": "k1e",
           "bessel_j0": "j0", "bessel_j1": "j1", "bessel_y0": "y0", "bessel_y1": "y1",
           "spherical_bessel_j0": "spherical_j0"}
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _x(node):
    return node.saved[0]


def _i1_grad(node, g):
    x = _x(node)
    return g * where(x == 0, 0.5, i0(x) - i1(x) / x)  # noqa: F821


def _i1e_grad(node, g):
    x = _x(node)
    return g * where(x == 0, 0.5, i0e(x) - i1e(x) * (x.sign() + x.reciprocal()))  # noqa: F821


def _xlog1py_grad(node, g):
    x, y = node.saved
    gx = where((x == 0) & (y <= -1), g * 0, g * y.log1p())
    return gx, g * x / (y + 1)


def _zeta_grad(node, g):
    x, q = node.saved
    if node.needs_input_grad[0]:
        raise NotImplementedError("the derivative for 'zeta' is not implemented.")
    return None, -g * x * zeta(x + 1, q)  # noqa: F821


_unary("i0e", lambda n, g: g * (i1e(_x(n)) - _x(n).sign() * i0e(_x(n))))  # noqa: F821
_unary("i1", _i1_grad)
_unary("i1e", _i1e_grad)
_unary("ndtr", lambda n, g: g * (-0.5 * _x(n) ** 2).exp() / _SQRT_2PI)
_unary("ndtri", lambda n, g: g * _SQRT_2PI * (0.5 * n.saved[0] ** 2).exp(), save_outputs=True)
_unary("log_ndtr", lambda n, g: g * math.sqrt(2.0 / math.pi) / erfcx(-_x(n) / math.sqrt(2.0)))  # noqa: F821
_unary("erfcx", lambda n, g: g * (2 * _x(n) * erfcx(_x(n)) - 2.0 / math.sqrt(math.pi)))  # noqa: F821
_unary("entr", lambda n, g: g * -(_x(n).log() + 1))
_binary("xlog1py", _xlog1py_grad)
_binary("zeta", _zeta_grad, "input", "other")
for _name in ("airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
              "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
              "scaled_modified_bessel_k1", "spherical_bessel_j0"):
    _unary(_name)
for _kind in ("t", "u", "v", "w"):
    _binary(f"chebyshev_polynomial_{_kind}", first="input", second="n")
    _binary(f"shifted_chebyshev_polynomial_{_kind}", first="input", second="n")
for _name in ("hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"):
    _binary(_name, first="input", second="n")

"""Activation functions and the softmax family of ``framework.nn.functional``.

Hot activations are ops with a fused kernel (``kernels/cpu/activation.py``) and a derivative written
with framework ops; the rest are short compositions of framework ops.
"""
import math
import warnings

from ... import _dtype
from ..._tensor import Tensor
from ...ops._checks import wrap_dim
from ...ops.elementwise import sigmoid, tanh, where
from ...ops.registry import _type_word, commit_inplace, dispatch, register_op, tensor_method
from ...ops.softmax import log_softmax as _log_softmax, softmax as _softmax

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_",
           "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish",
           "threshold", "threshold_", "logsigmoid", "prelu", "glu", "tanh", "sigmoid", "tanhshrink", "softshrink",
           "hardshrink", "rrelu", "rrelu_", "softmax", "log_softmax", "softmin", "gumbel_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _zero_where_not(mask, g):
    return where(mask, g, 0.0)


def _check(input, name, kernel_name, ints_ok=False):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not ints_ok and not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{kernel_name}" not implemented for \'{_type_word(input.dtype)}\'')


def _apply(op, input, attrs, inplace):
    out = dispatch(op, (input,), attrs)
    return commit_inplace(input, out) if inplace else out


# ----- fused activations --------------------------------------------------------------------------
_relu_op = register_op("relu", lambda n, g: _zero_where_not(n.saved[0] > 0, g), save_inputs=False,
                       save_outputs=True)
_hardtanh_op = register_op("hardtanh", lambda n, g: _zero_where_not(
    (n.saved[0] > n.attrs["lo"]) & (n.saved[0] < n.attrs["hi"]), g))
_leaky_relu_op = register_op("leaky_relu", lambda n, g: where(n.saved[0] > 0, g, g * n.attrs["slope"]))
_threshold_op = register_op("threshold", lambda n, g: _zero_where_not(n.saved[0] > n.attrs["threshold"], g))
_hardsigmoid_op = register_op("hardsigmoid", lambda n, g: _zero_where_not(
    (n.saved[0] > -3) & (n.saved[0] < 3), g / 6))
_softshrink_op = register_op("softshrink", lambda n, g: _zero_where_not(n.saved[0].abs() > n.attrs["lambd"], g))
_hardshrink_op = register_op("hardshrink", lambda n, g: _zero_where_not(n.saved[0].abs() > n.attrs["lambd"], g))
_logsigmoid_op = register_op("logsigmoid", lambda n, g: g * sigmoid(-n.saved[0]))


def _elu_grad(node, g):
    x, a = node.saved[0], node.attrs
    neg = (x.clamp(max=0) * a["input_scale"]).exp() * (a["alpha"] * a["input_scale"])
    return where(x > 0, g, g * neg) * a["scale"]


def _softplus_grad(node, g):
    x, beta = node.saved[0], node.attrs["beta"]
    return where(x * beta > node.attrs["threshold"], g, g * sigmoid(x * beta))


def _silu_grad(node, g):
    x = node.saved[0]
    s = sigmoid(x)
    return g * s * (1 + x * (1 - s))


def _mish_grad(node, g):
    x = node.saved[0]
    t = tanh(softplus(x))
    return g * (t + x * (1 - t * t) * sigmoid(x))


def _hardswish_grad(node, g):
    x = node.saved[0]
    return where(x < -3, g * 0, where(x <= 3, g * (x / 3 + 0.5), g))


def _gelu_backward_grad(node, gg):
    g, x = node.saved
    approximate = node.attrs["approximate"]
    if approximate == "tanh":
        k, c = math.sqrt(2.0 / math.pi), 0.044715
        t = tanh(k * (x + c * x * x * x))
        du = k * (1 + 3 * c * x * x)
        second = (1 - t * t) * (du - x * t * du * du + 3 * k * c * x * x)
    else:
        second = (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi)) * (2 - x * x)
    return _gelu_backward(gg, x, approximate), gg * g * second


def _gelu_backward(g, x, approximate):
    return dispatch(_gelu_backward_op, (g, x), {"approximate": approximate})


_elu_op = register_op("elu", _elu_grad)
_softplus_op = register_op("softplus", _softplus_grad)
_silu_op = register_op("silu", _silu_grad)
_mish_op = register_op("mish", _mish_grad)
_hardswish_op = register_op("hardswish", _hardswish_grad)
_gelu_backward_op = register_op("gelu_backward", _gelu_backward_grad)
_gelu_op = register_op("gelu", lambda n, g: _gelu_backward(g, n.saved[0], n.attrs["approximate"]))


def relu(input, inplace=False):
    """max(x, 0) elementwise."""
    _check(input, "relu", "relu", ints_ok=True)
    if input.dtype is _dtype.bool:
        raise RuntimeError("Boolean inputs not supported for relu")
    return _apply(_relu_op, input, None, inplace)


def relu_(input):
    """In-place :func:`relu`."""
    return relu(input, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp to [min_val, max_val]; gradient zero outside the open interval."""
    _check(input, "hardtanh", "hardtanh", ints_ok=True)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(_hardtanh_op, input, {"lo": min_val, "hi": max_val}, inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, else negative_slope * x."""
    _check(input, "leaky_relu", "leaky_relu_cpu")
    return _apply(_leaky_relu_op, input, {"slope": negative_slope}, inplace)


def leaky_relu_(input, negative_slope=0.01):
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


def _elu(input, alpha, scale, input_scale, inplace, name):
    _check(input, name, "elu_cpu")
    return _apply(_elu_op, input, {"alpha": alpha, "scale": scale, "input_scale": input_scale}, inplace)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _elu(input, alpha, 1.0, 1.0, inplace, "elu")


def elu_(input, alpha=1.0):
    """In-place :func:`elu`."""
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, "selu")


def selu_(input):
    """In-place :func:`selu`."""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace, "celu")


def celu_(input, alpha=1.0):
    """In-place :func:`celu`."""
    return celu(input, alpha, inplace=True)


def gelu(input, approximate="none"):
    """x * Phi(x), or its tanh approximation with ``approximate='tanh'``."""
    _check(input, "gelu", "GeluKernelImpl")
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return dispatch(_gelu_op, (input,), {"approximate": approximate})


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    _check(input, "silu", "silu_cpu")
    return _apply(_silu_op, input, None, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    _check(input, "mish", "mish_cpu")
    return _apply(_mish_op, input, None, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    _check(input, "softplus", "softplus_cpu")
    return dispatch(_softplus_op, (input,), {"beta": beta, "threshold": threshold})


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    _check(input, "hardsigmoid", "hardsigmoid_cpu")
    return _apply(_hardsigmoid_op, input, None, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    _check(input, "hardswish", "hardswish_cpu")
    return _apply(_hardswish_op, input, None, inplace)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    _check(input, "threshold", "threshold", ints_ok=True)
    return _apply(_threshold_op, input, {"threshold": threshold, "value": value}, inplace)


def threshold_(input, threshold, value):
    """In-place :func:`threshold`."""
    return globals()["threshold"](input, threshold, value, inplace=True)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    _check(input, "log_sigmoid", "log_sigmoid_cpu")
    return dispatch(_logsigmoid_op, (input,))


def tanhshrink(input):
    """x - tanh(x)."""
    return input - tanh(input)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    _check(input, "softshrink", "softshrink_cpu")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return dispatch(_softshrink_op, (input,), {"lambd": lambd})


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _check(input, "hardshrink", "hardshrink_cpu")
    return dispatch(_hardshrink_op, (input,), {"lambd": lambd})


def prelu(input, weight):
    """x for x > 0, else weight * x, with one learnable slope per channel (dim 1) or one shared."""
    _check(input, "prelu", "prelu_cpu")
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                           f"and channel size = {channels}.")
    w = weight.reshape(()) if n == 1 else weight.reshape((n,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, w * input)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.ndim, "glu")
    size = input.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    half = size // 2
    return input.narrow(d, 0, half) * sigmoid(input.narrow(d, half, half))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slope drawn from U(lower, upper) per element in training, (lower + upper) / 2 in eval."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    _check(input, "rrelu", "rrelu_with_noise_cpu")
    import framework
    slopes = framework.empty_like(input).uniform_(lower, upper)
    out = where(input >= 0, input, input * slopes)
    return commit_inplace(input, out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place :func:`rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


# ----- softmax family -----------------------------------------------------------------------------
def _implicit_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / exp(x).sum(dim), computed stably."""
    if dim is None:
        dim = _implicit_dim("softmax", input.ndim, _stacklevel)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x, dim)), computed stably."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input.ndim, _stacklevel)
    return _log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x, dim)."""
    if dim is None:
        dim = _implicit_dim("softmin", input.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    return _softmax(-input, dim)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau; ``hard`` gives one-hot samples with soft gradients."""
    import framework
    gumbels = -framework.empty_like(logits).exponential_().log()
    y = _softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y
    y_hard = (y == y.amax(dim, keepdim=True)).to(y.dtype)
    return y_hard - y.detach() + y


# torch also exposes these as Tensor methods (top-level names: framework/__init__.py).
TOP_LEVEL = ("relu", "relu_", "selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "threshold", "threshold_",
             "prelu", "hardshrink")
tensor_method("relu")(relu)
tensor_method("relu_")(relu_)
tensor_method("hardshrink")(hardshrink)
tensor_method("prelu")(prelu)

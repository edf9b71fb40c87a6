"""softmax and log_softmax along a dim (``torch.softmax``, ``Tensor.log_softmax``; shared with ``F``)."""
from .. import _dtype
from .._tensor import Tensor
from ._checks import wrap_dim
from .registry import dispatch, register_op, tensor_method

__all__ = ["softmax", "log_softmax"]


def _softmax_grad(node, g):
    y = node.saved[0]
    return y * (g - (g * y).sum(node.attrs["dim"], keepdim=True))


def _log_softmax_grad(node, g):
    y = node.saved[0]
    return g - y.exp() * g.sum(node.attrs["dim"], keepdim=True)


_softmax_op = register_op("softmax", _softmax_grad, save_inputs=False, save_outputs=True)
_log_softmax_op = register_op("log_softmax", _log_softmax_grad, save_inputs=False, save_outputs=True)


def _run(op, input, dim, dtype, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim'")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        from .registry import _type_word
        raise NotImplementedError(f'"{name}_kernel_impl" not implemented for \'{_type_word(input.dtype)}\'')
    d = wrap_dim(dim, input.ndim, name)
    if input.ndim == 0:
        return dispatch(op, (input.reshape(1),), {"dim": 0}).reshape(())
    return dispatch(op, (input,), {"dim": d})


@tensor_method("softmax")
def softmax(input, dim=None, dtype=None):
    """exp(x) / exp(x).sum(dim), computed stably; ``dtype`` casts the input first (``torch.softmax``)."""
    return _run(_softmax_op, input, dim, dtype, "softmax")


@tensor_method("log_softmax")
def log_softmax(input, dim=None, dtype=None):
    """log(softmax(x, dim)) without forming the softmax (``torch.log_softmax``)."""
    return _run(_log_softmax_op, input, dim, dtype, "log_softmax")

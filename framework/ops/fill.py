"""Fills: fill, fill_, zero_ (differentiable: zero gradient to the filled tensor, the sum to a tensor value)."""
from .._tensor import Tensor
from .elementwise import scalar_tensor_like
from .registry import commit_inplace, dispatch, register_op, tensor_method

__all__ = ["fill", "fill_", "zero_"]

_fill_op = register_op("fill", lambda n, g: (g * 0, g.sum()), save_inputs=False)


def fill(input, value):
    """A tensor shaped like ``input`` holding ``value`` (a number or a 0-d tensor) everywhere."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               "dimensions.")
        value = value.to(input.dtype)
    else:
        value = scalar_tensor_like(value, input.dtype, input)
    return dispatch(_fill_op, (input, value))


@tensor_method("fill_")
def fill_(self, value):
    """Fill self with ``value`` in place."""
    return commit_inplace(self, fill(self, value))


@tensor_method("zero_")
def zero_(self):
    """Fill self with zeros in place."""
    return commit_inplace(self, fill(self, 0))

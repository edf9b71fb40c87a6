"""In-place fills: fill_, zero_."""
import numpy as np

from .._tensor import Tensor
from .registry import commit_inplace, tensor_method

__all__ = ["fill", "zero_"]


@tensor_method("fill_")
def fill_(self, value):
    """Fill self with ``value`` (a number or a 0-d tensor) in place."""
    from ..autograd.grad_mode import state
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               "dimensions.")
        if state.enabled and value.requires_grad:
            return commit_inplace(self, value.to(self.dtype).expand(self.shape).clone())
        value = value.item()
    if state.enabled and self.requires_grad:
        return commit_inplace(self, self.detach().new_full(self.shape, value) if hasattr(self, "new_full")
                              else Tensor._wrap(np.full(self._data.shape, value, dtype=self._data.dtype), self.dtype))
    if self.dtype.name == "bfloat16":
        from .registry import to_bfloat16_bits
        self._data[...] = to_bfloat16_bits(np.array(value, dtype=np.float32))
    else:
        self._data[...] = value
    self._vc.value += 1
    return self


@tensor_method("zero_")
def zero_(self):
    """Fill self with zeros in place."""
    return fill_(self, 0)


def fill(input, value):
    """A copy of ``input`` filled with ``value``."""
    return fill_(input.clone(), value)

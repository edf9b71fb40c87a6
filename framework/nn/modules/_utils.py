"""Helpers shared by the layer modules: tuple expansion of size arguments, parameter factories."""
from collections.abc import Iterable

from ..._creation import empty
from ..parameter import Parameter


def _ntuple(n):
    def parse(x):
        if isinstance(x, Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x,) * n
    return parse


single, pair, triple, quadruple = _ntuple(1), _ntuple(2), _ntuple(3), _ntuple(4)


def new_param(shape, device=None, dtype=None, requires_grad=True):
    """An uninitialised Parameter of ``shape`` (layers fill it in ``reset_parameters``)."""
    return Parameter(empty(*shape, device=device, dtype=dtype), requires_grad)

"""Front-door argument checks shared by all ops: dims, shapes, dtypes, scalars.

Errors carry PyTorch's exception types and name the op and the offending values.
"""
import builtins
import numbers

from .._tensor import Tensor


def wrap_dim(dim, ndim, op=None):
    """Normalise a possibly negative ``dim`` for a tensor of ``ndim`` dims (0-d tensors accept 0 and -1)."""
    if not isinstance(dim, int) or isinstance(dim, builtins.bool):
        if isinstance(dim, Tensor) and dim.ndim == 0 and not dim.dtype.is_floating_point:
            dim = int(dim)
        elif hasattr(dim, "__index__") and not isinstance(dim, builtins.bool):
            dim = dim.__index__()
        else:
            raise TypeError(f"{op or 'op'}(): argument 'dim' must be int, not {type(dim).__name__}")
    span = max(ndim, 1)
    if dim < -span or dim >= span:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], but got {dim})")
    return dim + span if dim < 0 else dim


def wrap_dims(dims, ndim, op=None):
    """Normalise ``dim`` arguments that may be None (all dims), an int or a sequence; rejects repeats."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, (int, Tensor)) and not isinstance(dims, builtins.bool):
        return (wrap_dim(dims, ndim, op),)
    out = tuple(wrap_dim(d, ndim, op) for d in dims)
    if len(set(out)) != len(out):
        dup = next(d for d in out if out.count(d) > 1)
        raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    return out


def broadcast_shapes(a, b, op="op"):
    """The broadcast of shapes ``a`` and ``b``; a RuntimeError naming both sizes if they don't broadcast."""
    if a == b:
        return a
    na, nb = len(a), len(b)
    n = max(na, nb)
    out = []
    for i in range(n):
        sa = a[i - n + na] if i - n + na >= 0 else 1
        sb = b[i - n + nb] if i - n + nb >= 0 else 1
        if sa == sb or sb == 1:
            out.append(sa)
        elif sa == 1:
            out.append(sb)
        else:
            raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                               f"non-singleton dimension {i}")
    return tuple(out)


def broadcast_all_shapes(shapes, op="op"):
    out = ()
    for s in shapes:
        out = broadcast_shapes(out, tuple(s), op)
    return out


def is_scalar(value):
    return isinstance(value, numbers.Number) and not isinstance(value, Tensor)


def check_tensor(value, op, arg="input"):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not {type(value).__name__}")
    return value


def shape_arg(args, op="op"):
    """Sizes given as ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` as a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    elif len(args) == 1 and isinstance(args[0], Tensor) and args[0].ndim == 1:
        args = args[0].tolist()
    out = []
    for s in args:
        if isinstance(s, builtins.bool) or not (isinstance(s, int) or hasattr(s, "__index__")):
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__} at pos {len(out)}")
        out.append(s.__index__() if not isinstance(s, int) else s)
    return tuple(out)

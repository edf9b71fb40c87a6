"""PyTorch's default batch collation: samples (tensors, arrays, numbers, strings, containers) to batched tensors."""
import collections.abc
import re

import numpy as np

__all__ = ["default_collate", "default_convert"]

_NOT_NUMERIC = re.compile(r"[SaUO]")  # numpy string/object dtypes cannot become tensors

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _rebuild_like(elem, values):
    """A container of ``elem``'s type holding ``values`` (a plain list/dict when the type refuses)."""
    try:
        return type(elem)(values)
    except TypeError:
        return dict(values) if isinstance(elem, collections.abc.Mapping) else list(values)


def default_convert(data):
    """Convert numpy arrays (also inside containers) to tensors, leaving everything else as it is."""
    from ..._creation import as_tensor
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, np.ndarray) and _NOT_NUMERIC.search(data.dtype.str) is None:
        return as_tensor(data)
    if isinstance(data, np.generic) and _NOT_NUMERIC.search(data.dtype.str) is None:
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_like(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _rebuild_like(data, [default_convert(d) for d in data])
    return data


def default_collate(batch):
    """Stack a list of samples into a batch, recursing into dicts, lists, tuples and namedtuples."""
    from ..._creation import as_tensor, tensor
    from ..._dtype import float64
    from ..._tensor import Tensor
    from ...ops.joining import stack
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, np.ndarray):
        if _NOT_NUMERIC.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return stack([as_tensor(b) for b in batch], 0)
    if isinstance(elem, np.generic):
        if _NOT_NUMERIC.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_like(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(samples) for samples in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild_like(elem, columns)
    raise TypeError(_ERR.format(type(elem)))

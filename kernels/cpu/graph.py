"""Kernels that graph mode needs to replay what eager code does outside the op registry.

``copy_into`` is an in-place write (``copy_``, ``commit_inplace``), ``cast_to`` a dtype conversion,
``take_buffer`` a clone whose input buffer is dead (graph mode's copy elision), ``mt_draw`` one draw of an
MT19937 stream whose state arrays are its inputs (the draw advances them in place, exactly as the eager
sampler does), ``call_absent`` calls a kernel with ``None`` at some positional
slots (optimizer updates take ``None`` for state a configuration does not use), and ``call_with_arrays`` calls
a kernel whose attributes hold arrays that are values of the graph (the index arrays of an indexing key).
"""
import numpy as np


def copy_into(dst, src):
    """Write ``src`` (broadcast, converted as ``copy_`` converts) into ``dst`` in place."""
    if dst.dtype == np.bool_ and src.dtype != np.bool_:
        src = src != 0
    np.copyto(dst, src, casting="unsafe")


def cast_to(x, *, dtype):
    """``x`` converted to the numpy dtype named ``dtype`` ("bool" tests != 0; bfloat16 arrives as float32)."""
    if dtype == "bool":
        return x != 0
    if dtype == "bfloat16":
        return np.asarray(x, dtype=np.float32)
    return x.astype(dtype)


def mt_draw(mt, pos, normal_cache, float_cache, *, method, args, shape):
    """Values of ``kernels.cpu.mt19937.<method>(engine, n, *args)`` shaped ``shape``; advances the state arrays."""
    from . import mt19937
    engine = mt19937.MT19937.__new__(mt19937.MT19937)
    # the words travel through the graph as int32 (graph values have framework dtypes); same memory
    engine.mt, engine.pos, engine.normal_cache, engine.float_cache = mt.view(np.uint32), pos, normal_cache, float_cache
    n = int(np.prod(shape, dtype=np.int64))
    return np.asarray(getattr(mt19937, method)(engine, n, *args)).reshape(shape)


def take_buffer(x):
    """``x`` itself when row-major contiguous, else a row-major copy: a clone whose input nobody reads again."""
    return x if x.flags.c_contiguous else x.copy(order="C")


# The table ``call_absent`` / ``call_with_arrays`` find their target in: None for this package's; a backend that
# re-binds these kernels (kernels/cuda) sets its own table here, so a target never runs on the wrong arrays.
_TARGETS = None


def _target(name):
    if _TARGETS is not None:
        return _TARGETS[name]
    from . import KERNELS
    return KERNELS[name]


def call_absent(*arrays, target, absent, **attrs):
    """Call kernel ``target`` with ``arrays`` and ``None`` inserted at the positional indices ``absent``."""
    return with_absent(_target(target), absent)(*arrays, **attrs)


def with_absent(kernel, absent):
    """``kernel`` taking its arrays with ``None`` inserted at the positional indices ``absent`` (graph mode binds
    an optimizer update's target once this way)."""
    def call(*arrays, **attrs):
        args = list(arrays)
        for i in absent:
            args.insert(i, None)
        return kernel(*args, **attrs)
    return call


def call_with_arrays(*arrays, target_kernel, array_paths, **attrs):
    """Call kernel ``target_kernel`` with the leading arrays; the last ``len(array_paths)`` arrays go into
    ``attrs`` at ``array_paths`` ((attribute name, position in nested tuples, ...) each)."""
    n = len(arrays) - len(array_paths)
    for path, array in zip(array_paths, arrays[n:]):
        attrs[path[0]] = _put_at(attrs[path[0]], path[1:], array)
    return _target(target_kernel)(*arrays[:n], **attrs)


def _put_at(obj, path, array):
    if not path:
        return array
    items = list(obj)
    items[path[0]] = _put_at(items[path[0]], path[1:], array)
    return tuple(items)


KERNELS = {"copy_into": copy_into, "cast_to": cast_to, "mt_draw": mt_draw, "call_absent": call_absent,
           "call_with_arrays": call_with_arrays, "take_buffer": take_buffer}

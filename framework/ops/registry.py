"""The op registry and the one dispatch path every op takes.

An ``Op`` names a kernel (looked up per backend in ``framework._backends``) and carries the derivative,
written with framework ops. ``dispatch`` runs the kernel on raw arrays, wraps the results and records
a tape node when gradients are needed. Front-door functions (``add``, ``sum``, ...) check arguments
and work out dtypes before calling it.
"""
import numpy as np

from .. import _dtype
from .._backends import array_module, float32_to_bfloat16, is_device_array, kernel_for
from .._tensor import Tensor
from ..autograd.engine import leaf_edge
from ..autograd.grad_mode import state
from ..autograd.node import Node, SavedTensor
from ..jit import slot as _jit

__all__ = []

_bfloat16 = _dtype.bfloat16
_float32_np = np.dtype(np.float32)


class Op:
    """One op: kernel name, derivative ``fn(node, *grads) -> grads per input``, and what backward saves.

    ``save_inputs``: True (all inputs), False, or "others" (input i is saved only when another input
    needs a gradient: for derivatives where input i's gradient never reads input i itself).
    """

    __slots__ = ("name", "kernel", "derivative", "save_inputs", "save_outputs", "is_view", "differentiable_inputs",
                 "kernels")

    def __init__(self, name, derivative=None, save_inputs=True, save_outputs=False, is_view=False, kernel=None,
                 differentiable_inputs=None):
        self.name = name
        self.kernel = kernel or name
        self.derivative = derivative
        self.save_inputs = save_inputs
        self.save_outputs = save_outputs
        self.is_view = is_view
        self.differentiable_inputs = differentiable_inputs  # None = all; else the indices that can carry grad
        self.kernels = {}  # device type -> kernel, filled from the backend tables on first use

    def __repr__(self):
        return f"Op({self.name})"


REGISTRY = {}


def register_op(name, derivative=None, **kwargs):
    """Register an op with no derivative (or a given one) and return it."""
    REGISTRY[name] = Op(name, derivative, **kwargs)
    return REGISTRY[name]


def tensor_method(*names):
    """Decorator: attach the function to ``Tensor`` under each of ``names``."""
    def attach(fn):
        for n in names:
            setattr(Tensor, n, fn)
        return fn
    return attach


def to_bfloat16_bits(array):
    """Round float32 values to bfloat16 (nearest, ties to even) and return the raw 16-bit patterns."""
    return float32_to_bfloat16(array)


def _check_devices(op, inputs):
    dev = inputs[0]._device
    for t in inputs:
        if t._device is not dev and t._device != dev:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{dev} and {t._device}! (when checking argument for {op.name})")
    return dev


def dispatch(op, inputs, attrs=None, out_dtype=None):
    """Run ``op`` on tensors ``inputs`` with keyword attributes ``attrs``; return a Tensor or a tuple.

    ``out_dtype`` forces the dtype of floating outputs (used for bfloat16, which kernels compute in
    float32); by default each output's dtype is that of the array the kernel returned.
    """
    first = inputs[0]
    dev = first._device
    if len(inputs) > 1:
        dev = _check_devices(op, inputs)
    kernel = op.kernels.get(dev.type)
    if kernel is None:
        kernel = op.kernels[dev.type] = kernel_for(dev, op.kernel)
    bf16 = False
    arrays = []
    for t in inputs:
        if t.dtype is _bfloat16:
            bf16 = True
            arrays.append(t._values())
        else:
            arrays.append(t._data)
    result = kernel(*arrays, **attrs) if attrs else kernel(*arrays)
    if bf16 and out_dtype is None:
        out_dtype = _bfloat16
    if type(result) is tuple:
        outs = [_wrap_result(r, out_dtype, dev) for r in result]
    else:
        outs = [_wrap_result(result, out_dtype, dev)]
    if op.is_view:
        _mark_views(op, attrs, first, outs, type(result) is tuple)
    if state.enabled and op.derivative is not None:
        diff = op.differentiable_inputs
        for i, t in enumerate(inputs):
            if t._requires_grad and (diff is None or i in diff):
                record(op, inputs, attrs, outs)
                break
    if _jit.tracer is not None:
        _jit.tracer.op(op, inputs, attrs, outs)
    return outs[0] if type(result) is not tuple else tuple(outs)


def _wrap_result(r, out_dtype, dev):
    if not isinstance(r, np.ndarray) and not is_device_array(r):  # numpy scalars; CuPy arrays stay
        r = np.asarray(r)
    if out_dtype is not None and r.dtype.kind == "f" and out_dtype.is_floating_point:
        if out_dtype is _bfloat16:
            return Tensor._wrap(to_bfloat16_bits(r), _bfloat16, dev)
        if r.dtype != out_dtype.np:
            r = r.astype(out_dtype.np)
        return Tensor._wrap(r, out_dtype, dev)
    return Tensor._wrap(r, None, dev)


def _mark_views(op, attrs, base, outs, multi):
    """Outputs that share memory with ``base`` share its version counter and remember how to re-derive it.

    Views from an op returning several (unbind, split) cannot be re-derived one by one: their chain is None,
    and writing into them in place while autograd records is refused, as PyTorch refuses it.
    """
    root = base if base._base is None else base._base
    parent = () if base._base is None else base._view_fn
    chain = None if multi or parent is None else parent + ((op, attrs),)
    for out in outs:
        if array_module(base._data).may_share_memory(out._data, base._data):
            out._vc, out._base, out._view_fn = base._vc, root, chain


def record(op, inputs, attrs, outs):
    """Append a tape node for ``op`` linking ``outs`` to ``inputs``."""
    diff = op.differentiable_inputs
    edges = tuple(leaf_edge(t) if t._requires_grad and (diff is None or i in diff) else None
                  for i, t in enumerate(inputs))
    meta = tuple((t._data.shape, t.dtype) for t in inputs)
    saved = ()
    if op.save_inputs == "others":
        # the derivative for each input reads only the other inputs (mul): save an input only if
        # some other input wants a gradient, so x * 3 does not pin x's version
        wants = [e is not None for e in edges]
        saved = tuple(SavedTensor(t) if any(w for j, w in enumerate(wants) if j != i) else None
                      for i, t in enumerate(inputs))
    elif op.save_inputs:
        saved = tuple(SavedTensor(t) for t in inputs)
    if op.save_outputs:
        saved = saved + tuple(SavedTensor(o) for o in outs)
    node_attrs = attrs if attrs is not None else {}
    if len(outs) > 1:
        node_attrs = dict(node_attrs, _out_meta=tuple((o.shape, o.dtype) for o in outs))
    node = Node(op.name, op.derivative, node_attrs, edges, meta, len(outs), saved)
    if state.anomaly:
        import traceback
        node.anomaly_trace = "".join(traceback.format_stack()[:-3])
    for i, out in enumerate(outs):
        if out.dtype.is_floating_point:
            out._requires_grad = True
            out.grad_fn = node
            out._out_index = i
    return node


def commit_inplace(target, result):
    """Make ``target`` hold ``result`` in place: copy the values, bump the version, move it on the tape."""
    if state.enabled and target._requires_grad and target.grad_fn is None and target._base is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if target._base is not None and target._base._requires_grad and target._base.grad_fn is None and state.enabled:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if result.dtype is not target.dtype and not _dtype.can_cast(result.dtype, target.dtype):
        raise RuntimeError(
            f"result type {_type_word(result.dtype)} can't be cast to the desired output type "
            f"{_type_word(target.dtype)}")
    if result.shape != target.shape:
        if np.broadcast_shapes(result.shape, target.shape) != target.shape:
            raise RuntimeError(
                f"output with shape {list(target.shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(result.shape, target.shape))}")
    base = target._base
    rewrites_base = base is not None and (base._requires_grad or result._requires_grad)
    track = state.enabled and (result._requires_grad or target._requires_grad or rewrites_base)
    if track and rewrites_base and target._view_fn is None:
        raise RuntimeError("Output 0 of a function that returns multiple views (unbind, split, chunk) is being "
                           "modified inplace. Such functions do not allow the output views to be modified inplace. "
                           "You should replace the inplace operation by an out-of-place one.")
    write_array(target, result)
    target._vc.value += 1
    if track:
        if result._requires_grad and (result.shape != target.shape or result.dtype is not target.dtype):
            result = result.expand(target.shape).to(target.dtype)
        _rebase_history(target, result)
    return target


def write_array(target, source):
    """Copy ``source``'s values into ``target``'s memory, converting the dtype as PyTorch's copy_ does."""
    if _jit.tracer is not None:
        _jit.tracer.write(target, source)
    src = source._data
    if source.dtype is _bfloat16 and target.dtype is not _bfloat16:
        src = source._values()
    elif target.dtype is _bfloat16 and source.dtype is not _bfloat16:
        src = to_bfloat16_bits(src.astype(np.float32, copy=False))
    if target.dtype is _dtype.bool and source.dtype is not _dtype.bool:
        src = src != 0
    array_module(target._data).copyto(target._data, src, casting="unsafe")


def _rebase_history(target, result):
    """Move ``target`` on the tape to ``result``'s node; for a view, rewrite its base through CopySlices."""
    base = target._base
    if base is None or not (base._requires_grad or result._requires_grad):
        if target._requires_grad and not result._requires_grad and target.dtype.is_floating_point:
            result = _overwritten(target, result)
        target.grad_fn = result.grad_fn
        target._out_index = result._out_index
        target._requires_grad = result._requires_grad
        return
    from .view_ops import copy_slices
    copy_slices(base, target, result)


_overwrite_op = Op("copy", lambda n, g: (g * 0, None), save_inputs=False)


def _overwritten(target, constant):
    """``constant`` recorded as overwriting ``target``: PyTorch keeps requires_grad, the old values get zero grad."""
    old = Tensor._wrap(target._data, target.dtype, target._device)
    old.grad_fn, old._out_index, old._requires_grad = target.grad_fn, target._out_index, True
    out = Tensor._wrap(constant._data, constant.dtype, constant._device)
    record(_overwrite_op, (old, constant), None, [out])
    return out


def _type_word(d):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}[d.name]

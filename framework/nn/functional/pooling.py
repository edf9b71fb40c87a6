"""Pooling: max, average, adaptive average/max, Lp pooling and max unpooling over 1, 2 or 3 spatial dims.

Max pooling records flat indices; its gradient scatters through them (``pool_scatter``), whose own gradient
gathers through them again (``pool_gather``). Average pooling and its backward are likewise each other's
adjoints. Adaptive average pooling is a fixed averaging matrix per dim, applied with ``linear``.
"""
import numpy as np

from ..._tensor import Tensor
from ...ops.registry import dispatch, register_op
from .conv import ntuple
from .linear import linear
from .sparse import constant_like

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]


def _scatter(g, indices, size):
    return dispatch(_scatter_op, (g, indices), {"size": tuple(size)})


def _gather(x, indices):
    return dispatch(_gather_op, (x, indices))


_scatter_op = register_op("pool_scatter", lambda n, g: (_gather(g, n.saved[1]), None), differentiable_inputs=(0,))
_gather_op = register_op("pool_gather", lambda n, g: (_scatter(g, n.saved[1], n.saved[0].shape[2:]), None),
                         differentiable_inputs=(0,))
_put_op = register_op("pool_put", lambda n, g: (_gather(g, n.saved[1]), None), differentiable_inputs=(0,))
_max_pool_op = register_op("max_pool", lambda n, g, _: (_scatter(g, n.saved[1], n.input_meta[0][0][2:]),),
                           save_inputs=False, save_outputs=True)
_adaptive_max_op = register_op("adaptive_max_pool", lambda n, g, _: (_scatter(g, n.saved[1],
                                                                                n.input_meta[0][0][2:]),),
                               save_inputs=False, save_outputs=True)


def _avg_grad(node, g):
    a = dict(node.attrs, size=tuple(node.input_meta[0][0][2:]))
    del a["out"]
    return (dispatch(_avg_backward_op, (g,), a),)


def _avg_backward_grad(node, g):
    a = dict(node.attrs)
    del a["size"]
    return (dispatch(_avg_op, (g,), dict(a, out=tuple(node.input_meta[0][0][2:]))),)


_avg_op = register_op("avg_pool", _avg_grad, save_inputs=False)
_avg_backward_op = register_op("avg_pool_backward", _avg_backward_grad, save_inputs=False)


def _batched(input, nd, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got "
                           f"{list(input.shape)}")
    return input, False


def _window(input, nd, name, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked window geometry: kernel, stride, (low, high) padding with ceil_mode's extra, dilation, out."""
    kernel = ntuple(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else ntuple(stride, nd, name, "stride")
    pad = ntuple(padding, nd, name, "padding")
    dilation = ntuple(dilation, nd, name, "dilation")
    if min(kernel) <= 0:
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got {list(kernel)}")
    if min(stride) <= 0:
        raise RuntimeError(f"{name}: stride must be greater than zero, but got {list(stride)}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{name}: dilation must be greater than zero, but got {list(dilation)}")
    size = input.shape[-nd:]
    out, padding = [], []
    for i in range(nd):
        k, s, p, d = kernel[i], stride[i], pad[i], dilation[i]
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
        o = (size[i] + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= size[i] + p:
            o -= 1
        out.append(o)
        padding.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - size[i] - p)))
    if min(out) <= 0:
        c = input.shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (c,) + tuple(size)))}). Calculated output size: "
                           f"({'x'.join(map(str, [c] + out))}). Output size is too small")
    return kernel, stride, tuple(padding), dilation, tuple(out)


def _max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    name = f"max_pool{nd}d"
    x, unbatched = _batched(input, nd, name)
    kernel, stride, padding, dilation, out = _window(x, nd, name, kernel_size, stride, padding, dilation, ceil_mode)
    values, indices = dispatch(_max_pool_op, (x,), {"kernel": kernel, "stride": stride, "padding": padding,
                                                     "dilation": dilation, "out": out})
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L) input (``torch.nn.functional.max_pool1d``)."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W) input (``torch.nn.functional.max_pool2d``)."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, D, H, W) input (``torch.nn.functional.max_pool3d``)."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    name = f"avg_pool{nd}d"
    x, unbatched = _batched(input, nd, name)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, padding, _, out = _window(x, nd, name, kernel_size, stride, padding, 1, ceil_mode)
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f"\"{name}\" not implemented for '{x.dtype.name}'")
    y = dispatch(_avg_op, (x,), {"kernel": kernel, "stride": stride, "padding": padding, "out": out,
                                 "count_include_pad": bool(count_include_pad),
                                 "divisor_override": divisor_override})
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average over sliding windows of (N, C, L) input (``torch.nn.functional.avg_pool1d``)."""
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of (N, C, H, W) input (``torch.nn.functional.avg_pool2d``)."""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of (N, C, D, H, W) input (``torch.nn.functional.avg_pool3d``)."""
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


# ----- adaptive ---------------------------------------------------------------------------------------
def _adaptive_size(input, nd, output_size, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {list(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        output_size = [input.shape[-nd + i] if s is None else s for i, s in enumerate(output_size)]
    out = ntuple(output_size, nd, name, "output_size")
    if any(s < 0 for s in out):
        raise RuntimeError(f"{name}(): output_size must be non-negative, but got {list(out)}")
    if any(s == 0 for s in input.shape[-nd:]):
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                           f"sizes {list(input.shape)} with dimension {input.ndim - nd} being empty")
    return out


def _averaging_matrix(size, out, like):
    """(out, size) matrix whose row i averages PyTorch's i-th adaptive window."""
    from kernels.cpu.pooling import adaptive_bounds
    starts, ends = adaptive_bounds(size, out)
    cols = np.arange(size)
    m = ((cols >= starts[:, None]) & (cols < ends[:, None])) / (ends - starts)[:, None]
    return constant_like(m, like)


def _adaptive_avg(input, nd, output_size):
    name = f"adaptive_avg_pool{nd}d"
    out = _adaptive_size(input, nd, output_size, name)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype.name}'")
    y = input
    for i in range(nd):
        dim = input.ndim - nd + i
        if input.shape[dim] == out[i]:
            continue
        m = _averaging_matrix(input.shape[dim], out[i], input)
        y = linear(y.transpose(dim, -1), m).transpose(dim, -1)
    return y if y is not input else input.view(input.shape)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length (``torch.nn.functional.adaptive_avg_pool1d``)."""
    return _adaptive_avg(input, 1, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (H, W) (``torch.nn.functional.adaptive_avg_pool2d``)."""
    return _adaptive_avg(input, 2, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a fixed (D, H, W) (``torch.nn.functional.adaptive_avg_pool3d``)."""
    return _adaptive_avg(input, 3, output_size)


def _adaptive_max(input, nd, output_size, return_indices):
    name = f"adaptive_max_pool{nd}d"
    out = _adaptive_size(input, nd, output_size, name)
    x = input.unsqueeze(0) if input.ndim == nd + 1 else input
    values, indices = dispatch(_adaptive_max_op, (x,), {"out": out})
    if input.ndim == nd + 1:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length (``torch.nn.functional.adaptive_max_pool1d``)."""
    return _adaptive_max(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (H, W) (``torch.nn.functional.adaptive_max_pool2d``)."""
    return _adaptive_max(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling to a fixed (D, H, W) (``torch.nn.functional.adaptive_max_pool3d``)."""
    return _adaptive_max(input, 3, output_size, return_indices)


# ----- Lp pooling and unpooling ---------------------------------------------------------------------
def _lp_pool(input, nd, norm_type, kernel_size, stride, ceil_mode):
    kernel = ntuple(kernel_size, nd, f"lp_pool{nd}d", "kernel_size")
    pooled = _avg_pool(input.pow(norm_type), nd, kernel, stride, 0, ceil_mode, True, None)
    count = 1
    for k in kernel:
        count *= k
    return (pooled.sign() * pooled.abs() * count).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling ``(sum x^p)^(1/p)`` over windows of (N, C, L) input."""
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling ``(sum x^p)^(1/p)`` over windows of (N, C, H, W) input."""
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(input, indices, nd, kernel_size, stride, padding, output_size):
    name = f"max_unpool{nd}d"
    kernel = ntuple(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None else ntuple(stride, nd, name, "stride")
    padding = ntuple(padding, nd, name, "padding")
    unbatched = input.ndim == nd + 1
    x, idx = (input.unsqueeze(0), indices.unsqueeze(0)) if unbatched else (input, indices)
    if output_size is None:
        size = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + kernel[i] for i in range(nd))
    else:
        size = tuple(output_size)[-nd:]
    if idx.shape != x.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(x.shape)}) but "
                           f"got indices tensor with shape: {list(idx.shape)}")
    plane = int(np.prod(size))
    if idx.numel() and (int(idx.amin()) < 0 or int(idx.amax()) >= plane):
        raise RuntimeError(f"Found an invalid max index: {int(idx.amax())} (output volumes are of size "
                           f"{'x'.join(map(str, size))}")
    out = dispatch(_put_op, (x, idx), {"size": size})
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: values put back at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d: values put back at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d: values put back at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size)

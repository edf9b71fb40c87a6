"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold (im2col) and fold (col2im).

Three ops carry every convolution: ``conv``, ``conv_transpose`` (conv's gradient in its input) and
``conv_weight`` (conv's gradient in its weight). Each is linear in both inputs and the three are each
other's adjoints, so each derivative is written with the other two and backward is differentiable again.
"""
from ..._tensor import Tensor
from ...ops.registry import dispatch, register_op

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
           "fold"]


def ntuple(value, n, op, arg):
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` ints."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise RuntimeError(f"{op}: expected {arg} to be a single integer value or a list of {n} values to match "
                               f"the convolution dimensions, but got {arg}={list(value)}")
        return tuple(int(v) for v in value)
    if not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(f"{op}(): argument '{arg}' must be tuple of ints, not {type(value).__name__}")
    return (int(value),) * n


def _attrs(stride, padding, dilation, groups):
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _conv(x, w, a, out=None):
    """``conv``; ``out`` keeps only that many windows per dim (a transposed conv's output_padding tail)."""
    return dispatch(_conv_op, (x, w), a if out is None else dict(a, out=tuple(out)))


def _conv_transpose(g, w, a, size):
    return dispatch(_conv_transpose_op, (g, w), dict(a, size=tuple(size)))


def _conv_weight(x, g, a, kernel):
    return dispatch(_conv_weight_op, (x, g), dict(a, kernel=tuple(kernel)))


def _base(attrs):
    return {k: attrs[k] for k in ("stride", "padding", "dilation", "groups")}



def _conv_grad(node, g):
    x, w = node.saved
    a = _base(node.attrs)
    return _conv_transpose(g, w, a, x.shape[2:]), _conv_weight(x, g, a, w.shape[2:])


def _conv_transpose_grad(node, g):
    y, w = node.saved
    a = _base(node.attrs)
    return _conv(g, w, a, y.shape[2:]), _conv_weight(g, y, a, w.shape[2:])


def _conv_weight_grad(node, g):
    x, y = node.saved
    a = _base(node.attrs)
    return _conv_transpose(y, g, a, x.shape[2:]), _conv(x, g, a, y.shape[2:])


_conv_op = register_op("conv", _conv_grad)
_conv_transpose_op = register_op("conv_transpose", _conv_transpose_grad)
_conv_weight_op = register_op("conv_weight", _conv_weight_grad)


def _check_dtypes(input, weight, bias):
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected scalar type {_word(weight.dtype)} but found {_word(input.dtype)}")
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({_c_name(input.dtype)}) and bias type ({_c_name(bias.dtype)}) should be the "
                           "same")


def _c_name(d):
    return {"float32": "float", "float64": "double", "float16": "c10::Half"}.get(d.name, d.name)


def _word(d):
    from ...ops.registry import _type_word
    return _type_word(d)


def _batched(input, nd, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input of "
                           f"size: {list(input.shape)}")
    return input, False


def _add_bias(out, bias, nd):
    if bias is None:
        return out
    return out + bias.reshape((1, -1) + (1,) * nd)


def _check_common(stride, dilation, groups):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd):
    name = f"conv{nd}d"
    x, unbatched = _batched(input, nd, name)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional weight for {name}, but got weight of size "
                           f"{list(weight.shape)}")
    _check_dtypes(x, weight, bias)
    stride = ntuple(stride, nd, name, "stride")
    dilation = ntuple(dilation, nd, name, "dilation")
    _check_common(stride, dilation, groups)
    kernel = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [dilation[i] * (kernel[i] - 1) for i in range(nd)]
            pads = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pads = tuple((p, p) for p in ntuple(padding, nd, name, "padding"))
        if any(p < 0 for p, _ in pads):
            raise RuntimeError("negative padding is not supported")
    o, cg = weight.shape[:2]
    if o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(weight.shape)}] instead")
    if x.shape[1] != cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {cg * groups} channels, but got {x.shape[1]} channels instead")
    padded = [x.shape[2 + i] + pads[i][0] + pads[i][1] for i in range(nd)]
    effective = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, effective))}). Kernel size can't be greater than actual input size")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with {o} "
                           f"elements, but got bias of size {list(bias.shape)} instead")
    out = _add_bias(_conv(x, weight, _attrs(stride, pads, dilation, groups)), bias, nd)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over (N, C, L) or (C, L) input (``torch.nn.functional.conv1d``)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over (N, C, H, W) or (C, H, W) input (``torch.nn.functional.conv2d``)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation over (N, C, D, H, W) or (C, D, H, W) input (``torch.nn.functional.conv3d``)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3)


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    name = f"conv_transpose{nd}d"
    x, unbatched = _batched(input, nd, name)
    _check_dtypes(x, weight, bias)
    stride = ntuple(stride, nd, name, "stride")
    dilation = ntuple(dilation, nd, name, "dilation")
    padding = ntuple(padding, nd, name, "padding")
    output_padding = ntuple(output_padding, nd, name, "output_padding")
    _check_common(stride, dilation, groups)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)) or min(output_padding) < 0:
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got output_padding="
                           f"{list(output_padding)} stride={list(stride)} dilation={list(dilation)}")
    if weight.shape[0] != x.shape[1]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} "
                           f"to have {weight.shape[0]} channels, but got {x.shape[1]} channels instead")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(weight.shape)}] instead")
    kernel = weight.shape[2:]
    size = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + 1 +
                 output_padding[i] for i in range(nd))
    if any(s <= 0 for s in size):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, size))}). Output size is too small")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[1] * groups):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {weight.shape[1] * groups} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    a = _attrs(stride, tuple((p, p) for p in padding), dilation, groups)
    out = _add_bias(_conv_transpose(x, weight, a, size), bias, nd)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``)."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (``torch.nn.functional.conv_transpose2d``)."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution (``torch.nn.functional.conv_transpose3d``)."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)


# ----- unfold / fold -------------------------------------------------------------------------------
def _fold_attrs(kernel_size, dilation, padding, stride, name):
    kernel = ntuple(kernel_size, 2, name, "kernel_size")
    dilation = ntuple(dilation, 2, name, "dilation")
    padding = ntuple(padding, 2, name, "padding")
    stride = ntuple(stride, 2, name, "stride")
    if min(kernel) <= 0 or min(dilation) <= 0 or min(stride) <= 0 or min(padding) < 0:
        raise RuntimeError(f"{name}: expected kernel_size, dilation and stride to be greater than zero and padding "
                           f"to be non-negative, but got kernel_size={list(kernel)} dilation={list(dilation)} "
                           f"padding={list(padding)} stride={list(stride)}")
    return {"kernel": kernel, "stride": stride, "padding": tuple((p, p) for p in padding), "dilation": dilation}


def _im2col_grad(node, g):
    return (dispatch(_col2im_op, (g,), dict(node.attrs, size=tuple(node.input_meta[0][0][2:]))),)


def _col2im_grad(node, g):
    a = dict(node.attrs)
    del a["size"]
    return (dispatch(_im2col_op, (g,), a),)


_im2col_op = register_op("im2col", _im2col_grad, save_inputs=False)
_col2im_op = register_op("col2im", _col2im_grad, save_inputs=False)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) input as columns: (N, C * kH * kW, L)."""
    a = _fold_attrs(kernel_size, dilation, padding, stride, "im2col")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise RuntimeError("Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{getattr(input, 'ndim', '?')}D)")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    for i in range(2):
        blocks = (x.shape[2 + i] + 2 * a["padding"][i][0] - a["dilation"][i] * (a["kernel"][i] - 1) - 1) // \
            a["stride"][i] + 1
        if blocks <= 0 or x.shape[1] == 0:
            raise RuntimeError(f"Given input with spatial size ({x.shape[2]}, {x.shape[3]}), kernel_size="
                               f"{list(a['kernel'])}, dilation={list(a['dilation'])}, padding="
                               f"{[p for p, _ in a['padding']]}, calculated shape of the array of sliding blocks "
                               "is non-positive or invalid.")
    out = dispatch(_im2col_op, (x,), a)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * kH * kW, L) back into a (N, C, *output_size) tensor (``torch.nn.functional.fold``)."""
    a = _fold_attrs(kernel_size, dilation, padding, stride, "col2im")
    size = ntuple(output_size, 2, "col2im", "output_size")
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise RuntimeError("Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got "
                           f"{getattr(input, 'ndim', '?')}D)")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    k = a["kernel"][0] * a["kernel"][1]
    if x.shape[1] % k:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={x.shape[1]} and kernel_size={list(a['kernel'])}")
    blocks = 1
    for i in range(2):
        blocks *= (size[i] + 2 * a["padding"][i][0] - a["dilation"][i] * (a["kernel"][i] - 1) - 1) // \
            a["stride"][i] + 1
    if x.shape[2] != blocks:
        raise RuntimeError(f"Given output_size={list(size)}, kernel_size={list(a['kernel'])}, dilation="
                           f"{list(a['dilation'])}, padding={[p for p, _ in a['padding']]}, stride="
                           f"{list(a['stride'])}, expected size of input's dimension 2 to match the calculated number "
                           f"of sliding blocks {blocks}, but got input.size(2)={x.shape[2]}.")
    out = dispatch(_col2im_op, (x,), dict(a, size=size))
    return out.squeeze(0) if input.ndim == 2 else out

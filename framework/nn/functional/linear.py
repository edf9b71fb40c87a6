"""Affine layers: ``linear`` (one GEMM op whose gradients are again ``linear``) and ``bilinear``."""
from ..._tensor import Tensor
from ...ops.registry import dispatch, register_op

__all__ = ["linear", "bilinear"]


def _linear_grad(node, g):
    x, w = node.saved
    gx = dispatch(_linear_op, (g, w.t()))
    rows = x.numel() // w.shape[1] if w.shape[1] else g.numel() // max(w.shape[0], 1)  # -1 can't infer with a 0 dim
    g2, x2 = g.reshape(rows, w.shape[0]), x.reshape(rows, w.shape[1])
    return gx, dispatch(_linear_op, (g2.t(), x2.t()))


_linear_op = register_op("linear", _linear_grad)


def _type(d):
    return {"float32": "float", "float64": "double"}.get(d.name, d.name)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dim of ``input`` (``torch.nn.functional.linear``)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        bad = input if not isinstance(input, Tensor) else weight
        raise TypeError(f"linear(): argument '{'input' if bad is input else 'weight'}' must be Tensor, not "
                        f"{type(bad).__name__}")
    if weight.ndim not in (1, 2) or input.ndim == 0:
        raise RuntimeError(f"linear(): expected a 1-D or 2-D weight and an input with at least 1 dim, but got input "
                           f"of size {list(input.shape)} and weight of size {list(weight.shape)}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_type(input.dtype)} != "
                           f"{_type(weight.dtype)}")
    w = weight.unsqueeze(0) if weight.ndim == 1 else weight
    if input.shape[-1] != w.shape[1]:
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{w.shape[1]}x{w.shape[0]})")
    out = dispatch(_linear_op, (input, w))
    if weight.ndim == 1:
        out = out.squeeze(-1)
    if bias is not None:
        if bias.dtype is not out.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_type(out.dtype)} != "
                               f"{_type(bias.dtype)}")
        out = out + bias
    return out


def bilinear(input1, input2, weight, bias=None):
    """``x1^T A x2 + b`` for each output feature (``torch.nn.functional.bilinear``)."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got {weight.ndim}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    o, i, j = weight.shape
    if input1.shape[-1] != i or input2.shape[-1] != j:
        raise RuntimeError(f"bilinear(): input sizes {input1.shape[-1]} and {input2.shape[-1]} do not match weight "
                           f"size {list(weight.shape)}")
    right = linear(input2, weight.reshape(o * i, j)).unflatten(-1, (o, i))
    out = (right * input1.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias

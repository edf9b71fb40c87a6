"""Resampling: ``interpolate`` / ``upsample`` and pixel (un)shuffle.

Every interpolation mode is separable: along each resized dim the output is a weighted sum of input slices
read at integer positions (one tap for nearest, two for linear, four for cubic). The positions and
weights follow PyTorch's source-index rules, computed in float32 as PyTorch's CPU kernels do.
"""
import math

import numpy as np

from ..._tensor import Tensor
from .pooling import _adaptive_avg
from .sparse import constant_like, take

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle"]

_MODES_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75


def _scale(in_size, out_size, align_corners, scale):
    """PyTorch's ratio from output to input coordinates, as a float32."""
    f32 = np.float32
    if align_corners:
        return f32(in_size - 1) / f32(out_size - 1) if out_size > 1 else f32(0)
    if scale is not None and scale > 0:
        return f32(1.0 / scale)
    return f32(in_size) / f32(out_size)


def _taps(mode, in_size, out_size, align_corners, scale):
    """(positions, weights) per tap for one dim: lists of int64 and float arrays of length ``out_size``."""
    f32 = np.float32
    dst = np.arange(out_size, dtype=f32)
    ratio = _scale(in_size, out_size, align_corners, scale)
    if mode in ("nearest", "nearest-exact"):
        shift = f32(0.5) if mode == "nearest-exact" else f32(0)
        src = np.floor((dst + shift) * ratio).astype(np.int64)
        return [np.minimum(src, in_size - 1)], [None]
    src = ratio * dst if align_corners else ratio * (dst + f32(0.5)) - f32(0.5)
    if mode == "bicubic":
        lo = np.floor(src)
        t = (src - lo).astype(f32)
        lo = lo.astype(np.int64)
        a = f32(_CUBIC_A)
        w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
        w1 = ((a + 2) * t - (a + 3)) * t * t + 1
        w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
        w3 = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a
        return [np.clip(lo + k, 0, in_size - 1) for k in (-1, 0, 1, 2)], [w0, w1, w2, w3]
    src = np.maximum(src, f32(0))
    lo = np.minimum(src.astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = (src - lo).astype(f32)
    return [lo, hi], [1 - frac, frac]


def _resample(x, dim, positions, weights):
    out = None
    for pos, w in zip(positions, weights):
        part = take(x, pos, dim)
        if w is not None:
            shape = (-1,) + (1,) * (x.ndim - 1 - dim)
            part = part * constant_like(w.reshape(shape), x)
        out = part if out is None else out + part
    return out


def _output_size(input, nd, size, scale_factor, recompute_scale_factor):
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = input.shape[2:]
    if size is not None:
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(spatial)} and output size of {sizes}. Please provide input "
                             "tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
        return [int(s) for s in sizes], [None] * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input with "
                         f"spatial dimensions of {list(spatial)} and scale_factor of shape {scales}. Please provide "
                         "input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
    sizes = [int(math.floor(float(spatial[i]) * scales[i])) for i in range(nd)]
    return sizes, [None] * nd if recompute_scale_factor else [float(s) for s in scales]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) input (``torch.nn.functional.interpolate``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not {type(input).__name__}")
    nd = input.ndim - 2
    linear_like = mode in _MODES_DIMS
    if align_corners is not None and not linear_like:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode not in ("nearest", "nearest-exact", "area") and not linear_like:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if nd < 1 or nd > 3 or (linear_like and _MODES_DIMS[mode] != nd):
        need = {1: "3D", 2: "4D", 3: "5D"}.get(_MODES_DIMS.get(mode), "3D, 4D or 5D")
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need} input")
    sizes, scales = _output_size(input, nd, size, scale_factor, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output ({', '.join(map(str, sizes))})")
    if mode == "area":
        return _adaptive_avg(input, nd, sizes)
    if not input.dtype.is_floating_point and mode not in ("nearest", "nearest-exact"):
        raise RuntimeError(f"\"upsample_{mode}\" not implemented for '{input.dtype.name}'")
    out = input
    for i in range(nd):
        dim = 2 + i
        if mode in ("nearest", "nearest-exact") and input.shape[dim] == sizes[i]:
            continue
        positions, weights = _taps(mode, input.shape[dim], sizes[i], bool(align_corners), scales[i])
        out = _resample(out, dim, positions, weights)
    return out if out is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: nearest-neighbour :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: bilinear :func:`interpolate` with ``align_corners=True``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r) (``torch.nn.functional.pixel_shuffle``)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    x = x.permute(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return x.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W) (``torch.nn.functional.pixel_unshuffle``)."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but input "
                           f"has height {h} and width {w}, which are not divisible by {r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    x = x.permute(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))

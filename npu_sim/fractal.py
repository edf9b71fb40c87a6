"""Fractal data layouts (REFERENCE.md §2.3) as reshapes of a padded row-major matrix.

A fractal is 16 rows x ``c0`` columns, where ``c0`` is 32 bytes of the element type (16 for fp16,
32 for int8, 8 for fp32); the accumulator in L0C uses 16 x 16 fractals of fp32/int32.

* ``ND``  plain row-major, no padding (GM).
* ``NZ``  fractals ordered column-major ("big N"), row-major inside ("small z") — L1, L0C.
* ``ZZ``  fractals row-major, row-major inside — the cube's left operand in L0A.
* ``ZN``  for a K x N right operand: fractals (k0 x 16) row-major, column-major inside — L0B.
"""
import numpy as np

from .dtypes import itemsize

LAYOUTS = ("ND", "NZ", "ZZ", "ZN")


def c0_of(dtype):
    """Columns of one fractal: 32 bytes of ``dtype``."""
    return 32 // itemsize(dtype)


def ceil_to(x, m):
    """``x`` rounded up to a multiple of ``m``."""
    return -(-x // m) * m


def padded_shape(rows, cols, layout, c0):
    """Rows and columns after padding to whole fractals."""
    if layout == "ND":
        return rows, cols
    if layout == "ZN":
        return ceil_to(rows, c0), ceil_to(cols, 16)
    return ceil_to(rows, 16), ceil_to(cols, c0)


def layout_elems(rows, cols, layout, c0):
    """Number of stored elements (padding included)."""
    r, c = padded_shape(rows, cols, layout, c0)
    return r * c


def to_layout(dense, layout, c0):
    """Row-major matrix -> the 1-D element order of ``layout`` (zero padding)."""
    rows, cols = dense.shape
    if layout == "ND":
        return np.ascontiguousarray(dense).ravel()
    r, c = padded_shape(rows, cols, layout, c0)
    if (r, c) != (rows, cols):
        padded = np.zeros((r, c), dense.dtype)
        padded[:rows, :cols] = dense
        dense = padded
    if layout == "NZ":
        out = dense.reshape(r // 16, 16, c // c0, c0).transpose(2, 0, 1, 3)
    elif layout == "ZZ":
        out = dense.reshape(r // 16, 16, c // c0, c0).transpose(0, 2, 1, 3)
    elif layout == "ZN":
        out = dense.reshape(r // c0, c0, c // 16, 16).transpose(0, 2, 3, 1)
    else:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    return np.ascontiguousarray(out).ravel()


def from_layout(flat, layout, rows, cols, c0):
    """The inverse of ``to_layout``: stored elements -> row-major ``rows x cols`` (padding dropped)."""
    if layout == "ND":
        return flat[:rows * cols].reshape(rows, cols)
    r, c = padded_shape(rows, cols, layout, c0)
    flat = flat[:r * c]
    if layout == "NZ":
        dense = flat.reshape(c // c0, r // 16, 16, c0).transpose(1, 2, 0, 3).reshape(r, c)
    elif layout == "ZZ":
        dense = flat.reshape(r // 16, c // c0, 16, c0).transpose(0, 2, 1, 3).reshape(r, c)
    elif layout == "ZN":
        dense = flat.reshape(r // c0, c // 16, 16, c0).transpose(0, 3, 1, 2).reshape(r, c)
    else:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    return dense[:rows, :cols]

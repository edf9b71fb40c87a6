"""Reduction kernels on raw arrays (numpy's pairwise sums; Numba where numpy has no fused form)."""
import numpy as np


def _sum(x, dims, keepdim, dtype=None):
    return np.sum(x, axis=dims, keepdims=keepdim, dtype=dtype)


def _mean(x, dims, keepdim):
    return np.mean(x, axis=dims, keepdims=keepdim)


def _prod(x, dims, keepdim, dtype=None):
    return np.prod(x, axis=dims, keepdims=keepdim, dtype=dtype)


def _amax(x, dims, keepdim):
    return np.amax(x, axis=dims, keepdims=keepdim)


def _amin(x, dims, keepdim):
    return np.amin(x, axis=dims, keepdims=keepdim)


KERNELS = {"sum": _sum, "mean": _mean, "prod": _prod, "amax": _amax, "amin": _amin}

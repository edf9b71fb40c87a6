"""Normalisation layers as functions: batch, instance, layer, group and RMS norm, ``normalize``.

Written with framework ops (mean, rsqrt, ...), so gradients and double backward come from autograd.
"""
import math

from ... import _dtype
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ...ops._checks import wrap_dim

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "normalize",
           "local_response_norm"]


def _moments(x, dims):
    """Mean and biased variance over ``dims``, both keeping the reduced dims."""
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    return mean, (centred * centred).mean(dims, keepdim=True)


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _channel_shape(input):
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _check_param(t, name, channels):
    if t is not None and t.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")


def _update_running(running, batch_value, momentum):
    with no_grad():
        running.mul_(1 - momentum).add_(batch_value.detach().to(running.dtype) * momentum)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims; update running stats in training."""
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    # PyTorch reads a 1-D input as having no channels: only an empty one gets through the checks.
    channels = input.shape[1] if input.ndim > 1 else 0
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_param(t, name, channels)
    if input.ndim < 2:
        return input.clone()
    shape = _channel_shape(input)
    if training:
        count = input.numel() // channels
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        dims = (0,) + tuple(range(2, input.ndim))
        mean, var = _moments(input, dims)
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(channels), momentum)
        if running_var is not None:
            _update_running(running_var, var.reshape(channels) * (count / (count - 1)), momentum)
    else:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (input - mean) * (var + eps).rsqrt()
    return _affine(y, weight, bias, shape).to(input.dtype)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial dims; running stats average the batch's statistics."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher input to instance_norm (got {input.ndim}D input)")
    channels = input.shape[1]
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_param(t, name, channels)
    shape = _channel_shape(input)
    if use_input_stats:
        count = input.numel() // (input.shape[0] * channels)
        if count <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
        mean, var = _moments(input, tuple(range(2, input.ndim)))
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(input.shape[:2]).mean(0), momentum)
        if running_var is not None:
            unbiased = var.reshape(input.shape[:2]) * (count / (count - 1))
            _update_running(running_var, unbiased.mean(0), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (input - mean) * (var + eps).rsqrt()
    return _affine(y, weight, bias, shape).to(input.dtype)


def _normalized_dims(input, normalized_shape, name):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0 or tuple(input.shape[input.ndim - n:]) != shape or input.ndim < n:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{''.join(', ' + str(s) for s in shape)}], but got input of size{list(input.shape)}")
    return shape, tuple(range(input.ndim - n, input.ndim))


def _check_shape(t, shape, name):
    if t is not None and tuple(t.shape) != shape:
        raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                           f"{list(t.shape)} and normalized_shape = {list(shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``."""
    shape, dims = _normalized_dims(input, normalized_shape, "layer_norm")
    _check_shape(weight, shape, "weight")
    _check_shape(bias, shape, "bias")
    mean, var = _moments(input, dims)
    return _affine((input - mean) * (var + eps).rsqrt(), weight, bias, shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``."""
    shape, dims = _normalized_dims(input, normalized_shape, "rms_norm")
    _check_shape(weight, shape, "weight")
    if eps is None:
        eps = _dtype.finfo(input.dtype).eps
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return _affine(y, weight, None, shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C / num_groups`` channels over the group's channels and spatial dims."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, channels = input.shape[0], input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    _check_param(weight, "weight", channels)
    _check_param(bias, "bias", channels)
    grouped = input.reshape(n, num_groups, input.numel() // max(n * num_groups, 1))
    mean, var = _moments(grouped, (2,))
    y = ((grouped - mean) * (var + eps).rsqrt()).reshape(input.shape)
    return _affine(y, weight, bias, _channel_shape(input))


def _vector_norm(x, p, dim):
    a = x.abs()
    if p == 2:
        return (x * x).sum(dim, keepdim=True).sqrt()
    if p == 1:
        return a.sum(dim, keepdim=True)
    if p == math.inf:
        return a.amax(dim, keepdim=True)
    if p == -math.inf:
        return a.amin(dim, keepdim=True)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=True)
    return (a ** p).sum(dim, keepdim=True) ** (1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over ``dim``, eps)."""
    d = wrap_dim(dim, input.ndim, "normalize")
    if input.ndim == 0:
        return normalize(input.reshape(1), p, 0, eps, out).reshape(())
    result = input / _vector_norm(input, p, d).clamp_min(eps).expand_as(input)
    if out is None:
        return result
    from ...ops.conversion import write_out
    return write_out(out, result)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Divide each channel by (k + alpha * mean of squares over ``size`` neighbouring channels) ** beta."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    import framework
    squares = input * input
    channels = input.shape[1]
    before, after = size // 2, (size - 1) // 2
    total = None
    # Sum the window channel by channel: each offset adds the overlapping slice, the rest stays zero.
    for offset in range(-before, after + 1):
        lo, hi = max(0, -offset), min(channels, channels - offset)
        if hi <= lo:
            continue
        part = squares.narrow(1, lo + offset, hi - lo)
        pieces = [part]
        if lo > 0:
            pieces.insert(0, squares.narrow(1, 0, lo) * 0)
        if hi < channels:
            pieces.append(squares.narrow(1, hi, channels - hi) * 0)
        shifted = framework.cat(pieces, 1) if len(pieces) > 1 else part
        total = shifted if total is None else total + shifted
    return input / (total * (alpha / size) + k) ** beta

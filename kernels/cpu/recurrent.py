"""Fused LSTM and GRU cell kernels: one call per time step for the gate maths and one for its gradient.

The gradient formulas are written once over an array namespace (``sigmoid``, ``tanh``, ``cat``), so the
framework evaluates the very same maths with its own ops when a differentiable (double) backward is needed.
"""
import numpy as np


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _cat(parts):
    return np.concatenate(parts, -1)


def lstm_gates(gx, gh, c, sigmoid, tanh):
    """Gate activations (i, f, g, o) from pre-activations ``gx + gh``, the new cell state and its tanh."""
    hidden = c.shape[-1]
    a = gx + gh
    i = sigmoid(a[..., :hidden])
    f = sigmoid(a[..., hidden:2 * hidden])
    g = tanh(a[..., 2 * hidden:3 * hidden])
    o = sigmoid(a[..., 3 * hidden:])
    c_new = f * c + i * g
    return i, f, g, o, c_new, tanh(c_new)


def lstm_cell_grad_math(gx, gh, c, dh, dc, sigmoid, tanh, cat):
    """Gradients (d pre-activations, d c) of ``h, c_new = lstm_cell(gx, gh, c)`` given ``dh`` and ``dc``."""
    i, f, g, o, _, tc = lstm_gates(gx, gh, c, sigmoid, tanh)
    dc = dc + dh * o * (1 - tc * tc)
    da = cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)])
    return da, dc * f


def gru_parts(gx, gh, h, sigmoid, tanh):
    """Reset gate r, update gate z and candidate n; the n gate applies r to the whole ``W_hn h + b_hn``."""
    hidden = h.shape[-1]
    r = sigmoid(gx[..., :hidden] + gh[..., :hidden])
    z = sigmoid(gx[..., hidden:2 * hidden] + gh[..., hidden:2 * hidden])
    n = tanh(gx[..., 2 * hidden:] + r * gh[..., 2 * hidden:])
    return r, z, n


def gru_cell_grad_math(gx, gh, h, dh, sigmoid, tanh, cat):
    """Gradients (d gx, d gh, d h) of ``h_new = gru_cell(gx, gh, h)`` given ``dh``."""
    hidden = h.shape[-1]
    r, z, n = gru_parts(gx, gh, h, sigmoid, tanh)
    dn = dh * (1 - z) * (1 - n * n)
    dr = dn * gh[..., 2 * hidden:] * r * (1 - r)
    dz = dh * (h - n) * z * (1 - z)
    return cat([dr, dz, dn]), cat([dr, dz, dn * r]), dh * z


def lstm_cell(gx, gh, c):
    """One LSTM step: ``(h, c_new)`` from input and hidden pre-activations (i, f, g, o) and the cell state."""
    _, _, _, o, c_new, tc = lstm_gates(gx, gh, c, _sigmoid, np.tanh)
    return o * tc, c_new


def lstm_cell_backward(gx, gh, c, dh, dc):
    """Gradients of ``lstm_cell``: (d pre-activations, d c)."""
    return lstm_cell_grad_math(gx, gh, c, dh, dc, _sigmoid, np.tanh, _cat)


def gru_cell(gx, gh, h):
    """One GRU step: ``(1 - z) * n + z * h``."""
    _, z, n = gru_parts(gx, gh, h, _sigmoid, np.tanh)
    return n + z * (h - n)


def gru_cell_backward(gx, gh, h, dh):
    """Gradients of ``gru_cell``: (d gx, d gh, d h)."""
    return gru_cell_grad_math(gx, gh, h, dh, _sigmoid, np.tanh, _cat)


KERNELS = {
    "lstm_cell": lstm_cell,
    "lstm_cell_backward": lstm_cell_backward,
    "gru_cell": gru_cell,
    "gru_cell_backward": gru_cell_backward,
}

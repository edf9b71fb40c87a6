"""Recurrent kernels: LSTM / GRU / Elman steps and whole layers (one call per sequence, looping over time).

``generic_cells`` and ``layer_backward`` state the maths once over an array namespace (``sigmoid``, ``tanh``,
``cat``, ``stack``): numpy here for the single-step cell kernels, framework ops when a backward must itself be
differentiable. ``rnn_layer`` / ``rnn_layer_backward`` are the fast path for whole layers: numpy's vectorised
exp and BLAS per step, the rest of the gate maths fused in Numba loops, the activations kept for the backward.
"""
import math

import numpy as np

from ._numba import jit


def generic_cells(sigmoid, tanh, cat):
    """LSTM / GRU step functions and their gradients, written with the given elementwise functions."""

    def lstm_gates(gx, gh, c):
        hidden = c.shape[-1]
        a = gx + gh
        i = sigmoid(a[..., :hidden])
        f = sigmoid(a[..., hidden:2 * hidden])
        g = tanh(a[..., 2 * hidden:3 * hidden])
        o = sigmoid(a[..., 3 * hidden:])
        c_new = f * c + i * g
        return i, f, g, o, c_new, tanh(c_new)

    def lstm_step(gx, gh, c):
        """``(h, c_new)`` from input and hidden pre-activations (gates i, f, g, o) and the cell state."""
        _, _, _, o, c_new, tc = lstm_gates(gx, gh, c)
        return o * tc, c_new

    def lstm_step_grad(gx, gh, c, dh, dc):
        """(d pre-activations, d c) of ``lstm_step`` given the gradients of h and c_new."""
        i, f, g, o, _, tc = lstm_gates(gx, gh, c)
        dc = dc + dh * o * (1 - tc * tc)
        da = cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)])
        return da, dc * f

    def gru_parts(gx, gh, h):
        # the candidate's reset gate multiplies the whole W_hn h + b_hn, as PyTorch (and cuDNN) do
        hidden = h.shape[-1]
        r = sigmoid(gx[..., :hidden] + gh[..., :hidden])
        z = sigmoid(gx[..., hidden:2 * hidden] + gh[..., hidden:2 * hidden])
        n = tanh(gx[..., 2 * hidden:] + r * gh[..., 2 * hidden:])
        return r, z, n

    def gru_step(gx, gh, h):
        """``(1 - z) * n + z * h`` from input and hidden pre-activations (gates r, z, n, biases included)."""
        _, z, n = gru_parts(gx, gh, h)
        return n + z * (h - n)

    def gru_step_grad(gx, gh, h, dh):
        """(d gx, d gh, d h) of ``gru_step`` given the gradient of its output."""
        hidden = h.shape[-1]
        r, z, n = gru_parts(gx, gh, h)
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * gh[..., 2 * hidden:] * r * (1 - r)
        dz = dh * (h - n) * z * (1 - z)
        return cat([dr, dz, dn]), cat([dr, dz, dn * r]), dh * z

    return {"lstm_step": lstm_step, "lstm_step_grad": lstm_step_grad, "gru_step": gru_step,
            "gru_step_grad": gru_step_grad}


def layer_backward(mode, reverse, gx, w_hh, b_hh, h0, c0, hs, cs, dhs, dcs, ns):
    """Backpropagation through time of one layer and direction, from its inputs and outputs.

    ``gx`` (T, B, G) are the projected inputs, ``hs`` / ``cs`` (T, B, H) the hidden / cell states in input time
    order (``cs`` None unless LSTM); returns the grads of (gx, w_hh, b_hh, h0, c0), None where not applicable.
    """
    steps = gx.shape[0]
    first = steps - 1 if reverse else 0
    step_back = 1 if reverse else -1
    w_t = w_hh.T
    dgx, dgh_all, h_prev_all = [None] * steps, [None] * steps, [None] * steps
    dh = dc = None
    for t in (range(steps) if reverse else range(steps - 1, -1, -1)):
        h_prev = h0 if t == first else hs[t + step_back]
        dh_t = dhs[t] if dh is None else dhs[t] + dh
        direct = None
        if mode == "LSTM":
            c_prev = c0 if t == first else cs[t + step_back]
            dc_t = dcs[t] if dc is None else dcs[t] + dc
            dgx[t], dc = ns.lstm_step_grad(gx[t], h_prev @ w_t, c_prev, dh_t, dc_t)
            dgh = dgx[t]
        elif mode == "GRU":
            gh = h_prev @ w_t if b_hh is None else h_prev @ w_t + b_hh
            dgx[t], dgh, direct = ns.gru_step_grad(gx[t], gh, h_prev, dh_t)
        else:
            h = hs[t]
            dgx[t] = dgh = dh_t * (1 - h * h) if mode == "RNN_TANH" else dh_t * (h > 0)
        dgh_all[t], h_prev_all[t] = dgh, h_prev
        dh = dgh @ w_hh if direct is None else dgh @ w_hh + direct
    # the weight (and bias) gradients of all steps as one GEMM (one sum) instead of one per step
    dgh_all = ns.stack(dgh_all)
    dgh_all = dgh_all.reshape(-1, dgh_all.shape[-1])
    dw = dgh_all.T @ ns.stack(h_prev_all).reshape(-1, w_hh.shape[1])
    db = None if b_hh is None else dgh_all.sum(0)
    return ns.stack(dgx), dw, db, dh, dc


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@jit(fastmath=True)
def _tanh(x):
    # from exp: libm's tanh is several times slower, and exp(2x) overflowing to inf still gives the right limit
    return 1.0 - 2.0 / (1.0 + math.exp(2.0 * x))


def _gate_exps(gx, gh, scale):
    """``exp(scale * (gx + gh))`` in numpy's vectorised exp; the loops turn it into sigmoids (and tanh)."""
    a = gh + gx
    a *= scale
    return np.exp(a, out=a)


@jit(fastmath=True)
def _lstm_loop(e, c, h_out, c_out, ws):
    # e = exp(-a) for the i, f, o gates and exp(-2a) for g: sigmoid(a) = 1 / (1 + e), tanh(a) = 2 / (1 + e) - 1
    hidden = c.shape[1]
    for b in range(c.shape[0]):
        for j in range(hidden):
            i = 1.0 / (1.0 + e[b, j])
            f = 1.0 / (1.0 + e[b, hidden + j])
            g = 2.0 / (1.0 + e[b, 2 * hidden + j]) - 1.0
            o = 1.0 / (1.0 + e[b, 3 * hidden + j])
            cn = f * c[b, j] + i * g
            tc = _tanh(cn)
            ws[b, j], ws[b, hidden + j], ws[b, 2 * hidden + j], ws[b, 3 * hidden + j] = i, f, g, o
            ws[b, 4 * hidden + j] = tc
            c_out[b, j] = cn
            h_out[b, j] = o * tc


@jit(fastmath=True)
def _lstm_grad_loop(ws, c, dh, dc, da, dc_prev):
    hidden = c.shape[1]
    for b in range(c.shape[0]):
        for j in range(hidden):
            i, f, g, o = ws[b, j], ws[b, hidden + j], ws[b, 2 * hidden + j], ws[b, 3 * hidden + j]
            tc = ws[b, 4 * hidden + j]
            d = dc[b, j] + dh[b, j] * o * (1.0 - tc * tc)
            da[b, j] = d * g * i * (1.0 - i)
            da[b, hidden + j] = d * c[b, j] * f * (1.0 - f)
            da[b, 2 * hidden + j] = d * i * (1.0 - g * g)
            da[b, 3 * hidden + j] = dh[b, j] * tc * o * (1.0 - o)
            dc_prev[b, j] = d * f


@jit(fastmath=True)
def _gru_loop(e, gx, gh, h, h_out, ws):
    # e = exp(-a) for the r and z gates (first 2 * hidden columns)
    hidden = h.shape[1]
    for b in range(h.shape[0]):
        for j in range(hidden):
            r = 1.0 / (1.0 + e[b, j])
            z = 1.0 / (1.0 + e[b, hidden + j])
            ghn = gh[b, 2 * hidden + j]
            n = _tanh(gx[b, 2 * hidden + j] + r * ghn)
            ws[b, j], ws[b, hidden + j], ws[b, 2 * hidden + j], ws[b, 3 * hidden + j] = r, z, n, ghn
            h_out[b, j] = n + z * (h[b, j] - n)


@jit(fastmath=True)
def _gru_grad_loop(ws, h, dh, dgx, dgh, dh_prev):
    hidden = h.shape[1]
    for b in range(h.shape[0]):
        for j in range(hidden):
            r, z, n, ghn = ws[b, j], ws[b, hidden + j], ws[b, 2 * hidden + j], ws[b, 3 * hidden + j]
            dn = dh[b, j] * (1.0 - z) * (1.0 - n * n)
            dr = dn * ghn * r * (1.0 - r)
            dz = dh[b, j] * (h[b, j] - n) * z * (1.0 - z)
            dgx[b, j] = dr
            dgh[b, j] = dr
            dgx[b, hidden + j] = dz
            dgh[b, hidden + j] = dz
            dgx[b, 2 * hidden + j] = dn
            dgh[b, 2 * hidden + j] = dn * r
            dh_prev[b, j] = dh[b, j] * z


def _layer_inputs(mode, extra):
    """The optional inputs: LSTM passes ``c0``, GRU with bias passes ``b_hh``: returns (b_hh, c0)."""
    if mode == "LSTM":
        return None, extra[0]
    return (extra[0] if mode == "GRU" and extra else None), None


_WORKSPACE = {"LSTM": 5, "GRU": 4}  # per-step values the backward reads, in units of hidden_size


def rnn_layer(gx, w_hh, h0, *extra, mode, reverse):
    """One layer and direction over (T, B, G) ``gx``: (hs, cs, workspace) for LSTM, (hs, workspace) for GRU, hs.

    ``*extra`` is ``c0`` for LSTM, ``b_hh`` for GRU with bias. The workspace keeps each step's gate activations
    so the backward pass needs no transcendental functions.
    """
    b_hh, c0 = _layer_inputs(mode, extra)
    h0 = np.ascontiguousarray(h0, dtype=gx.dtype)
    c0 = None if c0 is None else np.ascontiguousarray(c0, dtype=gx.dtype)
    steps, batch, hidden = gx.shape[0], h0.shape[0], w_hh.shape[1]
    w_t = w_hh.T
    hs = np.empty((steps, batch, hidden), gx.dtype)
    cs = np.empty_like(hs) if mode == "LSTM" else None
    ws = np.empty((steps, batch, _WORKSPACE[mode] * hidden), gx.dtype) if mode in _WORKSPACE else None
    if mode == "LSTM":
        scale = np.full(4 * hidden, -1, gx.dtype)
        scale[2 * hidden:3 * hidden] = -2
    h, c = h0, c0
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        gh = h @ w_t
        if b_hh is not None:
            gh += b_hh
        if mode == "LSTM":
            _lstm_loop(_gate_exps(gx[t], gh, scale), c, hs[t], cs[t], ws[t])
            c = cs[t]
        elif mode == "GRU":
            _gru_loop(_gate_exps(gx[t, :, :2 * hidden], gh[:, :2 * hidden], -1), gx[t], gh, h, hs[t], ws[t])
        elif mode == "RNN_TANH":
            np.tanh(gh + gx[t], out=hs[t])
        else:
            np.maximum(gh + gx[t], 0, out=hs[t])
        h = hs[t]
    if mode == "LSTM":
        return hs, cs, ws
    return (hs, ws) if mode == "GRU" else hs


def rnn_layer_backward(gx, w_hh, h0, *rest, mode, reverse, n_extra):
    """Gradients of ``rnn_layer`` for (gx, w_hh, h0, *extra); ``rest`` = extra inputs, outputs, output grads."""
    extra, rest = rest[:n_extra], rest[n_extra:]
    b_hh, c0 = _layer_inputs(mode, extra)
    cs = dcs = ws = None
    if mode == "LSTM":
        hs, cs, ws, dhs, dcs = rest
    elif mode == "GRU":
        hs, ws, dhs = rest
    else:
        hs, dhs = rest
    steps, batch, hidden = hs.shape
    first = steps - 1 if reverse else 0
    back = 1 if reverse else -1
    dgx = np.empty_like(gx)
    dgh = np.empty_like(gx) if mode == "GRU" else dgx
    h_prev_all = np.empty_like(hs)
    dh = dc = None
    for t in (range(steps) if reverse else range(steps - 1, -1, -1)):
        h_prev = h0 if t == first else hs[t + back]
        h_prev_all[t] = h_prev
        dh_t = dhs[t] if dh is None else dhs[t] + dh
        if mode == "LSTM":
            c_prev = c0 if t == first else cs[t + back]
            dc_t = dcs[t] if dc is None else dcs[t] + dc
            dc = np.empty_like(c_prev)
            _lstm_grad_loop(ws[t], c_prev, dh_t, dc_t, dgx[t], dc)
            dh = dgx[t] @ w_hh
        elif mode == "GRU":
            direct = np.empty_like(h_prev)
            _gru_grad_loop(ws[t], h_prev, dh_t, dgx[t], dgh[t], direct)
            dh = dgh[t] @ w_hh + direct
        else:
            h = hs[t]
            np.multiply(dh_t, 1 - h * h if mode == "RNN_TANH" else h > 0, out=dgx[t])
            dh = dgx[t] @ w_hh
    flat = dgh.reshape(-1, dgh.shape[-1])
    dw = flat.T @ h_prev_all.reshape(-1, hidden)
    if mode == "LSTM":
        return dgx, dw, dh, dc
    return (dgx, dw, dh, flat.sum(0)) if b_hh is not None else (dgx, dw, dh)


_REFERENCE = generic_cells(_sigmoid, np.tanh, lambda parts: np.concatenate(parts, -1))


def _reference_cell(name):
    def kernel(*arrays):
        return _REFERENCE[name](*arrays)
    kernel.__doc__ = f"``{name}`` on raw arrays (numpy expressions)."
    return kernel


def split_rows(x, sizes):
    """Consecutive row blocks of ``x`` with the given ``sizes`` (the time steps of a packed or flattened batch)."""
    bounds = np.cumsum((0,) + tuple(sizes))
    return tuple(x[a:b] for a, b in zip(bounds[:-1], bounds[1:]))


KERNELS = {
    "rnn_split_rows": split_rows,
    "rnn_layer": rnn_layer,
    "rnn_layer_backward": rnn_layer_backward,
    "lstm_cell": _reference_cell("lstm_step"),
    "lstm_cell_backward": _reference_cell("lstm_step_grad"),
    "gru_cell": _reference_cell("gru_step"),
    "gru_cell_backward": _reference_cell("gru_step_grad"),
}

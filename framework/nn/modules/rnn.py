"""Recurrent layers: RNN (tanh / relu), LSTM (optionally projected), GRU, and their single-step cells.

A layer projects the inputs of every time step with one matmul per layer and direction. A padded batch
then runs each layer direction as one op (``rnn_layer``: a time loop with fused Numba gate kernels, and a
fused backward through time); packed batches and LSTM projections loop in Python, one matmul and one fused
gate op (``lstm_cell`` / ``gru_cell``) per step. When a backward must itself be differentiable
(``create_graph=True``), the same formulas run in framework ops instead (``generic_cells``).
"""
import math
import numbers
import warnings
from types import SimpleNamespace

import framework
from kernels.cpu.recurrent import generic_cells, layer_backward
from ... import _creation
from ...autograd.grad_mode import is_grad_enabled
from ...ops.registry import dispatch, register_op
from .. import functional as F
from .. import init
from ..utils.rnn import PackedSequence
from ._utils import new_param
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _cat_last(parts):
    return framework.cat(parts, -1)


# the recurrent maths in framework ops: differentiable, used when a backward must itself be differentiated
_CELLS = generic_cells(framework.sigmoid, framework.tanh, _cat_last)
_FRAMEWORK = SimpleNamespace(**_CELLS, tanh=framework.tanh, relu=F.relu, stack=framework.stack)


def _lstm_cell_grad(node, dh, dc):
    gx, gh, c = node.saved
    if is_grad_enabled():
        da, dc_prev = _CELLS["lstm_step_grad"](gx, gh, c, dh, dc)
    else:
        da, dc_prev = dispatch(_lstm_cell_backward_op, (gx, gh, c, dh, dc))
    return da, da, dc_prev


def _gru_cell_grad(node, dh):
    gx, gh, h = node.saved
    if is_grad_enabled():
        return _CELLS["gru_step_grad"](gx, gh, h, dh)
    return dispatch(_gru_cell_backward_op, (gx, gh, h, dh))


# one multi-output op, so the backward is one cat instead of a full-size scatter per time step
_split_rows_op = register_op("rnn_split_rows", lambda node, *grads: (framework.cat(grads),))
_lstm_cell_op = register_op("lstm_cell", _lstm_cell_grad)
_lstm_cell_backward_op = register_op("lstm_cell_backward")
_gru_cell_op = register_op("gru_cell", _gru_cell_grad)
_gru_cell_backward_op = register_op("gru_cell_backward")


def _rnn_layer_grad(node, *grads):
    mode, reverse = node.attrs["mode"], node.attrs["reverse"]
    count = len(node.input_meta)
    saved = node.saved
    inputs, outputs = saved[:count], saved[count:]
    states = 2 if mode == "LSTM" else 1  # outputs past these are workspace, read only by the fused backward
    if not is_grad_enabled():
        attrs = {"mode": mode, "reverse": reverse, "n_extra": count - 3}
        return dispatch(_rnn_layer_backward_op, tuple(inputs) + tuple(outputs) + tuple(grads[:states]), attrs)
    gx, w_hh, h0 = inputs[:3]
    c0 = inputs[3] if mode == "LSTM" else None
    b_hh = inputs[3] if mode == "GRU" and count == 4 else None
    cs, dcs = (outputs[1], grads[1]) if mode == "LSTM" else (None, None)
    dgx, dw, db, dh0, dc0 = layer_backward(mode, reverse, gx, w_hh, b_hh, h0, c0, outputs[0], cs, grads[0], dcs,
                                           _FRAMEWORK)
    if mode == "LSTM":
        return dgx, dw, dh0, dc0
    return (dgx, dw, dh0, db) if b_hh is not None else (dgx, dw, dh0)


_rnn_layer_op = register_op("rnn_layer", _rnn_layer_grad, save_outputs=True)
_rnn_layer_backward_op = register_op("rnn_layer_backward")


def _rnn_layer(mode, gx, w_hh, b_hh, h0, c0, reverse):
    """A whole layer direction in one op: returns (outputs (T, B, H), final h, final c or None)."""
    inputs = (gx, w_hh, h0) + ((c0,) if mode == "LSTM" else ()) + ((b_hh,) if b_hh is not None else ())
    outs = dispatch(_rnn_layer_op, inputs, {"mode": mode, "reverse": reverse})
    hs = outs if mode.startswith("RNN") else outs[0]
    last = 0 if reverse else -1
    return hs, hs[last], (outs[1][last] if mode == "LSTM" else None)


def lstm_cell(gx, gh, c):
    """One LSTM step from input and hidden pre-activations (gates i, f, g, o): returns ``(h, c_new)``."""
    return dispatch(_lstm_cell_op, (gx, gh, c))


def gru_cell(gx, gh, h):
    """One GRU step from input and hidden pre-activations (gates r, z, n, biases included): returns ``h_new``."""
    return dispatch(_gru_cell_op, (gx, gh, h))


def _hidden_proj(h, w_hh_t, b_hh):
    return framework.matmul(h, w_hh_t) if b_hh is None else framework.addmm(b_hh, h, w_hh_t)


def _rnn_tanh_step(gx, state, w_hh_t, b_hh, w_hr_t):
    h = framework.tanh(_hidden_proj(state[0], w_hh_t, b_hh) + gx)
    return h, (h,)


def _rnn_relu_step(gx, state, w_hh_t, b_hh, w_hr_t):
    h = F.relu(_hidden_proj(state[0], w_hh_t, b_hh) + gx)
    return h, (h,)


def _lstm_step(gx, state, w_hh_t, b_hh, w_hr_t):
    h, c = lstm_cell(gx, _hidden_proj(state[0], w_hh_t, b_hh), state[1])
    if w_hr_t is not None:
        h = framework.matmul(h, w_hr_t)
    return h, (h, c)


def _gru_step(gx, state, w_hh_t, b_hh, w_hr_t):
    h = gru_cell(gx, _hidden_proj(state[0], w_hh_t, b_hh), state[0])
    return h, (h,)


_STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step, "GRU": _gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_FUSED_DTYPES = (framework.float32, framework.float64, framework.bfloat16)


def _run_direction(step, gx, batch_sizes, state, weights, reverse):
    """Loop ``step`` over the projected inputs ``gx``; return the stacked outputs and the final state.

    ``gx`` is (T, B, G) when ``batch_sizes`` is None, else packed rows (sum(batch_sizes), G); in a packed batch
    sequences drop out as they end (going forward) or join as they start (going backward).
    """
    if batch_sizes is None:
        steps, batch = gx.shape[:2]
        rows = dispatch(_split_rows_op, (gx.reshape(steps * batch, -1),), {"sizes": (batch,) * steps})
        outs = []
        for x in (reversed(rows) if reverse else rows):
            out, state = step(x, state, *weights)
            outs.append(out)
        if reverse:
            outs.reverse()
        return framework.stack(outs), state
    rows = dispatch(_split_rows_op, (gx,), {"sizes": tuple(batch_sizes)})
    outs, done = [], []
    if reverse:
        initial, state = state, tuple(s[:batch_sizes[-1]] for s in state)
        for x, n in zip(reversed(rows), reversed(batch_sizes)):
            have = state[0].shape[0]
            if n > have:
                state = tuple(framework.cat([s, s0[have:n]]) for s, s0 in zip(state, initial))
            out, state = step(x, state, *weights)
            outs.append(out)
        outs.reverse()
        return framework.cat(outs), state
    for x, n in zip(rows, batch_sizes):
        have = state[0].shape[0]
        if n < have:
            done.append(tuple(s[n:] for s in state))
            state = tuple(s[:n] for s in state)
        out, state = step(x, state, *weights)
        outs.append(out)
    if done:
        state = tuple(framework.cat([s] + [d[k] for d in reversed(done)]) for k, s in enumerate(state))
    return framework.cat(outs), state


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters ``weight_ih_l{k}``... and the multi-layer loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, new_param(shape, device, dtype))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in registration order (as PyTorch)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """No-op: parameters are always used as they are (kept for PyTorch compatibility)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """Parameters grouped per layer and direction."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _state_shapes(self, batch):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return (layers, batch, self.proj_size or self.hidden_size), (layers, batch, self.hidden_size)

    def _forward(self, input, hx):
        """Shared forward: ``hx`` is None or a tuple of states; returns (output, tuple of final states)."""
        packed = isinstance(input, PackedSequence)
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        batched = True
        if packed:
            input, batch_sizes, sorted_indices, unsorted_indices = input
            batch_sizes = batch_sizes.tolist()
            batch = batch_sizes[0]
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                                 f"{'instead' if self.mode == 'LSTM' else 'tensor instead'}")
            batched = input.ndim == 3
            batch_sizes = sorted_indices = unsorted_indices = None
            if not batched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            batch = input.shape[1]
        weight = getattr(self, self._flat_weights_names[0])
        if input.dtype is not weight.dtype:
            raise ValueError(f"{name} input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.shape[-1]}")
        shapes = self._state_shapes(batch)
        if hx is None:
            hx = tuple(_creation.zeros(shape, dtype=input.dtype, device=input.device)
                       for shape in shapes[:2 if self.mode == "LSTM" else 1])
        else:
            want = 3 if batched else 2
            if any(h.ndim != want for h in hx):
                dims = ", ".join(f"{h.ndim}-D" for h in hx)
                what = "hx and cx" if len(hx) == 2 else "hx"
                tensors = f"({dims}) tensors" if len(hx) == 2 else f"{dims} tensor"
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, {what} should also be {want}-D but got {tensors}")
            if not batched:
                hx = tuple(h.unsqueeze(1) for h in hx)
            if sorted_indices is not None:
                hx = tuple(h.index_select(1, sorted_indices) for h in hx)
            for k, (h, shape) in enumerate(zip(hx, shapes)):
                if tuple(h.shape) != shape:
                    which = f"hidden[{k}] size" if len(hx) == 2 else "hidden size"
                    raise RuntimeError(f"Expected {which} {shape}, got {list(h.shape)}")
                if h.dtype is not input.dtype:
                    raise RuntimeError(f"{name}: expected hidden[{k}] dtype {input.dtype}, but got {h.dtype}")
        output, final = self._layers(input, batch_sizes, hx)
        if packed:
            output = PackedSequence(output, framework.tensor(batch_sizes), sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                final = tuple(h.index_select(1, unsorted_indices) for h in final)
        elif not batched:
            output = output.squeeze(1)
            final = tuple(h.squeeze(1) for h in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, final

    def _layers(self, x, batch_sizes, hx):
        step = _STEPS[self.mode]
        directions = 2 if self.bidirectional else 1
        initial = [h.unbind(0) for h in hx]
        finals = [[] for _ in hx]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                index = layer * directions + direction
                params = [getattr(self, name) for name in self._all_weights[index]]
                w_ih, w_hh = params[0], params[1]
                b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                w_hr = params[-1] if self.proj_size else None
                if b_ih is not None and self.mode != "GRU":
                    # the hidden bias adds to the same pre-activation, so it joins the one input projection
                    b_ih, b_hh = b_ih + b_hh, None
                gx = F.linear(x, w_ih, b_ih)
                state = tuple(h[index] for h in initial)
                if batch_sizes is None and w_hr is None and x.dtype in _FUSED_DTYPES:
                    # padded input without projection: the whole time loop is one op with a fused backward
                    out, h, c = _rnn_layer(self.mode, gx, w_hh, b_hh, state[0], state[-1], direction == 1)
                    state = (h,) if c is None else (h, c)
                else:
                    weights = (w_hh.t(), b_hh, None if w_hr is None else w_hr.t())
                    out, state = _run_direction(step, gx, batch_sizes, state, weights, direction == 1)
                outs.append(out)
                for k, s in enumerate(state):
                    finals[k].append(s)
            x = outs[0] if directions == 1 else framework.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, tuple(framework.stack(f) for f in finals)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, proj_size, device, dtype)

    def forward(self, input, hx=None):
        """Run over a (T, B, I) / (B, T, I) / (T, I) tensor or a PackedSequence: returns ``(output, h_n)``."""
        output, (h,) = self._forward(input, None if hx is None else (hx,))
        return output, h


class LSTM(RNNBase):
    """Long short-term memory with gates (i, f, g, o); ``proj_size`` > 0 projects ``h`` with ``weight_hr``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input, hx=None):
        """Run over a sequence batch or PackedSequence: returns ``(output, (h_n, c_n))``."""
        output, (h, c) = self._forward(input, None if hx is None else tuple(hx))
        return output, (h, c)


class GRU(RNNBase):
    """Gated recurrent unit with gates (r, z, n); ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input, hx=None):
        """Run over a sequence batch or PackedSequence: returns ``(output, h_n)``."""
        output, (h,) = self._forward(input, None if hx is None else (hx,))
        return output, h


class RNNCellBase(Module):
    """Shared parameters of the single-step cells: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = new_param((num_chunks * hidden_size, input_size), device, dtype)
        self.weight_hh = new_param((num_chunks * hidden_size, hidden_size), device, dtype)
        if bias:
            self.bias_ih = new_param((num_chunks * hidden_size,), device, dtype)
            self.bias_hh = new_param((num_chunks * hidden_size,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, count):
        """Check shapes, add the batch dim to unbatched input; ``hx`` defaults to zeros."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        if hx is None:
            zeros = _creation.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            return input, (zeros,) * count, batched
        states = []
        for k, h in enumerate(hx):
            if h.ndim != (2 if batched else 1):
                raise RuntimeError(f"{type(self).__name__}: Expected hidden[{k}] to be {2 if batched else 1}D, got "
                                   f"{h.ndim}D instead")
            h = h if batched else h.unsqueeze(0)
            if h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                   f"{h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[1]}, expected "
                                   f"{self.hidden_size}")
            states.append(h)
        return input, tuple(states), batched

    def _projections(self, input, h):
        return F.linear(input, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        """The next hidden state (B, H) or (H,)."""
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, (h,), batched = self._prepare(input, None if hx is None else (hx,), 1)
        gx, gh = self._projections(input, h)
        h = framework.tanh(gx + gh) if self.nonlinearity == "tanh" else framework.relu(gx + gh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        """The next (hidden, cell) states, each (B, H) or (H,)."""
        input, (h, c), batched = self._prepare(input, None if hx is None else tuple(hx), 2)
        h, c = lstm_cell(*self._projections(input, h), c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: returns ``h'``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        """The next hidden state (B, H) or (H,)."""
        input, (h,), batched = self._prepare(input, None if hx is None else (hx,), 1)
        h = gru_cell(*self._projections(input, h), h)
        return h if batched else h.squeeze(0)

"""Recurrent layers, cells and packed sequences against PyTorch: outputs, final states, gradients, init, errors."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck, gradgradcheck
from framework.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _copy(ours, theirs):
    ours.load_state_dict({k: framework.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _close(ours, theirs, tol=1e-6):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _pair(name, *args, **kwargs):
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(framework.nn, name)(*args, **kwargs).double()
    _copy(ours, theirs)
    return ours, theirs


def _states(h):
    return h if isinstance(h, tuple) else (h,)


def _loss(out, h):
    return out.sum() + sum((s * s).sum() for s in _states(h))


LAYERS = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"proj_size": 3}),
    ("GRU", {"bias": False}), ("LSTM", {"bias": False}),
]
CONFIGS = [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}]


@pytest.mark.parametrize("config", CONFIGS, ids=["plain", "2layers_bidir", "batch_first"])
@pytest.mark.parametrize("name,kwargs", LAYERS, ids=[f"{n}{k}" for n, k in LAYERS])
def test_layer_matches_torch(name, kwargs, config):
    ours, theirs = _pair(name, 4, 6, **kwargs, **config)
    x = _rand(5, 3, 4)
    fx, tx = framework.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, fh = ours(fx)
    to, th = theirs(tx)
    _close(fo, to)
    for a, b in zip(_states(fh), _states(th)):
        _close(a, b)
    _loss(fo, fh).backward()
    _loss(to, th).backward()
    _close(fx.grad, tx.grad)
    for (name_a, a), (name_b, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name_a == name_b
        _close(a.grad, b.grad)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_initial_state_and_unbatched(name):
    ours, theirs = _pair(name, 3, 5, num_layers=2)
    x, h0, c0 = _rand(4, 2, 3), _rand(2, 2, 5, seed=1), _rand(2, 2, 5, seed=2)
    fh0, th0 = framework.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    fhx, thx = ((fh0, framework.tensor(c0)), (th0, torch.tensor(c0))) if name == "LSTM" else (fh0, th0)
    fo, fh = ours(framework.tensor(x), fhx)
    to, th = theirs(torch.tensor(x), thx)
    _close(fo, to)
    _loss(fo, fh).backward()
    _loss(to, th).backward()
    _close(fh0.grad, th0.grad)
    # unbatched: (T, I) input and (layers, H) states
    fhx = tuple(s[:, 0] for s in _states(fhx)) if name == "LSTM" else fh0.detach()[:, 0]
    thx = tuple(s[:, 0] for s in _states(thx)) if name == "LSTM" else th0.detach()[:, 0]
    fo, fh = ours(framework.tensor(x[:, 0]), fhx)
    to, th = theirs(torch.tensor(x[:, 0]), thx)
    assert tuple(fo.shape) == tuple(to.shape)
    _close(fo, to)
    for a, b in zip(_states(fh), _states(th)):
        _close(a, b)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_sequence_input(name):
    kwargs = {"proj_size": 2} if name == "LSTM" else {}
    ours, theirs = _pair(name, 3, 5, num_layers=2, bidirectional=True, **kwargs)
    x, lengths = _rand(6, 4, 3), [4, 6, 1, 3]
    fx, tx = framework.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fp = rnn_utils.pack_padded_sequence(fx, lengths, enforce_sorted=False)
    tp = TR.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    fo, fh = ours(fp)
    to, th = theirs(tp)
    assert isinstance(fo, rnn_utils.PackedSequence)
    _close(fo.data, to.data)
    assert fo.batch_sizes.tolist() == to.batch_sizes.tolist()
    for a, b in zip(_states(fh), _states(th)):
        _close(a, b)
    fpad, flen = rnn_utils.pad_packed_sequence(fo)
    tpad, tlen = TR.pad_packed_sequence(to)
    _close(fpad, tpad)
    assert flen.tolist() == tlen.tolist()
    _loss(fpad, fh).backward()
    _loss(tpad, th).backward()
    _close(fx.grad, tx.grad)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        _close(a.grad, b.grad)


@pytest.mark.parametrize("name,size", [("LSTM", 8), ("GRU", 8), ("RNN", 8), ("LSTMCell", 8), ("GRUCell", 5),
                                       ("RNNCell", 5)])
def test_default_init_is_bit_exact(name, size):
    kwargs = {"num_layers": 2, "bidirectional": True} if not name.endswith("Cell") else {}
    framework.manual_seed(0)
    ours = getattr(framework.nn, name)(4, size, **kwargs)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(4, size, **kwargs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for a, b in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_dropout_between_layers_matches_torch():
    framework.manual_seed(3)
    ours = framework.nn.LSTM(4, 6, 3, dropout=0.5)
    torch.manual_seed(3)
    theirs = torch.nn.LSTM(4, 6, 3, dropout=0.5)
    x = _rand(5, 2, 4).astype(np.float32)
    framework.manual_seed(5)
    torch.manual_seed(5)
    _close(ours(framework.tensor(x))[0], theirs(torch.tensor(x))[0], 1e-5)
    ours.eval()
    theirs.eval()
    _close(ours(framework.tensor(x))[0], theirs(torch.tensor(x))[0], 1e-5)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(name):
    ours, theirs = _pair(name, 3, 4)
    x, h = _rand(2, 3), _rand(2, 4, seed=1)
    fx, tx = framework.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fhx = (framework.tensor(h), framework.tensor(h * 0.5)) if name == "LSTMCell" else framework.tensor(h)
    thx = (torch.tensor(h), torch.tensor(h * 0.5)) if name == "LSTMCell" else torch.tensor(h)
    fo, to = _states(ours(fx, fhx)), _states(theirs(tx, thx))
    for a, b in zip(fo, to):
        _close(a, b)
    sum((s * s).sum() for s in fo).backward()
    sum((s * s).sum() for s in to).backward()
    _close(fx.grad, tx.grad)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        _close(a.grad, b.grad)
    for a, b in zip(_states(ours(fx[0])), _states(theirs(tx[0]))):  # unbatched, zero state
        _close(a, b)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_double_backward(name):
    framework.manual_seed(0)
    layer = getattr(framework.nn, name)(2, 2, bidirectional=True).double()
    x = framework.tensor(_rand(3, 1, 2), requires_grad=True)
    h0 = framework.tensor(_rand(2, 1, 2, seed=1), requires_grad=True)

    def run(x, h0):
        out, h = layer(x, (h0, h0 * 0.5) if name == "LSTM" else h0)
        return out, _states(h)[-1]
    assert gradcheck(run, (x, h0))
    assert gradgradcheck(run, (x, h0))


def test_cell_double_backward():
    framework.manual_seed(0)
    cell = framework.nn.LSTMCell(2, 3).double()
    x, h = framework.tensor(_rand(2, 2), requires_grad=True), framework.tensor(_rand(2, 3), requires_grad=True)
    assert gradgradcheck(lambda x, h: cell(x, (h, h))[1], (x, h))
    gru = framework.nn.GRUCell(2, 3).double()
    assert gradgradcheck(lambda x, h: gru(x, h), (x, h))


def test_pack_pad_round_trip():
    x, lengths = _rand(5, 4, 3).astype(np.float32), [3, 5, 5, 2]
    for batch_first in (False, True):
        xx = x.transpose(1, 0, 2).copy() if batch_first else x
        fx = framework.tensor(xx, requires_grad=True)
        fp = rnn_utils.pack_padded_sequence(fx, lengths, batch_first=batch_first, enforce_sorted=False)
        tp = TR.pack_padded_sequence(torch.tensor(xx), lengths, batch_first=batch_first, enforce_sorted=False)
        _close(fp.data, tp.data)
        for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            assert getattr(fp, field).tolist() == getattr(tp, field).tolist()
        fpad, flen = rnn_utils.pad_packed_sequence(fp, batch_first=batch_first, padding_value=-1.0, total_length=6)
        tpad, tlen = TR.pad_packed_sequence(tp, batch_first=batch_first, padding_value=-1.0, total_length=6)
        _close(fpad, tpad)
        assert flen.tolist() == tlen.tolist() and flen.dtype is framework.int64
        fpad.sum().backward()
        mask = np.arange(5)[:, None] < np.array(lengths)[None, :]
        np.testing.assert_array_equal(fx.grad.numpy()[..., 0], mask.T if batch_first else mask)


def test_pad_pack_unpack_sequence():
    seqs = [_rand(n, 2, seed=n).astype(np.float32) for n in (2, 4, 1)]
    for side in ("left", "right"):
        for batch_first in (False, True):
            ours = rnn_utils.pad_sequence([framework.tensor(s) for s in seqs], batch_first, 7.0, side)
            theirs = TR.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 7.0, side)
            _close(ours, theirs)
    packed = rnn_utils.pack_sequence([framework.tensor(s) for s in seqs], enforce_sorted=False)
    _close(packed.data, TR.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False).data)
    for a, s in zip(rnn_utils.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), s)
    padded = rnn_utils.pad_sequence([framework.tensor(s) for s in seqs])
    for a, s in zip(rnn_utils.unpad_sequence(padded, [2, 4, 1]), seqs):
        np.testing.assert_array_equal(a.numpy(), s)


def test_packed_sequence_errors():
    x = framework.zeros(3, 2, 1)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(x, [1, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        rnn_utils.pack_padded_sequence(x, [3, 0])
    packed = rnn_utils.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length=2"):
        rnn_utils.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(ValueError, match="padding_side"):
        rnn_utils.pad_sequence([x], padding_side="middle")


def test_layer_errors_and_repr():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        framework.nn.RNN(4, 8, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number"):
        framework.nn.LSTM(4, 8, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size has to be smaller"):
        framework.nn.LSTM(4, 8, proj_size=8)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        framework.nn.GRU(4, 8, proj_size=2)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        framework.nn.GRU(4, 8, dropout=0.5)
    lstm = framework.nn.LSTM(4, 8, 2)
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        lstm(framework.zeros(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="Expected 4, got 5"):
        lstm(framework.zeros(2, 3, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 8\), got \[1, 3, 8\]"):
        lstm(framework.zeros(2, 3, 4), (framework.zeros(1, 3, 8), framework.zeros(2, 3, 8)))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(framework.zeros(2, 3, 4, dtype=framework.float64))
    with pytest.raises(RuntimeError, match="inconsistent input_size"):
        framework.nn.GRUCell(4, 8)(framework.zeros(3, 5))
    assert repr(lstm) == repr(torch.nn.LSTM(4, 8, 2))
    assert repr(framework.nn.RNN(4, 8, bias=False, batch_first=True, num_layers=2, dropout=0.1, bidirectional=True)) \
        == repr(torch.nn.RNN(4, 8, bias=False, batch_first=True, num_layers=2, dropout=0.1, bidirectional=True))
    assert repr(framework.nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_float32_long_sequence(name):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(16, 32, 2)
    ours = getattr(framework.nn, name)(16, 32, 2)
    _copy(ours, theirs)
    x = _rand(30, 4, 16).astype(np.float32)
    fx, tx = framework.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, to = ours(fx)[0], theirs(tx)[0]
    _close(fo, to, 1e-5)
    (fo * fo).sum().backward()
    (to * to).sum().backward()
    _close(fx.grad, tx.grad, 1e-5)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        _close(a.grad, b.grad, 1e-4)


def test_packed_sequence_conversions():
    packed = rnn_utils.pack_sequence([framework.ones(3, 2), framework.ones(1, 2)])
    assert packed.double().data.dtype is framework.float64
    assert packed.to(framework.float64).batch_sizes.tolist() == [2, 1, 1]
    assert packed.cpu() is packed and not packed.is_cuda
    rebuilt = rnn_utils.PackedSequence(packed.data, packed.batch_sizes, framework.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]

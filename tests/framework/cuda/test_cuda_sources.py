"""The CUDA C kernels without a GPU: they compile (NVRTC, else nvcc), and run on the host they equal the CPU kernels.

Covered: conv / pooling / optimizer updates / softmax rows, the special functions on edge inputs, the LSTM /
GRU layers forward and backward, and scatter_reduce over every reduction, dtype and include_self.

The CPU kernels are re-bound to numpy with their Numba loops replaced by the CUDA kernels, launched through
the host emulator of ``conftest.py``: the same wrappers and sources the GPU runs, checked against
``kernels.cpu`` on the geometries and options that matter (stride, padding, dilation, groups, flags).
"""
import shutil
import subprocess

import numpy as np
import pytest

import kernels.cpu as cpu
import kernels.cpu.special as cpu_special
from kernels.cpu._numba import _LazyJit
from kernels.cuda import conv, explicit, indexing, optim, pooling, recurrent, rng, softmax, special
from kernels.cuda._loops import generic_loops
from kernels.cuda._raw import typed_source
from kernels.cuda._rebind import merge_loops, rebind

scipy_special = pytest.importorskip("scipy.special")

SOURCES = {"conv": conv.SOURCE, "pooling": pooling.SOURCE, "optim": optim.SOURCE, "softmax": softmax.SOURCE,
           "rng": rng.SOURCE, "special": special.SOURCE, "recurrent": recurrent.SOURCE, "indexing": indexing.SOURCE}
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _nvrtc_available():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
        return True
    except Exception:  # no CuPy, or CuPy without the NVRTC library
        return False


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_sources_compile(name, dtype, tmp_path):
    if _nvrtc_available():
        from kernels.cuda._raw import compile_source
        assert b".entry" in compile_source(SOURCES[name], dtype)  # PTX with kernel entry points
        return
    if shutil.which("nvcc") is None:
        pytest.skip("neither NVRTC (cupy) nor nvcc is available")
    src = tmp_path / "k.cu"
    src.write_text(typed_source(SOURCES[name], dtype))
    subprocess.run(["nvcc", "-c", "-arch=sm_80", "-o", str(tmp_path / "k.o"), str(src)], check=True)


@pytest.fixture(scope="module")
def device_table(emulator):
    """The CUDA backend's re-bound CPU kernels on numpy, the CUDA loops running in the emulator."""
    patch = pytest.MonkeyPatch()
    for module in (conv, pooling, optim, special, recurrent, indexing):
        patch.setattr(module, "launch", emulator.launch)
    loops, _ = explicit()
    loops["kernels.cpu.optim"]["_UNUSED"] = {np.dtype(d): np.empty(0, d) for d in DTYPES}
    twins, _ = rebind(np, merge_loops(loops, generic_loops(np, scipy_special), "generic"))
    yield twins
    patch.undo()


def _close(got, want, dtype):
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, **TOL[dtype])


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 3, 9, 8), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 4, 10, 7), (6, 2, 3, 2), (2, 3), ((2, 1), (0, 2)), (2, 1), 2),
    ((3, 2, 11), (5, 2, 4), (2,), ((3, 1),), (2,), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_family(device_table, case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    y = cpu.KERNELS["conv"](x, w, stride, padding, dilation, groups)
    _close(device_table["conv"](x, w, stride, padding, dilation, groups), y, dtype)
    g = rng.standard_normal(y.shape).astype(dtype)
    args = (stride, padding, dilation, groups)
    _close(device_table["conv_transpose"](g, w, *args, xs[2:]), cpu.KERNELS["conv_transpose"](g, w, *args, xs[2:]),
           dtype)
    _close(device_table["conv_weight"](x, g, *args, ws[2:]), cpu.KERNELS["conv_weight"](x, g, *args, ws[2:]), dtype)
    kernel = ws[2:]
    cols = cpu.KERNELS["im2col"](x, kernel, stride, padding, dilation)
    _close(device_table["im2col"](x, kernel, stride, padding, dilation), cols, dtype)
    _close(device_table["col2im"](cols, xs[2:], kernel, stride, padding, dilation),
           cpu.KERNELS["col2im"](cols, xs[2:], kernel, stride, padding, dilation), dtype)


POOL_CASES = [  # (x shape, kernel, stride, padding, dilation)
    ((2, 3, 9, 8), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ((1, 2, 10, 7), (2, 3), (1, 2), ((1, 2), (0, 1)), (2, 1)),
    ((2, 3, 12), (4,), (3,), ((2, 2),), (1,)),
]


def _out(xs, kernel, stride, padding, dilation):
    return tuple((xs[2 + i] + sum(padding[i]) - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(len(kernel)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling_family(device_table, case, dtype):
    xs, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(dtype)
    x.reshape(-1)[5] = np.nan  # a NaN wins its windows, as in PyTorch
    out = _out(xs, kernel, stride, padding, dilation)
    values, indices = device_table["max_pool"](x, kernel, stride, padding, dilation, out)
    want_values, want_indices = cpu.KERNELS["max_pool"](x, kernel, stride, padding, dilation, out)
    _close(values, want_values, dtype)
    np.testing.assert_array_equal(indices, want_indices)
    g = rng.standard_normal(values.shape).astype(dtype)
    _close(device_table["pool_scatter"](g, indices, xs[2:]), cpu.KERNELS["pool_scatter"](g, indices, xs[2:]), dtype)
    if dilation != (1,) * len(kernel):
        return  # average pooling has no dilation
    pout = _out(xs, kernel, stride, padding, dilation)
    for include_pad, override in ((True, None), (False, None), (True, 5)):
        args = (kernel, stride, padding, pout, include_pad, override)
        _close(device_table["avg_pool"](x, *args), cpu.KERNELS["avg_pool"](x, *args), dtype)
        bargs = (kernel, stride, padding, xs[2:], include_pad, override)
        _close(device_table["avg_pool_backward"](g, *bargs), cpu.KERNELS["avg_pool_backward"](g, *bargs), dtype)


OPTIMIZERS = [
    ("adam_update", 2, dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=True, maximize=False,
                            decoupled_weight_decay=False)),
    ("adam_update", 2, dict(lr=1e-2, beta1=0.3, beta2=0.99, eps=1e-8, weight_decay=0.1, amsgrad=False, maximize=True,
                            decoupled_weight_decay=True)),
    ("sgd_update", 1, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=True, maximize=False)),
    ("sgd_update", 1, dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)),
    ("rmsprop_update", 3, dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.1, momentum=0.9, centered=True,
                               maximize=False)),
    ("rmsprop_update", 3, dict(lr=1e-2, alpha=0.2, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                               maximize=True)),
    ("adagrad_update", 1, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-10, maximize=False)),
    ("adadelta_update", 2, dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.1, maximize=False)),
]


def _state(name, kw, shape, dtype):
    n = {"adam_update": 3, "sgd_update": 1, "rmsprop_update": 3, "adagrad_update": 1, "adadelta_update": 2}[name]
    state = [np.zeros(shape, dtype) for _ in range(n)]
    if name == "adam_update" and not kw["amsgrad"]:
        state[2] = None
    if name == "rmsprop_update":
        state[1] = state[1] if kw["centered"] else None
        state[2] = state[2] if kw["momentum"] > 0 else None
    if name == "sgd_update" and kw["momentum"] == 0:
        state[0] = None
    return state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, _, kw", OPTIMIZERS)
def test_optimizer_updates(device_table, name, _, kw, dtype):
    rng = np.random.default_rng(2)
    param = rng.standard_normal((5, 7)).astype(dtype)
    runs = {}
    for label, table in (("device", device_table), ("cpu", cpu.KERNELS)):
        p, state = param.copy(), _state(name, kw, param.shape, dtype)
        for step in range(1, 4):
            g = np.random.default_rng(step).standard_normal(param.shape).astype(dtype)
            extra = {"step": step} if name in ("adam_update", "adagrad_update") else {}
            extra.update({"first": step == 1} if name == "sgd_update" else {})
            table[name](g, p, *state, **kw, **extra)
        runs[label] = [p] + [s for s in state if s is not None]
    for got, want in zip(runs["device"], runs["cpu"]):
        _close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows(emulator, dtype, log):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 37)) * 5).astype(dtype)
    x[1, 3] = np.nan
    x[2] = -np.inf
    out = np.empty_like(x)
    emulator.launch_rows(softmax.SOURCE, "softmax_rows", dtype, x.shape[0], x, out, x.shape[1], int(log))
    want = cpu.KERNELS["log_softmax" if log else "softmax"](x, 1)
    np.testing.assert_allclose(out, want, **TOL[dtype])
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()


EDGES = np.array([0.0, -0.0, 1e-300, 1e-20, 1e-5, 0.3, 0.5, -0.5, 0.999, 1 - 1e-12, 1.5, -1.0, -2.5, 7.0, -7.9, -8.1,
                  16.9, 17.1, 25.0, -30.0, 29.9, 30.1, 59.0, 61.0, 100.0, 700.0, 1e5, np.nan, np.inf, -np.inf])
# second arguments: zeta's q, igamma's x, the polynomials' degree (kept small: the recurrence runs n steps)
SECONDS = np.array([0.0, 2.0, 3.5, 7.0, -1.0, np.nan, 25.0, 0.5, 100.0, 12.0])
UNARY_SPECIAL = sorted(n for n in cpu.KERNELS if n.startswith("special_") and n[8:] in {
    "i0", "i0e", "i1", "i1e", "k0", "k0e", "k1", "k1e", "j0", "j1", "y0", "y1", "spherical_j0", "airy_ai",
    "erfcx", "log_ndtr", "ndtr", "ndtri"})
BINARY_SPECIAL = sorted(n for n in cpu.KERNELS if n.startswith("special_") and (
    "polynomial" in n or n[8:] in {"zeta", "igamma", "igammac"}))


def _same_special(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))  # signed zeros and infinities


def test_special_kernels_cover_the_cpu_loops():
    assert len(UNARY_SPECIAL) == 18 and len(BINARY_SPECIAL) == 15
    assert set(special.LOOPS["kernels.cpu.special"]) == {
        name for name, value in vars(cpu_special).items() if name.endswith("_loop") and isinstance(value, _LazyJit)}


@pytest.mark.parametrize("name", UNARY_SPECIAL)
def test_unary_special_functions(device_table, name):
    _same_special(device_table[name](EDGES), cpu.KERNELS[name](EDGES))
    x32 = EDGES.astype(np.float32)
    _same_special(device_table[name](x32), cpu.KERNELS[name](x32))


@pytest.mark.parametrize("name", BINARY_SPECIAL)
def test_binary_special_functions(device_table, name):
    a, b = EDGES[:, None], SECONDS[None, :]
    if "polynomial" in name:
        b = np.where(np.abs(b) > 20, 12.0, b)
    _same_special(device_table[name](a, b), cpu.KERNELS[name](a, b))


def _rnn_case(mode, dtype, rng_):
    steps, batch, hidden = 4, 3, 5
    gates = {"LSTM": 4, "GRU": 3}[mode] * hidden
    gx = rng_.standard_normal((steps, batch, gates)).astype(dtype)
    w_hh = (rng_.standard_normal((gates, hidden)) * 0.5).astype(dtype)
    h0 = rng_.standard_normal((batch, hidden)).astype(dtype)
    extra = (rng_.standard_normal((batch, hidden) if mode == "LSTM" else gates).astype(dtype),)
    return gx, w_hh, h0, extra


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_rnn_layer_forward_and_backward(device_table, mode, reverse, dtype):
    rng_ = np.random.default_rng(5)
    gx, w_hh, h0, extra = _rnn_case(mode, dtype, rng_)
    gx = np.asfortranarray(gx)  # a strided projection: the kernels get contiguous working copies
    want = cpu.KERNELS["rnn_layer"](gx, w_hh, h0, *extra, mode=mode, reverse=reverse)
    _close(device_table["rnn_layer"](gx, w_hh, h0, *extra, mode=mode, reverse=reverse), want, dtype)
    outputs = want[:-1] if mode == "LSTM" else want[:1]
    grads = tuple(rng_.standard_normal(o.shape).astype(dtype) for o in outputs)
    rest = extra + tuple(want) + grads
    kw = dict(mode=mode, reverse=reverse, n_extra=1)
    _close(device_table["rnn_layer_backward"](gx, w_hh, h0, *rest, **kw),
           cpu.KERNELS["rnn_layer_backward"](gx, w_hh, h0, *rest, **kw), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.int16, np.int8, np.uint8])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(device_table, reduce, dtype):
    rng_ = np.random.default_rng(6)
    for include_self in (True, False):
        for dim, index in ((0, rng_.integers(0, 4, (6, 5))), (1, rng_.integers(0, 5, (4, 3)))):
            x = (rng_.standard_normal((4, 5)) * 3).astype(dtype)
            src = (rng_.standard_normal((6, 5)) * 3).astype(dtype)
            if dtype in DTYPES:
                src[2, 1] = np.nan  # NaN propagates through every reduction
            args = (x, index, src, dim, reduce, include_self)
            got, want = device_table["scatter_reduce"](*args), cpu.KERNELS["scatter_reduce"](*args)
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12)
    empty = np.zeros((0,), np.int64)
    args = (np.ones(3, dtype), empty, np.ones(0, dtype), 0, reduce, False)
    np.testing.assert_array_equal(device_table["scatter_reduce"](*args), cpu.KERNELS["scatter_reduce"](*args))

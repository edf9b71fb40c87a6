"""The cuda backend on a machine without a GPU: the API says so, nothing else breaks, and the generic kernels hold.

The re-bound kernel table (``kernels.cuda._rebind``) is checked by running it with numpy as the array module
through the framework's own dispatcher, against the ordinary CPU table, on a forward and backward pass
of a small model and an optimizer step.
"""
import dis
import subprocess
import sys
import types

import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F
from framework import _backends
from framework.ops.registry import REGISTRY

import kernels.cpu as cpu
from kernels.cuda._loops import generic_kernels, generic_loops
from kernels.cuda._rebind import rebind, reaches_numba

no_gpu = pytest.mark.skipif(framework.cuda.is_available(), reason="a GPU is present")


def test_import_framework_does_not_import_cupy():
    code = "import sys, framework; framework.ones(2).sum(); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@no_gpu
def test_device_api_without_gpu():
    cuda = framework.cuda
    assert cuda.is_available() is False and cuda.device_count() == 0
    assert cuda.memory_allocated() == 0 and cuda.max_memory_allocated() == 0 and cuda.memory_reserved() == 0
    cuda.manual_seed(1)  # no-ops without CUDA, as in PyTorch
    cuda.manual_seed_all(1)
    cuda.empty_cache()
    cuda.reset_peak_memory_stats()
    with pytest.raises((AssertionError, RuntimeError)):
        cuda.current_device()
    with pytest.raises((AssertionError, RuntimeError)):
        cuda.synchronize()


@no_gpu
@pytest.mark.parametrize("move", [lambda t: t.cuda(), lambda t: t.to("cuda:0"), lambda t: t.to("cuda")])
def test_moving_to_cuda_raises_without_gpu(move):
    with pytest.raises((AssertionError, RuntimeError), match="CUDA|NVIDIA"):
        move(framework.ones(2))
    with pytest.raises((AssertionError, RuntimeError), match="CUDA|NVIDIA"):
        framework.zeros(2, device="cuda")
    with pytest.raises((AssertionError, RuntimeError), match="CUDA|NVIDIA"):
        nn.Linear(2, 2).to("cuda")


def test_without_cupy_is_torch_not_compiled_with_cuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy now raises ImportError
    framework.cuda._probe.cache_clear()
    try:
        assert framework.cuda.is_available() is False and framework.cuda.device_count() == 0
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            framework.ones(1).cuda()
    finally:
        framework.cuda._probe.cache_clear()


def test_cuda_kernel_table_covers_cpu_table():
    pytest.importorskip("cupy")
    import kernels.cuda
    table = kernels.cuda.KERNELS
    assert set(cpu.KERNELS) <= set(table)
    # every kernel runs on the device: no host round trip is left (special functions, RNN layers and
    # scatter_reduce have CUDA kernels in place of their Numba loops)
    assert [name for name, k in table.items() if k.__name__.startswith("on_host")] == []
    assert table["softmax"].__module__ == "kernels.cuda.softmax"
    assert table["index_put_add"].__qualname__.startswith("generic_kernels")
    assert not any(reaches_numba(k) for k in table.values())
    cells = dict(zip(table["special_i0"].__code__.co_freevars, table["special_i0"].__closure__))
    assert cells["loop"].cell_contents.__module__ == "kernels.cuda.special"


def _numpy_attributes(fn, seen):
    """The ``np.<name>`` attributes ``fn`` (and every function it names) reads."""
    if not isinstance(fn, types.FunctionType) or id(fn) in seen:
        return set()
    seen.add(id(fn))
    found, codes = set(), [fn.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        ops = list(dis.get_instructions(code))
        for a, b in zip(ops, ops[1:]):
            if a.opname == "LOAD_GLOBAL" and a.argval == "np" and b.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                found.add(b.argval)
        for name in code.co_names:
            found |= _numpy_attributes(fn.__globals__.get(name), seen)
    for cell in fn.__closure__ or ():
        found |= _numpy_attributes(cell.cell_contents, seen)
    return found


def test_numpy_names_the_device_kernels_use_exist_in_cupy():
    cupy = pytest.importorskip("cupy")
    import kernels.cuda
    seen, used = set(), set()
    for kernel in kernels.cuda.KERNELS.values():
        used |= _numpy_attributes(kernel, seen)
    assert len(used) > 50
    assert sorted(n for n in used if not hasattr(cupy, n)) == []


special = pytest.importorskip("scipy.special")


@pytest.fixture
def numpy_rebound(monkeypatch):
    """The CPU backend's table swapped for the CPU kernels re-bound to numpy (with the generic loop replacements)."""
    twins, _ = rebind(np, generic_loops(np, special))
    twins.update(generic_kernels(np))
    assert set(twins) >= set(cpu.KERNELS)
    monkeypatch.setitem(_backends.TABLES, "cpu", twins)
    for op in REGISTRY.values():
        monkeypatch.setattr(op, "kernels", {})
    yield twins


def _workload():
    """A conv + pooling + embedding + attention-ish model: forward, backward and an Adam step; returns arrays."""
    framework.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    emb = nn.Embedding(10, 8)
    head = nn.Linear(4 * 4 * 4 + 8, 5)
    params = list(conv.parameters()) + list(emb.parameters()) + list(head.parameters())
    opt = framework.optim.Adam(params, lr=1e-2)
    x = framework.randn(2, 3, 8, 8)
    tokens = framework.tensor([[1, 2, 2], [3, 3, 9]])
    for _ in range(2):
        opt.zero_grad()
        h = F.max_pool2d(F.gelu(conv(x)), 2)
        e = emb(tokens).softmax(-1).mean(1)
        logits = head(framework.cat([h.flatten(1), e], 1))
        loss = F.cross_entropy(logits, framework.tensor([1, 4])) + logits.erf().sum() * 1e-3
        loss.backward()
        opt.step()
    return [loss.detach().numpy().copy()] + [p.detach().numpy().copy() for p in params]


def test_rebound_table_through_the_dispatcher(numpy_rebound):
    got = _workload()
    numpy_rebound.clear()
    numpy_rebound.update(cpu.KERNELS)
    for op in REGISTRY.values():
        op.kernels = {}
    want = _workload()
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["erf", "erfc", "lgamma", "digamma", "erfinv"])
def test_generic_special_loops_match_cpu(numpy_rebound, name):
    x = np.array([0.0, -0.0, -2.5, 0.3, 1.5, 7.0, -1.0, np.nan, np.inf, -np.inf, 0.999, -0.5])
    # rtol: the CPU digamma series is good to ~1e-11
    np.testing.assert_allclose(numpy_rebound[name](x), cpu.KERNELS[name](x), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("name, arity, attrs", [
    ("erf", 1, {}), ("gelu", 1, {"approximate": "none"}), ("gelu", 1, {"approximate": "tanh"}),
    ("gelu_backward", 2, {"approximate": "none"}), ("gelu_cdf", 1, {}), ("gelu_backward_from_cdf", 3, {})])
def test_one_pass_activations_take_array_module_paths_on_the_device(numpy_rebound, monkeypatch, name, arity, attrs):
    import kernels.cpu.fused as fused
    x = [np.linspace(-6, 6, 97, dtype=np.float32) * (k + 1) for k in range(arity)]
    want = cpu.KERNELS[name](*x, **attrs)  # the host's one-pass Numba kernel
    monkeypatch.setattr(fused, "fused_elementwise", None)  # a Numba kernel cannot take CuPy arrays
    got = numpy_rebound[name](*x, **attrs)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


def test_graph_mode_call_kernels_find_their_targets_in_the_device_table(monkeypatch):
    from kernels.cuda import build
    table, _ = build(np, special)
    calls = []
    monkeypatch.setitem(table, "adam_update", lambda *args, **kw: calls.append(("adam", args[4], kw)))
    monkeypatch.setitem(table, "index_take", lambda x, **kw: calls.append(("take", kw["key"])))
    monkeypatch.setitem(cpu.KERNELS, "adam_update", None)  # the host kernel would run Numba on CuPy arrays
    monkeypatch.setitem(cpu.KERNELS, "index_take", None)
    g = np.ones(3, np.float32)
    table["call_absent"](g, g, g, g, target="adam_update", absent=(4,), lr=0.1)
    table["call_with_arrays"](g, np.array([0, 2]), target_kernel="index_take", array_paths=(("key", 0),),
                              key=(None,))
    assert calls[0] == ("adam", None, {"lr": 0.1}) and calls[1][0] == "take"
    np.testing.assert_array_equal(calls[1][1][0], [0, 2])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_generic_polygamma_matches_cpu(numpy_rebound, n):
    x = np.array([0.25, 1.5, 7.0, -2.5, np.nan, np.inf, -np.inf])
    np.testing.assert_allclose(numpy_rebound["polygamma"](x, n), cpu.KERNELS["polygamma"](x, n), rtol=1e-9)


@pytest.mark.parametrize("dim, index_shape", [(0, (7,)), (1, (2, 3)), (2, (4,))])
def test_generic_index_put_add_matches_cpu(dim, index_shape):
    rng = np.random.default_rng(4)
    size = 5
    indices = rng.integers(0, size, index_shape)
    g = rng.standard_normal((3,) * dim + index_shape + (2,))
    got = generic_kernels(np)["index_put_add"](g, indices, dim, size)
    np.testing.assert_allclose(got, cpu.KERNELS["index_put_add"](g, indices, dim, size), rtol=1e-12)

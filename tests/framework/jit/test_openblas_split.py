"""Loops shared among OpenBLAS's threads (``kernels/cpu/openblas_threads.py``): each job computes a range of the
outermost dim of a fused loop, or of an optimizer update's elements, and the results equal the loop on one thread
(column sums up to their summation order)."""
import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_fuse_rows import _array, _layer_norm  # noqa: E402
from test_passes_random import Builder, run  # noqa: E402

from framework.jit.passes.fuse_rows import fuse_rows  # noqa: E402
from kernels.cpu import fused, openblas_threads, optim  # noqa: E402
from kernels.cpu.fused import fused_elementwise  # noqa: E402

needs_threads = pytest.mark.skipif(openblas_threads.threads() < 2,
                                   reason="numpy's OpenBLAS has no gotoblas_pthread or runs one thread")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GELU_EPILOGUE = (("float32", "float32"), (("add", (0, 1), (), "float32"), ("gelu_cdf", (2,), (), "float32"),
                                         ("mul", (2, 3), (), "float32")), (2, 3, 4))
RELU_MASK = (("float32", "float32"), (("add", (0, 1), (), "float32"), ("relu", (2,), (), "float32"),
                                      ("const", (), (0.0,), "float32"), ("gt", (3, 4), (), "bool")), (3, 5))
RNG = np.random.default_rng(11)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = {  # (program, inputs): every read layout of the elementwise kernels
    "rows with a broadcast bias": (GELU_EPILOGUE, lambda: [_f32(301, 64), _f32(64)]),
    "inner stride 2, a broadcast column, bool output": (RELU_MASK, lambda: [_f32(37, 90)[:, ::2], _f32(37, 1)]),
    "one long flat dim and a one-element input": (RELU_MASK, lambda: [_f32(20_001), np.ones(1, np.float32)]),
    "a transposed 3-d view": (GELU_EPILOGUE, lambda: [_f32(5, 9, 32).transpose(1, 0, 2), _f32(9, 1, 32)]),
}


@needs_threads
@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_split_elementwise_loop_equals_one_thread(case, jobs, monkeypatch):
    program, make = CASES[case]
    arrays = make()
    alone = fused_elementwise(*arrays, program=program, parallel=False)
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    monkeypatch.setitem(openblas_threads._state, "threads", jobs)  # three jobs on two threads queue up in turn
    split = fused_elementwise(*arrays, program=program)
    assert any(parallel == "split" for _, parallel in fused._compiled(program).kernels)
    for a, b in zip(alone, split):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@needs_threads
def test_split_loop_writes_into_given_buffers(monkeypatch):
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    x, bias = _f32(40, 16), _f32(16)
    out = [np.empty((40, 16), np.float32) for _ in range(3)]
    fused_elementwise(x, bias, program=GELU_EPILOGUE, out=out)
    for a, b in zip(fused_elementwise(x, bias, program=GELU_EPILOGUE, parallel=False), out):
        assert np.array_equal(a, b)


def _row_graphs():
    """Fused row graphs of LayerNorm's forward, its gradient with column sums, and a masked softmax."""
    graphs = []
    b = Builder()
    x, w, bias = b.input(_array(6, 10, 32)), b.input(_array(32)), b.input(_array(32))
    graphs.append((b, b.out(*_layer_norm(b, x, w, bias))))
    b = Builder()
    grad, normed, rstd = b.input(_array(7, 6, 16)), b.input(_array(7, 6, 16)), b.input(_array(7, 6, 1))
    scaled = b.op("mul", grad, b.input(_array(16)))
    dx = b.op("mul", b.op("sub", scaled, b.op("mean", scaled, dims=(2,), keepdim=True)), rstd)
    graphs.append((b, b.out(dx, b.op("sum", b.op("mul", grad, normed), dims=(0, 1), keepdim=False),
                                  b.op("sum", grad, dims=(0, 1), keepdim=False))))
    b = Builder()
    scores, mask = b.input(_array(5, 3, 8, 8).transpose(0, 1, 3, 2)), b.input(np.tril(np.ones((8, 8), bool)))
    masked = b.op("where", mask, scores, b.const(np.array(-np.inf, np.float32)))
    graphs.append((b, b.out(b.op("softmax", masked, dim=-1))))
    for _, graph in graphs:
        fuse_rows(graph)
        assert [n.kernel for n in graph.nodes] == ["fused_rows"]
    return graphs


@needs_threads
def test_split_row_loops_equal_one_thread(monkeypatch):
    graphs = _row_graphs()
    alone = [run(graph, b.example) for b, graph in graphs]
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    for (b, graph), expected in zip(graphs, alone):
        got = run(graph, b.example)
        program = graph.nodes[0].attrs["program"]
        assert any(key[0] == "rows" and key[-1] for key in fused._compiled(program).kernels)  # it ran split
        column_sums = {j for j, slot in enumerate(program[2]) if program[1][slot - len(program[0])][0] == "col_sum"}
        for j, (e, g) in enumerate(zip(expected, got)):
            assert e.shape == g.shape and e.dtype == g.dtype
            if j in column_sums:  # each job sums its rows, then the jobs' sums are added
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
            else:
                assert np.array_equal(e, g, equal_nan=True)


def test_switched_off_by_the_environment():
    code = ("import numpy as np; from kernels.cpu import openblas_threads, fused; "
            "print(openblas_threads.threads()); fused.SPLIT_MIN = 1; "
            "x = np.arange(12, dtype=np.float32).reshape(3, 4); "
            "print(fused.fused_elementwise(x, x, program=((\"float32\", \"float32\"), "
            "((\"add\", (0, 1), (), \"float32\"),), (2,))).sum())")
    env = dict(os.environ, FRAMEWORK_OPENBLAS_LOOPS="0", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "132.0"]


def _child(queue):
    fused.SPLIT_MIN = 1
    x, bias = np.arange(64 * 16, dtype=np.float32).reshape(64, 16) / 100, np.ones(16, np.float32)
    queue.put(fused_elementwise(x, bias, program=GELU_EPILOGUE)[2])


@needs_threads
@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_splits_its_loops_too(monkeypatch):
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    x, bias = np.arange(64 * 16, dtype=np.float32).reshape(64, 16) / 100, np.ones(16, np.float32)
    expected = fused_elementwise(x, bias, program=GELU_EPILOGUE)[2]  # the parent's OpenBLAS threads are started
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and np.array_equal(got, expected)


UPDATES = {  # name -> (update, its kernel, written arrays (None: unused state), keyword arguments)
    "adam": (optim.adam_update, "_adam", (True, True, True, None),
             dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=3, amsgrad=False, maximize=False,
                  decoupled_weight_decay=False)),
    "adamw with amsgrad": (optim.adam_update, "_adam", (True, True, True, True),
                           dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1, step=7, amsgrad=True,
                                maximize=True, decoupled_weight_decay=True)),
    "sgd with nesterov momentum": (optim.sgd_update, "_sgd", (True, True),
                                   dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=1e-4, nesterov=True,
                                        maximize=False, first=False)),
    "centred rmsprop": (optim.rmsprop_update, "_rmsprop", (True, True, True, None),
                        dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=True,
                             maximize=False)),
}


@needs_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UPDATES))
def test_split_optimizer_update_equals_one_thread(name, dtype, monkeypatch):
    update, kernel, written, kwargs = UPDATES[name]
    grad = RNG.standard_normal(5001).astype(dtype)
    state = [np.abs(RNG.standard_normal(5001)).astype(dtype) if used else None for used in written]
    results = []
    for split_min in (10 ** 12, 1000):  # one thread, then ranges on OpenBLAS's threads
        monkeypatch.setattr(optim, "SPLIT_MIN", split_min)
        arrays = [None if a is None else a.copy() for a in state]
        update(grad, *arrays, **kwargs)
        results.append(arrays)
    for a, b in zip(*results):
        assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)
    assert any(key[:2] == (kernel, np.dtype(dtype)) for key in optim._JOBS)


@needs_threads
def test_split_update_of_a_non_contiguous_parameter(monkeypatch):
    grad = RNG.standard_normal((80, 50)).astype(np.float32)
    param = RNG.standard_normal((50, 80)).astype(np.float32).T  # a transposed view: updated through a copy
    expected = param.copy()
    kwargs = dict(lr=0.5, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False, first=True)
    monkeypatch.setattr(optim, "SPLIT_MIN", 10 ** 12)
    optim.sgd_update(grad, expected, None, **kwargs)
    monkeypatch.setattr(optim, "SPLIT_MIN", 1000)
    optim.sgd_update(grad, param, None, **kwargs)
    assert np.array_equal(param, expected)


@needs_threads
def test_threads_loading_and_running_one_new_kernel_at_once(monkeypatch):
    import threading
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    scale = 1.2345  # a program no other test builds: its module is loaded here, by one of the four threads
    program = (("float32",), (("const", (), (scale,), "float32"), ("mul", (0, 1), (), "float32")), (2,))
    x = _f32(64, 32)
    results, errors, start = [], [], threading.Barrier(4)

    def work():
        start.wait()
        try:
            results.append(fused_elementwise(x, program=program))
        except Exception as error:  # a thread finding the module half-run would raise here
            errors.append(error)
    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors and len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, x * np.float32(scale))

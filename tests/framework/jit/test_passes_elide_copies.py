"""Copy elision: a clone that is the last reader of a dead intermediate takes its buffer; every other clone stays."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run, small_training_step  # noqa: E402

import framework  # noqa: E402
from framework.jit.executor import Executor  # noqa: E402
from framework.jit.passes import optimize  # noqa: E402
from framework.jit.passes.elide_copies import elide_copies  # noqa: E402

X = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5


def _kernels(graph):
    return [node.kernel for node in graph.nodes]


def _elided(graph, example):
    expected = run(graph, example)
    stats = elide_copies(graph)
    assert_same(expected, run(graph, example), rtol=0)
    return stats


def test_clone_of_a_dead_intermediate_takes_its_buffer():
    b = Builder()
    x = b.input(X)
    y = b.op("exp", x)
    g = b.out(b.op("clone", y))
    assert _elided(g, b.example) == {"copies_elided": 1}
    assert _kernels(g) == ["exp", "take_buffer"]
    out, = Executor(g).run([X.copy()])
    assert out.flags.c_contiguous and out.flags.owndata  # exp's own buffer, handed on


def test_clone_of_a_view_of_a_dead_intermediate_takes_it_and_a_strided_one_is_copied_row_major():
    b = Builder()
    x = b.input(X)
    s = b.op("sum", x, dims=(0,), keepdim=True)
    flat = b.op("reshape", s, shape=(4,))
    t = b.op("permute", b.op("exp", x), dims=(1, 0))  # a transposed view: not row-major
    g = b.out(b.op("clone", flat), b.op("clone", t))
    assert _elided(g, b.example) == {"copies_elided": 2}
    _, strided = Executor(g).run([X.copy()])
    np.testing.assert_array_equal(strided, np.exp(X).T)
    assert strided.flags.c_contiguous  # clone's layout


@pytest.mark.parametrize("case", ["input", "read_later", "written", "also_output", "constant"])
def test_clones_whose_source_is_still_observable_stay(case):
    b = Builder()
    x = b.input(X)
    y = b.op("exp", x)
    outs = []
    if case == "input":
        c = b.op("clone", x)
    elif case == "constant":
        c = b.op("clone", b.const(X))
    else:
        c = b.op("clone", y)
    if case == "read_later":
        outs.append(b.op("neg", y))
    if case == "written":
        b.op("copy_into", y, b.const(np.float32(1.0)), mutates=(0,))
    if case == "also_output":
        outs.append(b.op("reshape", y, shape=(12,)))
    g = b.out(c, *outs)
    assert _elided(g, b.example) == {"copies_elided": 0}
    assert "take_buffer" not in _kernels(g)


def test_two_clones_of_one_buffer_are_not_both_handed_it():
    b = Builder()
    y = b.op("exp", b.input(X))
    g = b.out(b.op("clone", y), b.op("clone", y))
    assert _elided(g, b.example) == {"copies_elided": 1}
    first, second = Executor(g).run([X.copy()])
    assert not np.shares_memory(first, second)


def test_the_memory_plan_never_donates_a_buffer_an_output_took():
    b = Builder()
    x = b.input(X)
    y = b.op("exp", x)
    kept = b.op("clone", y)
    z = b.op("neg", b.op("add", x, x))  # same size: would take y's buffer if y were dead
    g = b.out(kept, z)
    expected = run(g, b.example)
    optimize(g, passes=("elide_copies", "memory_plan"))
    assert "take_buffer" in _kernels(g)
    got = Executor(g).run([X.copy()])
    assert_same(expected, got, rtol=0)
    assert not np.shares_memory(got[0], got[1])


def test_a_compiled_training_step_hands_gradients_over_without_copies():
    def sgd(params):
        return framework.optim.SGD(params, lr=0.1, momentum=0.9)

    model, step = small_training_step(sgd)
    compiled = framework.compile(step, options={"worth_check": False})
    losses = [compiled().item() for _ in range(4)]
    assert "take_buffer" in _kernels(compiled.graph) and "clone" not in _kernels(compiled.graph)
    grads = [p.grad.numpy() for p in model.parameters()]
    assert not any(np.shares_memory(a, b) for i, a in enumerate(grads) for b in grads[i + 1:])

    model, step = small_training_step(sgd)  # the same four steps eagerly, from the same start
    eager = [step().item() for _ in range(4)]
    np.testing.assert_allclose(losses, eager, rtol=1e-6)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-7)

"""Memory planning: liveness, buffer reuse, peak figures, and a planned run equal to the interpreter."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

from framework.jit.passes import optimize  # noqa: E402
from framework.jit.passes.memory_plan import eager_peak_bytes, plan_memory, run_planned  # noqa: E402

N = 256  # float32 elements: 1 KiB per buffer


def _chain():
    b = Builder()
    x = b.input(np.linspace(0, 1, N, dtype=np.float32), name="x")
    a = b.op("exp", x)
    c = b.op("neg", a)
    d = b.op("tanh", c)
    return b, b.out(d), (x, a, c, d)


def test_frees_each_value_after_its_last_reader():
    b, g, (x, a, c, d) = _chain()
    plan_memory(g)
    assert g.memory_plan.frees == [[x], [a], [c]]  # the output d is never freed


def test_a_chain_of_ufuncs_runs_in_one_buffer():
    b, g, _ = _chain()
    stats = plan_memory(g)
    plan = g.memory_plan
    assert plan.reuse == {1: g.nodes[0].outputs[0], 2: g.nodes[1].outputs[0]}
    assert stats["planned_peak_bytes"] == N * 4 and plan.eager_peak_bytes == 2 * N * 4
    assert plan.planned_alloc_bytes == N * 4 and plan.eager_alloc_bytes == 3 * N * 4
    expected = run(g, b.example)
    got = run_planned(g, b.example)
    assert_same(expected, got)


def test_inputs_constants_outputs_and_views_are_never_donated():
    b = Builder()
    x = b.input(np.ones((16, 16), np.float32))
    c = b.const(np.full((16, 16), 2.0, np.float32))
    a = b.op("mul", x, c)
    t = b.op("permute", a, dims=(1, 0))  # a view: keeps a's buffer alive while t is read
    e = b.op("exp", t)
    f = b.op("add", e, e)
    g = b.out(f, a)  # a is an output: its buffer is the caller's
    plan_memory(g)
    donors = set(g.memory_plan.reuse.values())
    assert not donors & {x, c, a, t}
    assert_same(run(g, b.example), run_planned(g, b.example))


def test_a_buffer_is_not_reused_while_a_view_of_it_lives():
    b = Builder()
    x = b.input(np.ones((8, 8), np.float32))
    a = b.op("exp", x)
    t = b.op("permute", a, dims=(1, 0))
    e = b.op("neg", x)  # a is dead only through t, which is still read below
    f = b.op("add", t, e)
    g = b.out(f)
    plan_memory(g)
    assert g.memory_plan.reuse.get(2) is None  # neg may not take a's buffer: t still reads it
    assert_same(run(g, b.example), run_planned(g, b.example))


def test_eager_peak_counts_intermediates_alive_together():
    b = Builder()
    x = b.input(np.ones(N, np.float32))
    a, c = b.op("exp", x), b.op("neg", x)
    g = b.out(b.op("add", a, c))
    assert eager_peak_bytes(g) == 3 * N * 4  # a, c and the result exist together at the add


def test_optimize_attaches_the_plan_with_the_captured_graphs_eager_figure():
    b = Builder()
    x = b.input(np.ones(N, np.float32))
    y = b.op("mul", b.op("exp", x), b.const(np.float32(1.0)))
    g = b.out(b.op("neg", y))
    report = optimize(g, passes=("simplify", "memory_plan"))
    assert report.memory_plan is g.memory_plan
    assert g.memory_plan.eager_peak_bytes == 2 * N * 4  # measured before simplify removed the mul
    assert "memory plan: peak" in str(report)

"""Common-subexpression elimination on hand-built graphs, and strict attribute equality."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

import framework  # noqa: E402
from framework.jit.passes.cse import attr_key, eliminate_common_subexpressions as cse  # noqa: E402


def _x(b, n=4):
    return b.input(np.linspace(-1, 1, n, dtype=np.float32), name="x")


def test_merges_identical_nodes_and_rewires_outputs():
    b = Builder()
    x = _x(b)
    e1, e2 = b.op("exp", x), b.op("exp", x)
    g = b.out(b.op("add", e1, e2), e2)
    expected = run(g, b.example)
    assert cse(g) == {"nodes_merged": 1, "constants_merged": 0}
    assert [n.kernel for n in g.nodes] == ["exp", "add"]
    assert g.nodes[1].inputs == [e1, e1] and g.outputs[1] is e1
    assert_same(expected, run(g, b.example))


def test_merges_equal_constants_then_the_nodes_using_them():
    b = Builder()
    x = _x(b)
    m1 = b.op("mul", x, b.const(np.float32(2.0)))
    m2 = b.op("mul", x, b.const(np.float32(2.0)))
    m3 = b.op("mul", x, b.const(np.float64(2.0)))  # another dtype: another computation
    g = b.out(b.op("add", m1, m2), m3)
    expected = run(g, b.example)
    assert cse(g) == {"nodes_merged": 1, "constants_merged": 1}
    assert [n.kernel for n in g.nodes] == ["mul", "mul", "add"] and g.nodes[2].inputs == [m1, m1]
    assert len(g.constants) == 2
    assert_same(expected, run(g, b.example))


def test_attributes_compare_strictly():
    assert attr_key(1) != attr_key(1.0) != attr_key(True)
    assert attr_key(0.0) != attr_key(-0.0)
    assert attr_key(float("nan")) == attr_key(float("nan"))
    assert attr_key((1,)) != attr_key([1])
    assert attr_key(np.array([1, 2], np.int64)) == attr_key(np.array([1, 2], np.int64))
    assert attr_key(np.array([1, 2], np.int64)) != attr_key(np.array([1, 2], np.int32))
    assert attr_key({"dims": (1,), "keepdim": True}) == attr_key({"keepdim": True, "dims": (1,)})
    assert attr_key(framework.float32) == attr_key(framework.float32) != attr_key(framework.float64)
    assert attr_key(slice(0, 2)) == attr_key(slice(0, 2)) != attr_key(slice(0, 3))


def test_different_attributes_are_not_merged():
    b = Builder()
    x = b.input(np.ones((2, 3), np.float32))
    g = b.out(b.op("sum", x, dims=(1,), keepdim=False), b.op("sum", x, dims=(1,), keepdim=True))
    assert cse(g)["nodes_merged"] == 0


def test_reads_across_a_write_are_not_merged():
    b = Builder()
    x, y = _x(b), b.input(np.ones(4, np.float32))
    before = b.op("neg", x)
    b.op("copy_into", x, y, op="copy_", mutates=(0,))
    after = b.op("neg", x)
    g = b.out(before, after)
    expected = run(g, b.example)
    assert cse(g)["nodes_merged"] == 0
    assert_same(expected, run(g, b.example))


def test_views_of_written_memory_read_before_the_write_are_merged():
    b = Builder()
    x, y = b.input(np.ones((2, 3), np.float32)), b.input(np.zeros((3, 2), np.float32))
    t1, t2 = b.op("permute", x, dims=(1, 0)), b.op("permute", x, dims=(1, 0))
    b.op("copy_into", t1, y, op="copy_", mutates=(0,))
    g = b.out(b.op("exp", t2))
    expected = run(g, b.example)
    assert cse(g)["nodes_merged"] == 1
    assert_same(expected, run(g, b.example))


def test_effects_random_draws_and_written_results_are_never_merged():
    b = Builder()
    x, y = _x(b), b.input(np.ones(4, np.float32))
    b.op("copy_into", x, y, op="copy_", mutates=(0,))
    b.op("copy_into", x, y, op="copy_", mutates=(0,))
    r1, r2 = b.op("neg", y, op="rand_like"), b.op("neg", y, op="rand_like")
    w1, w2 = b.op("exp", y), b.op("exp", y)
    b.op("copy_into", w1, y, op="copy_", mutates=(0,))
    g = b.out(r1, r2, w1, w2)
    assert cse(g)["nodes_merged"] == 0
    assert len(g.nodes) == 7


def test_two_graph_outputs_do_not_become_one_buffer():
    b = Builder()
    x = _x(b)
    g = b.out(b.op("exp", x), b.op("exp", x))
    assert cse(g)["nodes_merged"] == 0
